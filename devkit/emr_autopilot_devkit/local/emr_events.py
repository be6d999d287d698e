"""The events EMR puts on EventBridge, as the EMR simulator emits them: cluster state changes, step status
changes, and the start-up capacity events (emr-manage-cloudwatch-events, emr-service-limits-cloudwatch-events)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Emit = Callable[[str, str, dict[str, Any]], None]  # detail-type, resource, detail


@dataclass
class Fleet:
    """An instance fleet from RunJobFlow (moto does not model fleets): what its events name."""

    id: str
    type: str  # MASTER, CORE or TASK
    spot_capacity: int
    timeout_action: str | None  # LaunchSpecifications.SpotSpecification
    timeout_minutes: int | None


class EmrEvents:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def cluster(
        self, cluster: Any, state: str, severity: str, message: str, reason: dict[str, str] | None = None
    ) -> None:
        self.emit(
            "EMR Cluster State Change",
            cluster.arn if hasattr(cluster, "arn") else cluster.id,
            {
                "severity": severity,
                # A JSON-encoded string, compact as EMR writes it: "{\"code\":\"\"}" when there is no reason
                # (emr-service-limits-cloudwatch-events.md example).
                "stateChangeReason": json.dumps(reason or {"code": ""}, separators=(",", ":")),
                "name": cluster.name,
                "clusterId": cluster.id,
                "state": state,
                "message": message,
            },
        )

    def step(self, cluster: Any, step: Any, state: str, severity: str, message: str) -> None:
        self.emit(
            "EMR Step Status Change",
            cluster.id,
            {
                "severity": severity,
                "actionOnFailure": step.action_on_failure,
                "stepId": step.id,
                "name": step.name,
                "clusterId": cluster.id,
                "state": state,
                "message": message,
            },
        )

    def step_pending(self, cluster: Any, step: Any) -> None:
        self.step(
            cluster,
            step,
            "PENDING",
            "INFO",
            f"Step {step.id} ({step.name}) was added to Amazon EMR cluster {cluster.id} ({cluster.name}) at "
            f"{event_time(step.creation_date_time)} and is pending execution.",
        )

    def capacity_timeout(self, cluster: Any, fleets: list[Fleet]) -> None:
        """The start-up capacity event, naming the fleet or group that could not be provisioned. The field
        sets follow events/emr_instance_fleet_provisioning_timeout.json and emr-facts.md (inferred: the schema
        registry's field lists for these detail-types could not be read)."""
        if fleets:
            spot = [fleet for fleet in fleets if fleet.spot_capacity > 0]
            fleet = next((f for f in spot if f.timeout_action == "TERMINATE_CLUSTER"), None) or (spot or fleets)[0]
            detail: dict[str, Any] = {
                "severity": "ERROR",
                "eventCode": "Spot Provisioning timeout",
                "clusterId": cluster.id,
                "instanceFleetId": fleet.id,
                "instanceFleetType": fleet.type,
            }
            if fleet.timeout_action:
                detail["timeoutAction"] = fleet.timeout_action
            if fleet.timeout_minutes is not None:
                detail["timeoutDurationMinutes"] = str(fleet.timeout_minutes)
            within = f"the {fleet.timeout_minutes}-minute" if fleet.timeout_minutes is not None else "the"
            detail["message"] = (
                f"Amazon EMR could not provision Spot capacity for instance fleet {fleet.id} ({fleet.type}) in "
                f"cluster {cluster.id} ({cluster.name}) within {within} provisioning timeout. "
                f"The timeout action is {fleet.timeout_action or 'TERMINATE_CLUSTER'}."
            )
            self.emit("EMR Instance Fleet Provisioning", cluster.id, detail)
            return
        # Instance groups have no provisioning timeout; EMR reports their missing capacity with this event code,
        # severity WARN (emr-manage-cloudwatch-events, "Cluster start events", current guide).
        groups = list(cluster.instance_groups)
        group = next((g for g in groups if g.market == "SPOT"), None) or (groups[-1] if groups else None)
        kind = group.instance_group_type if group else "MASTER"
        detail = {
            "severity": "WARN",
            "eventCode": "EC2 provisioning - Insufficient Instance Capacity",
            "clusterId": cluster.id,
            "instanceGroupId": group.id if group else "",
            "instanceGroupType": kind,
            "message": f"Amazon EMR cluster {cluster.id} ({cluster.name}) could not provision instance group "
            f"{group.id if group else '-'} ({kind}): Amazon EC2 has insufficient capacity for instance type "
            f"{group.instance_type if group else '-'}.",
        }
        self.emit("EMR Instance Group Provisioning", cluster.id, detail)


def event_time(value: datetime) -> str:
    """A time as EMR's event messages write it: "2016-12-16 20:53 UTC" (emr-service-limits-cloudwatch-events.md)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
