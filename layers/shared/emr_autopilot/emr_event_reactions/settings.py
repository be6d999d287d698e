"""The settings the EMR event handler and the step-log follow-up share."""

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Literal

from pydantic import Field

from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUpScheduler
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings
from emr_autopilot.env_settings import EnvSettings


class EmrEventSettings(EnvSettings):
    """The EMR event handler and the step-log follow-up share these."""

    aws_region: str = "us-east-1"
    ledger_table_name: str
    idempotency_table_name: str
    notification_topic_arn: str
    notify_min_severity: Literal["INFO", "WARNING", "ERROR", "CRITICAL"] = "ERROR"
    schedule_group_name: str
    scheduler_role_arn: str
    log_follow_up_function_arn: str
    log_follow_up_delay_seconds: int = Field(default=300, ge=60, le=3600)
    log_follow_up_max_attempts: int = Field(default=4, ge=1, le=24)

    def reaction_settings(self, now: Callable[[], datetime] | None = None) -> ReactionSettings:
        return ReactionSettings(
            region=self.aws_region,
            ledger_table=self.ledger_table_name,
            topic_arn=self.notification_topic_arn,
            min_severity=self.notify_min_severity,
            follow_up=FollowUpScheduler(
                group_name=self.schedule_group_name,
                role_arn=self.scheduler_role_arn,
                function_arn=self.log_follow_up_function_arn,
                delay_seconds=self.log_follow_up_delay_seconds,
                max_attempts=self.log_follow_up_max_attempts,
                now=now,
            ),
        )


@cache
def emr_event_settings() -> EmrEventSettings:
    return EmrEventSettings.from_env()
