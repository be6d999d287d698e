"""Reacting to one EMR event: what it means (category, metrics), the ledger, and whether to send a notice.

At most three AWS calls come before the ledger write and the notification: DescribeCluster
(cached per container), and for a failed step DescribeStep and one GET of its stderr.gz. A cluster that
ended also costs its cost estimate's lookups, after the ledger's state write and before the notice
(see _cluster_cost: one or two calls, so at most three lookups with a cold DescribeCluster cache).
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from emr_autopilot import emr, ledger
from emr_autopilot.emr_event_reactions import notices
from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUp
from emr_autopilot.emr_event_reactions.reaction import ClusterContext, Reaction, send
from emr_autopilot.emr_event_reactions.settings import ReactionSettings
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
from emr_autopilot.simulation import is_simulated_name
from emr_autopilot.step_logs import LogLocation, parse_s3_uri, read_tail, step_log
from emr_autopilot.tags import TAG_JOB, TAG_MANAGED, TAG_RUN_ID

if TYPE_CHECKING:
    from emr_autopilot.run_costs import RunCost

# step_completion, run_cost_estimate, run_costs and pricing are imported where a step's or a cluster's end needs
# them: most events are neither, and the handler's own import is budgeted (docs/performance.md, cold start 1d).


@lru_cache(maxsize=512)
def described_cluster(cluster_id: str) -> ClusterContext:
    # Name, tags and LogUri never change: one DescribeCluster per cluster per container.
    cluster = emr.describe_cluster(cluster_id)
    tags = emr.tags_of(cluster)
    return ClusterContext(
        cluster_id=cluster_id,
        name=cluster.get("Name", ""),
        job=tags.get(TAG_JOB),
        run_id=tags.get(TAG_RUN_ID),
        managed=tags.get(TAG_MANAGED) == "true",
        log_uri=cluster.get("LogUri"),
    )


def cluster_context(cluster_id: str) -> ClusterContext | None:
    try:
        return described_cluster(cluster_id)
    except emr.client().exceptions.InvalidRequestException:
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


# -- a cluster's state change ---------------------------------------------------------------------
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
    if detail.state in emr.TERMINATED and item is not None:
        _record_unannounced_step_ends(settings, detail.clusterId)
    if detail.state in emr.TERMINATED and item and item.get("created_at"):
        lifetime = (at - _parse_time(item["created_at"])).total_seconds()
        if lifetime > 0:  # 0 when the ledger first saw the cluster at its end: no start to measure from
            reaction.metrics.append(("ClusterLifetimeSeconds", "Seconds", lifetime))
    cost = None
    if detail.state in emr.TERMINATED and item is not None:
        # Written before the notice, like every write: a retry must not send the notice twice.
        from emr_autopilot.run_costs import cost_fields

        cost = _cluster_cost(detail.clusterId, known=context is not None)
        ledger.record_cost(settings.ledger_table, f"CLUSTER#{detail.clusterId}", cost_fields(cost))
    if detail.state != "TERMINATED_WITH_ERRORS":
        _notify_if_severe(settings, reaction, envelope, detail.severity, detail.state, context)
        return
    reaction.category = "CLUSTER_FAILED"
    reaction.metrics.append(("ClusterFailed", "Count", 1))
    subject, body = notices.cluster_failed(detail, context, settings.region, cost.line() if cost else None)
    send(settings.topic_arn, reaction, subject, body, "ERROR", detail.state)


def _record_unannounced_step_ends(settings: ReactionSettings, cluster_id: str) -> None:
    """A step still open in the ledger when its cluster ended: EMR emits no event for INTERRUPTED (the step events
    table of emr-manage-cloudwatch-events lists PENDING, RUNNING, COMPLETED, CANCELLED, FAILED), e.g. the step of a
    stopped `step_completion: events` run, whose cluster the execution janitor ended. DescribeStep says how it ended.
    """
    from emr_autopilot import step_completion

    for item in ledger.cluster_items(settings.ledger_table, cluster_id):
        if not str(item["sk"]).startswith("STEP#") or item.get("state") in step_completion.STEP_ENDS:
            continue
        try:
            step = emr.describe_step(cluster_id, str(item["sk"]).removeprefix("STEP#"))
        except emr.client().exceptions.InvalidRequestException:
            continue  # EMR no longer knows it: nothing better to record
        if step["Status"]["State"] in step_completion.STEP_ENDS:
            step_completion.record_end(settings.ledger_table, cluster_id, step)


def _cluster_cost(cluster_id: str, known: bool) -> "RunCost":
    """The ended cluster's cost, as the success notice's (run_cost_estimate.cluster_cost: ListInstances, and a
    fresh DescribeCluster only when the lifetimes cannot price it; the cached one predates the end). An error
    retrying cannot fix gives an unknown cost that says why; throttling or a fault is raised, for Lambda's retry.
    No call for a cluster DescribeCluster did not know (`known` False): EMR cannot list its instances either."""
    from emr_autopilot import pricing, run_cost_estimate, run_costs

    if not known:
        return run_costs.RunCost(None, pricing.price_table().label, "EMR does not know the cluster (DescribeCluster)")
    return run_cost_estimate.cluster_cost(cluster_id)


# -- a step's status change -----------------------------------------------------------------------
def _on_step(
    envelope: EmrEvent,
    detail: StepStatusChangeDetail,
    context: ClusterContext | None,
    settings: ReactionSettings,
    reaction: Reaction,
    at: datetime,
) -> None:
    failure, unavailable = _failure_details(detail) if detail.state == "FAILED" else ({}, None)
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
    _complete_waiting_run(settings, reaction, detail)
    if detail.state != "FAILED":
        _notify_if_severe(settings, reaction, envelope, detail.severity, detail.state, context)
        return

    reaction.category = "STEP_FAILED"
    reaction.metrics.append(("StepFailed", "Count", 1))
    location = _stderr_location(failure, context, detail)
    tail = read_tail(location) if location else None
    if tail is None and location is not None and settings.follow_up is not None:
        reaction.follow_up_scheduled = settings.follow_up.schedule(
            FollowUp(detail.clusterId, detail.stepId, detail.name, location.uri, reaction.job, attempt=1)
        )
    known = notices.StepFailure(failure, unavailable, location, tail, follow_up=settings.follow_up is not None)
    subject, body = notices.step_failed(detail, context, settings.region, known)
    send(settings.topic_arn, reaction, subject, body, "ERROR", "FAILED")


# Before the notice, like every write: a throttled SendTask* raises, and Lambda's retry runs the reaction again.
_COMPLETION_METRICS = {"completed": "StepTokensCompleted", "closed": "StepTokensAlreadyClosed"}


def _complete_waiting_run(settings: ReactionSettings, reaction: Reaction, detail: StepStatusChangeDetail) -> None:
    """A `step_completion: events` run waits for this step's end: complete its task token (step_completion)."""
    from emr_autopilot import step_completion

    sent = step_completion.complete_from_event(settings.ledger_table, detail.clusterId, detail.stepId, detail.state)
    if sent in _COMPLETION_METRICS:
        reaction.metrics.append((_COMPLETION_METRICS[sent], "Count", 1))


def _failure_details(detail: StepStatusChangeDetail) -> tuple[Mapping[str, Any], str | None]:
    """DescribeStep's FailureDetails ({} when none), or why EMR could not say."""
    try:
        described = emr.describe_step(detail.clusterId, detail.stepId)
    except emr.client().exceptions.InvalidRequestException as exc:
        # EMR no longer knows the cluster or step (older than two months, or an event from elsewhere):
        # a retry cannot change that, so the failure is recorded and notified without its details.
        return {}, exc.response.get("Error", {}).get("Message") or "unknown cluster or step"
    return described.get("Status", {}).get("FailureDetails") or {}, None


def _stderr_location(
    failure: Mapping[str, Any], context: ClusterContext | None, detail: StepStatusChangeDetail
) -> LogLocation | None:
    if failure.get("LogFile"):
        named = parse_s3_uri(str(failure["LogFile"]))
        if named is not None:
            # FailureDetails.LogFile may name syslog or the folder; the tail we want is stderr.gz.
            folder = named.key if named.key.endswith("/") else named.key.rsplit("/", 1)[0] + "/"
            return LogLocation(named.bucket, folder + "stderr.gz")
    return step_log(context.log_uri if context else None, detail.clusterId, detail.stepId)


# -- every other event ----------------------------------------------------------------------------
def _on_other(
    envelope: EmrEvent, detail: Any, context: ClusterContext | None, settings: ReactionSettings, reaction: Reaction
) -> None:
    where = notices.label(context, reaction.cluster_id or "-", "")
    if isinstance(detail, CapacityEventDetail):
        reaction.category = "CAPACITY"
        reaction.metrics.append(("CapacityShortfall", "Count", 1))
        subject, body = notices.capacity(envelope.detail_type, detail, context, where)
        send(settings.topic_arn, reaction, subject, body, "WARNING", detail.eventCode or "CAPACITY")
    elif isinstance(detail, ConfigurationErrorDetail):
        reaction.category = "CONFIGURATION_ERROR"
        subject, body = notices.configuration_error(detail, where)
        send(settings.topic_arn, reaction, subject, body, "ERROR", "ERROR")
    elif isinstance(detail, AutoScalingPolicyStateChangeDetail) and detail.state == "FAILED":
        reaction.category = "AUTOSCALING_FAILED"
        subject, body = notices.autoscaling_failed(detail, where)
        send(settings.topic_arn, reaction, subject, body, "ERROR", "FAILED")
    else:
        if shortfall := _shortfall(detail):
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
    subject, body = notices.severe_event(
        envelope.detail_type, envelope.detail, severity, state, context, reaction.cluster_id, settings.region
    )
    send(settings.topic_arn, reaction, subject, body, severity, state)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
