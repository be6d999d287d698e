"""A finished run's cost, asked for once its compute is gone: by the state machines for the success notice
(RunCostFunction, after terminateCluster.sync or the serverless teardown) and, for an ended cluster, by the
EMR event reaction for the ledger and the failure notice. The same lookups and the same prices
(run_costs) give both, so a run's notice and its ledger say the same.

- EMR on EC2: ListInstances (every state) gives each instance's lifetime; only when an instance has no end
  time or a type the price table lacks, DescribeCluster's NormalizedInstanceHours (an upper bound).
- EMR Serverless: GetJobRun of each of the run's job runs (billedResourceUtilization) and GetApplication once
  (its architecture), summed as the ledger sums its JOBRUN items (run_costs.serverless_run_total).
- EMR on EKS: DescribeJobRun of each of the run's job runs, each priced as the EMR on EKS event reaction prices
  it (run_costs.eks_run_cost: the pods' requested vCPU and memory from createdAt to finishedAt), summed as the
  ledger sums its JOBRUN items (run_costs.eks_run_total).

An error retrying cannot fix gives a cost of None that says which call failed; throttling or a fault is
raised (botocore has already retried it), for the caller's retry or its "not available" path.
"""

from collections.abc import Sequence
from typing import Any, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from emr_autopilot import emr, pricing, run_costs
from emr_autopilot.errors import InvalidEvent

# Errors that retrying cannot fix: the cost is unknown, saying why.
EMR_COST_UNAVAILABLE = ("AccessDeniedException", "InvalidRequestException", "ValidationException")
SERVERLESS_COST_UNAVAILABLE = ("AccessDeniedException", "ResourceNotFoundException", "ValidationException")
EKS_COST_UNAVAILABLE = SERVERLESS_COST_UNAVAILABLE  # DescribeJobRun's: the same three (botocore emr-containers)


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cluster_cost(cluster_id: str) -> run_costs.RunCost:
    """The ended cluster's cost: one ListInstances call per page of instances (one for most clusters), and a
    fresh DescribeCluster only when the lifetimes cannot price it."""
    from botocore.exceptions import ClientError

    operation = "ListInstances"
    try:
        lifetimes = run_costs.instance_lifetimes(emr.list_instances(cluster_id, states=()))
        cost = run_costs.cluster_run_cost(lifetimes or [])
        if cost.usd is None:
            operation = "DescribeCluster"
            hours = int(emr.describe_cluster(cluster_id).get("NormalizedInstanceHours") or 0)
            cost = run_costs.cluster_run_cost(lifetimes or [], hours)
    except ClientError as exc:
        code = _error_code(exc)
        if code not in EMR_COST_UNAVAILABLE:
            raise  # throttling or a fault, after botocore's own retries
        return run_costs.RunCost(None, pricing.price_table().label, f"EMR did not say ({operation}: {code})")
    return cost


ASSUMED_ARCHITECTURE = "X86_64 (assumed: the application's architecture is unknown)"


def serverless_cost(application_id: str, job_run_ids: Sequence[str]) -> run_costs.RunCost:
    """The run's job runs' cost, summed: what the ledger's run META holds once every job run's end was recorded."""
    from botocore.exceptions import ClientError

    from emr_autopilot import aws, emr_serverless

    label = run_costs.serverless_prices().label
    if not job_run_ids:
        return run_costs.RunCost(None, label, "the run has no job runs")
    operation = "GetApplication"
    try:
        application: Any = aws.client("emr-serverless").get_application(applicationId=application_id)["application"]
        # GetApplication: architecture defaults to X86_64 when the application was created without one.
        architecture = application.get("architecture")
        items = []
        operation = "GetJobRun"
        for job_run_id in job_run_ids:
            run: Any = emr_serverless.get_job_run(application_id, job_run_id)
            billed = dict(run.get("billedResourceUtilization") or {})
            cost = run_costs.serverless_run_cost(billed, architecture or "X86_64")
            items.append(
                {
                    "state": run.get("state"),
                    "billed_resource_utilization": billed,
                    "architecture": architecture or ASSUMED_ARCHITECTURE,
                    **run_costs.cost_fields(cost),
                }
            )
    except ClientError as exc:
        code = _error_code(exc)
        if code not in SERVERLESS_COST_UNAVAILABLE:
            raise  # throttling or a fault, after botocore's own retries
        return run_costs.RunCost(None, label, f"EMR Serverless did not say ({operation}: {code})")
    total = run_costs.serverless_run_total(items, emr_serverless.JOB_RUN_ENDED)
    return total or run_costs.RunCost(None, label, "none of the run's job runs has ended")


def eks_cost(virtual_cluster_id: str, job_run_ids: Sequence[str]) -> run_costs.RunCost:
    """The run's job runs' cost, summed: what the ledger's run META holds once every job run's end was recorded."""
    from botocore.exceptions import ClientError

    from emr_autopilot import emr_eks

    label = run_costs.eks_prices().label
    if not job_run_ids:
        return run_costs.RunCost(None, label, "the run has no job runs")
    try:
        job_runs = [emr_eks.describe_job_run(virtual_cluster_id, job_run_id) for job_run_id in job_run_ids]
    except ClientError as exc:
        code = _error_code(exc)
        if code not in EKS_COST_UNAVAILABLE:
            raise  # throttling or a fault, after botocore's own retries
        return run_costs.RunCost(None, label, f"EMR on EKS did not say (DescribeJobRun: {code})")
    items = [run_costs.cost_fields(run_costs.eks_run_cost(job_run)) for job_run in job_runs]
    return run_costs.eks_run_total(items) or run_costs.RunCost(None, label, "no job run was priced")


# -- RunCostFunction's payload and answer ------------------------------------------------------------------
# EMR cluster ids (j-...), EMR Serverless and EMR on EKS ids ([0-9a-z]+, botocore's models), at most 64 characters.
ID_PATTERN = r"^[0-9A-Za-z-]{1,64}$"


class JobRunResult(BaseModel):
    """One item of a RunJobs result: ServerlessPipeline's (StartJobRun's ResultSelector, JobRunId) or EksPipeline's
    (the startJobRun.sync task's output kept whole: Id, with the rest ignored)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    JobRunId: str = Field(pattern=ID_PATTERN, validation_alias=AliasChoices("JobRunId", "Id"))


class RunCostRequest(BaseModel):
    """The run's cluster (TransientClusterPipeline), or its application (ServerlessPipeline) or virtual cluster
    (EksPipeline) with its job runs."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    cluster_id: str | None = Field(default=None, pattern=ID_PATTERN)
    application_id: str | None = Field(default=None, pattern=ID_PATTERN)
    virtual_cluster_id: str | None = Field(default=None, pattern=ID_PATTERN)
    job_runs: list[JobRunResult] = Field(default_factory=list, max_length=256)  # a job has at most 256 steps

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        targets = [self.cluster_id, self.application_id, self.virtual_cluster_id]
        if sum(target is not None for target in targets) != 1:
            raise ValueError(
                "give one of cluster_id (EMR on EC2), application_id (EMR Serverless) or virtual_cluster_id "
                "(EMR on EKS), the last two with job_runs"
            )
        if self.cluster_id and self.job_runs:
            raise ValueError("job_runs go with application_id or virtual_cluster_id, not cluster_id")
        return self


def parse_request(event: Any) -> RunCostRequest:
    """The payload as its model; a malformed one fails with a name the ASL's Catch can report."""
    try:
        return RunCostRequest.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent.from_validation("RunCostRequest", exc) from exc


def run_cost(request: RunCostRequest) -> dict[str, Any]:
    """{"line": "Cost: ~$... (estimate: ... as of <date>; ...)", "usd", "label", "detail", "compute"}."""
    ids = [item.JobRunId for item in request.job_runs]
    if request.cluster_id:
        compute, cost = "emr-ec2", cluster_cost(request.cluster_id)
    elif request.virtual_cluster_id:
        compute, cost = "emr-eks", eks_cost(request.virtual_cluster_id, ids)
    else:
        assert request.application_id  # the model's validator
        compute, cost = "emr-serverless", serverless_cost(request.application_id, ids)
    return {"line": cost.line(), "compute": compute, **cost.as_dict()}
