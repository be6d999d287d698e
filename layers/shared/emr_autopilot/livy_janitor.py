"""After a Livy run's execution ended: delete the batch it left running, terminate the transient
cluster it created, and send the run's one closing notice when the run could not.

No Catch runs when an execution is stopped or times out, so this is the only cleanup then.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from emr_autopilot import aws, emr, notifications
from emr_autopilot.errors import BatchNotFound, ClusterGone, ClusterNotReady, LivyUnavailable
from emr_autopilot.execution_janitor import (
    TASK_ENDED,
    ExecutionStatusChange,
    JanitorReport,
    clusters_of_execution,
    is_own_notice,
    job_of,
    notice_opening,
    terminate_unprotected,
)
from emr_autopilot.livy_pipeline.resolve import describe_cluster
from emr_autopilot.livy_pipeline.settings import LivyEndpoint, LivySettings, client_for, endpoint_for

if TYPE_CHECKING:
    from mypy_boto3_emr.type_defs import ClusterTypeDef


class LivyJanitorSettings(LivySettings):
    idempotency_table_name: str  # one cleanup per execution end, however often it is delivered


@cache
def livy_janitor_settings() -> LivyJanitorSettings:
    return LivyJanitorSettings.from_env()


@dataclass
class LivyJanitorReport(JanitorReport):
    """The execution janitor's report (terminated: the transient clusters this run created), plus the batch."""

    batch: str = "-"  # "<cluster>/<batch id>" when found
    deleted: list[str] = field(default_factory=list)  # batches DELETEd, as "<cluster>/<id>"
    notes: list[str] = field(default_factory=list)


class _Found(NamedTuple):
    cluster_id: str
    endpoint: LivyEndpoint | None
    batch_id: int | None
    batch_name: str


@dataclass
class _History:
    found: bool  # False: no history to read (unknown execution, or one older than Step Functions keeps)
    submit_entered: bool = False
    state: dict[str, Any] = field(default_factory=dict)  # as ResolveCluster or SubmitBatch last left it
    notice_sent: bool = False  # the run's last task published its own notice (NotifySuccess/NotifyFailure)


def _read_history(execution_arn: str) -> _History:
    sfn = aws.client("stepfunctions")
    history = _History(found=True)
    last_task: Mapping[str, Any] = {}
    try:
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            for event in page["events"]:
                if event["type"] in TASK_ENDED and int(event.get("id", 0)) >= int(last_task.get("id", 0)):
                    last_task = event
                entered: Mapping[str, Any] = event.get("stateEnteredEventDetails") or {}
                exited: Mapping[str, Any] = event.get("stateExitedEventDetails") or {}
                if event["type"] == "TaskStateEntered" and entered.get("name") == "SubmitBatch":
                    history.submit_entered = True
                if event["type"] == "TaskStateExited" and exited.get("name") in ("ResolveCluster", "SubmitBatch"):
                    history.state = json.loads(exited.get("output") or "{}")
    except sfn.exceptions.ExecutionDoesNotExist:
        return _History(found=False)
    history.notice_sent = is_own_notice(last_task)
    return history


def _locate(
    change: ExecutionStatusChange, owned: "list[ClusterTypeDef]", report: LivyJanitorReport, history: _History
) -> _Found | None:
    """Where the run's batch is: its id from SubmitBatch's output; else its name on the run's cluster."""
    detail = change.detail
    if history.found and not history.submit_entered:
        report.notes.append("the run never reached SubmitBatch: no batch to delete")
        return None
    state = history.state
    try:
        original = json.loads(detail.input or "{}")
    except ValueError:
        original = {}
    cluster_id = state.get("cluster_id") or original.get("cluster_id")
    batch_name = (state.get("batch") or {}).get("name") or (original.get("batch") or {}).get("name") or detail.name
    if cluster_id in (None, "none"):
        # A transient run stopped before ResolveCluster: its cluster carries the execution's tag.
        if not owned:
            report.notes.append("no cluster: the run stopped before it had one")
            return None
        cluster_id = owned[0]["Id"]
    endpoint = LivyEndpoint.model_validate(state["livy"]) if state.get("livy") else None
    submitted = state.get("submitted") or {}
    batch_id = submitted.get("id") if isinstance(submitted.get("id"), int) else None
    return _Found(str(cluster_id), endpoint, batch_id, str(batch_name))


def clean_up_execution(change: ExecutionStatusChange, settings: LivySettings) -> LivyJanitorReport:
    """No Catch runs when an execution is stopped or times out: delete its batch if it still runs,
    terminate the transient cluster it created, and say so."""
    detail = change.detail
    report = LivyJanitorReport(execution_arn=detail.executionArn, execution_status=detail.status)
    if detail.status in ("SUCCEEDED", "RUNNING"):
        return report
    owned = clusters_of_execution(detail.executionArn, detail.name)  # only a transient run has one
    history = _read_history(detail.executionArn)
    found = _locate(change, owned, report, history)
    if found is not None:
        # The cluster of a transient run is terminated next anyway; an unreachable Livy does not matter then.
        _delete_batch(found, settings, report, tolerate_unreachable=bool(owned))
    terminate_unprotected(owned, report)  # only clusters this execution created carry its tag
    job = job_of(detail)
    # Exactly one notice ends a run: the run's own (NotifySuccess/NotifyFailure) if it could send it,
    # else this one (always after ABORTED and TIMED_OUT, when no Catch runs).
    if not history.notice_sent:
        report.notice = "end"
    elif report.deleted or report.terminated or report.protected:
        report.notice = "cleanup"  # the run said how it ended; this says what it had left running
    if report.notice is not None:
        _notify(change, report, settings, job)
        report.notified = True
    return report


def _delete_batch(
    found: _Found, settings: LivySettings, report: LivyJanitorReport, *, tolerate_unreachable: bool
) -> None:
    endpoint = found.endpoint
    try:
        if endpoint is None:
            cluster = describe_cluster(found.cluster_id)
            if cluster["Status"]["State"] not in emr.READY or not cluster.get("MasterPublicDnsName"):
                report.notes.append(f"cluster {found.cluster_id} is {cluster['Status']['State']}: no batch to delete")
                return
            if "livy" not in {str(app.get("Name", "")).lower() for app in cluster.get("Applications", [])}:
                report.notes.append(f"cluster {found.cluster_id} has no Livy: no batch to delete")
                return
            endpoint = endpoint_for(str(cluster["MasterPublicDnsName"]), settings)
        client = client_for(endpoint, settings)
        batch = client.get(found.batch_id) if found.batch_id is not None else client.find_by_name(found.batch_name)
        if batch is None:
            report.notes.append(f"Livy on {found.cluster_id} has no batch named {found.batch_name}")
            return
        report.batch = f"{found.cluster_id}/{batch.id}"
        if batch.final:
            report.notes.append(f"batch {batch.id} had already ended: {batch.state}")
            return
        if client.delete(batch.id):
            report.deleted.append(f"{found.cluster_id}/{batch.id}")
            report.notes.append(f"batch {batch.id} was {batch.state}: deleted")
    except BatchNotFound:
        report.notes.append(f"Livy on {found.cluster_id} no longer knows batch {found.batch_id}")
    except (ClusterGone, ClusterNotReady) as exc:
        report.notes.append(str(exc))
    except LivyUnavailable as exc:
        if tolerate_unreachable:
            report.notes.append(f"Livy not reachable ({exc}); the cluster is terminated instead")
        elif _ended(found.cluster_id):
            # A cluster on its way out (e.g. stopped during TerminateCluster) takes its batches with it.
            report.notes.append(f"Livy not reachable: cluster {found.cluster_id} is ending, and its batches with it")
        else:
            raise  # the invocation fails, is retried, and ends in the dead-letter queue


def _ended(cluster_id: str) -> bool:
    try:
        return describe_cluster(cluster_id)["Status"]["State"] in emr.ENDED
    except ClusterGone:
        return True


def _notify(change: ExecutionStatusChange, report: LivyJanitorReport, settings: LivySettings, job: str) -> None:
    detail = change.detail
    what = {"ABORTED": "ABORTED", "TIMED_OUT": "TIMED OUT"}.get(detail.status, detail.status)
    cleanup = report.notice == "cleanup"
    lines = notice_opening(change, report, f"Livy run {detail.name} {what}.", "Livy janitor")
    if report.deleted:
        lines.append("Deleted the Livy batch it left running: " + ", ".join(report.deleted))
    lines += report.notes
    if report.terminated:
        lines.append("Terminated the transient cluster(s) it created: " + ", ".join(report.terminated))
    if report.protected:
        lines.append("NOT terminated, termination protection is on: " + ", ".join(report.protected))
    lines.append(f"Execution: {notifications.console_execution_url(change.region, detail.executionArn)}")
    cluster = report.batch.split("/")[0] if report.batch != "-" else (report.terminated + report.protected + ["-"])[0]
    notifications.publish(
        settings.notification_topic_arn,
        f"[emr-autopilot] Livy run {'CLEANED UP after ' if cleanup else ''}{what} {detail.name}",
        "\n".join(lines),
        severity="CRITICAL" if report.protected else "ERROR",
        # LIVY_RUN_CLEANUP is not a run's end: it follows the run's own LIVY_BATCH_FAILED notice.
        event_type="LIVY_RUN_CLEANUP" if cleanup else "LIVY_RUN_" + detail.status,
        job=job,
        cluster_id=cluster,
        state=detail.status,
    )
