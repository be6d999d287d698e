"""Reacting to one EMR on EKS event: the run ledger, what it means (category, metrics), and whether to notify.

A job run event costs one DescribeJobRun (the tags that name the run, failureReason, stateDetails, the spark
parameters the cost estimate reads, createdAt and finishedAt: the events carry no tags, and their shape is
inferred, emr_eks_events), and a FAILED job run one or two GETs of its driver's log. A job run without our run-id
tag, or one EMR on EKS does not know, is ignored: nothing recorded, nothing sent (the handler logs why). Every
ledger write comes before the notification: if a write fails, Lambda's retry runs the whole reaction again, and a
notification already sent would go out twice.
"""

from datetime import UTC, datetime
from typing import Any

from emr_autopilot import emr_eks, ledger, run_costs
from emr_autopilot.emr_eks_events import EmrEksEvent, JobRunStateChangeDetail, NewDriverAttemptDetail
from emr_autopilot.emr_eks_reactions import notices
from emr_autopilot.emr_eks_reactions.reaction import EksJobRunContext, EksReaction
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings, send
from emr_autopilot.emr_serverless_reactions.log_follow_up import driver_tail
from emr_autopilot.tags import TAG_RUN_ID, run_tags

# DescribeJobRun errors that retrying cannot change: the job run is gone, not ours to read, or not an id.
UNAVAILABLE = ("ResourceNotFoundException", "ValidationException", "AccessDeniedException")


def job_run_context(virtual_cluster_id: str, job_run_id: str) -> EksJobRunContext:
    """What DescribeJobRun says; a job run EMR on EKS does not know gives a context that says why."""
    from botocore.exceptions import ClientError

    try:
        run: Any = emr_eks.describe_job_run(virtual_cluster_id, job_run_id)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") not in UNAVAILABLE:
            raise  # throttling or a fault: Lambda's retry runs the reaction again
        why = f"{error.get('Code')}: {error.get('Message') or 'unknown job run'}"
        return EksJobRunContext(virtual_cluster_id, job_run_id, unavailable=why)
    return EksJobRunContext(
        virtual_cluster_id=virtual_cluster_id,
        job_run_id=job_run_id,
        name=run.get("name") or "",
        **run_tags(run.get("tags")),
        state=run.get("state"),
        failure_reason=run.get("failureReason") or "",
        state_details=run.get("stateDetails") or "",
        log_uri=emr_eks.job_run_log_uri(run),
        job_run=dict(run),
    )


def react(envelope: EmrEksEvent, detail: Any, settings: ReactionSettings) -> EksReaction:
    virtual_cluster_id, job_run_id = getattr(detail, "virtualClusterId", None), getattr(detail, "id", None)
    reaction = EksReaction(
        event_id=envelope.id,
        detail_type=envelope.detail_type,
        cluster_id=None,
        virtual_cluster_id=virtual_cluster_id,
        job_run_id=job_run_id,
    )
    if not virtual_cluster_id or not job_run_id:
        reaction.ignored = "the event names no job run (id and virtualClusterId)"
        return reaction
    context = job_run_context(virtual_cluster_id, job_run_id)
    if context.unavailable is not None:
        reaction.ignored = f"EMR on EKS does not know the job run (DescribeJobRun {context.unavailable})"
        return reaction
    if not context.run_id:
        reaction.ignored = f"the job run has no {TAG_RUN_ID} tag: not started by emr-autopilot"
        return reaction
    reaction.job, reaction.run_id = context.job, context.run_id
    at = envelope.time.astimezone(UTC)
    partition = f"RUN#{context.run_id}"
    ledger.record_timeline(
        settings.ledger_table, partition, at, envelope.id, envelope.detail_type, _summary(envelope.detail)
    )
    reaction.recorded = True
    if isinstance(detail, JobRunStateChangeDetail):
        _on_state_change(detail, context, settings, reaction, at)
    elif isinstance(detail, NewDriverAttemptDetail):
        _on_new_driver_attempt(detail, context, settings, reaction)
    return reaction


def _summary(detail: dict[str, Any]) -> dict[str, Any]:
    # The timeline keeps the event's facts, not free text (stateDetails is cut short).
    keep = ("state", "id", "name", "failureReason", "stateDetails", "releaseLabel")
    return {key: str(detail[key])[:500] for key in keep if detail.get(key) not in (None, "")}


def _on_state_change(
    detail: JobRunStateChangeDetail,
    context: EksJobRunContext,
    settings: ReactionSettings,
    reaction: EksReaction,
    at: datetime,
) -> None:
    failed = detail.state == "FAILED"
    # DescribeJobRun's word first (read now), then the event's.
    failure_reason = context.failure_reason or detail.failureReason or ""
    state_details = context.state_details or detail.stateDetails or ""
    context = context._replace(failure_reason=failure_reason, state_details=state_details)
    ended_run = _ended_job_run(detail, context)
    cost = run_costs.eks_run_cost(ended_run) if ended_run else None
    duration = _duration(ended_run) if ended_run else None
    stderr = _driver_log(context, "stderr.gz")
    run_id = str(context.run_id)
    item = ledger.record_eks_job_run_change(
        settings.ledger_table,
        ledger.EksJobRunChange(
            virtual_cluster_id=context.virtual_cluster_id,
            job_run_id=context.job_run_id,
            run_id=run_id,
            state=detail.state,
            at=at,
            name=detail.name or context.name or None,
            failure_reason=(failure_reason or None) if failed else None,
            state_details=(state_details or None) if detail.state in ("FAILED", "CANCELLED") else None,
            log_file=stderr if failed else None,
            duration_seconds=duration,
            cost=run_costs.cost_fields(cost) if cost else None,
        ),
    )
    run = ledger.ServerlessRun(
        run_id,
        context.virtual_cluster_id,
        at,
        context.job,
        context.execution_arn,
        compute=ledger.EKS_COMPUTE,
        location_field="virtual_cluster_id",
    )
    ledger.refresh_serverless_run(settings.ledger_table, run)
    if duration is not None:
        reaction.metrics.append(("JobRunDurationSeconds", "Seconds", float(duration)))
    if failed:
        reaction.category = "JOB_RUN_FAILED"
        reaction.metrics.append(("JobRunFailed", "Count", 1))
        _notify_failed(detail.name or context.name or context.job_run_id, context, settings, reaction, cost)
    reaction.stale = item is None  # set last: a late FAILED is still notified; stale is for the record


def _on_new_driver_attempt(
    detail: NewDriverAttemptDetail, context: EksJobRunContext, settings: ReactionSettings, reaction: EksReaction
) -> None:
    """A warning, as for an EMR Serverless retry: the driver failed and the retry policy started another; the run
    goes on (the job run's state changes are recorded as they come)."""
    reaction.category = "JOB_RUN_RETRY"
    reaction.metrics.append(("JobRunRetries", "Count", 1))
    subject, body = notices.driver_attempt(detail.name or context.name or context.job_run_id, context, settings.region)
    send(settings.topic_arn, reaction, subject, body, "WARNING", "RETRY")


def _ended_job_run(detail: JobRunStateChangeDetail, context: EksJobRunContext) -> dict[str, Any] | None:
    """The job run as the cost estimate reads it, once the event says it ended: DescribeJobRun's, with the
    event's createdAt / finishedAt where DescribeJobRun has none yet."""
    if detail.state not in emr_eks.JOB_RUN_ENDED:
        return None
    run = dict(context.job_run or {})
    run["createdAt"] = run.get("createdAt") or detail.createdAt
    run["finishedAt"] = run.get("finishedAt") or detail.finishedAt
    return run


def _duration(job_run: dict[str, Any]) -> int | None:
    created, finished = job_run.get("createdAt"), job_run.get("finishedAt")
    if isinstance(created, datetime) and isinstance(finished, datetime):
        return max(0, round((finished - created).total_seconds()))
    return None


def _driver_log(context: EksJobRunContext, name: str) -> str | None:
    if not context.log_uri:
        return None
    return emr_eks.driver_log_uri(context.log_uri, context.virtual_cluster_id, context.job_run_id, name=name)


def _notify_failed(
    name: str,
    context: EksJobRunContext,
    settings: ReactionSettings,
    reaction: EksReaction,
    cost: run_costs.RunCost | None,
) -> None:
    """The failure notice with the driver log's last lines. A PySpark driver's traceback is in stdout.gz (as for
    EMR Serverless: emr_serverless_reactions.log_follow_up.driver_log_uris), so that is read first."""
    driver = ((context.job_run or {}).get("jobDriver") or {}).get("sparkSubmitJobDriver") or {}
    names = ("stdout.gz", "stderr.gz") if str(driver.get("entryPoint") or "").endswith(".py") else ("stderr.gz",)
    uris = [uri for uri in (_driver_log(context, log) for log in names) if uri]
    log_uri, tail = driver_tail(uris)
    subject, body = notices.job_run_failed(name, context, log_uri, tail, settings.region, cost.line() if cost else None)
    send(settings.topic_arn, reaction, subject, body, "ERROR", "FAILED")
