"""The EMR on EKS event handler's settings."""

from functools import cache

from emr_autopilot.emr_event_reactions.settings import HandlerSettings


class EksEventSettings(HandlerSettings):
    """No log follow-up (unlike EMR Serverless's): a failure notice whose driver log is not in S3 yet says where
    it will be."""


@cache
def eks_event_settings() -> EksEventSettings:
    return EksEventSettings.from_env()
