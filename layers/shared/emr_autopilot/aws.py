"""boto3 clients, created on first use and cached per process."""

import os
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

# Adaptive mode adds client-side rate limiting on top of retries: EMR's Describe/List APIs throttle early.
RETRY_CONFIG = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)


@cache
def _client(service: str, region: str | None, endpoint: str | None) -> Any:
    factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
    return factory(service, region_name=region, endpoint_url=endpoint, config=RETRY_CONFIG)


if TYPE_CHECKING:  # the stubs type each service's client; they are not loaded at run time
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_emr import EMRClient
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient


@overload
def client(service: Literal["emr"]) -> "EMRClient": ...
@overload
def client(service: Literal["emr-serverless"]) -> "EMRServerlessClient": ...
@overload
def client(service: Literal["cloudwatch"]) -> "CloudWatchClient": ...
@overload
def client(service: Literal["dynamodb"]) -> "DynamoDBClient": ...
@overload
def client(service: Literal["s3"]) -> "S3Client": ...
@overload
def client(service: Literal["scheduler"]) -> "EventBridgeSchedulerClient": ...
@overload
def client(service: Literal["sns"]) -> "SNSClient": ...
@overload
def client(service: Literal["sqs"]) -> "SQSClient": ...
@overload
def client(service: Literal["stepfunctions"]) -> "SFNClient": ...
@overload
def client(service: str) -> Any: ...
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


@overload
def resource(service: Literal["dynamodb"]) -> "DynamoDBServiceResource": ...
@overload
def resource(service: str) -> Any: ...
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
