"""The text of the notices an EMR event or a log follow-up sends: plain functions, (subject, body lines)."""

from collections.abc import Mapping
from typing import Any, NamedTuple

from emr_autopilot import notifications
from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUp
from emr_autopilot.emr_event_reactions.reaction import ClusterContext
from emr_autopilot.emr_events import (
    AutoScalingPolicyStateChangeDetail,
    CapacityEventDetail,
    ClusterStateChangeDetail,
    ConfigurationErrorDetail,
    StepStatusChangeDetail,
)
from emr_autopilot.step_logs import LogLocation

Notice = notifications.Notice

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


def cluster_failed(
    detail: ClusterStateChangeDetail, context: ClusterContext | None, region: str, cost_line: str | None = None
) -> Notice:
    """`cost_line`: run_costs.RunCost.line() of the run's cost estimate, when it was estimated."""
    code = detail.stateChangeReason.code or "UNKNOWN"
    body = [
        f"Cluster {detail.clusterId} ({detail.name}) TERMINATED WITH ERRORS.",
        "",
        f"Reason: {code}",
        f"Message: {detail.stateChangeReason.message or detail.message or '-'}",
        f"What to do: {REMEDIATION.get(code, 'Check the cluster events and logs in the console.')}",
        *([cost_line] if cost_line else []),
        *context_lines(context),
        "",
        f"Cluster: {notifications.console_cluster_url(region, detail.clusterId)}",
    ]
    return f"[emr-autopilot] Cluster failed: {code} on {label(context, detail.clusterId, detail.name)}", body


class StepFailure(NamedTuple):
    """What is known about a failed step beyond its event."""

    failure: Mapping[str, Any]  # DescribeStep's FailureDetails, {} when EMR gave none
    unavailable: str | None  # why DescribeStep could not tell, if it could not
    location: LogLocation | None  # where its stderr is (or will be)
    tail: str | None  # the log's last lines, None when not (yet) there
    follow_up: bool  # a follow-up will look for the log again


def step_failed(
    detail: StepStatusChangeDetail, context: ClusterContext | None, region: str, known: StepFailure
) -> Notice:
    failure, location = known.failure, known.location
    if known.unavailable is None:
        reason = f"Reason: {failure.get('Reason') or 'EMR gave no reason (see the log below)'}"
    else:
        reason = f"Reason: step details unavailable (DescribeStep: {known.unavailable})"
    body = [
        f"Step '{detail.name}' ({detail.stepId}) FAILED on cluster {detail.clusterId}.",
        "",
        reason,
        f"Message: {failure.get('Message') or detail.message or '-'}",
        f"ActionOnFailure: {detail.actionOnFailure or '-'}",
        *context_lines(context),
        "",
        *_log_lines(known, context),
        "",
        f"Cluster: {notifications.console_cluster_url(region, detail.clusterId)}",
        f"Step: {notifications.console_cluster_url(region, detail.clusterId)}&tab=steps",
    ]
    if location is not None:
        body.append(f"Logs: {notifications.console_s3_url(location.bucket, location.key.rsplit('/', 1)[0] + '/')}")
    return f"[emr-autopilot] Step failed: {detail.name} on {label(context, detail.clusterId, '')}", body


def _log_lines(known: StepFailure, context: ClusterContext | None) -> list[str]:
    location = known.location
    if known.tail is not None:
        return [f"Last lines of {location.uri if location else 'stderr'}:", indent(known.tail)]
    if location is not None:
        return [
            f"The step's log is not in S3 yet (EMR uploads logs every few minutes): {location.uri}. "
            + ("A follow-up with its last lines will be sent." if known.follow_up else "")
        ]
    if context is None:
        return ["The step's log cannot be located: EMR does not know the cluster (DescribeCluster)."]
    return ["The cluster has no LogUri, so EMR keeps no step logs in S3."]


def capacity(detail_type: str, detail: CapacityEventDetail, context: ClusterContext | None, where: str) -> Notice:
    node = detail.instanceFleetType or detail.instanceGroupType or "-"
    body = [
        f"{detail_type} on cluster {detail.clusterId}: {detail.eventCode or 'capacity problem'}.",
        f"Node type: {node}",
        f"Message: {detail.message or '-'}",
        "What to do: widen the instance types or subnets, or let Spot fall back to on-demand.",
        *context_lines(context),
    ]
    return f"[emr-autopilot] Capacity: {detail.eventCode or detail_type} on {where}", body


def configuration_error(detail: ConfigurationErrorDetail, where: str) -> Notice:
    body = [f"EMR configuration error on cluster {detail.clusterId}.", f"Message: {detail.message}"]
    return f"[emr-autopilot] Configuration error on {where}", body


def autoscaling_failed(detail: AutoScalingPolicyStateChangeDetail, where: str) -> Notice:
    body = [f"Auto-scaling policy on {detail.resourceId} FAILED.", f"Message: {detail.message or '-'}"]
    return f"[emr-autopilot] Auto-scaling policy failed on {where}", body


def severe_event(
    detail_type: str,
    detail: Mapping[str, Any],
    severity: str,
    state: str,
    context: ClusterContext | None,
    cluster_id: str | None,
    region: str,
) -> Notice:
    """Any other event at or above the notice threshold: what it said, and where."""
    where = label(context, cluster_id or "-", str(detail.get("name", "")))
    body = [
        f"{detail_type}: {state} ({severity}).",
        f"Message: {detail.get('message') or '-'}",
        *context_lines(context),
    ]
    if cluster_id:
        body.append(f"Cluster: {notifications.console_cluster_url(region, cluster_id)}")
    return f"[emr-autopilot] {detail_type.removeprefix('EMR ')}: {state} on {where}", body


def log_digest(follow_up: FollowUp, tail: str) -> Notice:
    body = [
        f"Log digest for step '{follow_up.step_name}' ({follow_up.step_id}) on cluster {follow_up.cluster_id}.",
        "",
        f"Last lines of {follow_up.log_uri}:",
        indent(tail),
    ]
    return f"[emr-autopilot] Step log: {follow_up.step_name} on {_follow_up_label(follow_up)}", body


def log_missing(follow_up: FollowUp, waited_minutes: int) -> Notice:
    body = [
        f"The log of step '{follow_up.step_name}' ({follow_up.step_id}) never appeared at {follow_up.log_uri}"
        f" (looked {follow_up.attempt} times over about {waited_minutes} minutes).",
        "Possible causes: the cluster ended before EMR uploaded it, the LogUri bucket is not writable by EMR,"
        " or this function may not read it (s3:GetObject).",
    ]
    return f"[emr-autopilot] Step log missing: {follow_up.step_name} on {_follow_up_label(follow_up)}", body


# -- pieces ---------------------------------------------------------------------------------------
def label(context: ClusterContext | None, cluster_id: str, name: str) -> str:
    """How a notice names a cluster: its job if it has one, else its name, with its id."""
    if context and context.job:
        return f"{context.job} ({cluster_id})"
    name = name or (context.name if context else "")
    return f"{name} ({cluster_id})" if name else cluster_id


def context_lines(context: ClusterContext | None) -> list[str]:
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


indent = notifications.indent


def _follow_up_label(follow_up: FollowUp) -> str:
    return f"{follow_up.job} ({follow_up.cluster_id})" if follow_up.job else follow_up.cluster_id
