"""Environment configuration of the Lambda functions, validated once per container."""

from __future__ import annotations

from functools import cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from emr_autopilot.runs import StackContext


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)


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


@cache
def run_starter_settings() -> RunStarterSettings:
    return RunStarterSettings()  # values come from the environment


@cache
def janitor_settings() -> JanitorSettings:
    return JanitorSettings()
