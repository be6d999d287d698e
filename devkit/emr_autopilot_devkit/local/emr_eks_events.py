"""The events EMR on EKS puts on EventBridge (source `aws.emr-containers`), as the EMR on EKS simulator emits them.

The EventBridge events reference, "Amazon EMR on EKS events" (events-ref-emr-containers.html), names the
detail-types `EmrContainers Job Run State Change`, `EMR Job Run State Change` and `EMR Job Run New Driver Attempt`,
but AWS publishes no sample of the detail (shared reference serverless-eks-facts.md §2b: unverified). The local
runtime emits the detail-type and keys of the issue-20 contract (/work/helpers/eks-contract.md, "Events"), all
inferred: `EMR Job Run State Change` with id, name, virtualClusterId, state, stateDetails, failureReason, arn,
releaseLabel, executionRoleArn, createdAt and finishedAt (the last two only once known), on every state change.
Times are ISO 8601 with microseconds and "Z", as the EMR Serverless events' samples write them (inferred).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emr_autopilot_devkit.local.emr_serverless_events import event_time

Emit = Callable[[str, str, dict[str, Any]], None]  # detail-type, resource, detail

SOURCE = "aws.emr-containers"
JOB_RUN_STATE_CHANGE = "EMR Job Run State Change"


def job_run_detail(run: Any) -> dict[str, Any]:
    """The detail of a job run's state-change event (keys inferred, see the module docstring)."""
    detail: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "virtualClusterId": run.virtual_cluster_id,
        "state": run.state,
        "stateDetails": run.state_details,
        "failureReason": run.failure_reason,
        "arn": run.arn,
        "releaseLabel": run.release_label,
        "executionRoleArn": run.execution_role_arn,
    }
    if run.created_at is not None:
        detail["createdAt"] = event_time(run.created_at)
    if run.finished_at is not None:
        detail["finishedAt"] = event_time(run.finished_at)
    return detail


class EmrEksEvents:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def job_run(self, run: Any) -> None:
        self.emit(JOB_RUN_STATE_CHANGE, run.arn, job_run_detail(run))
