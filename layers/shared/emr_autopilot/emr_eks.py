"""EMR on EKS (service `emr-containers`): what the shared package, the handlers and the local runtime agree on.

driver_log_uri: where EMR on EKS puts a job run's Spark driver logs in S3 (the three issue-20 helpers import it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from emr_autopilot import aws


def spark_application_id(job_run_id: str) -> str:
    """The Spark application id EMR on EKS gives a job run's driver: `spark-<jobRunId>` (inferred: observed in
    public EMR on EKS log paths, e.g. `.../containers/spark-<job id>/spark-<job id>-driver/stdout.gz`; older
    releases used a random `spark-<32 hex>`, so readers should list the prefix when the file is not there)."""
    return f"spark-{job_run_id}"


def driver_log_uri(
    log_uri: str, virtual_cluster_id: str, job_run_id: str, app_id: str | None = None, name: str = "stderr.gz"
) -> str:
    """`<logUri>/<virtualClusterId>/jobs/<jobRunId>/containers/<sparkApplicationId>/spark-<jobRunId>-driver/<name>`
    (EMR on EKS best practices, "Where to look for Spark logs": "Driver Logs -
    s3://my_s3_log_location/${virtual-cluster-id}/jobs/${job-id}/containers/${spark-application-id}/
    ${spark-job-id-driver-pod-name}/(stderr.gz/stdout.gz)"; the driver pod is named `spark-<jobRunId>-driver`
    (inferred from public EMR on EKS log paths). `name` is "stdout.gz" or "stderr.gz"."""
    application = app_id or spark_application_id(job_run_id)
    parts = [log_uri.rstrip("/"), virtual_cluster_id, "jobs", job_run_id, "containers", application]
    return "/".join([*parts, f"spark-{job_run_id}-driver", name])


# -- job run states and the client (the EMR on EKS reactions, the janitor) --------------------------------
# "Job run states" (EMR on EKS Development Guide, emr-eks-jobs-states.html): PENDING -> SUBMITTED -> RUNNING ->
# COMPLETED | FAILED; a cancel goes CANCEL_PENDING -> CANCELLED. botocore's JobRunState enum has the same seven.
JOB_RUN_ACTIVE: Final = ("PENDING", "SUBMITTED", "RUNNING")
JOB_RUN_ENDED: Final = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
JOB_RUN_ORDER: Final = (*JOB_RUN_ACTIVE, "CANCEL_PENDING", "COMPLETED", "FAILED", "CANCELLED")
# DescribeJobRun failureReason (botocore FailureReason enum), set on FAILED.
FAILURE_REASONS: Final = ("INTERNAL_ERROR", "USER_ERROR", "VALIDATION_ERROR", "CLUSTER_UNAVAILABLE")


def _client() -> Any:
    # mypy-boto3-emr-containers is not installed: the client is untyped (Any).
    return aws.client("emr-containers")


def describe_job_run(virtual_cluster_id: str, job_run_id: str) -> dict[str, Any]:
    return dict(_client().describe_job_run(virtualClusterId=virtual_cluster_id, id=job_run_id)["jobRun"])


def list_job_runs(virtual_cluster_id: str, states: Iterable[str] = JOB_RUN_ACTIVE) -> Iterator[dict[str, Any]]:
    """The virtual cluster's job runs in `states` (ListJobRuns returns each JobRun with its tags)."""
    pages = _client().get_paginator("list_job_runs").paginate(virtualClusterId=virtual_cluster_id, states=list(states))
    for page in pages:
        yield from page["jobRuns"]


def cancel_job_run(virtual_cluster_id: str, job_run_id: str) -> None:
    _client().cancel_job_run(virtualClusterId=virtual_cluster_id, id=job_run_id)


def job_run_rank(state: str) -> int:
    """A job run's state as a number that only grows (the ledger keeps the highest); unknown states are 0."""
    return JOB_RUN_ORDER.index(state) + 1 if state in JOB_RUN_ORDER else 0


def job_run_log_uri(job_run: Mapping[str, Any]) -> str | None:
    """DescribeJobRun's configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration.logUri."""
    overrides = job_run.get("configurationOverrides") or {}
    s3 = (overrides.get("monitoringConfiguration") or {}).get("s3MonitoringConfiguration") or {}
    return s3.get("logUri") or None
