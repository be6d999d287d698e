"""Reacting to one EMR Serverless event: the ledger, what it means (category, metrics), and whether to notify.

A job run event costs one GetJobRun (the tags that name the run, the state now, stateDetails, the attempt and
the totals: the events carry none of them), and a failed job run one GET of its driver's stderr.gz (a PySpark
driver's stdout.gz first). When that log is not in S3 yet, one CreateSchedule for its follow-up
(log_follow_up). A job run that ended with billedResourceUtilization adds one GetApplication per application per
container (its architecture, for the cost estimate), before the ledger write. Every ledger write (and the
follow-up's schedule) comes before the notification: if a write fails, Lambda's retry runs the whole reaction
again, and a notification already sent would go out twice.
"""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from emr_autopilot import aws, emr_serverless, ledger, run_costs
from emr_autopilot.emr_event_reactions.follow_up_schedule import JobRunFollowUp
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings, send
from emr_autopilot.emr_serverless_events import (
    ApplicationStateChangeDetail,
    EmrServerlessEvent,
    JobResourceUtilizationUpdateDetail,
    JobRunRetryDetail,
    JobRunStateChangeDetail,
    ResourceUtilization,
)
from emr_autopilot.emr_serverless_reactions import notices
from emr_autopilot.emr_serverless_reactions.log_follow_up import driver_log_uris, driver_tail
from emr_autopilot.emr_serverless_reactions.reaction import JobRunContext, ServerlessReaction
from emr_autopilot.step_logs import parse_s3_uri, read_tail
from emr_autopilot.tags import TAG_MANAGED, run_tags

# What a CANCELLED job run's stateDetails says when nobody asked for the cancel: its executionTimeoutMinutes
# ran out (job-states.html: "CancelJobRun ... or the job run has timed out"). The wording is not documented:
# inferred, kept here to be corrected against a real timed-out run.
TIMEOUT_WORDS = ("timeout", "timed out", "time out")


def job_run_context(application_id: str, job_run_id: str) -> JobRunContext:
    """What GetJobRun says; a job run EMR Serverless does not know gives a context that says why."""
    client = aws.client("emr-serverless")
    try:
        run: Any = emr_serverless.get_job_run(application_id, job_run_id)
    except client.exceptions.ResourceNotFoundException as exc:
        # Deleted with its application, or an event from elsewhere: a retry cannot change that.
        message = exc.response.get("Error", {}).get("Message") or "unknown application or job run"
        return JobRunContext(application_id, job_run_id, unavailable=message)
    tags = run.get("tags") or {}
    retry = run.get("retryPolicy") or {}
    ended = run.get("state") in emr_serverless.JOB_RUN_ENDED
    return JobRunContext(
        application_id=application_id,
        job_run_id=job_run_id,
        name=run.get("name") or "",
        **run_tags(tags),
        managed=tags.get(TAG_MANAGED) == "true",
        state=run.get("state"),
        state_details=run.get("stateDetails") or "",
        attempt=int(run.get("attempt") or 1),
        max_attempts=retry.get("maxAttempts"),
        duration_seconds=run.get("totalExecutionDurationSeconds") if ended else None,
        total=dict(run["totalResourceUtilization"]) if ended and run.get("totalResourceUtilization") else None,
        billed=dict(run["billedResourceUtilization"]) if ended and run.get("billedResourceUtilization") else None,
        log_uri=emr_serverless.driver_log_uri(run),
        job_run=dict(run),
    )


@lru_cache(maxsize=256)
def application_architecture(application_id: str) -> str | None:
    # An application's architecture changes only by UpdateApplication while it is stopped, so between runs:
    # one GetApplication per application per container, like DescribeCluster on the EMR side.
    application: Any = aws.client("emr-serverless").get_application(applicationId=application_id)["application"]
    return application.get("architecture")


def job_run_cost(context: JobRunContext) -> tuple[str | None, run_costs.RunCost | None]:
    """(architecture, cost) of an ended job run with billedResourceUtilization; (None, None) otherwise."""
    if not context.billed:
        return None, None
    from botocore.exceptions import ClientError

    try:
        architecture = application_architecture(context.application_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFoundException", "AccessDeniedException"):
            raise  # throttling or a fault: Lambda's retry runs the reaction again
        architecture = None  # deleted since, or not ours to read: priced as the default, and said so
    if architecture is None:
        # GetApplication: architecture defaults to X86_64 when the application was created without one.
        cost = run_costs.serverless_run_cost(context.billed, "X86_64")
        assumed = "X86_64 (assumed: the application's architecture is unknown)"
        return assumed, cost._replace(detail=cost.detail.removesuffix("X86_64") + assumed)
    return architecture, run_costs.serverless_run_cost(context.billed, architecture)


def react(envelope: EmrServerlessEvent, detail: Any, settings: ReactionSettings) -> ServerlessReaction:
    reaction = ServerlessReaction(
        event_id=envelope.id,
        detail_type=envelope.detail_type,
        cluster_id=None,
        application_id=envelope.detail.get("applicationId"),
        job_run_id=envelope.detail.get("jobRunId"),
    )
    at = envelope.time.astimezone(UTC)
    if isinstance(detail, ApplicationStateChangeDetail):
        _on_application(envelope, detail, settings, reaction, at)
    elif isinstance(detail, JobRunStateChangeDetail | JobRunRetryDetail | JobResourceUtilizationUpdateDetail):
        context = job_run_context(detail.applicationId, detail.jobRunId)
        reaction.job, reaction.run_id = context.job, context.run_id
        partition = ledger.serverless_partition(detail.applicationId, context.run_id)
        ledger.record_timeline(
            settings.ledger_table, partition, at, envelope.id, envelope.detail_type, _summary(envelope.detail)
        )
        reaction.recorded = True
        _on_job_run_event(envelope, detail, context, settings, reaction, at)
    elif reaction.application_id:  # a detail-type we do not know, about an application: kept in its timeline
        partition = ledger.serverless_partition(reaction.application_id, None)
        ledger.record_timeline(
            settings.ledger_table, partition, at, envelope.id, envelope.detail_type, _summary(envelope.detail)
        )
        reaction.recorded = True
    return reaction


def _on_job_run_event(
    envelope: EmrServerlessEvent,
    detail: JobRunStateChangeDetail | JobRunRetryDetail | JobResourceUtilizationUpdateDetail,
    context: JobRunContext,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    at: datetime,
) -> None:
    if isinstance(detail, JobRunStateChangeDetail):
        _on_state_change(detail, context, settings, reaction, at)
    elif isinstance(detail, JobRunRetryDetail):
        _on_retry(detail, context, settings, reaction, at)
    else:
        _on_utilization(detail, context, settings, reaction, at)


def _summary(detail: dict[str, Any]) -> dict[str, Any]:
    # The timeline keeps the event's facts, not free text.
    keep = (
        "state",
        "previousState",
        "jobRunId",
        "jobRunName",
        "applicationName",
        "releaseLabel",
        "previousAttempt",
        "previousAttemptState",
        "newAttempt",
        "attempt",
        "resourceUtilizationFinal",
    )
    return {key: str(detail[key])[:500] for key in keep if detail.get(key) not in (None, "")}


# -- an application's state change ----------------------------------------------------------------
def _on_application(
    envelope: EmrServerlessEvent,
    detail: ApplicationStateChangeDetail,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    at: datetime,
) -> None:
    partition = ledger.serverless_partition(detail.applicationId, None)
    ledger.record_timeline(
        settings.ledger_table, partition, at, envelope.id, envelope.detail_type, _summary(envelope.detail)
    )
    reaction.recorded = True
    reaction.category = "APPLICATION_STATE"
    reaction.metrics.append(("ApplicationStateChanges", "Count", 1))


# -- a job run's state change ---------------------------------------------------------------------
def _on_state_change(
    detail: JobRunStateChangeDetail,
    context: JobRunContext,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    at: datetime,
) -> None:
    bad_end = detail.state in ("FAILED", "CANCELLED")
    attempt, log_uri = _attempt_ended(detail.state, context)
    architecture, cost = job_run_cost(context)
    item = ledger.record_job_run_change(
        settings.ledger_table,
        ledger.JobRunChange(
            application_id=detail.applicationId,
            job_run_id=detail.jobRunId,
            state=detail.state,
            at=at,
            attempt=attempt,
            name=detail.jobRunName or context.name or None,
            run_id=context.run_id,
            failure_reason=(context.state_details or None) if bad_end else None,
            log_file=log_uri if bad_end else None,
            duration_seconds=context.duration_seconds,
            total=context.total,
            billed=context.billed,
            architecture=architecture,
            cost=run_costs.cost_fields(cost) if cost else None,
        ),
    )
    _refresh_run(settings, context, at)
    if detail.state in emr_serverless.JOB_RUN_ENDED and context.duration_seconds is not None:
        reaction.metrics.append(("JobRunDurationSeconds", "Seconds", float(context.duration_seconds)))
    if _notify_end(detail.state, context):
        reaction.category = "JOB_RUN_FAILED" if detail.state == "FAILED" else "JOB_RUN_TIMED_OUT"
        reaction.metrics.append(("JobRunFailed", "Count", 1))
        name = detail.jobRunName or context.name or detail.jobRunId
        _notify_bad_end(detail.state, name, context, settings, reaction, cost.line() if cost else None)
    # Set last: a late FAILED (after the janitor's CANCELLED) is still notified; stale is for the record.
    reaction.stale = item is None


def _notify_bad_end(
    state: str,
    name: str,
    context: JobRunContext,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    cost_line: str | None,
) -> None:
    """The failure notice with the driver log's last lines; when the log is not in S3 yet, a follow-up is scheduled
    (before the notice, as every write) to send them later."""
    uris = driver_log_uris(context)
    log_uri, tail = driver_tail(uris)
    scheduler = settings.follow_up
    follow_up = tail is None and bool(uris) and scheduler is not None
    if follow_up and scheduler is not None:
        # False when a re-delivered event finds the first delivery's schedule: the follow-up is coming all the same.
        reaction.follow_up_scheduled = scheduler.schedule(
            JobRunFollowUp(context.application_id, context.job_run_id, name, uris, context.job, context.run_id, 1)
        )
    subject, body = notices.job_run_ended_badly(
        state, name, context._replace(log_uri=log_uri), tail, settings.region, cost_line, follow_up
    )
    send(settings.topic_arn, reaction, subject, body, "ERROR", state)


def _attempt_ended(state: str, context: JobRunContext) -> tuple[int, str | None]:
    """The attempt an event is about, and its driver log: GetJobRun's, unless the event says the job run ended
    while GetJobRun already shows the next attempt running (a retry policy): then the one before."""
    ended = emr_serverless.JOB_RUN_ENDED
    if context.job_run is None or state not in ended or context.state in ended or context.attempt < 2:
        return context.attempt, context.log_uri
    attempt = context.attempt - 1
    return attempt, emr_serverless.driver_log_uri({**context.job_run, "attempt": attempt})


def _notify_end(state: str, context: JobRunContext) -> bool:
    """FAILED, unless GetJobRun shows a later attempt running (the Retry event warns about that one); CANCELLED
    only when nobody asked for it (its timeout ran out), not the janitor's or a person's cancel."""
    if state == "FAILED":
        return context.state is None or context.state in emr_serverless.JOB_RUN_ENDED
    if state == "CANCELLED":
        return any(word in context.state_details.lower() for word in TIMEOUT_WORDS)
    return False


def _refresh_run(settings: ReactionSettings, context: JobRunContext, at: datetime) -> None:
    if context.run_id:
        run = ledger.ServerlessRun(context.run_id, context.application_id, at, context.job, context.execution_arn)
        ledger.refresh_serverless_run(settings.ledger_table, run)


# -- a retry: a new attempt of the job run --------------------------------------------------------
def _on_retry(
    detail: JobRunRetryDetail,
    context: JobRunContext,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    at: datetime,
) -> None:
    reaction.metrics.append(("JobRunRetries", "Count", 1))
    if context.state is not None:
        # The new attempt's state is GetJobRun's (the event names none); its rank outranks the failed attempt's.
        change = ledger.JobRunChange(
            application_id=detail.applicationId,
            job_run_id=detail.jobRunId,
            state=context.state,
            at=at,
            attempt=max(detail.newAttempt, context.attempt),
            name=detail.jobRunName or context.name or None,
            run_id=context.run_id,
        )
        reaction.stale = ledger.record_job_run_change(settings.ledger_table, change) is None
        _refresh_run(settings, context, at)
    if detail.previousAttemptState != "FAILED":
        return
    reaction.category = "JOB_RUN_RETRY"
    job_run = {**(context.job_run or {}), "attempt": detail.previousAttempt}
    log_uri = emr_serverless.driver_log_uri(job_run) if context.job_run else None
    location = parse_s3_uri(log_uri) if log_uri else None
    tail = read_tail(location) if location else None
    name = detail.jobRunName or context.name or detail.jobRunId
    subject, body = notices.attempt_failed(
        name, detail.previousAttempt, detail.newAttempt, context, log_uri, tail, settings.region
    )
    stale, reaction.stale = reaction.stale, False  # a warning about a failed attempt is worth sending late too
    send(settings.topic_arn, reaction, subject, body, "WARNING", "RETRY")
    reaction.stale = stale


# -- resource utilization: the totals so far, and the final ones ----------------------------------
def _on_utilization(
    detail: JobResourceUtilizationUpdateDetail,
    context: JobRunContext,
    settings: ReactionSettings,
    reaction: ServerlessReaction,
    at: datetime,
) -> None:
    update = ledger.UtilizationUpdate(
        application_id=detail.applicationId,
        job_run_id=detail.jobRunId,
        run_id=context.run_id,
        attempt=detail.attempt,
        at=(detail.calculatedTo or at).astimezone(UTC),
        total=_amounts(detail.totalResourceUtilization),
        billed=_amounts(detail.totalBilledResourceUtilization),
        final=detail.resourceUtilizationFinal,
    )
    reaction.stale = not ledger.record_job_run_utilization(settings.ledger_table, update)
    reaction.category = "RESOURCE_UTILIZATION"
    if detail.resourceUtilizationFinal and not reaction.stale:
        billed = detail.totalBilledResourceUtilization
        reaction.metrics.append(("BilledVCPUHours", "None", billed.vCPUHour))
        reaction.metrics.append(("BilledMemoryGBHours", "None", billed.memoryGBHour))


def _amounts(utilization: ResourceUtilization) -> dict[str, float]:
    return {
        "vCPUHour": utilization.vCPUHour,
        "memoryGBHour": utilization.memoryGBHour,
        "storageGBHour": utilization.storageGBHour,
    }
