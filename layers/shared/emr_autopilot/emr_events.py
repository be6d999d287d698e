"""EMR's EventBridge events (`source: aws.emr`), one model per detail-type.

Field lists follow the EventBridge schema registry (see shared reference emr-facts.md). EMR
adds fields and detail-types over time, so every model accepts extra fields, and a
detail-type we do not know becomes `UnknownEmrEvent`: recorded, never a crash.
"""

import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from emr_autopilot.errors import InvalidEvent

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


class _Detail(BaseModel):
    # defer_build: an invocation validates one or two of these models; building all of them at
    # import would cost every cold start (see `make bench`).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


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


class EventEnvelope(BaseModel):
    """An EventBridge event with a parsed detail; `known` is False for detail-types we have no model for.
    Each source's envelope sets `source`, DETAIL_MODELS and GENERIC_DETAIL (EMR's here, EMR Serverless's in
    emr_serverless_events)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
    DETAIL_MODELS: ClassVar[dict[str, type[_Detail]]] = {}
    GENERIC_DETAIL: ClassVar[type[_Detail]] = _Detail

    version: str = "0"
    id: str = Field(pattern=r"^[!-~]{1,128}$")  # EventBridge's ids are UUIDs; printable ASCII, short
    detail_type: str = Field(alias="detail-type", min_length=1)
    source: str
    account: str = ""
    time: datetime
    region: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]

    @property
    def known(self) -> bool:
        return self.detail_type in self.DETAIL_MODELS

    def parsed(self) -> _Detail:
        model = self.DETAIL_MODELS.get(self.detail_type, self.GENERIC_DETAIL)
        try:
            return model.model_validate(self.detail)
        except ValidationError as exc:
            raise InvalidEvent(f"{self.detail_type} {self.id}: {_short(exc)}") from exc


class EmrEvent(EventEnvelope):
    DETAIL_MODELS: ClassVar[dict[str, type[_Detail]]] = DETAIL_MODELS
    GENERIC_DETAIL: ClassVar[type[_Detail]] = GenericDetail

    source: Literal["aws.emr"]

    @property
    def cluster_id(self) -> str | None:
        value = self.detail.get("clusterId")
        return str(value) if value else None


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(detail)'}: {e['msg']}" for e in exc.errors()[:5])


def parse_emr_event(event: Any) -> tuple[EmrEvent, _Detail]:
    """Validate the envelope and the detail; raises InvalidEvent with what is wrong."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    try:
        envelope = EmrEvent.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"not an EMR event: {_short(exc)}") from exc
    return envelope, envelope.parsed()
