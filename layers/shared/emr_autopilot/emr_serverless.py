"""The one typed wrapper around the EMR Serverless client, as emr.py is for EMR on EC2.

States are botocore's enums (emr-serverless service model, JobRunState and ApplicationState), in the
order the EMR Serverless user guide gives them ("Job run states", "Application states").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from emr_autopilot import aws

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless.literals import JobRunStateType
    from mypy_boto3_emr_serverless.type_defs import JobRunTypeDef

# Job runs: SUBMITTED -> (QUEUED) -> PENDING -> SCHEDULED -> RUNNING -> SUCCESS | FAILED;
# a cancel or a timeout goes CANCELLING -> CANCELLED.
JOB_RUN_ACTIVE: Final[tuple[JobRunStateType, ...]] = ("SUBMITTED", "QUEUED", "PENDING", "SCHEDULED", "RUNNING")
JOB_RUN_ENDED: Final = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
JOB_RUN_ORDER: Final = (*JOB_RUN_ACTIVE, "CANCELLING", "SUCCESS", "FAILED", "CANCELLED")

# Applications: CREATING -> CREATED -> STARTING -> STARTED -> STOPPING -> STOPPED -> TERMINATED.
APPLICATION_ORDER: Final = ("CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED", "TERMINATED")


def active_job_runs(application_id: str) -> Iterator[str]:
    """Ids of the application's job runs that have not ended (CANCELLING is already on its way out)."""
    pages = (
        aws.client("emr-serverless")
        .get_paginator("list_job_runs")
        .paginate(applicationId=application_id, states=list(JOB_RUN_ACTIVE))
    )
    for page in pages:
        for run in page["jobRuns"]:
            yield run["id"]


def get_job_run(application_id: str, job_run_id: str) -> JobRunTypeDef:
    return aws.client("emr-serverless").get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]


def cancel_job_run(application_id: str, job_run_id: str) -> None:
    aws.client("emr-serverless").cancel_job_run(applicationId=application_id, jobRunId=job_run_id)


def job_runs_tagged(application_id: str, key: str, value: str) -> list[JobRunTypeDef]:
    """The application's active job runs whose tag `key` is `value`. ListJobRuns returns no tags, so each
    active run is read; an application runs a handful at once."""
    found = []
    for job_run_id in active_job_runs(application_id):
        run = get_job_run(application_id, job_run_id)
        if run.get("tags", {}).get(key) == value:
            found.append(run)
    return found


def job_run_rank(state: str, attempt: int = 1) -> int:
    """A job run's state as a number that only grows (the ledger keeps the highest): JOB_RUN_ORDER within an
    attempt, and any state of a later attempt above every state of an earlier one (with a retry policy, attempt
    n + 1 runs after attempt n FAILED). An unknown state is 0: kept in the timeline, never over a known one."""
    if state not in JOB_RUN_ORDER:
        return 0
    return (max(attempt, 1) - 1) * (len(JOB_RUN_ORDER) + 1) + JOB_RUN_ORDER.index(state) + 1


def driver_log_uri(job_run: Mapping[str, Any], name: str = "stderr.gz") -> str | None:
    """Where EMR Serverless puts the driver's log in S3, or None when the job run logs to no S3 location.

    <logUri>/applications/<app>/jobs/<job run>/SPARK_DRIVER/<name> (EMR Serverless User Guide, "Getting started",
    "Review output": the driver's stdout.gz is there; stderr.gz sits beside it). With a retry policy each attempt
    writes under .../jobs/<job run>/attempts/<n>/ (shared reference serverless-eks-facts.md §2a). HIVE_DRIVER for
    Hive job runs is inferred from the worker type's name.
    """
    overrides = job_run.get("configurationOverrides") or {}
    s3 = (overrides.get("monitoringConfiguration") or {}).get("s3MonitoringConfiguration") or {}
    log_uri = s3.get("logUri")
    if not log_uri:
        return None
    parts = [log_uri.rstrip("/"), "applications", job_run["applicationId"], "jobs", job_run["jobRunId"]]
    if job_run.get("retryPolicy"):
        parts += ["attempts", str(job_run.get("attempt") or 1)]
    driver = "HIVE_DRIVER" if "hive" in (job_run.get("jobDriver") or {}) else "SPARK_DRIVER"
    return "/".join([*parts, driver, name])
