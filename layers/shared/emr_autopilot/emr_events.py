"""EMR's EventBridge events (`source: aws.emr`), one model per detail-type.

Field lists follow the EventBridge schema registry (see shared reference emr-facts.md). EMR
adds fields and detail-types over time, so every model accepts extra fields, and a
detail-type we do not know becomes `UnknownEmrEvent`: recorded, never a crash.
"""

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from emr_autopilot.event_envelopes import EventEnvelope, _Detail, parse_envelope

SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "ERROR": 2, "CRITICAL": 3}


def _severity(value: Any) -> Any:
    # EMR sends both WARN and WARNING.
    if isinstance(value, str):
        upper = value.strip().upper()
        return "WARNING" if upper == "WARN" else upper
    return value


def _json_object(value: Any) -> Any:
    # stateChangeReason arrives as a JSON-encoded string, e.g. "{\"code\":\"USER_REQUEST\"}".
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return {"message": text}
        return decoded if isinstance(decoded, dict) else {"message": text}
    return value


def _count(value: Any) -> Any:
    # Instance counts and capacities arrive as strings.
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.lstrip("-").isdigit() else None
    return value


Severity = Annotated[Literal["INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_severity)]
Count = Annotated[int | None, BeforeValidator(_count)]
# EMR's ids. They become ledger keys, which DynamoDB caps (2 KB partition, 1 KB sort key): anything
# else is bad input, rejected into the dead-letter queue, never a write that fails and is retried.
ClusterId = Annotated[str, Field(pattern=r"^j-[A-Za-z0-9]{1,64}$")]
StepId = Annotated[str, Field(pattern=r"^s-[A-Za-z0-9]{1,64}$")]


class StateChangeReason(_Detail):
    code: str = ""
    message: str = ""


class ClusterStateChangeDetail(_Detail):
    clusterId: ClusterId
    name: str = ""
    state: str
    severity: Severity = "INFO"
    message: str = ""
    stateChangeReason: Annotated[StateChangeReason, BeforeValidator(_json_object)] = Field(
        default_factory=StateChangeReason
    )


class StepStatusChangeDetail(_Detail):
    clusterId: ClusterId
    stepId: StepId
    name: str = ""
    state: str
    severity: Severity = "INFO"
    actionOnFailure: str = ""
    message: str = ""


class AutoScalingPolicyStateChangeDetail(_Detail):
    clusterId: ClusterId
    resourceId: str = ""
    state: str
    message: str = ""
    scalingResourceType: str = ""
    severity: Severity = "INFO"


class InstanceGroupStateChangeDetail(_Detail):
    clusterId: ClusterId
    instanceGroupId: str = ""
    instanceGroupType: str = ""
    instanceType: str = ""
    market: str = ""
    bidPrice: str | None = None
    requestedInstanceCount: Count = None
    runningInstanceCount: Count = None
    state: str
    severity: Severity = "INFO"
    message: str = ""


class InstanceFleetStateChangeDetail(_Detail):
    clusterId: ClusterId
    instanceFleetId: str = ""
    instanceFleetType: str = ""
    state: str
    severity: Severity = "INFO"
    message: str = ""
    provisionedOnDemandCapacity: Count = None
    provisionedSpotCapacity: Count = None
    targetOnDemandCapacity: Count = None
    targetSpotCapacity: Count = None


class CapacityEventDetail(_Detail):
    """Provisioning and resize events: Spot or on-demand capacity that could not be had in time."""

    clusterId: ClusterId
    eventCode: str = ""
    instanceFleetType: str | None = None
    instanceGroupType: str | None = None
    severity: Severity = "WARNING"
    message: str = ""


class ConfigurationErrorDetail(_Detail):
    clusterId: ClusterId
    severity: Severity = "ERROR"
    message: str = ""


class GenericDetail(_Detail):
    clusterId: ClusterId | None = None
    severity: Severity = "INFO"
    message: str = ""
    state: str | None = None


CAPACITY_DETAIL_TYPES = frozenset(
    {
        "EMR Instance Fleet Provisioning",
        "EMR Instance Group Provisioning",
        "EMR Instance Fleet Resize",
        "EMR Instance Group Resize",
        "EMR Instance Fleet Status Notification",
        "EMR Instance Group Status Notification",
    }
)

DETAIL_MODELS: dict[str, type[_Detail]] = {
    "EMR Cluster State Change": ClusterStateChangeDetail,
    "EMR Step Status Change": StepStatusChangeDetail,
    "EMR Auto Scaling Policy State Change": AutoScalingPolicyStateChangeDetail,
    "EMR Instance Group State Change": InstanceGroupStateChangeDetail,
    "EMR Instance Fleet State Change": InstanceFleetStateChangeDetail,
    "EMR Configuration Error": ConfigurationErrorDetail,
    **dict.fromkeys(CAPACITY_DETAIL_TYPES, CapacityEventDetail),
}


class EmrEvent(EventEnvelope):
    DETAIL_MODELS: ClassVar[dict[str, type[_Detail]]] = DETAIL_MODELS
    GENERIC_DETAIL: ClassVar[type[_Detail]] = GenericDetail

    source: Literal["aws.emr"]

    @property
    def cluster_id(self) -> str | None:
        value = self.detail.get("clusterId")
        return str(value) if value else None


def parse_emr_event(event: Any) -> tuple[EmrEvent, _Detail]:
    """Validate the envelope and the detail; raises InvalidEvent with what is wrong."""
    return parse_envelope(EmrEvent, event, "EMR")
