"""The deployed stack the rendering tests render against: one account, one region, sample names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from emr_autopilot.runs import StackContext, Trigger

REGION, ACCOUNT = "eu-west-1", "123456789012"
WHEN = datetime(2026, 1, 31, 6, 0, tzinfo=UTC)


def machine_arn(name: str) -> str:
    """A state machine of the stack: TransientClusterPipeline, ServerlessPipeline, EksPipeline."""
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:emr-autopilot-{name}"


EC2_MACHINE = machine_arn("TransientClusterPipeline")


def s3_trigger() -> Trigger:
    return Trigger(
        kind="s3", time=WHEN, input_uri="s3://acme-landing/inspections/2026-01-31.csv", identity="acme-landing/k#v1"
    )


@contextmanager
def state_machines(monkeypatch: pytest.MonkeyPatch, *arns: str) -> Iterator[Any]:
    """moto's Step Functions with these (one-state) state machines, for the run starter to start; its client."""
    import boto3
    from moto import mock_aws

    from emr_autopilot import aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # a local runtime's, if one was left running
    with mock_aws():
        aws.reset_clients()
        client = boto3.client("stepfunctions", region_name=REGION)
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        for arn in arns:
            client.create_state_machine(
                name=arn.rsplit(":", 1)[-1], definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
            )
        try:
            yield client
        finally:
            aws.reset_clients()


def stack_context(state_machine_arn: str) -> StackContext:
    return StackContext(
        region="eu-west-1",
        state_machine_arn=state_machine_arn,
        landing_bucket="acme-landing",
        curated_bucket="acme-curated",
        artifacts_bucket="acme-artifacts",
        logs_bucket="acme-logs",
        notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:emr-autopilot-runs",
        emr_service_role="EmrAutopilotServiceRole",
        emr_instance_profile="EmrAutopilotInstanceProfile",
    )
