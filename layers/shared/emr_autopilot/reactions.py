"""Reacting to one EMR event: ledger, a notification that says why, metrics.

At most three AWS calls come before the ledger write and the notification: DescribeCluster
(cached per container), and for a failed step DescribeStep and one GET of its stderr.gz.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot import aws, clock, ledger, notifications
from emr_autopilot.emr_events import (
    SEVERITY_RANK,
    AutoScalingPolicyStateChangeDetail,
    CapacityEventDetail,
    ClusterStateChangeDetail,
    ConfigurationErrorDetail,
    EmrEvent,
    InstanceFleetStateChangeDetail,
    InstanceGroupStateChangeDetail,
    StepStatusChangeDetail,
)
from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.simulation import is_simulated_name
from emr_autopilot.step_logs import LogLocation, parse_s3_uri, read_tail, step_log
from emr_autopilot.tags import TAG_JOB, TAG_MANAGED, TAG_RUN_ID

# What to do about each reason a cluster ends with errors: one line a tired person can act on.
REMEDIATION = {
    "BOOTSTRAP_FAILURE": "A bootstrap action exited non-zero: read its stderr under "
    "<LogUri>/<cluster>/node/<instance>/bootstrap-actions/.",
    "VALIDATION_ERROR": "EMR rejected the cluster request: check the roles, the instance types for the "
    "region/AZ, the subnet and the release label.",
    "INSTANCE_FAILURE": "Instances failed or could not launch: check EC2 quotas, the subnet's free IPs "
    "and the instance profile.",
    "INSTANCE_FLEET_TIMEOUT": "Capacity was not found in time: add instance types or subnets to the fleet, "
    "or allow on-demand fallback.",
    "INTERNAL_ERROR": "EMR had an internal error: retry the run; open a support case if it repeats.",
    "STEP_FAILURE": "A step with ActionOnFailure TERMINATE_CLUSTER failed: see the step's failure notice "
    "and its stderr.",
    "USER_REQUEST": "Terminated on request (the pipeline, the janitor, the reaper, or a person).",
    "ALL_STEPS_COMPLETED": "Ended after its work (or its auto-termination idle timeout).",
}
ALWAYS_NOTIFY = {"STEP_FAILED", "CLUSTER_FAILED", "CAPACITY", "CONFIGURATION_ERROR", "AUTOSCALING_FAILED"}


class ReactionSettings(NamedTuple):
    region: str
    ledger_table: str
    topic_arn: str
    min_severity: str = "ERROR"
    follow_up: "FollowUpScheduler | None" = None


class EmrEventSettings(EnvSettings):
    """The EMR event handler and the step-log follow-up share these."""

    aws_region: str = "us-east-1"
    ledger_table_name: str
    idempotency_table_name: str
    notification_topic_arn: str
    notify_min_severity: Literal["INFO", "WARNING", "ERROR", "CRITICAL"] = "ERROR"
    schedule_group_name: str
    scheduler_role_arn: str
    log_follow_up_function_arn: str
    log_follow_up_delay_seconds: int = Field(default=300, ge=60, le=3600)
    log_follow_up_max_attempts: int = Field(default=4, ge=1, le=24)

    def reaction_settings(self, now: Callable[[], datetime] | None = None) -> ReactionSettings:
        return ReactionSettings(
            region=self.aws_region,
            ledger_table=self.ledger_table_name,
            topic_arn=self.notification_topic_arn,
            min_severity=self.notify_min_severity,
            follow_up=FollowUpScheduler(
                group_name=self.schedule_group_name,
                role_arn=self.scheduler_role_arn,
                function_arn=self.log_follow_up_function_arn,
                delay_seconds=self.log_follow_up_delay_seconds,
                max_attempts=self.log_follow_up_max_attempts,
                now=now,
            ),
        )


@cache
def emr_event_settings() -> EmrEventSettings:
    return EmrEventSettings.from_env()


class ClusterContext(NamedTuple):
    cluster_id: str
    name: str
    job: str | None
    run_id: str | None
    managed: bool
    log_uri: str | None


@dataclass
class Reaction:
    event_id: str
    detail_type: str
    cluster_id: str | None
    job: str | None = None
    category: str = "INFO"
    recorded: bool = False
    stale: bool = False
    notified: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str, float]] = field(default_factory=list)  # name, unit, value
    follow_up_scheduled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@lru_cache(maxsize=512)
def _describe(cluster_id: str) -> ClusterContext:
    # Name, tags and LogUri never change: one DescribeCluster per cluster per container.
    cluster = aws.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
    return ClusterContext(
        cluster_id=cluster_id,
        name=cluster.get("Name", ""),
        job=tags.get(TAG_JOB),
        run_id=tags.get(TAG_RUN_ID),
        managed=tags.get(TAG_MANAGED) == "true",
        log_uri=cluster.get("LogUri"),
    )


def cluster_context(cluster_id: str) -> ClusterContext | None:
    emr = aws.client("emr")
    try:
        return _describe(cluster_id)
    except emr.exceptions.InvalidRequestException:
        return None  # a cluster EMR no longer knows (older than two months); record the event anyway


def react(envelope: EmrEvent, detail: Any, settings: ReactionSettings) -> Reaction:
    reaction = Reaction(event_id=envelope.id, detail_type=envelope.detail_type, cluster_id=envelope.cluster_id)
    context = cluster_context(reaction.cluster_id) if reaction.cluster_id else None
    reaction.job = context.job if context else None
    at = envelope.time.astimezone(UTC)

    # Every write comes before the notification: if a write fails, Lambda's retry runs the whole
    # reaction again, and a notification already sent would go out twice.
    if reaction.cluster_id:
        ledger.record_event(
            settings.ledger_table,
            reaction.cluster_id,
            at,
            envelope.id,
            envelope.detail_type,
            _summary(envelope.detail),
        )
        reaction.recorded = True

    if isinstance(detail, ClusterStateChangeDetail):
        _on_cluster(envelope, detail, context, settings, reaction, at)
    elif isinstance(detail, StepStatusChangeDetail):
        _on_step(envelope, detail, context, settings, reaction, at)
    else:
        _on_other(envelope, detail, context, settings, reaction)
    return reaction


def _summary(detail: dict[str, Any]) -> dict[str, Any]:
    # The timeline keeps the event's facts, not free text that could carry configuration values.
    keep = ("state", "severity", "stepId", "name", "eventCode", "instanceGroupId", "instanceFleetId", "resourceId")
    summary = {key: str(detail[key])[:500] for key in keep if detail.get(key) not in (None, "")}
    if detail.get("message"):
        summary["message"] = str(detail["message"])[:500]
    reason = detail.get("stateChangeReason")
    if isinstance(reason, str) and reason.strip() not in ("", '{"code":""}'):
        summary["reason"] = reason[:500]
    return summary


def _on_cluster(
    envelope: EmrEvent,
    detail: ClusterStateChangeDetail,
    context: ClusterContext | None,
    settings: ReactionSettings,
    reaction: Reaction,
    at: datetime,
) -> None:
    item = ledger.record_cluster_change(
        settings.ledger_table,
        ledger.ClusterChange(
            cluster_id=detail.clusterId,
            state=detail.state,
            at=at,
            event_id=envelope.id,
            name=detail.name or (context.name if context else None),
            job=context.job if context else None,
            run_id=context.run_id if context else None,
            reason_code=detail.stateChangeReason.code or None,
            reason_message=detail.stateChangeReason.message or None,
        ),
    )
    reaction.stale = item is None
    if detail.state in ("TERMINATED", "TERMINATED_WITH_ERRORS") and item and item.get("created_at"):
        lifetime = (at - _parse_time(item["created_at"])).total_seconds()
        if lifetime > 0:  # 0 when the ledger first saw the cluster at its end: no start to measure from
            reaction.metrics.append(("ClusterLifetimeSeconds", "Seconds", lifetime))
    if detail.state == "TERMINATED_WITH_ERRORS":
        reaction.category = "CLUSTER_FAILED"
        reaction.metrics.append(("ClusterFailed", "Count", 1))
        code = detail.stateChangeReason.code or "UNKNOWN"
        label = _label(context, detail.clusterId, detail.name)
        body = [
            f"Cluster {detail.clusterId} ({detail.name}) TERMINATED WITH ERRORS.",
            "",
            f"Reason: {code}",
            f"Message: {detail.stateChangeReason.message or detail.message or '-'}",
            f"What to do: {REMEDIATION.get(code, 'Check the cluster events and logs in the console.')}",
            *_context_lines(context),
            "",
            f"Cluster: {notifications.console_cluster_url(settings.region, detail.clusterId)}",
        ]
        _notify(settings, reaction, f"[emr-autopilot] Cluster failed: {code} on {label}", body, "ERROR", detail.state)
    else:
        _notify_if_severe(settings, reaction, envelope, detail.severity, detail.state, context)


def _on_step(
    envelope: EmrEvent,
    detail: StepStatusChangeDetail,
    context: ClusterContext | None,
    settings: ReactionSettings,
    reaction: Reaction,
    at: datetime,
) -> None:
    failure: dict[str, Any] = {}
    unavailable: str | None = None
    if detail.state == "FAILED":
        emr = aws.client("emr")
        try:
            described = emr.describe_step(ClusterId=detail.clusterId, StepId=detail.stepId)["Step"]
        except emr.exceptions.InvalidRequestException as exc:
            # EMR no longer knows the cluster or step (older than two months, or an event from elsewhere):
            # a retry cannot change that, so the failure is recorded and notified without its details.
            unavailable = exc.response.get("Error", {}).get("Message") or "unknown cluster or step"
        else:
            failure = described.get("Status", {}).get("FailureDetails") or {}
    item = ledger.record_step_change(
        settings.ledger_table,
        ledger.StepChange(
            cluster_id=detail.clusterId,
            step_id=detail.stepId,
            state=detail.state,
            at=at,
            name=detail.name or None,
            action_on_failure=detail.actionOnFailure or None,
            failure_reason=failure.get("Reason"),
            failure_message=failure.get("Message"),
            log_file=failure.get("LogFile"),
            simulated=is_simulated_name(detail.name),
        ),
    )
    reaction.stale = item is None
    if detail.state in ("COMPLETED", "FAILED") and item and item.get("started_at"):
        duration = (at - _parse_time(item["started_at"])).total_seconds()
        reaction.metrics.append(("StepDurationSeconds", "Seconds", max(duration, 0.0)))
    if detail.state != "FAILED":
        _notify_if_severe(settings, reaction, envelope, detail.severity, detail.state, context)
        return

    reaction.category = "STEP_FAILED"
    reaction.metrics.append(("StepFailed", "Count", 1))
    location = _stderr_location(failure, context, detail)
    tail = read_tail(location) if location else None
    body = [
        f"Step '{detail.name}' ({detail.stepId}) FAILED on cluster {detail.clusterId}.",
        "",
        f"Reason: {failure.get('Reason') or 'EMR gave no reason (see the log below)'}"
        if unavailable is None
        else f"Reason: step details unavailable (DescribeStep: {unavailable})",
        f"Message: {failure.get('Message') or detail.message or '-'}",
        f"ActionOnFailure: {detail.actionOnFailure or '-'}",
        *_context_lines(context),
        "",
    ]
    if tail is not None:
        body += [f"Last lines of {location.uri if location else 'stderr'}:", _indent(tail)]
    elif location is not None:
        body.append(
            f"The step's log is not in S3 yet (EMR uploads logs every few minutes): {location.uri}. "
            + ("A follow-up with its last lines will be sent." if settings.follow_up else "")
        )
        if settings.follow_up is not None:
            reaction.follow_up_scheduled = settings.follow_up.schedule(
                FollowUp(detail.clusterId, detail.stepId, detail.name, location.uri, reaction.job, attempt=1)
            )
    elif context is None:
        body.append("The step's log cannot be located: EMR does not know the cluster (DescribeCluster).")
    else:
        body.append("The cluster has no LogUri, so EMR keeps no step logs in S3.")
    body += [
        "",
        f"Cluster: {notifications.console_cluster_url(settings.region, detail.clusterId)}",
        f"Step: {notifications.console_cluster_url(settings.region, detail.clusterId)}&tab=steps",
    ]
    if location is not None:
        body.append(f"Logs: {notifications.console_s3_url(location.bucket, location.key.rsplit('/', 1)[0] + '/')}")
    label = _label(context, detail.clusterId, "")
    _notify(settings, reaction, f"[emr-autopilot] Step failed: {detail.name} on {label}", body, "ERROR", "FAILED")


def _stderr_location(
    failure: dict[str, Any], context: ClusterContext | None, detail: StepStatusChangeDetail
) -> LogLocation | None:
    if failure.get("LogFile"):
        named = parse_s3_uri(str(failure["LogFile"]))
        if named is not None:
            # FailureDetails.LogFile may name syslog or the folder; the tail we want is stderr.gz.
            folder = named.key if named.key.endswith("/") else named.key.rsplit("/", 1)[0] + "/"
            return LogLocation(named.bucket, folder + "stderr.gz")
    return step_log(context.log_uri if context else None, detail.clusterId, detail.stepId)


def _on_other(
    envelope: EmrEvent, detail: Any, context: ClusterContext | None, settings: ReactionSettings, reaction: Reaction
) -> None:
    label = _label(context, reaction.cluster_id or "-", "")
    if isinstance(detail, CapacityEventDetail):
        reaction.category = "CAPACITY"
        reaction.metrics.append(("CapacityShortfall", "Count", 1))
        node = detail.instanceFleetType or detail.instanceGroupType or "-"
        body = [
            f"{envelope.detail_type} on cluster {detail.clusterId}: {detail.eventCode or 'capacity problem'}.",
            f"Node type: {node}",
            f"Message: {detail.message or '-'}",
            "What to do: widen the instance types or subnets, or let Spot fall back to on-demand.",
            *_context_lines(context),
        ]
        subject = f"[emr-autopilot] Capacity: {detail.eventCode or envelope.detail_type} on {label}"
        _notify(settings, reaction, subject, body, "WARNING", detail.eventCode or "CAPACITY")
        return
    if isinstance(detail, ConfigurationErrorDetail):
        reaction.category = "CONFIGURATION_ERROR"
        body = [f"EMR configuration error on cluster {detail.clusterId}.", f"Message: {detail.message}"]
        _notify(settings, reaction, f"[emr-autopilot] Configuration error on {label}", body, "ERROR", "ERROR")
        return
    if isinstance(detail, AutoScalingPolicyStateChangeDetail) and detail.state == "FAILED":
        reaction.category = "AUTOSCALING_FAILED"
        body = [f"Auto-scaling policy on {detail.resourceId} FAILED.", f"Message: {detail.message or '-'}"]
        _notify(settings, reaction, f"[emr-autopilot] Auto-scaling policy failed on {label}", body, "ERROR", "FAILED")
        return
    shortfall = _shortfall(detail)
    if shortfall:
        reaction.metrics.append(("CapacityShortfall", "Count", float(shortfall)))
    state = getattr(detail, "state", None) or "-"
    _notify_if_severe(settings, reaction, envelope, getattr(detail, "severity", "INFO"), state, context)


def _shortfall(detail: Any) -> int:
    if isinstance(detail, InstanceGroupStateChangeDetail) and detail.state in ("RUNNING", "RESIZING"):
        return max((detail.requestedInstanceCount or 0) - (detail.runningInstanceCount or 0), 0)
    if isinstance(detail, InstanceFleetStateChangeDetail) and detail.state in ("RUNNING", "RESIZING"):
        wanted = (detail.targetOnDemandCapacity or 0) + (detail.targetSpotCapacity or 0)
        have = (detail.provisionedOnDemandCapacity or 0) + (detail.provisionedSpotCapacity or 0)
        return max(wanted - have, 0)
    return 0


def _notify_if_severe(
    settings: ReactionSettings,
    reaction: Reaction,
    envelope: EmrEvent,
    severity: str,
    state: str,
    context: ClusterContext | None,
) -> None:
    if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK.get(settings.min_severity, 2):
        return
    detail = envelope.detail
    label = _label(context, reaction.cluster_id or "-", str(detail.get("name", "")))
    body = [
        f"{envelope.detail_type}: {state} ({severity}).",
        f"Message: {detail.get('message') or '-'}",
        *_context_lines(context),
    ]
    if reaction.cluster_id:
        body.append(f"Cluster: {notifications.console_cluster_url(settings.region, reaction.cluster_id)}")
    kind = envelope.detail_type.removeprefix("EMR ")
    _notify(settings, reaction, f"[emr-autopilot] {kind}: {state} on {label}", body, severity, state)


def _notify(
    settings: ReactionSettings, reaction: Reaction, subject: str, body: list[str], severity: str, state: str
) -> None:
    if reaction.stale and reaction.category not in ALWAYS_NOTIFY:
        return  # an old event arriving late: recorded, not worth a page
    notifications.publish(
        settings.topic_arn,
        subject,
        "\n".join(body),
        severity=severity,  # type: ignore[arg-type]
        event_type=reaction.category if reaction.category != "INFO" else reaction.detail_type,
        job=reaction.job,
        cluster_id=reaction.cluster_id,
        state=state,
    )
    reaction.notified.append(subject)
    reaction.metrics.append(("NotificationsSent", "Count", 1))


def _label(context: ClusterContext | None, cluster_id: str, name: str) -> str:
    if context and context.job:
        return f"{context.job} ({cluster_id})"
    name = name or (context.name if context else "")
    return f"{name} ({cluster_id})" if name else cluster_id


def _context_lines(context: ClusterContext | None) -> list[str]:
    if context is None:
        return []
    lines = []
    if context.job:
        lines.append(f"Job: {context.job}")
    if context.run_id:
        lines.append(f"Run: {context.run_id}")
    if not context.managed:
        lines.append("Cluster not started by emr-autopilot.")
    return lines


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- the log follow-up ------------------------------------------------------------------------
class FollowUp(NamedTuple):
    cluster_id: str
    step_id: str
    step_name: str
    log_uri: str
    job: str | None
    attempt: int

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class FollowUpRequest(BaseModel):
    """What the follow-up schedule sends (FollowUp.as_dict())."""

    model_config = ConfigDict(defer_build=True)

    cluster_id: str = Field(pattern=r"^j-[A-Z0-9]+$")
    step_id: str = Field(pattern=r"^s-[A-Z0-9]+$")
    step_name: str = ""
    log_uri: str = Field(pattern=r"^s3://")
    job: str | None = None
    attempt: int = Field(ge=1)

    def to_follow_up(self) -> FollowUp:
        return FollowUp(**self.model_dump())


class FollowUpScheduler(NamedTuple):
    """Looks for a late log again after `delay`: a one-time EventBridge Scheduler schedule that
    invokes the follow-up function. The name is derived from the step and attempt, so a
    re-delivered failure event cannot schedule the same check twice."""

    group_name: str
    role_arn: str
    function_arn: str
    delay_seconds: int = 300
    max_attempts: int = 4
    now: Any = None  # a clock for tests; clock.now() otherwise (the local runtime's fast clock, as for deadlines)

    def schedule(self, follow_up: FollowUp) -> bool:
        if follow_up.attempt > self.max_attempts:
            return False
        when = (self.now() if self.now else clock.now()) + timedelta(seconds=self.delay_seconds)
        key = f"{follow_up.cluster_id}/{follow_up.step_id}/{follow_up.attempt}"
        scheduler = aws.client("scheduler")
        try:
            scheduler.create_schedule(
                Name="steplog-" + hashlib.sha256(key.encode()).hexdigest()[:40],
                GroupName=self.group_name,
                ScheduleExpression=f"at({when:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={"Arn": self.function_arn, "RoleArn": self.role_arn, "Input": json.dumps(follow_up.as_dict())},
            )
        except scheduler.exceptions.ConflictException:
            return False  # already scheduled by an earlier delivery of the same event
        return True


def follow_up_logs(follow_up: FollowUp, settings: ReactionSettings) -> str:
    """Look for the log again; send the digest, schedule another look, or say it never came."""
    location = parse_s3_uri(follow_up.log_uri)
    tail = read_tail(location) if location else None
    scheduler = settings.follow_up
    label = f"{follow_up.job} ({follow_up.cluster_id})" if follow_up.job else follow_up.cluster_id
    reaction = Reaction(
        event_id=f"follow-up:{follow_up.step_id}:{follow_up.attempt}",
        detail_type="Step log follow-up",
        cluster_id=follow_up.cluster_id,
        job=follow_up.job,
        category="STEP_LOG",
    )
    if tail is not None:
        body = [
            f"Log digest for step '{follow_up.step_name}' ({follow_up.step_id}) on cluster {follow_up.cluster_id}.",
            "",
            f"Last lines of {follow_up.log_uri}:",
            _indent(tail),
        ]
        _notify(settings, reaction, f"[emr-autopilot] Step log: {follow_up.step_name} on {label}", body, "ERROR", "LOG")
        return "digest sent"
    if scheduler is not None and scheduler.schedule(
        FollowUp(**{**follow_up.as_dict(), "attempt": follow_up.attempt + 1})
    ):
        return "rescheduled"
    waited = follow_up.attempt * (scheduler.delay_seconds if scheduler else 0) // 60
    body = [
        f"The log of step '{follow_up.step_name}' ({follow_up.step_id}) never appeared at {follow_up.log_uri}"
        f" (looked {follow_up.attempt} times over about {waited} minutes).",
        "Possible causes: the cluster ended before EMR uploaded it, the LogUri bucket is not writable by EMR,"
        " or this function may not read it (s3:GetObject).",
    ]
    _notify(
        settings,
        reaction,
        f"[emr-autopilot] Step log missing: {follow_up.step_name} on {label}",
        body,
        "WARNING",
        "LOG_MISSING",
    )
    return "gave up"
