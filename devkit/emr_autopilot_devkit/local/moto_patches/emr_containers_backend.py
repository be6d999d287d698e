"""moto's emr-containers backend answers as EMR on EKS does: the simulator (emr_eks_simulator) drives job runs through
their documented states, requests are checked against botocore's model, client tokens are idempotent, and unknown
or refused requests get EMR on EKS's errors in AWS's JSON shape (never moto's HTML 500).

- Requests: EMR on EKS is a REST-JSON service (no X-Amz-Target), which request_validation's middleware does not
  check; each operation here validates its input (URI members, body, and the query string as sent) against
  botocore's model with request_validation's checks and wording (rest_json, shared with emr_serverless_backend).
- StartJobRun: releaseLabel, executionRoleArn and jobDriver are optional in the model only because a job template
  can supply them (API_StartJobRun, jobTemplateId); without one they are required (inferred: moto 5.2.5 crashes
  on a missing releaseLabel). Job templates are not in moto 5.2.5 (CreateJobTemplate answers 404), so a jobTemplateId
  names a template that cannot exist here: ResourceNotFoundException (wording inferred).
- clientToken is an idempotencyToken in the model (StartJobRun, CreateVirtualCluster: "The client token of the job
  run", filled in by the SDK). The same token and the same request return the first call's job run or virtual
  cluster instead of a second one (moto 5.2.5 starts a second); the same token with a different request is refused
  with a ValidationException (both inferred from the idempotency-token convention, AWS SDKs' "Idempotency" and
  EC2's "Ensuring idempotency": "If you repeat the request with the same client token but change another request
  parameter, ... returns an IdempotentParameterMismatch error"; EMR on EKS's model has no such error, so
  ValidationException).
- CreateVirtualCluster registers an existing EKS cluster's namespace (Development Guide, "Register the Amazon EKS
  cluster with Amazon EMR", setting-up-registration): the EKS cluster named by containerProvider.id must exist in
  moto's EKS backend (ResourceNotFoundException otherwise, a model error of CreateVirtualCluster; wording
  inferred), and "Each virtual cluster must have a unique name across all the EKS clusters" (a second one with the
  name of a cluster not TERMINATED is refused: ValidationException, inferred). One virtual cluster per namespace
  is moto's own rule, kept. These two checks apply while a local runtime is up (its simulator active): the
  patches stay installed for the process, and a unit test's plain moto world afterwards keeps moto's rules.
- CancelJobRun and DescribeJobRun of an unknown id: moto answers "Invalid job run short id" for any id that is not
  19 characters; the model's id is [0-9a-z]+ of 1-64, so an unknown id is "doesn't exist" (DescribeJobRun:
  ResourceNotFoundException; CancelJobRun lists no ResourceNotFoundException in the model: ValidationException).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.eks.models import eks_backends
from moto.emrcontainers.models import EMRContainersBackend, JobRun, VirtualCluster
from moto.emrcontainers.responses import EMRContainersResponse

from emr_autopilot_devkit.local import emr_eks_simulator
from emr_autopilot_devkit.local.moto_patches.rest_json import injected_fault, install_validation, utc, utc_bounds

SERVICE = "emr-containers"
_CREATED_BOUNDS = ("created_after", "created_before")
_request = threading.local()  # the validated request, for what moto's backend is not given (retryPolicyConfiguration)


def _error(code: str, message: str) -> JsonRESTError:
    # The model's ValidationException / ResourceNotFoundException: HTTP 400 with a JSON body (JsonRESTError).
    return JsonRESTError(code, message)


@functools.cache  # installs once per process
def install() -> None:
    install_validation(EMRContainersResponse, SERVICE, _request)
    _install_backend()


def _simulator() -> emr_eks_simulator.EmrEksSimulator | None:
    return emr_eks_simulator.active()


def _injected_fault(api: str) -> None:
    injected_fault(_simulator(), api)


def _sent() -> dict[str, Any]:
    return dict(getattr(_request, "params", None) or {})


def _same_request(first: dict[str, Any], again: dict[str, Any]) -> bool:
    return {k: v for k, v in first.items() if v is not None} == {k: v for k, v in again.items() if v is not None}


def _check_start_job_run(self: EMRContainersBackend, virtual_cluster_id: str, params: dict[str, Any]) -> None:
    cluster = self.virtual_clusters.get(virtual_cluster_id)
    if cluster is None:
        raise _error("ResourceNotFoundException", f"Virtual cluster {virtual_cluster_id} doesn't exist.")
    if cluster.state != "RUNNING":
        # A job run is submitted to a RUNNING virtual cluster only (VirtualClusterState; wording inferred).
        raise _error(
            "ValidationException",
            f"Virtual cluster {virtual_cluster_id} is {cluster.state}: job runs can only be started on a "
            "RUNNING virtual cluster.",
        )
    if params.get("jobTemplateId"):
        raise _error("ResourceNotFoundException", f"Job template {params['jobTemplateId']} doesn't exist.")
    missing = [name for name in ("executionRoleArn", "releaseLabel", "jobDriver") if params.get(name) is None]
    if missing:
        # request_validation's wording for a missing member (see the module docstring).
        problems = [f"Value null at '{name}' failed to satisfy constraint: Member must not be null" for name in missing]
        count = len(problems)
        raise _error(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


def _check_create_virtual_cluster(self: EMRContainersBackend, kwargs: dict[str, Any]) -> None:
    provider = kwargs.get("container_provider") or {}
    eks = eks_backends[self.account_id][self.region_name]
    if provider.get("id") not in eks.clusters:
        raise _error("ResourceNotFoundException", f"EKS cluster {provider.get('id')} doesn't exist.")
    name = kwargs.get("name")
    if any(c.name == name and c.state != "TERMINATED" for c in self.virtual_clusters.values()):
        # "Each virtual cluster must have a unique name across all the EKS clusters" (setting-up-registration; the
        # refusal's code and wording are inferred).
        raise _error("ValidationException", f"A virtual cluster named {name} already exists.")


def _install_backend() -> None:
    backend = EMRContainersBackend
    original_create = backend.create_virtual_cluster
    original_delete = backend.delete_virtual_cluster
    original_start = backend.start_job_run
    original_cancel = backend.cancel_job_run
    original_list_runs = backend.list_job_runs
    original_list_clusters = backend.list_virtual_clusters

    def create_virtual_cluster(self: EMRContainersBackend, **kwargs: Any) -> VirtualCluster:
        _injected_fault("create_virtual_cluster")
        params = _sent()
        token = kwargs.get("client_token")
        for cluster in self.virtual_clusters.values():
            if token and cluster.client_token == token:
                if not _same_request(getattr(cluster, "request", params), params):
                    raise _error("ValidationException", f"clientToken {token} was already used for another request.")
                return cluster  # the idempotency token's first answer
        simulator = _simulator()
        if simulator is None:  # plain moto (a unit test's mock_aws after a runtime stopped): moto's rules only
            cluster = original_create(self, **kwargs)
        else:
            _check_create_virtual_cluster(self, kwargs)
            with simulator.lock:
                cluster = original_create(self, **kwargs)
                simulator.on_virtual_cluster_created(cluster)
        cluster.request = params  # type: ignore[attr-defined]
        return cluster

    def delete_virtual_cluster(self: EMRContainersBackend, cluster_id: str) -> VirtualCluster:
        _injected_fault("delete_virtual_cluster")
        simulator = _simulator()
        if simulator is None or cluster_id not in self.virtual_clusters:
            return original_delete(self, cluster_id)  # moto: ValidationException "VirtualCluster does not exist"
        with simulator.lock:
            cluster = self.virtual_clusters[cluster_id]
            simulator.on_delete_virtual_cluster(cluster)
        return cluster

    def start_job_run(self: EMRContainersBackend, **kwargs: Any) -> JobRun:
        _injected_fault("start_job_run")
        params = _sent()
        virtual_cluster_id = kwargs["virtual_cluster_id"]
        token = kwargs.get("client_token")
        for run in self.job_runs.values():
            if token and run.client_token == token and run.virtual_cluster_id == virtual_cluster_id:
                if not _same_request(getattr(run, "request", params), params):
                    raise _error("ValidationException", f"clientToken {token} was already used for another request.")
                return run  # the idempotency token's first answer
        _check_start_job_run(self, virtual_cluster_id, params)
        simulator = _simulator()
        if simulator is None:
            run = original_start(self, **kwargs)
        else:
            with simulator.lock:
                run = original_start(self, **kwargs)
                simulator.on_job_run_started(run, params)
        run.request = params  # type: ignore[attr-defined]
        return run

    def describe_job_run(self: EMRContainersBackend, job_run_id: str, virtual_cluster_id: str) -> JobRun:
        _injected_fault("describe_job_run")
        run = self.job_runs.get(job_run_id)
        if run is None or run.virtual_cluster_id != virtual_cluster_id:
            raise _error("ResourceNotFoundException", f"Job run {job_run_id} doesn't exist.")
        return run

    def cancel_job_run(self: EMRContainersBackend, job_run_id: str, virtual_cluster_id: str) -> JobRun:
        _injected_fault("cancel_job_run")
        run = self.job_runs.get(job_run_id)
        if run is None or run.virtual_cluster_id != virtual_cluster_id:
            raise _error("ValidationException", f"Job run {job_run_id} doesn't exist.")
        simulator = _simulator()
        if simulator is None:
            return original_cancel(self, job_run_id, virtual_cluster_id)
        with simulator.lock:
            if run.state in ("FAILED", "CANCELLED", "CANCEL_PENDING", "COMPLETED"):
                # moto's rule and wording, kept (see emr_eks_simulator.on_cancel_job_run).
                raise _error("ValidationException", f"Job run {job_run_id} is not in a cancellable state")
            simulator.on_cancel_job_run(run)
        return run

    def list_job_runs(self: EMRContainersBackend, *args: Any, **kwargs: Any) -> list[JobRun]:
        utc_bounds(kwargs, _CREATED_BOUNDS)
        for run in self.job_runs.values():
            run.created_at = utc(run.created_at)
        return original_list_runs(self, *args, **kwargs)

    def list_virtual_clusters(self: EMRContainersBackend, *args: Any, **kwargs: Any) -> list[VirtualCluster]:
        utc_bounds(kwargs, _CREATED_BOUNDS)
        for cluster in self.virtual_clusters.values():
            cluster.created_at = utc(cluster.created_at)
        return original_list_clusters(self, *args, **kwargs)

    backend.create_virtual_cluster = create_virtual_cluster  # type: ignore[method-assign,assignment]
    backend.delete_virtual_cluster = delete_virtual_cluster  # type: ignore[method-assign]
    backend.start_job_run = start_job_run  # type: ignore[method-assign,assignment]
    backend.describe_job_run = describe_job_run  # type: ignore[method-assign]
    backend.cancel_job_run = cancel_job_run  # type: ignore[method-assign]
    backend.list_job_runs = list_job_runs  # type: ignore[method-assign]
    backend.list_virtual_clusters = list_virtual_clusters  # type: ignore[method-assign]
