"""The EMR Serverless event handler's settings."""

from functools import cache

from emr_autopilot.emr_event_reactions.reaction import ReactionSettings
from emr_autopilot.env_settings import EnvSettings


class ServerlessEventSettings(EnvSettings):
    aws_region: str = "us-east-1"
    ledger_table_name: str
    idempotency_table_name: str
    notification_topic_arn: str

    def reaction_settings(self) -> ReactionSettings:
        # No follow-up scheduler: the step-log follow-up reads EMR step ids only (FollowUpRequest).
        return ReactionSettings(
            region=self.aws_region, ledger_table=self.ledger_table_name, topic_arn=self.notification_topic_arn
        )


@cache
def serverless_event_settings() -> ServerlessEventSettings:
    return ServerlessEventSettings.from_env()
