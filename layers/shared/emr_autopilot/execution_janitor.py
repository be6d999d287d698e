"""After a pipeline execution ends: remove its deadline and make sure no cluster (or EMR Serverless or EMR on
EKS job run) it created still runs.

No Catch runs when an execution is aborted or times out, so this is the only thing that
cleans up then. It also sweeps after FAILED, in case the run's own cleanup could not finish.
"""

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot import aws, emr, emr_serverless, notifications
from emr_autopilot.deadlines import DEADLINE_ERROR, deadline_schedule_name
from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB

if TYPE_CHECKING:
    from mypy_boto3_emr.type_defs import ClusterTypeDef


class JanitorSettings(EnvSettings):
    notification_topic_arn: str
    schedule_group_name: str
    idempotency_table_name: str


@cache
def janitor_settings() -> JanitorSettings:
    return JanitorSettings.from_env()


class ExecutionStatusDetail(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    executionArn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    stateMachineArn: str
    name: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    startDate: int | None = None
    stopDate: int | None = None
    error: str | None = None
    cause: str | None = None
    input: str | None = None


class ExecutionStatusChange(BaseModel):
    """EventBridge "Step Functions Execution Status Change"."""

    model_config = ConfigDict(defer_build=True)

    id: str
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    source: Literal["aws.states"]
    region: str
    time: datetime
    detail: ExecutionStatusDetail


@dataclass
class JanitorReport:
    execution_arn: str
    execution_status: str
    terminated: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    cancelled_job_runs: list[str] = field(default_factory=list)
    notified: bool = False
    # "end": the run's one terminal notice (the run could not send its own); "cleanup": a follow-up to it.
    notice: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def clusters_of_execution(execution_arn: str, run_name: str) -> list["ClusterTypeDef"]:
    """Active clusters tagged with this execution. The cluster name is the run id, so only
    same-named clusters are described: a handful of calls, however many clusters are active."""
    found = []
    for summary in emr.list_clusters(emr.ACTIVE):
        if summary.get("Name") != run_name:
            continue
        try:
            cluster = emr.describe_cluster(summary["Id"])
        except ClientError as exc:
            # IAM lets the janitor describe only clusters tagged as the pipeline's: a same-named
            # cluster it may not read is not one of ours.
            if exc.response.get("Error", {}).get("Code") in ("AccessDeniedException", "AccessDenied"):
                continue
            raise
        if emr.tags_of(cluster).get(TAG_EXECUTION_ARN) == execution_arn:
            found.append(cluster)
    return found


def handle_execution_end(change: ExecutionStatusChange, topic_arn: str, schedule_group: str) -> JanitorReport:
    detail = change.detail
    report = JanitorReport(execution_arn=detail.executionArn, execution_status=detail.status)
    _delete_deadline(detail.executionArn, schedule_group)
    if detail.status in ("SUCCEEDED", "RUNNING"):
        return report

    job = job_of(detail)
    if not cancel_job_runs(detail, report):
        clusters = clusters_of_execution(detail.executionArn, detail.name)
        for cluster in clusters:
            job = emr.tags_of(cluster).get(TAG_JOB, job)
        terminate_unprotected(clusters, report)

    # Exactly one notice ends a run. A FAILED run sends its own, unless its notify state itself failed;
    # no Catch runs after ABORTED or TIMED_OUT, so then it is the janitor's to send.
    if not own_notice_sent(detail.executionArn):
        report.notice = "end"
    elif report.terminated or report.protected or report.cancelled_job_runs:
        report.notice = "cleanup"  # the run already said how it ended: this only says what was cleaned up
    if report.notice is not None:
        _notify(change, report, topic_arn, job)
        report.notified = True
    return report


def cancel_job_runs(detail: ExecutionStatusDetail, report: JanitorReport) -> bool:
    """Cancel the job runs of a serverless or EMR on EKS run that are still active; False for a cluster run.
    Step Functions' own cancel of a stopped .sync task is best-effort: this makes sure."""
    application_id = serverless_application_of(detail)
    if application_id:
        for run in emr_serverless.job_runs_tagged(application_id, TAG_EXECUTION_ARN, detail.executionArn):
            emr_serverless.cancel_job_run(application_id, run["jobRunId"])
            report.cancelled_job_runs.append(run["jobRunId"])
        return True
    virtual_cluster_id = eks_virtual_cluster_of(detail)
    if virtual_cluster_id:
        containers = aws.client("emr-containers")
        for job_run in eks_job_runs_tagged(virtual_cluster_id, TAG_EXECUTION_ARN, detail.executionArn):
            containers.cancel_job_run(id=job_run["id"], virtualClusterId=virtual_cluster_id)
            report.cancelled_job_runs.append(job_run["id"])
        return True
    return False


# EMR on EKS job runs that have not ended: PENDING, SUBMITTED, RUNNING (EMR on EKS Development Guide, "Job run
# states"); CANCEL_PENDING is already on its way out.
EKS_JOB_RUN_ACTIVE = ("PENDING", "SUBMITTED", "RUNNING")


def eks_job_runs_tagged(virtual_cluster_id: str, key: str, value: str) -> list[dict[str, Any]]:
    """The virtual cluster's active job runs whose tag `key` is `value` (ListJobRuns returns each run's tags)."""
    pages = (
        aws.client("emr-containers")
        .get_paginator("list_job_runs")
        .paginate(virtualClusterId=virtual_cluster_id, states=list(EKS_JOB_RUN_ACTIVE))
    )
    return [run for page in pages for run in page["jobRuns"] if (run.get("tags") or {}).get(key) == value]


def terminate_unprotected(clusters: list["ClusterTypeDef"], report: JanitorReport) -> None:
    """Terminate each cluster, except one with termination protection on: never remove protection,
    someone set it on purpose."""
    for cluster in clusters:
        if cluster.get("TerminationProtected"):
            report.protected.append(cluster["Id"])
            continue
        emr.terminate(cluster["Id"])
        report.terminated.append(cluster["Id"])


def own_notice_sent(execution_arn: str) -> bool:
    """Whether the execution published its own notice (NotifySuccess/NotifyFailure, an sns:publish task)
    as its last task. Newest events first: the notice is the last task a run makes."""
    sfn = aws.client("stepfunctions")
    try:
        pages = sfn.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, reverseOrder=True, includeExecutionData=False
        )
        for page in pages:
            ended = [event for event in page["events"] if event["type"] in TASK_ENDED]
            if ended:
                # The newest by id: an API that ignores reverseOrder (the local emulator) still answers right.
                return is_own_notice(max(ended, key=lambda event: int(event.get("id", 0))))
    except sfn.exceptions.ExecutionDoesNotExist:
        pass  # history gone (or never there): better a notice too many than none
    return False


TASK_ENDED = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"})


def is_own_notice(task_ended: Mapping[str, Any]) -> bool:
    """Whether a run's last task (a TASK_ENDED history event) was its own notice: a succeeded sns:publish."""
    details: dict[str, Any] = next((v for k, v in task_ended.items() if k.endswith("EventDetails")), {})
    return task_ended.get("type") == "TaskSucceeded" and details.get("resourceType") == "sns"


def job_of(detail: ExecutionStatusDetail) -> str:
    """The job, from the execution input the run starter wrote (EventBridge includes it)."""
    try:
        return str(json.loads(detail.input or "{}")["run"]["job_name"])
    except (ValueError, KeyError, TypeError):
        return "-"


def serverless_application_of(detail: ExecutionStatusDetail) -> str | None:
    """The EMR Serverless application a serverless run used (its input's application.ApplicationId);
    None for a cluster run."""
    return _input_member(detail, "emr-serverless", "application", "ApplicationId")


def eks_virtual_cluster_of(detail: ExecutionStatusDetail) -> str | None:
    """The virtual cluster an EMR on EKS run used (its input's virtual_cluster.VirtualClusterId); None otherwise."""
    return _input_member(detail, "emr-eks", "virtual_cluster", "VirtualClusterId")


def _input_member(detail: ExecutionStatusDetail, compute: str, section: str, member: str) -> str | None:
    try:
        run_input = json.loads(detail.input or "{}")
        if run_input["run"].get("compute") != compute:
            return None
        return str(run_input[section][member])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _delete_deadline(execution_arn: str, group: str) -> None:
    scheduler = aws.client("scheduler")
    # Not found: it already fired (and deleted itself) or the run was started without one.
    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name=deadline_schedule_name(execution_arn), GroupName=group)


def notice_opening(change: ExecutionStatusChange, report: JanitorReport, headline: str, janitor: str) -> list[str]:
    """A janitor's notice begins the same way for every kind of run: what ended, whose notice this is, and why."""
    detail = change.detail
    lines = [headline]
    if report.notice == "cleanup":
        lines[0] += " Its own notice said why; this one says what was left running."
    elif detail.status == "FAILED":
        lines[0] += f" The run could not send its own notice, so the {janitor} does."
    if detail.error or detail.cause:
        lines += [f"Error: {detail.error or '-'}", f"Cause: {detail.cause or '-'}"]
    return lines


def _notify(change: ExecutionStatusChange, report: JanitorReport, topic_arn: str, job: str) -> None:
    detail = change.detail
    if detail.error == DEADLINE_ERROR:
        what = "TIMED OUT (job run_timeout)"
    else:
        what = {"ABORTED": "ABORTED", "TIMED_OUT": "TIMED OUT", "FAILED": "FAILED"}.get(detail.status, detail.status)
    cleanup = report.notice == "cleanup"
    lines = notice_opening(change, report, f"Run {detail.name} {what}.", "execution janitor")
    if report.terminated:
        lines.append("Terminated cluster(s) it left running: " + ", ".join(report.terminated))
        lines += [f"  {notifications.console_cluster_url(change.region, cid)}" for cid in report.terminated]
    if report.protected:
        lines.append(
            "NOT terminated, termination protection is on (remove it deliberately if the cluster should go): "
            + ", ".join(report.protected)
        )
    if report.cancelled_job_runs:
        service = "EMR on EKS" if eks_virtual_cluster_of(detail) else "EMR Serverless"
        lines.append(f"Cancelled {service} job run(s) it left running: " + ", ".join(report.cancelled_job_runs))
    if not report.terminated and not report.protected and not report.cancelled_job_runs:
        what_ran = "job run" if serverless_application_of(detail) or eks_virtual_cluster_of(detail) else "cluster"
        lines.append(f"No {what_ran} of this run was still running.")
    lines.append(f"Execution: {notifications.console_execution_url(change.region, detail.executionArn)}")
    severity: notifications.Severity = "CRITICAL" if report.protected else "ERROR"
    notifications.publish(
        topic_arn,
        f"[emr-autopilot] {'CLEANED UP after ' if cleanup else ''}{what} {detail.name}",
        "\n".join(lines),
        severity=severity,
        # RUN_CLEANUP is not a run's end: filter on RUN_SUCCEEDED/FAILED/ABORTED/TIMED_OUT for one notice a run.
        event_type="RUN_CLEANUP" if cleanup else "RUN_" + detail.status,
        job=job,
        cluster_id=(report.terminated + report.protected + ["-"])[0],
        state=detail.status,
    )
