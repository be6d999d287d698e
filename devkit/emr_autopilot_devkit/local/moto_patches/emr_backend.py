"""moto's EMR backend answers as EMR does: the simulator sees each cluster and step (emr_simulator), faults are
injected per API, unknown ids and refused requests are EMR's errors (not a KeyError, an HTML 500), and
cluster and step status carry EMR's fields."""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.emr.exceptions import InvalidRequestException, ValidationException
from moto.emr.models import Cluster, ElasticMapReduceBackend, Step
from moto.emr.responses import ElasticMapReduceResponse

from emr_autopilot.emr import ACTIVE
from emr_autopilot_devkit.local import emr_simulator
from emr_autopilot_devkit.local.emr_simulator import ThrottlingException
from emr_autopilot_devkit.local.moto_patches import emr_auto_termination

_request = threading.local()  # RunJobFlow's fields moto's backend is not given, for on_cluster_created


def _throttled(api: str) -> None:
    simulator = emr_simulator.active()
    if simulator is not None and simulator.faults.take_throttle(api):
        raise ThrottlingException("Rate exceeded")
    if simulator is not None and simulator.faults.take_error(api):
        raise ValidationException(f"Injected fault: {api} refused")


@functools.cache  # installs once per process
def install() -> None:

    backend = ElasticMapReduceBackend
    original_run = backend.run_job_flow
    original_add = backend.add_job_flow_steps

    def run_job_flow(self: ElasticMapReduceBackend, **kwargs: Any) -> Cluster:
        _throttled("run_job_flow")
        cluster = original_run(self, **kwargs)
        simulator = emr_simulator.active()
        if simulator is not None:
            simulator.on_cluster_created(cluster, getattr(_request, "params", {}) or {})
        return cluster

    def add_job_flow_steps(self: ElasticMapReduceBackend, job_flow_id: str, steps: list[dict[str, Any]]) -> list[Step]:
        _throttled("add_job_flow_steps")
        cluster = self.clusters.get(job_flow_id)
        if cluster is None:  # moto raises KeyError (an HTML 500); EMR's answer, real trace in aws/aws-cdk#13735
            raise ValidationException(f"jobFlowId '{job_flow_id}' is not valid.")
        if cluster.state not in ACTIVE:
            raise ValidationException(
                f"A job flow that is shutting down, terminated, or finished may not be modified: {job_flow_id}"
            )
        if int(cluster.step_concurrency_level or 1) > 1:
            for step in steps:
                # API_StepConfig: with StepConcurrencyLevel > 1 a step with CANCEL_AND_WAIT or TERMINATE_CLUSTER
                # "is not submitted and the action fails with a message that the ActionOnFailure setting is not
                # valid" (the wording is inferred).
                action = step.get("ActionOnFailure")
                if action in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
                    raise ValidationException(
                        f"ActionOnFailure {action} is not valid for a cluster with StepConcurrencyLevel greater "
                        "than 1: use CONTINUE."
                    )
        simulator = emr_simulator.active()
        if simulator is None:
            return original_add(self, job_flow_id, steps)
        # One critical section with the simulator's tick: moto appends the steps in a state of its own, and a tick
        # between that and on_steps_added started a step that on_steps_added then reset to PENDING (its process
        # was then killed as an orphan: a flaky FAILED with status -9 under StepConcurrencyLevel > 1).
        with simulator.lock:
            added = original_add(self, job_flow_id, steps)
            simulator.on_steps_added(cluster, added)
        return added

    def terminate_job_flows(self: ElasticMapReduceBackend, job_flow_ids: list[str]) -> list[Cluster]:
        _throttled("terminate_job_flows")
        clusters = [self.describe_cluster(cluster_id) for cluster_id in job_flow_ids]
        if any(cluster.termination_protected for cluster in clusters):
            raise ValidationException("Could not shut down one or more job flows since they are termination protected.")
        simulator = emr_simulator.active()
        for cluster in clusters:
            if simulator is not None:
                simulator.on_terminate(cluster)
            else:
                cluster.terminate()
        return clusters

    def cancel_steps(
        self: ElasticMapReduceBackend, cluster_id: str, step_ids: list[str], option: str | None = None
    ) -> list[dict[str, str]]:
        _throttled("cancel_steps")
        cluster = self.describe_cluster(cluster_id)
        simulator = emr_simulator.active()
        if simulator is None:
            return [{"StepId": step_id, "Status": "FAILED", "Reason": "no simulator"} for step_id in step_ids]
        return simulator.on_cancel(cluster, step_ids, option or "SEND_INTERRUPT")  # the default (API_CancelSteps)

    original_describe_step = backend.describe_step

    def describe_step(self: ElasticMapReduceBackend, cluster_id: str, step_id: str) -> Step:
        # EMR answers InvalidRequestException for a cluster or step it does not know; moto raises KeyError (a 500).
        step = original_describe_step(self, self.describe_cluster(cluster_id).id, step_id)
        if step is None:
            raise InvalidRequestException(f"Step id '{step_id}' is not valid.")
        return step

    backend.describe_step = describe_step  # type: ignore[method-assign]

    original_list_instances = backend.list_instances

    def list_instances(self: ElasticMapReduceBackend, cluster_id: str, *args: Any, **kwargs: Any) -> Any:
        # As DescribeStep: an unknown cluster is InvalidRequestException (describe_cluster's), not moto's KeyError.
        return original_list_instances(self, self.describe_cluster(cluster_id).id, *args, **kwargs)

    backend.list_instances = list_instances  # type: ignore[method-assign]

    for name in ("describe_cluster", "describe_step", "list_clusters", "list_steps"):
        original = getattr(backend, name)

        def throttled(self: Any, *args: Any, __original: Any = original, __name: str = name, **kwargs: Any) -> Any:
            _throttled(__name)
            return __original(self, *args, **kwargs)

        setattr(backend, name, throttled)

    emr_auto_termination.install()  # moto has no Get/Put/RemoveAutoTerminationPolicy
    backend.run_job_flow = run_job_flow  # type: ignore[method-assign]
    backend.add_job_flow_steps = add_job_flow_steps  # type: ignore[method-assign]
    backend.terminate_job_flows = terminate_job_flows  # type: ignore[method-assign]
    backend.cancel_steps = cancel_steps  # type: ignore[attr-defined]

    response = ElasticMapReduceResponse
    original_run_response = response.run_job_flow

    def run_job_flow_response(self: ElasticMapReduceResponse) -> Any:
        # The backend is not given AutoTerminationPolicy or InstanceFleets; hand them over.
        _request.params = {
            "AutoTerminationPolicy": self._get_param("AutoTerminationPolicy"),
            "Instances": {"InstanceFleets": self._get_param("Instances.InstanceFleets")},
        }
        try:
            return original_run_response(self)
        finally:
            _request.params = None

    def cancel_steps_response(self: ElasticMapReduceResponse) -> Any:
        from moto.core.responses import ActionResult

        infos = self.backend.cancel_steps(  # type: ignore[attr-defined]
            self._get_param("ClusterId"), self._get_param("StepIds", []), self._get_param("StepCancellationOption")
        )
        return ActionResult({"CancelStepsInfoList": infos})

    response.run_job_flow = run_job_flow_response  # type: ignore[method-assign]
    response.cancel_steps = cancel_steps_response  # type: ignore[attr-defined]

    def step_status(self: Step) -> dict[str, Any]:
        status: dict[str, Any] = {
            "State": self.state,
            "StateChangeReason": {"Message": getattr(self, "last_state_change_reason", None)},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "StartDateTime": self.start_date_time,
                "EndDateTime": self.end_date_time,
            },
        }
        failure = getattr(self, "failure_details", None)
        if failure:
            status["FailureDetails"] = failure
        return status

    def cluster_status(self: Cluster) -> dict[str, Any]:
        reason: dict[str, Any] = {"Message": getattr(self, "last_state_change_reason", None)}
        code = getattr(self, "state_change_reason_code", None)
        if code:
            reason["Code"] = code
        return {
            "State": self.state,
            "StateChangeReason": reason,
            "Timeline": {
                "CreationDateTime": self.creation_datetime,
                "EndDateTime": self.end_datetime,
                "ReadyDateTime": self.ready_datetime,
            },
        }

    Step.status = property(step_status)  # type: ignore[assignment,method-assign]
    Cluster.status = property(cluster_status)  # type: ignore[assignment,method-assign]
