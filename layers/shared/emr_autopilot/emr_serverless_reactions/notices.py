"""The text of the notices an EMR Serverless event sends: plain functions, (subject, body lines)."""

from emr_autopilot import notifications
from emr_autopilot.emr_event_reactions.follow_up_schedule import JobRunFollowUp
from emr_autopilot.emr_serverless_reactions.reaction import JobRunContext
from emr_autopilot.notifications import Notice, indent
from emr_autopilot.step_logs import parse_s3_uri

PREFIX = "[emr-autopilot]"


def job_run_ended_badly(
    state: str,
    name: str,
    context: JobRunContext,
    tail: str | None,
    region: str,
    cost_line: str | None = None,
    follow_up: bool = False,
) -> Notice:
    """A job run that FAILED, or was CANCELLED without being asked (its timeout): why, where, its log, and
    `cost_line` (run_costs.RunCost.line() of the job run's cost estimate) when it was estimated. `follow_up`:
    a follow-up will send the log's last lines when it is not in S3 yet."""
    if context.unavailable is None:
        reason = f"Reason: {context.state_details or 'EMR Serverless gave no reason (see the log below)'}"
    else:
        reason = f"Reason: job run details unavailable (GetJobRun: {context.unavailable})"
    body = [
        f"Job run '{name}' ({context.job_run_id}) {state} on EMR Serverless application {context.application_id}.",
        "",
        reason,
        f"Attempt: {_attempt(context)}",
        *([cost_line] if cost_line else []),
        *context_lines(context),
        "",
        *_log_lines(context, tail, "the driver's log", follow_up),
        *link_lines(context, region),
    ]
    return f"{PREFIX} Job run {state.lower()}: {short_name(name, context)} on {context.label}", body


def attempt_failed(
    name: str, previous: int, new: int, context: JobRunContext, log_uri: str | None, tail: str | None, region: str
) -> Notice:
    """An attempt failed and EMR Serverless started another (a retry policy): a warning, the run goes on."""
    body = [
        f"Attempt {previous} of job run '{name}' ({context.job_run_id}) FAILED on EMR Serverless application "
        f"{context.application_id}; EMR Serverless started attempt {new}"
        + (f" of {context.max_attempts}." if context.max_attempts else "."),
        *context_lines(context),
        "",
        *_log_lines(context._replace(log_uri=log_uri), tail, f"attempt {previous}'s driver log"),
        *link_lines(context._replace(log_uri=log_uri), region),
    ]
    return f"{PREFIX} Job run retried: {short_name(name, context)} on {context.label}", body


def driver_log_digest(follow_up: JobRunFollowUp, log_uri: str, tail: str) -> Notice:
    """The follow-up found the driver's log that was not in S3 when the failure was notified."""
    name, context = _follow_up_context(follow_up)
    body = [
        f"Driver log of job run '{name}' ({follow_up.job_run_id}) on EMR Serverless application "
        f"{follow_up.application_id}, which failed.",
        *_follow_up_lines(follow_up),
        "",
        f"Last lines of {log_uri}:",
        indent(tail),
    ]
    return f"{PREFIX} Job run log: {short_name(name, context)} on {context.label}", body


def driver_log_missing(follow_up: JobRunFollowUp, waited_minutes: int) -> Notice:
    name, context = _follow_up_context(follow_up)
    body = [
        f"The driver log of job run '{name}' ({follow_up.job_run_id}) never appeared at "
        f"{' or '.join(follow_up.log_uris)} (looked {follow_up.attempt} times over about {waited_minutes} minutes).",
        *_follow_up_lines(follow_up),
        "Possible causes: the job run failed before its driver started, its execution role may not write to the"
        " logUri bucket, or this function may not read it (s3:GetObject).",
    ]
    return f"{PREFIX} Job run log missing: {short_name(name, context)} on {context.label}", body


# -- pieces ---------------------------------------------------------------------------------------
def short_name(name: str, context: JobRunContext) -> str:
    """The job run's name without its run id (the pipeline names job runs "<run id>.<step index> <step name>"):
    a subject has 99 characters, and the run id is in the body."""
    return (name.removeprefix(f"{context.run_id}.") or name) if context.run_id else name


def context_lines(context: JobRunContext) -> list[str]:
    lines = []
    if context.job:
        lines.append(f"Job: {context.job}")
    if context.run_id:
        lines.append(f"Run: {context.run_id}")
    if context.unavailable is None and not context.managed:
        lines.append("Job run not started by emr-autopilot.")
    return lines


def link_lines(context: JobRunContext, region: str) -> list[str]:
    lines = []
    if context.execution_arn:
        lines.append(f"Execution: {notifications.console_execution_url(region, context.execution_arn)}")
    location = parse_s3_uri(context.log_uri) if context.log_uri else None
    if location is not None:
        lines.append(f"Logs: {notifications.console_s3_url(location.bucket, location.key.rsplit('/', 1)[0] + '/')}")
    return ["", *lines] if lines else []


def _attempt(context: JobRunContext) -> str:
    return f"{context.attempt} of {context.max_attempts}" if context.max_attempts else str(context.attempt)


def _log_lines(context: JobRunContext, tail: str | None, what: str, follow_up: bool = False) -> list[str]:
    if tail is not None:
        return [f"Last lines of {context.log_uri}:", indent(tail)]
    if context.log_uri:
        return [
            f"{what.capitalize()} is not in S3 yet (EMR Serverless uploads it as the job runs): {context.log_uri}"
            + (". A follow-up with its last lines will be sent." if follow_up else "")
        ]
    if context.unavailable is not None:
        return [f"{what.capitalize()} cannot be located: EMR Serverless does not know the job run (GetJobRun)."]
    return [
        "The job run logs to no S3 location (monitoringConfiguration.s3MonitoringConfiguration), so there is no log."
    ]


def _follow_up_context(follow_up: JobRunFollowUp) -> tuple[str, JobRunContext]:
    context = JobRunContext(follow_up.application_id, follow_up.job_run_id, job=follow_up.job, run_id=follow_up.run_id)
    return follow_up.job_run_name or follow_up.job_run_id, context


def _follow_up_lines(follow_up: JobRunFollowUp) -> list[str]:
    lines = []
    if follow_up.job:
        lines.append(f"Job: {follow_up.job}")
    if follow_up.run_id:
        lines.append(f"Run: {follow_up.run_id}")
    return lines
