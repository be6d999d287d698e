"""Idle EMR Serverless applications: STARTED with no job running for longer than the threshold are stopped.

A STARTED application bills its pre-initialised capacity until it stops (emr-serverless-samples
Best_Practices.md, "Pre-initialized capacity"), and one left STARTED blocks deleting it. Each STARTED
application gets one decision with a reason, under the cluster rules that apply to it:
- in scope (scope tag) and not opted out (opt-out tag); created at least the grace period ago;
- no job run SUBMITTED, QUEUED, PENDING, SCHEDULED or RUNNING;
- idle since max(the application's updatedAt, the newest job run's updatedAt) for at least its threshold
  (default, or the application's ``emr-autopilot:idle-threshold`` tag);
- fewer than ``max_terminations`` applications were stopped before it in this run.
Stopping keeps the application (a job run starts it again when auto-start is on); nothing is deleted.

Per run: the ListApplications pages; per candidate one GetApplication and one or two ListJobRuns.
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from emr_autopilot import aws, emr_serverless
from emr_autopilot.reaper.config import MAX_THRESHOLD, MIN_THRESHOLD, TAG_IDLE_THRESHOLD, ReaperConfig, parse_duration
from emr_autopilot.reaper.report import (
    API_ERROR,
    BAD_THRESHOLD_TAG,
    BUSY,
    CAP_REACHED,
    GRACE,
    IDLE,
    IDLE_TOO_SHORT,
    OPTED_OUT,
    OUT_OF_SCOPE,
    ApplicationDecision,
    error_text,
)

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless.type_defs import ApplicationSummaryTypeDef

# The longest a BATCH job run may run (executionTimeoutMinutes at most 10080, GetJobRun model docs):
# a run that ended within the threshold was created within the threshold plus this.
LONGEST_JOB_RUN = timedelta(days=7)


def reap_applications(config: ReaperConfig, now: datetime) -> list[ApplicationDecision]:
    """Decide for every STARTED application; stop the idle ones within the cap (unless dry run)."""
    decisions: list[ApplicationDecision] = []
    idle: list[ApplicationDecision] = []
    for summary in _started_applications(decisions):
        decision = ApplicationDecision(summary["id"], summary.get("name", ""), summary["state"])
        decisions.append(decision)
        try:
            if _idle(decision, summary, config, now):
                idle.append(decision)
        except (ClientError, BotoCoreError) as exc:
            decision.action, decision.code, decision.reason = "error", API_ERROR, error_text(exc)
    ranked = sorted(idle, key=lambda d: (-(d.idle_minutes or 0.0), d.application_id))
    for decision in ranked[config.max_terminations :]:
        decision.action, decision.code = "skipped", CAP_REACHED
        decision.reason = f"idle {decision.idle_minutes:.0f} min, but the cap of {config.max_terminations} was reached"
    for decision in ranked[: config.max_terminations]:
        _stop(decision, config.dry_run)
    return decisions


def _started_applications(decisions: list[ApplicationDecision]) -> list["ApplicationSummaryTypeDef"]:
    try:
        pages = aws.client("emr-serverless").get_paginator("list_applications").paginate(states=["STARTED"])
        return [app for page in pages for app in page["applications"]]
    except (ClientError, BotoCoreError) as exc:
        decisions.append(ApplicationDecision("-", "", "-", "error", API_ERROR, f"ListApplications: {error_text(exc)}"))
        return []


def _idle(decision: ApplicationDecision, summary: Any, config: ReaperConfig, now: datetime) -> bool:
    age = now - _utc(summary["createdAt"])
    if age < config.grace:
        return _skip(
            decision, GRACE, f"created {_minutes(age):.0f} min ago, grace period {_minutes(config.grace):.0f} min"
        )
    application = aws.client("emr-serverless").get_application(applicationId=decision.application_id)["application"]
    auto_stop = application.get("autoStopConfiguration", {})
    decision.auto_stop = (
        f"on after {auto_stop.get('idleTimeoutMinutes', 15)} min" if auto_stop.get("enabled") else "off"
    )
    tags = application.get("tags", {})
    if config.scope is not None and not config.scope.matches(tags):
        return _skip(decision, OUT_OF_SCOPE, f"not tagged {config.scope}")
    if config.opt_out is not None and config.opt_out.matches(tags):
        return _skip(decision, OPTED_OUT, f"opted out: tagged {config.opt_out}")
    threshold = _threshold(tags, config)
    if threshold is None:
        return _skip(
            decision,
            BAD_THRESHOLD_TAG,
            f"tag {TAG_IDLE_THRESHOLD}={tags.get(TAG_IDLE_THRESHOLD)!r} is not a duration in range",
        )
    decision.threshold_minutes = _minutes(threshold)
    active = list(emr_serverless.active_job_runs(decision.application_id))
    if active:
        decision.idle_minutes = 0.0
        return _skip(decision, BUSY, f"{len(active)} job run(s) not ended")
    idle_since = max(
        [_utc(application["updatedAt"]), *_job_run_updates(decision.application_id, now - threshold - LONGEST_JOB_RUN)]
    )
    decision.idle_minutes = round(_minutes(now - idle_since), 1)
    if now - idle_since < threshold:
        return _skip(
            decision,
            IDLE_TOO_SHORT,
            f"idle {decision.idle_minutes:.0f} min, threshold {decision.threshold_minutes:.0f} min",
        )
    decision.action, decision.code = "would stop", IDLE
    decision.reason = f"STARTED, no job run for {decision.idle_minutes:.0f} min >= {decision.threshold_minutes:.0f} min"
    return True


def _job_run_updates(application_id: str, since: datetime) -> list[datetime]:
    pages = (
        aws.client("emr-serverless")
        .get_paginator("list_job_runs")
        .paginate(applicationId=application_id, createdAtAfter=since)
    )
    return [_utc(run["updatedAt"]) for page in pages for run in page["jobRuns"]]


def _threshold(tags: dict[str, str], config: ReaperConfig) -> timedelta | None:
    override = tags.get(TAG_IDLE_THRESHOLD)
    try:
        threshold = config.idle_threshold if override is None else parse_duration(override)
    except ValidationError:
        return None
    return threshold if MIN_THRESHOLD <= threshold <= MAX_THRESHOLD else None


def _stop(decision: ApplicationDecision, dry_run: bool) -> None:
    if dry_run:
        return
    try:
        aws.client("emr-serverless").stop_application(applicationId=decision.application_id)
    except (ClientError, BotoCoreError) as exc:
        decision.action, decision.code, decision.reason = (
            "error",
            API_ERROR,
            f"StopApplication failed: {error_text(exc)}",
        )
        return
    decision.action = "stopped"


def _skip(decision: ApplicationDecision, code: str, reason: str) -> bool:
    decision.action, decision.code, decision.reason = "skipped", code, reason
    return False


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _minutes(value: timedelta) -> float:
    return value.total_seconds() / 60
