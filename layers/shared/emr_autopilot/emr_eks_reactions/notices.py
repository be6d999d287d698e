"""The text of the notice an EMR on EKS event sends: plain functions, (subject, body lines)."""

from emr_autopilot import notifications
from emr_autopilot.emr_eks_reactions.reaction import EksJobRunContext
from emr_autopilot.notifications import Notice, indent
from emr_autopilot.step_logs import parse_s3_uri

PREFIX = "[emr-autopilot]"


def job_run_failed(
    name: str, context: EksJobRunContext, log_uri: str | None, tail: str | None, region: str, cost_line: str | None
) -> Notice:
    """A job run that FAILED: failureReason and stateDetails, its driver log's last lines (or where the log will
    be), and `cost_line` (run_costs.RunCost.line() of its estimate)."""
    body = [
        f"Job run '{name}' ({context.job_run_id}) FAILED on EMR on EKS virtual cluster {context.virtual_cluster_id}.",
        "",
        f"Reason: {reason(context)}",
        *([f"Details: {context.state_details}"] if context.state_details else []),
        *([cost_line] if cost_line else []),
        *([f"Job: {context.job}"] if context.job else []),
        *([f"Run: {context.run_id}"] if context.run_id else []),
        "",
        *_log_lines(log_uri, tail),
        *_link_lines(context, log_uri, region),
    ]
    return f"{PREFIX} Job run failed: {short_name(name, context)} on {context.label}", body


def driver_attempt(name: str, context: EksJobRunContext, region: str) -> Notice:
    """The job run's retry policy started a new driver: which attempt of how many, as DescribeJobRun says
    (retryPolicyExecution.currentAttemptCount, retryPolicyConfiguration.maxAttempts)."""
    job_run = context.job_run or {}
    attempt = (job_run.get("retryPolicyExecution") or {}).get("currentAttemptCount")
    most = (job_run.get("retryPolicyConfiguration") or {}).get("maxAttempts")
    which = f" (attempt {attempt}{f' of {most}' if most else ''})" if attempt else ""
    body = [
        f"Job run '{name}' ({context.job_run_id}) on EMR on EKS virtual cluster {context.virtual_cluster_id} started "
        f"a new driver{which}: its driver failed and the job run's retry policy started another. The run goes on.",
        *([f"Job: {context.job}"] if context.job else []),
        *([f"Run: {context.run_id}"] if context.run_id else []),
        *_link_lines(context, None, region),
    ]
    return f"{PREFIX} Job run retried: {short_name(name, context)} on {context.label}", body


def reason(context: EksJobRunContext) -> str:
    if context.failure_reason:
        return context.failure_reason
    return "EMR on EKS gave no failureReason (see the details and the log below)"


def short_name(name: str, context: EksJobRunContext) -> str:
    """The job run's name without its run id (the pipeline names job runs "<run id>.<step index> <step name>"):
    a subject has 99 characters, and the run id is in the body."""
    return (name.removeprefix(f"{context.run_id}.") or name) if context.run_id else name


def _log_lines(log_uri: str | None, tail: str | None) -> list[str]:
    if log_uri is None:
        return [
            "The job run logs to no S3 location (monitoringConfiguration.s3MonitoringConfiguration), so there is no"
            " driver log to show."
        ]
    if tail is None:
        return [f"The driver's log is not in S3 yet (EMR on EKS uploads it as the job runs); it will be at {log_uri}"]
    if not tail:
        return [f"The driver's log is empty: {log_uri}"]
    return [f"Last lines of {log_uri}:", indent(tail)]


def _link_lines(context: EksJobRunContext, log_uri: str | None, region: str) -> list[str]:
    lines = []
    if context.execution_arn:
        lines.append(f"Execution: {notifications.console_execution_url(region, context.execution_arn)}")
    location = parse_s3_uri(log_uri) if log_uri else None
    if location is not None:
        lines.append(f"Logs: {notifications.console_s3_url(location.bucket, location.key.rsplit('/', 1)[0] + '/')}")
    return ["", *lines] if lines else []
