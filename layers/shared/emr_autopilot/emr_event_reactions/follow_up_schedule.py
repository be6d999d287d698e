"""Scheduling another look for a late log: the follow-up of a failed EMR step or EMR Serverless job run, and its
one-time schedule."""

import hashlib
import json
from datetime import timedelta
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot import aws, clock

SERVERLESS = "emr-serverless"  # the `kind` of a job run's follow-up; a step's has none (the first shape, kept)


class FollowUp(NamedTuple):
    """A failed EMR step's follow-up."""

    cluster_id: str
    step_id: str
    step_name: str
    log_uri: str
    job: str | None
    attempt: int

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()

    def schedule_name(self) -> str:
        return "steplog-" + _digest(f"{self.cluster_id}/{self.step_id}/{self.attempt}")


class JobRunFollowUp(NamedTuple):
    """A failed EMR Serverless job run's follow-up: its driver's log URIs as emr_serverless.driver_log_uri builds
    them (stdout.gz first for a PySpark driver, whose traceback is there; then stderr.gz)."""

    application_id: str
    job_run_id: str
    job_run_name: str
    log_uris: tuple[str, ...]
    job: str | None
    run_id: str | None
    attempt: int
    kind: str = SERVERLESS

    def as_dict(self) -> dict[str, Any]:
        return {**self._asdict(), "log_uris": list(self.log_uris)}

    def schedule_name(self) -> str:
        return "jobrunlog-" + _digest(f"{self.application_id}/{self.job_run_id}/{self.attempt}")


def _digest(key: str) -> str:
    # Schedule names: 1-64 of [0-9a-zA-Z-_.] (Scheduler API reference, CreateSchedule Name).
    return hashlib.sha256(key.encode()).hexdigest()[:40]


class FollowUpRequest(BaseModel):
    """What a step's follow-up schedule sends (FollowUp.as_dict()): schedules already created carry this shape."""

    model_config = ConfigDict(defer_build=True)

    cluster_id: str = Field(pattern=r"^j-[A-Z0-9]+$")
    step_id: str = Field(pattern=r"^s-[A-Z0-9]+$")
    step_name: str = ""
    log_uri: str = Field(pattern=r"^s3://")
    job: str | None = None
    attempt: int = Field(ge=1)

    def to_follow_up(self) -> FollowUp:
        return FollowUp(**self.model_dump())


class JobRunFollowUpRequest(BaseModel):
    """What a job run's follow-up schedule sends (JobRunFollowUp.as_dict())."""

    model_config = ConfigDict(defer_build=True)

    kind: Literal["emr-serverless"]
    # EMR Serverless API reference, JobRun.applicationId and jobRunId: 1 to 64 of [0-9a-z] (as emr_serverless_events;
    # not imported from there: the EMR event handler would load the EMR Serverless event models at each cold start).
    application_id: str = Field(pattern=r"^[0-9a-z]{1,64}$")
    job_run_id: str = Field(pattern=r"^[0-9a-z]{1,64}$")
    job_run_name: str = ""
    # s3://<bucket>/<key>, the bucket as S3's naming rules allow (S3 User Guide, "Bucket naming rules").
    log_uris: list[Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.")]] = Field(
        min_length=1, max_length=2
    )
    job: str | None = None
    # The emr-autopilot:run-id tag's value: at most 256 characters (EMR Serverless API reference, TagValue).
    run_id: str | None = Field(default=None, min_length=1, max_length=256)
    attempt: int = Field(ge=1)

    def to_follow_up(self) -> JobRunFollowUp:
        return JobRunFollowUp(**{**self.model_dump(), "log_uris": tuple(self.log_uris)})


def parse_follow_up(event: Any) -> FollowUp | JobRunFollowUp:
    """The follow-up an event asks for; ValidationError when it is not one. Dispatched on `kind` by hand rather
    than by a pydantic discriminated union: a step's request has no `kind` (its shape predates job runs)."""
    if isinstance(event, dict) and "kind" in event:
        return JobRunFollowUpRequest.model_validate(event).to_follow_up()
    return FollowUpRequest.model_validate(event).to_follow_up()


class FollowUpScheduler(NamedTuple):
    """Looks for a late log again after `delay`: a one-time EventBridge Scheduler schedule that
    invokes the follow-up function. The name is derived from the step (or job run) and attempt, so a
    re-delivered failure event cannot schedule the same check twice."""

    group_name: str
    role_arn: str
    function_arn: str
    delay_seconds: int = 300
    max_attempts: int = 4
    now: Any = None  # a clock for tests; clock.now() otherwise (the local runtime's fast clock, as for deadlines)

    def schedule(self, follow_up: FollowUp | JobRunFollowUp) -> bool:
        if follow_up.attempt > self.max_attempts:
            return False
        when = (self.now() if self.now else clock.now()) + timedelta(seconds=self.delay_seconds)
        scheduler = aws.client("scheduler")
        try:
            scheduler.create_schedule(
                Name=follow_up.schedule_name(),
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
