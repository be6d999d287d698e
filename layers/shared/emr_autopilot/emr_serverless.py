"""The one typed wrapper around the EMR Serverless client, as emr.py is for EMR on EC2.

States are botocore's enums (emr-serverless service model, JobRunState and ApplicationState), in the
order the EMR Serverless user guide gives them ("Job run states", "Application states").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

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
