"""What the event handler tests share (EMR Serverless, EMR on EKS, the step-log follow-up): moto's environment, the
template's ledger and idempotency tables, and a function's handler imported as Lambda imports it."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import pytest

from emr_autopilot import aws
from emr_autopilot_devkit.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
TABLE, IDEMPOTENCY = "ledger", "idempotency"


def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's region and credentials, and no endpoint (the local runtime sets one when it ran in this process)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)


@cache
def _table_specs() -> dict[str, dict[str, Any]]:
    """The ledger and idempotency tables as the template declares them (read once: the template is large)."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    keys = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
    specs = {}
    for name, resource in ((TABLE, "RunLedgerTable"), (IDEMPOTENCY, "IdempotencyTable")):
        properties = resources[resource]["Properties"]
        specs[name] = {key: properties[key] for key in keys if key in properties}
    return specs


def create_template_tables() -> None:
    """The template's ledger (TABLE) and idempotency (IDEMPOTENCY) tables, in moto."""
    for name, spec in _table_specs().items():
        aws.client("dynamodb").create_table(TableName=name, **spec)


def handler_environment(topic_arn: str, **more: str) -> dict[str, str]:
    """An event handler's environment as the template sets it: the tables, the topic and a dead-letter queue
    (created here, named "dlq"), and `more`."""
    dlq = aws.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    return {
        "LEDGER_TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
        "NOTIFICATION_TOPIC_ARN": topic_arn,
        "DEAD_LETTER_QUEUE_URL": dlq,
        **more,
    }


def dead_letters() -> list[dict[str, Any]]:
    """What the handler put in handler_environment's dead-letter queue."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="dlq")["QueueUrl"]).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


class LambdaContext:
    """What a handler reads of Lambda's context object."""

    memory_limit_in_mb = 256
    aws_request_id = "test-request"

    def __init__(self, function_name: str, function_arn: str | None = None) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn or f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


class _CachedSettings(Protocol):
    def cache_clear(self) -> None: ...


@contextmanager
def lambda_app(
    monkeypatch: pytest.MonkeyPatch, function: str, environment: Mapping[str, str], settings: _CachedSettings
) -> Iterator[Any]:
    """functions/<function>/app.py imported as Lambda would, with Powertools' and the given environment, its
    cached `settings` read afresh."""
    service_logger = logging.getLogger("emr-autopilot")
    before = list(service_logger.handlers)
    powertools = {
        "POWERTOOLS_SERVICE_NAME": "emr-autopilot",
        "POWERTOOLS_METRICS_NAMESPACE": "EmrAutopilot",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for key, value in {**powertools, **environment}.items():
        monkeypatch.setenv(key, value)
    settings.cache_clear()
    try:
        yield import_app(function)
    finally:
        settings.cache_clear()
        # The Logger's handler was opened on this test's captured stdout; point it at the real stdout.
        for log_handler in service_logger.handlers:
            if log_handler not in before and isinstance(log_handler, logging.StreamHandler):
                log_handler.stream = sys.__stdout__


def import_app(function: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{function}_app", ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
