"""`emr-autopilot reap`: the idle reaper's decisions from your machine, as a table or as JSON.

It calls the same code as the scheduled reaper (emr_autopilot.reaper.reap), with your credentials,
and neither notifies nor writes the ledger. Against `local up` it needs the local runtime's virtual
time, which `local up` shares in .local-runtime/clock.json.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emr_autopilot.durations import format_duration, parse_duration
from emr_autopilot.reaper import ClusterDecision, ReapReport

CLOCK_FILE = Path(".local-runtime/clock.json")


# -- the local runtime's virtual time, shared with other processes --------------------------------
def write_local_clock(clock: Any, path: Path = CLOCK_FILE) -> None:
    state = {"virtual": clock.now().isoformat(), "wall": time.time(), "speedup": clock.speedup}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state), encoding="utf-8")
    os.replace(partial, path)  # readers never see half a file


def local_now(path: Path = CLOCK_FILE) -> datetime | None:
    """The virtual "now" of the running `local up`: off by at most its refresh interval x speedup."""
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    elapsed = (time.time() - float(state["wall"])) * float(state["speedup"])
    return datetime.fromisoformat(state["virtual"]) + timedelta(seconds=elapsed)


class LocalUpCompanion:
    """Called on every round of `local up`: writes IsIdle datapoints and shares the clock, a few times a second."""

    def __init__(self, stack: Any, interval: float = 0.25, path: Path = CLOCK_FILE) -> None:
        self.stack = stack
        self.interval = interval
        self.path = path
        self._next = 0.0

    def __call__(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval
        self.stack.simulator.publish_idle_metrics()
        write_local_clock(self.stack.clock, self.path)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


# -- options ---------------------------------------------------------------------------------------
DURATION_FORMS = "a number and a unit s, m, h or d (90s, 30m, 2h, 1d), ISO 8601 (PT1H30M), HH:MM:SS, or seconds"
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# ReaperConfig's fields, as the command's options name them.
OPTION_OF = {
    "idle_threshold": "--threshold",
    "grace": "--grace",
    "max_terminations": "--max-terminations",
    "scope": "--scope-tag",
    "opt_out": "--opt-out-tag",
}


_EXAMPLES = {
    "--threshold": "90m",
    "--grace": "30m",
    "--scope-tag": "team=data-platform",
    "--opt-out-tag": "emr-autopilot:reaper=skip",
}


def duration_option(option: str, text: str, example: str) -> timedelta:
    """An option's duration; ValueError in the option's words (what was read, what is allowed, an example)."""
    try:
        return parse_duration(text)
    except (ValueError, OverflowError):  # OverflowError: more seconds than a timedelta holds
        pass
    parts = re.findall(r"(\d+)\s*([dhms])", text.strip().lower())
    if parts and re.fullmatch(r"(\s*\d+\s*[dhms])+\s*", text.lower()):
        # "1h30m": one unit only; say what it would be in one.
        total = timedelta(seconds=sum(int(number) * _UNIT[unit] for number, unit in parts))
        example = f"{format_duration(total)} (one unit: {text.strip()} is {format_duration(total)})"
    raise ValueError(f"{option}: read {text!r}: not a duration. Allowed: {DURATION_FORMS}; e.g. {option} {example}")


def describe_config_error(error: Any) -> str:
    """A ReaperConfig ValidationError as one line per option, without pydantic's wording or links."""
    lines = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        value = item.get("input")
        shown = format_duration(value) if isinstance(value, timedelta) else repr(value)
        ctx = item.get("ctx") or {}
        if item["type"] == "string_too_short":
            reason = "a tag key must not be empty"
        elif item["type"] == "string_too_long":
            reason = f"at most {ctx.get('max_length')} characters"
        else:
            reason = str(item["msg"]).removeprefix("Value error, ").replace("Input should be", "expected")
        option = OPTION_OF.get(field, field)
        lines.append(f"{option}: read {shown}: {reason}; e.g. {option} {_EXAMPLES.get(option, '')}".rstrip())
    return "\n".join(lines)


# -- output -----------------------------------------------------------------------------------------
def _idle(decision: ClusterDecision) -> str:
    return _minutes(decision.idle_minutes)


def format_table(report: ReapReport) -> str:
    heal = report.config.heal
    header = ["CLUSTER", "NAME", "STATE", "IDLE MIN", "DECISION", "REASON"] + (["HEAL"] if heal else [])
    rows = [
        [d.cluster_id, d.name[:32], d.state, _idle(d), d.action, d.reason] + ([d.heal or "-"] if heal else [])
        for d in report.decisions
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), str(row[-1])])
        for row in [header, *rows]
    ]
    if report.applications:
        lines += ["", *_application_rows(report)]
    lines.append("")
    lines.append(f"{report.summary_line()} ({report.config.describe()}).")
    if report.acted:
        lines.append(
            f"Estimated hourly cost {'that would be ' if report.config.dry_run else ''}avoided: "
            f"~${report.hourly_cost_avoided:.2f}/h ({report.cost_label}; Spot priced at on-demand)."
        )
    return "\n".join(lines)


def _application_rows(report: ReapReport) -> list[str]:
    """EMR Serverless applications, one row each, in the same shape as the clusters'."""
    header = ["APPLICATION", "NAME", "AUTO-STOP", "IDLE MIN", "DECISION", "REASON"]
    rows = [
        [d.application_id, d.name[:32], d.auto_stop or "-", _minutes(d.idle_minutes), d.action, d.reason]
        for d in report.applications
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), str(row[-1])])
        for row in [header, *rows]
    ]


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report_json(report: ReapReport) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)


def scan_time(local: bool) -> datetime | None:
    if local:
        return local_now()
    return datetime.now(UTC)
