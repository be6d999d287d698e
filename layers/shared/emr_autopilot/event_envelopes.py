"""What every EventBridge event the functions take has in common: the envelope, with a detail parsed by a
model per detail-type. EMR's events (emr_events) and EMR Serverless's (emr_serverless_events) build on it, so
neither function loads the other's detail models."""

from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emr_autopilot.errors import InvalidEvent


class _Detail(BaseModel):
    # defer_build: an invocation validates one or two of these models; building all of them at
    # import would cost every cold start (see `make bench`).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


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


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(detail)'}: {e['msg']}" for e in exc.errors()[:5])


Envelope = TypeVar("Envelope", bound=EventEnvelope)


def parse_envelope(model: type[Envelope], event: Any, source_name: str) -> tuple[Envelope, _Detail]:
    """Validate the envelope and the detail; raises InvalidEvent with what is wrong ("not an <source_name> event")."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    try:
        envelope = model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"not an {source_name} event: {_short(exc)}") from exc
    return envelope, envelope.parsed()
