"""Environment configuration of the Lambda functions, validated once per container."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from emr_autopilot.env_settings import EnvSettings

if TYPE_CHECKING:
    from emr_autopilot.reactions import ReactionSettings
    from emr_autopilot.runs import StackContext


class _Settings(EnvSettings):
    pass


class RunStarterSettings(_Settings):
    aws_region: str = "us-east-1"
    state_machine_arn: str
    landing_bucket: str
    curated_bucket: str
    artifacts_bucket: str
    logs_bucket: str
    notification_topic_arn: str
    emr_service_role: str
    emr_instance_profile: str
    schedule_group_name: str
    scheduler_role_arn: str
    catalog_key: str = "catalog/jobs.json"

    def stack(self) -> StackContext:
        from emr_autopilot.runs import StackContext

        return StackContext(
            region=self.aws_region,
            state_machine_arn=self.state_machine_arn,
            landing_bucket=self.landing_bucket,
            curated_bucket=self.curated_bucket,
            artifacts_bucket=self.artifacts_bucket,
            logs_bucket=self.logs_bucket,
            notification_topic_arn=self.notification_topic_arn,
            emr_service_role=self.emr_service_role,
            emr_instance_profile=self.emr_instance_profile,
        )


class JanitorSettings(_Settings):
    notification_topic_arn: str
    schedule_group_name: str
    idempotency_table_name: str


class EmrEventSettings(_Settings):
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
        from emr_autopilot.reactions import FollowUpScheduler, ReactionSettings

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
    return EmrEventSettings.from_env()  # values come from the environment


@cache
def run_starter_settings() -> RunStarterSettings:
    return RunStarterSettings.from_env()  # values come from the environment


@cache
def janitor_settings() -> JanitorSettings:
    return JanitorSettings.from_env()


class LivySettings(_Settings):
    """The Livy path's functions (resolve, submit, status, kill, janitor) share these."""

    aws_region: str = "us-east-1"
    notification_topic_arn: str
    livy_scheme: Literal["http", "https"] = "http"
    livy_port: int = Field(default=8998, ge=1, le=65535)
    livy_ca_bundle: str | None = None  # PEM path inside the function or layer, for https
    livy_headers: dict[str, str] = Field(default_factory=dict)  # JSON, e.g. {"Authorization": "Basic ..."}
    livy_connect_timeout: float = Field(default=3.0, gt=0, le=30)
    livy_read_timeout: float = Field(default=10.0, gt=0, le=50)
    livy_attempts: int = Field(default=3, ge=1, le=6)
    livy_backoff_seconds: float = Field(default=0.25, ge=0, le=5)
    yarn_check: bool = True
    yarn_port: int = Field(default=8088, ge=1, le=65535)
    log_tail_lines: int = Field(default=40, ge=1, le=500)


@cache
def livy_settings() -> LivySettings:
    return LivySettings.from_env()


class LivyJanitorSettings(LivySettings):
    idempotency_table_name: str  # one cleanup per execution end, however often it is delivered


@cache
def livy_janitor_settings() -> LivyJanitorSettings:
    return LivyJanitorSettings.from_env()
