"""The settings the EMR, EMR Serverless and EMR on EKS event handlers and the step-log follow-up share."""

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Literal

from pydantic import Field

from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUpScheduler
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings
from emr_autopilot.env_settings import EnvSettings


class HandlerSettings(EnvSettings):
    """What every EMR event handler reads (the template sets these on each): where to record and to notify."""

    aws_region: str = "us-east-1"
    ledger_table_name: str
    idempotency_table_name: str
    notification_topic_arn: str

    def reaction_settings(self) -> ReactionSettings:
        return ReactionSettings(
            region=self.aws_region, ledger_table=self.ledger_table_name, topic_arn=self.notification_topic_arn
        )


class FollowUpSettings(EnvSettings):
    """Where a late log's follow-up goes: both event handlers schedule one, the follow-up schedules the next look."""

    schedule_group_name: str
    scheduler_role_arn: str
    log_follow_up_function_arn: str
    log_follow_up_delay_seconds: int = Field(default=300, ge=60, le=3600)
    log_follow_up_max_attempts: int = Field(default=4, ge=1, le=24)

    def follow_up_scheduler(self, now: Callable[[], datetime] | None = None) -> FollowUpScheduler:
        return FollowUpScheduler(
            group_name=self.schedule_group_name,
            role_arn=self.scheduler_role_arn,
            function_arn=self.log_follow_up_function_arn,
            delay_seconds=self.log_follow_up_delay_seconds,
            max_attempts=self.log_follow_up_max_attempts,
            now=now,
        )


class EmrEventSettings(HandlerSettings, FollowUpSettings):
    """The EMR event handler and the step-log follow-up share these."""

    notify_min_severity: Literal["INFO", "WARNING", "ERROR", "CRITICAL"] = "ERROR"

    def reaction_settings(self, now: Callable[[], datetime] | None = None) -> ReactionSettings:
        settings = super().reaction_settings()
        return settings._replace(min_severity=self.notify_min_severity, follow_up=self.follow_up_scheduler(now))


@cache
def emr_event_settings() -> EmrEventSettings:
    return EmrEventSettings.from_env()
