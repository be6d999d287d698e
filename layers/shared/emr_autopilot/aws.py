"""boto3 clients, created on first use and cached per process."""

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Adaptive mode adds client-side rate limiting on top of retries: EMR's Describe/List APIs throttle early.
RETRY_CONFIG = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)


@cache
def _client(service: str, region: str | None, endpoint: str | None) -> Any:
    factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
    return factory(service, region_name=region, endpoint_url=endpoint, config=RETRY_CONFIG)


def client(service: str) -> Any:
    """A cached client; AWS_ENDPOINT_URL (the local runtime) is part of the cache key."""
    return _client(
        service,
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ENDPOINT_URL"),
    )


@cache
def _resource(service: str, region: str | None, endpoint: str | None) -> Any:
    factory: Any = boto3.resource
    return factory(service, region_name=region, endpoint_url=endpoint, config=RETRY_CONFIG)


def resource(service: str) -> Any:
    """A cached boto3 resource (DynamoDB's Table handles type conversion for the ledger)."""
    return _resource(
        service,
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ENDPOINT_URL"),
    )


def reset_clients() -> None:
    _client.cache_clear()
    _resource.cache_clear()
