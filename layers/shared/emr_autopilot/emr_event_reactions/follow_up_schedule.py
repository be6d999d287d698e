"""Scheduling another look for a failed step's late log: the follow-up and its one-time schedule."""

import hashlib
import json
from datetime import timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot import aws, clock


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
