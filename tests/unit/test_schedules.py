"""Schedule expressions are checked as EventBridge Scheduler checks them, and refused in the job file's words.

Rules: EventBridge Scheduler User Guide, "Schedule types on EventBridge Scheduler" (rate, cron, one-time),
with the cron field table of EventBridge's "Cron expressions reference".
"""

from __future__ import annotations

import pytest

from emr_autopilot.schedules import ScheduleError, check_schedule


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(15 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(0 6 * * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(15 12 * * ? 2026-2030)",
        "cron(0 10 ? * 6L *)",
        "cron(0 10 ? * 3#2 *)",
        "cron(0 10 L * ? *)",
        "cron(0 10 3W * ? *)",
        "cron(0 9 ? JAN,jul,DEC SUN *)",
        "cron(5,35 14 * * ? *)",
        "at(2030-01-31T06:00:00)",
    ],
)
def test_expressions_scheduler_accepts_are_accepted(expression: str) -> None:
    # Given an expression of the documented forms / When it is checked / Then it is returned as is
    assert check_schedule(expression) == expression


@pytest.mark.parametrize(
    ("expression", "reason", "fix"),
    [
        # The four the issue found passing `jobs validate`.
        ("rate(0 minutes)", "the value '0' is not a whole number of 1 or more", "write rate(15 minutes)"),
        ("rate(1 minutes)", "a value of 1 takes the singular unit", "write rate(1 minute)"),
        ("cron(0 25 * * ? *)", "hours (the 2nd field) is '25': 25 is outside 0-23", "e.g. cron(0 6 * * ? *)"),
        (
            "cron(0 6 * * * *)",
            "day-of-month is '*' and day-of-week is '*'; one of them must be '?'",
            "write cron(0 6 * * ? *)",
        ),
        # Others of the same kinds.
        ("rate(5 minute)", "a value of 5 takes the plural unit", "write rate(5 minutes)"),
        ("rate(5 mins)", "'mins' is not a unit", "write rate(5 minutes)"),
        ("rate(-5 minutes)", "the value '-5' is not a whole number", "write rate(15 minutes)"),
        ("rate(5)", "a rate has a value and a unit", "write rate(15 minutes)"),
        ("cron(0 6 * * ?)", "5 field(s); a cron expression has 6", "write cron(0 6 * * ? *)"),
        ("cron(0 6 * * 1-5)", "5 field(s)", "write cron(0 6 ? * 1-5 *)"),
        ("cron(0 6 ? * ? *)", "day-of-month and day-of-week are both '?'", "write cron(0 6 * * ? *)"),
        ("cron(0 6 15 * MON *)", "day-of-month is '15' and day-of-week is 'MON'", "write cron(0 6 15 * ? *)"),
        ("cron(60 6 * * ? *)", "minutes (the 1st field) is '60': 60 is outside 0-59", "e.g. cron(0 6 * * ? *)"),
        ("cron(0 6 32 * ? *)", "day-of-month (the 3rd field) is '32'", ""),
        ("cron(0 6 * 13 ? *)", "month (the 4th field) is '13': 13 is outside 1-12", ""),
        ("cron(0 6 * FOO ? *)", "'FOO' is not a number or a name JAN-DEC", ""),
        ("cron(0 6 ? * 8 *)", "day-of-week (the 5th field) is '8': 8 is outside 1-7", ""),
        ("cron(0 6 * * ? 1969)", "year (the 6th field) is '1969': 1969 is outside 1970-2199", ""),
        ("cron(0 6 ? * MON/2 *)", "'/' is not allowed in day-of-week", ""),
        ("cron(0 6 ? * 3#6 *)", "'6' after '#' is not a week of the month (1-5)", ""),
        ("cron(5L 6 * * ? *)", "'L', 'W' and '#' are only for day-of-month or day-of-week", ""),
        ("cron(0 ? * * ? *)", "'?' is only for day-of-month or day-of-week", ""),
        ("at(2030-02-30T06:00:00)", "2030-02-30T06:00:00 is not a date and time that exists", ""),
        ("at(2030-01-31 06:00)", "not a date and time in this form", "write at(2030-01-31T06:00:00)"),
        ("every day at 6", "not a rate(...), cron(...) or at(...) expression", ""),
        ("0 6 * * *", "not a rate(...), cron(...) or at(...) expression", ""),
    ],
)
def test_expressions_scheduler_refuses_are_refused_with_what_to_write(expression: str, reason: str, fix: str) -> None:
    # Given an expression EventBridge Scheduler would refuse
    # When it is checked
    with pytest.raises(ScheduleError) as caught:
        check_schedule(expression)

    # Then the message quotes what was read, says why, what is allowed and what to write
    message = str(caught.value)
    assert message.startswith(f"read {expression!r}: "), message
    assert reason in message.split(". Allowed: ")[0], message
    assert "Allowed: " in message
    assert fix in message
    # and never in a regex's or a library's words
    for word in ("\\d", "^(", "pattern", "http"):
        assert word not in message, message


def test_an_expression_longer_than_the_api_allows_is_refused() -> None:
    # Given an expression over ScheduleExpression's 256 characters (botocore's scheduler model)
    expression = "cron(" + ",".join(["5"] * 130) + " 6 * * ? *)"
    # When it is checked / Then it is refused with its length
    with pytest.raises(ScheduleError, match=r"\d+ characters; at most 256"):
        check_schedule(expression)
