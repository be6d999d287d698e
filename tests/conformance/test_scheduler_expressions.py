"""EventBridge Scheduler in the local runtime refuses the schedule expressions AWS refuses."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers.conformance import ROLE_ARN, Runner


def _create(runtime: Runner, name: str, expression: str) -> None:
    runtime.stack.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:nowhere", "RoleArn": ROLE_ARN, "Input": json.dumps({})},
    )


@pytest.mark.parametrize(
    "expression", ["rate(0 minutes)", "rate(1 minutes)", "cron(0 25 * * ? *)", "cron(0 6 * * * *)", "every day"]
)
def test_create_schedule_refuses_what_scheduler_refuses(runtime: Runner, expression: str) -> None:
    """Scheduler user guide, "Schedule types on EventBridge Scheduler": rate(value unit) with a positive value and a
    singular unit for 1; cron with six fields, `?` in one of day-of-month and day-of-week, hours 0-23. CreateSchedule's
    documented error for invalid input is ValidationException (Scheduler API reference, CreateSchedule, Errors)."""
    # Given an expression EventBridge Scheduler does not accept
    # When a schedule is created with it
    with pytest.raises(ClientError) as refused:
        _create(runtime, f"bad-{abs(hash(expression))}", expression)

    # Then it is refused with ValidationException, naming the expression
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert expression in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "expression", ["rate(1 minute)", "rate(5 minutes)", "cron(0 6 * * ? *)", "at(2026-12-24T06:00:00)"]
)
def test_create_schedule_accepts_valid_expressions(runtime: Runner, expression: str) -> None:
    """Same page: the documented forms are accepted."""
    # Given a valid expression
    name = f"good-{abs(hash(expression))}"

    # When a schedule is created with it
    _create(runtime, name, expression)

    # Then it exists with that expression
    assert runtime.stack.client("scheduler").get_schedule(Name=name)["ScheduleExpression"] == expression
