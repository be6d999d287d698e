"""The EMR Serverless event handler's settings."""

from functools import cache

from emr_autopilot.emr_event_reactions.reaction import ReactionSettings
from emr_autopilot.emr_event_reactions.settings import FollowUpSettings, HandlerSettings


class ServerlessEventSettings(HandlerSettings, FollowUpSettings):
    """With the EMR event handler's follow-up settings: a failed job run whose driver log is late is looked at
    again by the step-log follow-up function."""

    def reaction_settings(self) -> ReactionSettings:
        return super().reaction_settings()._replace(follow_up=self.follow_up_scheduler())


@cache
def serverless_event_settings() -> ServerlessEventSettings:
    return ServerlessEventSettings.from_env()
