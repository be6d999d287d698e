"""LivyBatchPipeline's input (a batch and its cluster) as the pipeline validates it."""

import math
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from emr_autopilot.errors import InvalidLivyRequest

# Each poll adds about 11 events to the execution history, which Step Functions caps at 25,000.
MAX_POLLS = 2000

_M = TypeVar("_M", bound=BaseModel)


def _to_text(value: Any) -> Any:
    # Spark reads every conf value as a string; YAML and JSON writers give numbers and booleans.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


Text = Annotated[str, BeforeValidator(_to_text)]


class LivyBatchRequest(BaseModel):
    """Livy's POST /batches body, in Livy's own spelling."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    file: str = Field(min_length=1)
    proxyUser: str | None = None
    className: str | None = None
    args: list[Text] = Field(default_factory=list)
    jars: list[str] = Field(default_factory=list)
    pyFiles: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    driverMemory: str | None = Field(default=None, pattern=r"^\d+[kKmMgGtT]?[bB]?$")
    driverCores: int | None = Field(default=None, ge=1)
    executorMemory: str | None = Field(default=None, pattern=r"^\d+[kKmMgGtT]?[bB]?$")
    executorCores: int | None = Field(default=None, ge=1)
    numExecutors: int | None = Field(default=None, ge=1)
    queue: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)
    conf: dict[str, Text] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class LivyRunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    job_name: str = Field(default="livy-batch", min_length=1, max_length=40)  # in SNS subjects (100 chars)
    run_id: str | None = None
    notification_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:sns:")
    transient: bool = False  # set by the pipeline from cluster_request, never taken from the caller
    poll_interval_seconds: int = Field(default=30, ge=5, le=300)
    max_wait_seconds: int = Field(default=7200, ge=60, le=7 * 86400)
    input_uri: str = ""
    output_uri: str = ""

    @property
    def max_polls(self) -> int:
        return math.ceil(self.max_wait_seconds / self.poll_interval_seconds)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.max_polls > MAX_POLLS:
            raise ValueError(
                f"max_wait_seconds / poll_interval_seconds is {self.max_polls} polls; at most {MAX_POLLS} fit "
                "in one execution's history: raise poll_interval_seconds"
            )
        return self


class LivyRunInput(BaseModel):
    """LivyBatchPipeline's input: a batch and either a running cluster or a cluster to create."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    run: LivyRunOptions = Field(default_factory=LivyRunOptions)
    cluster_id: str | None = Field(default=None, pattern=r"^(j-[A-Za-z0-9]{1,64}|none)$")
    cluster_request: dict[str, Any] | None = None
    batch: LivyBatchRequest

    @model_validator(mode="after")
    def _cluster(self) -> Self:
        if self.cluster_id in (None, "none") and self.cluster_request is None:
            raise ValueError("give cluster_id (a running cluster with Livy) or cluster_request (a transient one)")
        return self


def invalid(what: str, exc: ValidationError) -> InvalidLivyRequest:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}" for item in exc.errors()[:5]
    )
    return InvalidLivyRequest(f"{what}: {problems}")


def parse_event(model: type[_M], event: Any) -> _M:
    """A handler's payload as its model; a malformed one fails with a name the ASL can catch."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise invalid(f"{model.__name__} payload is invalid", exc) from exc
