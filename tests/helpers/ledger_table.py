"""The run ledger table in moto, created from template.yaml's own definition (keys and the runs index)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from emr_autopilot import aws
from emr_autopilot_devkit.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def moto_ledger_table(monkeypatch: pytest.MonkeyPatch, name: str = "ledger") -> Iterator[str]:
    """For a fixture: `yield from moto_ledger_table(monkeypatch)` yields the table's name inside mock_aws."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set by the local runtime when it ran in this process
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    aws.reset_clients()
    with mock_aws():
        spec = load_template(TEMPLATE)["Resources"]["RunLedgerTable"]["Properties"]
        keys = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
        aws.client("dynamodb").create_table(TableName=name, **{key: spec[key] for key in keys})
        yield name
    aws.reset_clients()
