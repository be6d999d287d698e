"""Tag keys the pipeline puts on its clusters (kept apart so readers need not import the job models)."""

from collections.abc import Mapping
from typing import TypedDict

TAG_JOB = "emr-autopilot:job"
TAG_RUN_ID = "emr-autopilot:run-id"
TAG_EXECUTION_ARN = "emr-autopilot:execution-arn"
TAG_MANAGED = "emr-autopilot:managed"


class RunTags(TypedDict):
    job: str | None
    run_id: str | None
    execution_arn: str | None


def run_tags(tags: Mapping[str, str] | None) -> RunTags:
    """The run a job run belongs to, by the tags the pipeline put on it (EMR Serverless's GetJobRun and EMR on
    EKS's DescribeJobRun return them as a map; the events carry none). None: not set."""
    tags = tags or {}
    return {"job": tags.get(TAG_JOB), "run_id": tags.get(TAG_RUN_ID), "execution_arn": tags.get(TAG_EXECUTION_ARN)}
