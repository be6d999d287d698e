"""EventBridge Scheduler schedule expressions, checked as Scheduler checks them, in the job file's words.

The rules are EventBridge Scheduler User Guide, "Schedule types on EventBridge Scheduler": rate-based
(`rate(value unit)`), cron-based (`cron(minutes hours day-of-month month day-of-week year)`, with the field
table and wildcards of EventBridge's "Cron expressions reference") and one-time (`at(yyyy-mm-ddThh:mm:ss)`)
schedules. What the pages leave open is marked "inferred" (Scheduler's cron is Quartz's dialect).

Hand-written on purpose: the best-known PyPI validator of AWS's cron dialect (aws-cron-expression-validator
1.1.15, regexes per field) only names the field that failed and covers neither rate() nor at(), so a message
saying what was read and what to write needs this parse anyway; the library would also have to ship in the
Lambda layer (this module is imported there), and its wheel installs a stray top-level __init__.py.
Other callers (e.g. the local runtime's Scheduler) can use check_schedule as the one validator.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

EXAMPLE = "cron(0 6 * * ? *)"  # 06:00 UTC every day
_RATE_UNITS = ("minute", "hour", "day")
_RATE = (
    "rate(<value> <unit>): a whole number of 1 or more, then minute, hour or day for 1, minutes, hours or days above"
)
_CRON = "cron(minutes hours day-of-month month day-of-week year)"
_AT = "at(yyyy-mm-ddThh:mm:ss)"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class ScheduleError(ValueError):
    """A schedule expression EventBridge Scheduler would refuse; the message says what to write instead."""


class _Field(NamedTuple):
    name: str
    low: int
    high: int
    wildcards: str  # the "Wildcards" column of the cron table
    names: tuple[str, ...] = ()  # JAN-DEC or SUN-SAT, numbered from `low`


# "Cron expressions reference", table "Field / Values / Wildcards".
_FIELDS = (
    _Field("minutes", 0, 59, ", - * /"),
    _Field("hours", 0, 23, ", - * /"),
    _Field("day-of-month", 1, 31, ", - * ? / L W"),
    _Field("month", 1, 12, ", - * /", _MONTHS),
    _Field("day-of-week", 1, 7, ", - * ? L #", _DAYS),
    _Field("year", 1970, 2199, ", - * /"),
)
_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th")


def _fail(text: str, reason: str, allowed: str, suggestion: str | None = None) -> ScheduleError:
    fix = f"write {suggestion}" if suggestion else f"e.g. {EXAMPLE} (06:00 UTC every day)"
    return ScheduleError(f"read {text!r}: {reason}. Allowed: {allowed}; {fix}")


def check_schedule(text: str) -> str:
    """`text` if EventBridge Scheduler accepts it as a ScheduleExpression; ScheduleError otherwise."""
    if len(text) > 256:  # botocore's scheduler model: ScheduleExpression is 1 to 256 characters
        raise _fail(text[:40] + "...", f"{len(text)} characters; at most 256", f"{_RATE}; {_CRON}; or {_AT}")
    kind, _, rest = text.partition("(")
    if not rest.endswith(")") or kind not in ("rate", "cron", "at"):
        raise _fail(text, "not a rate(...), cron(...) or at(...) expression", f"{_RATE}; {_CRON}; or {_AT}")
    body = rest[:-1]
    if kind == "rate":
        _check_rate(text, body)
    elif kind == "cron":
        _check_cron(text, body)
    else:
        _check_at(text, body)
    return text


def _check_rate(text: str, body: str) -> None:
    # "rate(value unit)": "value: a positive number"; "unit: minute | minutes | hour | hours | day | days";
    # "If the value is equal to 1, then the unit must be singular ... greater than 1, ... plural".
    parts = body.split(" ")
    if len(parts) != 2:
        raise _fail(text, "a rate has a value and a unit separated by one space", _RATE, "rate(15 minutes)")
    value, unit = parts
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise _fail(text, f"{unit!r} is not a unit", _RATE, _rate_suggestion(value, unit) or "rate(15 minutes)")
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise _fail(text, f"the value {value!r} is not a whole number of 1 or more", _RATE, f"rate(15 {singular}s)")
    count = int(value)
    wanted = singular if count == 1 else f"{singular}s"
    if unit != wanted:
        number = "singular" if count == 1 else "plural"
        raise _fail(text, f"a value of {count} takes the {number} unit", _RATE, f"rate({count} {wanted})")


def _rate_suggestion(value: str, unit: str) -> str | None:
    import difflib

    close = difflib.get_close_matches(unit.lower(), [*_RATE_UNITS, *(f"{u}s" for u in _RATE_UNITS)], n=1)
    if not close or not value.isdigit():
        return None
    singular = close[0].removesuffix("s")
    return f"rate({int(value)} {singular if int(value) == 1 else singular + 's'})"


def _check_at(text: str, body: str) -> None:
    # One-time schedules: "at(yyyy-mm-ddThh:mm:ss)", evaluated in the schedule's time zone.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body):
        raise _fail(text, "not a date and time in this form", _AT, "at(2030-01-31T06:00:00)")
    try:
        datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise _fail(text, f"{body} is not a date and time that exists", _AT, "at(2030-01-31T06:00:00)") from None


def _check_cron(text: str, body: str) -> None:
    # Separated by white space; runs of spaces are accepted (inferred: Quartz tokenizes on white space).
    fields = body.split()
    if len(fields) != 6:
        hint = " (a Unix crontab has 5 fields; AWS adds the year)" if len(fields) == 5 else ""
        suggestion = _five_field_suggestion(fields) if len(fields) == 5 else None
        raise _fail(
            text,
            f"{len(fields)} field(s); a cron expression has 6{hint}",
            _CRON,
            suggestion,
        )
    for position, (value, spec) in enumerate(zip(fields, _FIELDS, strict=True)):
        problem = _field_problem(value.upper(), spec)
        if problem:
            raise _fail(
                text,
                f"{spec.name} (the {_ORDINALS[position]} field) is {value!r}: {problem}",
                f"{_CRON}, where {spec.name} takes {_describe(spec)}",
            )
    day_of_month, day_of_week = fields[2], fields[4]
    # "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If you specify
    # a value or a * (asterisk) in one of the fields, you must use a ? (question mark) in the other."
    if (day_of_month == "?") == (day_of_week == "?"):
        fixed = list(fields)
        if day_of_month == "?":
            fixed[2] = "*"
            reason = "day-of-month and day-of-week are both '?'; exactly one of them is '?'"
        else:
            fixed[4 if day_of_week == "*" or day_of_month != "*" else 2] = "?"
            reason = (
                f"day-of-month is {day_of_month!r} and day-of-week is {day_of_week!r}; "
                "one of them must be '?' (the other says which days)"
            )
        raise _fail(
            text, reason, f"{_CRON} with '?' in exactly one of day-of-month and day-of-week", f"cron({' '.join(fixed)})"
        )


def _five_field_suggestion(fields: list[str]) -> str:
    minutes, hours, day_of_month, month, day_of_week = fields
    if day_of_week in ("*", "?"):
        day_of_week = "?"
        day_of_month = "*" if day_of_month in ("*", "?") else day_of_month
    elif day_of_month in ("*", "?"):
        day_of_month = "?"
    return f"cron({minutes} {hours} {day_of_month} {month} {day_of_week} *)"


def _describe(spec: _Field) -> str:
    values = f"{spec.low}-{spec.high}" + (f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else "")
    return f"{values} and the wildcards {spec.wildcards}"


def _field_problem(value: str, spec: _Field) -> str | None:
    """Why `value` is not a valid `spec` field, or None."""
    if value == "?":
        return None if "?" in spec.wildcards else "'?' is only for day-of-month or day-of-week"
    if spec.name == "day-of-month" and (value in ("L", "LW") or re.fullmatch(r"\d+W", value)):
        # "L ... specifies the last day of the month"; "3W specifies the weekday closest to the third day";
        # LW (the last weekday) is Quartz's, inferred.
        return _number_problem(value.rstrip("W"), spec) if value[0].isdigit() else None
    if spec.name == "day-of-week":
        if value == "L":
            return None
        if value.endswith("L"):  # "5L": the last Thursday of the month (Quartz's, inferred)
            return _value_problem(value[:-1], spec)
        if "#" in value:  # "3#2 would be the second Tuesday of the month"
            day, _, nth = value.partition("#")
            if nth not in ("1", "2", "3", "4", "5"):
                return f"{nth!r} after '#' is not a week of the month (1-5)"
            return _value_problem(day, spec)
    if any(mark in value for mark in "LW#") and not (spec.names and re.fullmatch(r"[A-Z,\-/*0-9]+", value)):
        # A letter other than a month's or day's name (JUL, WED hold L and W)
        return "'L', 'W' and '#' are only for day-of-month or day-of-week, alone or as in 'L', '3W', '6L', '3#2'"
    for item in value.split(","):
        problem = _item_problem(item, spec)
        if problem:
            return problem
    return None


def _item_problem(item: str, spec: _Field) -> str | None:
    base, slash, step = item.partition("/")
    if slash:
        if "/" not in spec.wildcards:
            return f"'/' is not allowed in {spec.name}"
        if not step.isdigit() or not 1 <= int(step) <= spec.high:  # the bound is Quartz's, inferred
            return f"the increment after '/' must be a whole number from 1 to {spec.high}"
    if base == "*":
        return None
    if not base:
        return "an empty value (two commas, or nothing before '/')"
    low, dash, high = base.partition("-")
    if dash:
        return _value_problem(low, spec) or _value_problem(high, spec)
    return _value_problem(base, spec)


def _value_problem(value: str, spec: _Field) -> str | None:
    if spec.names and value in spec.names:
        return None
    return _number_problem(value, spec)


def _number_problem(value: str, spec: _Field) -> str | None:
    if not value.isascii() or not value.isdigit():
        names = f" or a name {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        return f"{value!r} is not a number{names}"
    if not spec.low <= int(value) <= spec.high:
        return f"{int(value)} is outside {spec.low}-{spec.high}"
    return None
