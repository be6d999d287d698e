"""The duration syntax of job files and reaper settings: 90s, 30m, 2h, 1d, PT2H, HH:MM:SS or seconds.

A module of its own so that a function needing durations (the idle reaper) does not import the job
models (emr_autopilot.jobs) at every cold start; jobs re-exports these names.
"""

import re
from datetime import timedelta
from functools import cache
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError

# A pattern string: re compiles and caches it on first use, not at every cold start.
_DURATION = r"^\s*(\d+)\s*([smhd]?)\s*$"
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    # pydantic already reads ints, "PT2H" and "01:00:00"; this adds the "90m" form people write,
    # and a quoted number of seconds ("3600"), which pydantic would reject.
    if isinstance(value, str):
        match = re.match(_DURATION, value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


@cache
def duration_adapter() -> TypeAdapter[timedelta]:
    """Built on first use: a TypeAdapter builds its validator when created, which a cold start need not pay."""
    return TypeAdapter(Duration)


def parse_duration(text: str) -> timedelta:
    """'90m', '2h', '7d', '3600' or 'PT1H' as a timedelta; ValueError otherwise."""
    try:
        return duration_adapter().validate_python(text)
    except ValidationError as exc:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90m, 2h, 7d)") from exc


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
