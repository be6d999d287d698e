"""The Livy functions' settings, and from them the Livy endpoint and client."""

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.livy import LivyClient, LivyOptions


class LivySettings(EnvSettings):
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


# What endpoint_for writes: scheme, host name, port. Anything else in a payload is bad input.
_ENDPOINT = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"


class LivyEndpoint(BaseModel):
    model_config = ConfigDict(defer_build=True)
    url: str = Field(pattern=_ENDPOINT)
    yarn_url: str | None = Field(default=None, pattern=_ENDPOINT)


def livy_options(settings: LivySettings) -> LivyOptions:
    return LivyOptions(
        connect_timeout=settings.livy_connect_timeout,
        read_timeout=settings.livy_read_timeout,
        attempts=settings.livy_attempts,
        backoff_seconds=settings.livy_backoff_seconds,
        ca_bundle=settings.livy_ca_bundle or None,
        headers=dict(settings.livy_headers),
    )


def client_for(endpoint: LivyEndpoint, settings: LivySettings) -> LivyClient:
    return LivyClient(endpoint.url, livy_options(settings), yarn_url=endpoint.yarn_url)


def endpoint_for(dns: str, settings: LivySettings) -> LivyEndpoint:
    yarn = f"http://{dns}:{settings.yarn_port}" if settings.yarn_check else None
    return LivyEndpoint(url=f"{settings.livy_scheme}://{dns}:{settings.livy_port}", yarn_url=yarn)
