"""At-least-once delivery made exactly-once for our side effects, with powertools' idempotency."""

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from emr_autopilot import aws

ONE_DAY = 86400


@cache
def _store(table_name: str, client: Any, key_jmespath: str, prefix: str) -> DynamoDBPersistenceLayer:
    # One store per key: powertools configures a store once and keeps its first key expression, which is right in
    # Lambda (one function per process) but, shared, would give every later function in the local runtime's one
    # process the first one's key. Keyed by the client too: aws.client() is per endpoint, so a second local stack
    # in one process (a test suite) gets a store that talks to it, not to the first stack's stopped emulator.
    del key_jmespath, prefix  # only the cache key
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)


def once(
    function: Callable[..., Any], table_name: str, key_jmespath: str, context: Any, prefix: str
) -> Callable[..., Any]:
    """`function(event=...)` runs once per key; a repeat returns the first result without running."""
    config = IdempotencyConfig(event_key_jmespath=key_jmespath, expires_after_seconds=ONE_DAY, lambda_context=context)
    return idempotent_function(
        function,
        data_keyword_argument="event",
        persistence_store=_store(table_name, aws.client("dynamodb"), key_jmespath, prefix),
        config=config,
        key_prefix=prefix,
    )
