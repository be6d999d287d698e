"""Idempotency: each function dedupes by its own key, even when several run in one process (the local runtime)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from emr_autopilot import aws
from emr_autopilot.idempotency import once


class LambdaContext:
    """What powertools reads from the Lambda context: the time left, for the in-progress record's expiry."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


TABLE = "idempotency"


@pytest.fixture
def idempotency_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    aws.reset_clients()
    with mock_aws():
        aws.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield TABLE
    aws.reset_clients()


def test_two_functions_in_one_process_each_dedupe_by_their_own_key(idempotency_table: str) -> None:
    # Given two functions with different idempotency keys, run in one process as the local runtime runs them
    calls: list[str] = []

    def by_id(event: dict[str, Any]) -> str:
        calls.append(f"by_id:{event['id']}")
        return "ok"

    def by_step(event: dict[str, Any]) -> str:
        calls.append(f"by_step:{event['step_id']} (event {event['id']})")
        return "ok"

    context = LambdaContext()

    # When the first runs once, then the second gets two events with the same `id` but different steps
    once(by_id, idempotency_table, "id", context, "first")(event={"id": "e-1"})
    once(by_step, idempotency_table, "step_id", context, "second")(event={"id": "same", "step_id": "s-1"})
    once(by_step, idempotency_table, "step_id", context, "second")(event={"id": "same", "step_id": "s-2"})
    # and a redelivery of step s-2 in an envelope with another id
    once(by_step, idempotency_table, "step_id", context, "second")(event={"id": "other", "step_id": "s-2"})

    # Then the second function keyed by its own expression: each step ran once, from its first delivery
    assert calls == ["by_id:e-1", "by_step:s-1 (event same)", "by_step:s-2 (event same)"]
