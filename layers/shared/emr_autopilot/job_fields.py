"""Field types the job models share: placeholders, locations, durations, the field-error carrier.

A module of its own so that both job models (emr_autopilot.jobs for the job and its EC2 cluster,
emr_autopilot.serverless_jobs for EMR Serverless) build on them without importing each other.
"""

import re
import string
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from emr_autopilot.durations import Duration, format_duration
from emr_autopilot.s3_uris import bucket_problem, s3_uri_problem

# Placeholders a step arg, output URI or bootstrap arg may use.
PLACEHOLDERS = frozenset(
    {
        "input_uri",
        "output_uri",
        "run_id",
        "run_date",
        "job_name",
        "artifacts_uri",
        "landing_bucket",
        "curated_bucket",
        "artifacts_bucket",
        "region",
    }
)


# What each placeholder looks like in a run, to check what a templated value renders to.
_EXAMPLE_VALUES = {
    "input_uri": "s3://example-landing/inspections/latest.csv",
    "output_uri": "s3://example-curated/job/2026-01-31/run/",
    "run_id": "job-manual-20260131T060000Z-0a1b2c",
    "run_date": "2026-01-31",
    "job_name": "job",
    "artifacts_uri": "s3://example-artifacts/jobs/",
    "landing_bucket": "example-landing",
    "curated_bucket": "example-curated",
    "artifacts_bucket": "example-artifacts",
    "region": "us-east-1",
}
_BUCKET_PLACEHOLDERS = "{curated_bucket}, {landing_bucket} or {artifacts_bucket}"


class _FieldError(ValueError):
    """A model-level problem that belongs to one field below the model (e.g. "instance_fleets")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def placeholders_in(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _braced(names: set[str] | frozenset[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names))


def _check_placeholders(text: str) -> str:
    try:
        unknown = placeholders_in(text) - PLACEHOLDERS
    except ValueError:  # unbalanced braces
        raise ValueError(
            f"read {text!r}: a '{{' or '}}' without its pair. Allowed: placeholders such as {{run_id}}; "
            "write {{ or }} for a literal brace"
        ) from None
    if unknown:
        import difflib

        guesses = [difflib.get_close_matches(name, PLACEHOLDERS, n=1) for name in sorted(unknown)]
        hint = "".join(f"; did you mean {{{g[0]}}}?" for g in guesses if g)
        raise ValueError(
            f"read {text!r}: unknown placeholder {_braced(unknown)}{hint or '.'} Allowed: {_braced(PLACEHOLDERS)}"
        )
    try:  # a format spec or conversion ("{run_date:%Y}") would only fail when a run is rendered
        text.format_map(dict.fromkeys(PLACEHOLDERS, "x"))
    except (ValueError, KeyError, IndexError, AttributeError):
        raise ValueError(
            f"read {text!r}: it cannot be rendered: a format spec or conversion (':' or '!' after the name) "
            "does not fit a text value. Allowed: the placeholder alone, e.g. {run_date}"
        ) from None
    return text


def _check_arg(text: str) -> str:
    """An arg that starts like an S3 URI must be one once rendered: EMR would read 's3:/x' as a local path."""
    if re.match(r"(?i)s3:", text) and (problem := s3_uri_problem(text.format_map(_EXAMPLE_VALUES))):
        raise ValueError(
            f"read {text!r}: {problem}. Allowed: s3://<bucket>/<key>, where the bucket is a name or "
            f"{_BUCKET_PLACEHOLDERS}; e.g. s3://{{curated_bucket}}/{{job_name}}/"
        )
    return text


def _check_no_placeholders(text: str | None, forbidden: set[str], field: str) -> str | None:
    # Rendering fills input_uri, then output_uri, in that order; a value cannot use what is not yet known.
    used = placeholders_in(text) & forbidden if text else set()
    if used:
        allowed = _braced(PLACEHOLDERS - forbidden)
        raise ValueError(f"read {text!r}: {field} cannot use {_braced(used)} (not known yet). Allowed: {allowed}")
    return text


def _check_templated_uri(text: str | None, field: str, example: str) -> str | None:
    """A templated value that must render to an s3:// URI (output_uri, schedule_input_uri)."""
    if text is None:
        return None
    problem = s3_uri_problem(text.format_map(_EXAMPLE_VALUES))
    if problem:
        raise ValueError(
            f"read {text!r}: {problem}. Allowed: s3://<bucket>/<prefix>, where the bucket is a name or "
            f"{_BUCKET_PLACEHOLDERS}; e.g. {field}: {example}"
        )
    return text


def _check_location(value: str) -> str:
    if re.match(r"(?i)s3[an]?:", value):
        problem = s3_uri_problem(value, needs_key=True)
        if problem:
            raise ValueError(
                f"read {value!r}: {problem}. Allowed: s3://<bucket>/<key> of the file, or a path relative to jobs/; "
                "e.g. s3://my-bucket/scripts/run.py or my_job/run.py"
            )
        return value
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or "://" in value:
        raise ValueError(
            f"read {value!r}: not inside jobs/. Allowed: an s3:// URI, or a path relative to jobs/ "
            "(no leading '/', no '..', no '\\'); e.g. my_job/run.py"
        )
    return value


def _check_log_uri(value: str | None) -> str | None:
    problem = s3_uri_problem(value) if value is not None else None
    if problem:
        raise ValueError(
            f"read {value!r}: {problem}. Allowed: an s3:// URI (no placeholders); e.g. log_uri: s3://my-logs-bucket/emr/"
        )
    return value


def _check_bucket(value: str) -> str:
    problem = None if value == "landing" else bucket_problem(value)
    if problem:
        raise ValueError(
            f"read {value!r}: not a bucket name: {problem}. Allowed: landing (the stack's landing bucket) "
            "or the name of a bucket the stack listens on; e.g. bucket: landing"
        )
    return value


def _duration_between(low: timedelta, high: timedelta | None, field: str, example: str, why: str = "") -> Any:
    """A duration within [low, high]; the message says how a bare number was read."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> timedelta:
        try:
            parsed: timedelta = handler(value)
        except OverflowError:  # a number of seconds beyond what a timedelta holds
            message = f"read {_shown(value)}: far too long. Allowed: {_DURATION_HINT}; e.g. {field}: {example}"
            raise ValueError(message) from None
        if low <= parsed and (high is None or parsed <= high):
            return parsed
        bare = isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit())
        read = f"read {value!r}" if isinstance(value, str) else f"read {value}"
        if bare:
            read += f": a number without a unit is seconds, so {format_duration(parsed)}"
        elif parsed.total_seconds() < 0:
            read += ": a negative duration"
        else:
            read += f", which is {format_duration(parsed)}"
        limit = f"{format_duration(low)} to {format_duration(high)}" if high else f"at least {format_duration(low)}"
        raise ValueError(f"{read}. Allowed: {limit}{why}; e.g. {field}: {example}")

    return WrapValidator(check)


def _property_value(value: Any) -> Any:
    # EMR configuration properties are strings; YAML reads `enabled: true` or `instances: 4` as bool/int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Templated = Annotated[str, BeforeValidator(lambda v: _check_placeholders(v) if isinstance(v, str) else v)]
TemplatedArg = Annotated[Templated, AfterValidator(_check_arg)]
# A location: an s3:// URI, or a path relative to jobs/ that `jobs deploy` uploads.
Location = Annotated[str, Field(min_length=1), AfterValidator(_check_location)]
PropertyValue = Annotated[str, BeforeValidator(_property_value)]
# EMR's AutoTerminationPolicy IdleTimeout: 60 to 604800 seconds (RunJobFlow API reference).
IdleTimeout = Annotated[
    Duration, _duration_between(timedelta(minutes=1), timedelta(days=7), "idle_timeout", "30m", " (EMR's range)")
]
RunTimeout = Annotated[Duration, _duration_between(timedelta(minutes=5), timedelta(days=7), "run_timeout", "2h")]
StepTimeout = Annotated[Duration, _duration_between(timedelta(minutes=1), None, "timeout", "30m")]


class _Model(BaseModel):
    # defer_build: only the run starter validates job definitions; other importers skip the cost.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


_DURATION_HINT = (
    "a number and a unit s, m, h or d (90s, 30m, 2h, 1d), ISO 8601 (PT1H30M), HH:MM:SS, or a number of seconds"
)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)[:80]
