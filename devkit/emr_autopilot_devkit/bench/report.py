"""Figures, budgets and the results file: every figure has a value, a budget and a verdict."""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Comparison = Literal["<=", ">=", "=="]


@dataclass
class Figure:
    """One measured number. `budget` None means informational: reported, never failing."""

    id: str
    section: str
    name: str
    value: float | None
    unit: str
    budget: float | None = None
    comparison: Comparison = "<="
    measured: bool = True
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the measurement itself went wrong (a run failed): the figure fails

    @property
    def passed(self) -> bool | None:
        if self.error is not None:
            return False
        if self.budget is None or not self.measured or self.value is None:
            return None
        if self.comparison == "<=":
            return self.value <= self.budget
        if self.comparison == ">=":
            return self.value >= self.budget
        return self.value == self.budget

    @property
    def verdict(self) -> str:
        if not self.measured:
            return "not measured"
        passed = self.passed
        if passed is None:
            return "info"
        return "PASS" if passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        out["verdict"] = self.verdict
        return out


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def extend(self, figures: Iterable[Figure]) -> None:
        self.figures.extend(figures)

    def failing(self) -> list[Figure]:
        return [f for f in self.figures if f.passed is False]

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started_at": self.started.isoformat(timespec="seconds"),
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "machine": platform.machine(),
                "cpus": _cpu_count(),
            },
            "summary": {
                "figures": len(self.figures),
                "with_budget": sum(1 for f in self.figures if f.passed is not None),
                "passed": sum(1 for f in self.figures if f.passed is True),
                "failed": [f.id for f in self.failing()],
                "not_measured": [f.id for f in self.figures if not f.measured],
            },
            "notes": self.notes,
            "figures": [f.as_dict() for f in self.figures],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_previous(path: Path) -> dict[str, Any]:
    """Figures of an earlier results file, by id ({} when there is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {f["id"]: f for f in data.get("figures", []) if isinstance(f, dict) and "id" in f}


# -- statistics --------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 50 samples is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


# -- the table ----------------------------------------------------------------------------------------
def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.1f}%"
    if unit in ("ms",):
        return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"
    if unit in ("B",):
        return human_bytes(value)
    if unit == "USD":
        return f"${value:,.4f}"
    if float(value).is_integer():
        return f"{int(value):,} {unit}".rstrip()
    return f"{value:,.2f} {unit}".rstrip()


def format_budget(figure: Figure) -> str:
    if figure.budget is None:
        return "-"
    return f"{figure.comparison} {format_value(figure.budget, figure.unit)}"


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def render_table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "value", "budget", "result")]
    section = None
    lines: list[str] = []
    body: list[tuple[str, str, str, str] | str] = []
    for figure in figures:
        if figure.section != section:
            section = figure.section
            body.append(section)
        row = (f"  {figure.name}", format_value(figure.value, figure.unit), format_budget(figure), figure.verdict)
        rows.append(row)
        body.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = rows[0]
    lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)))
    lines.append("  ".join("-" * widths[i] for i in range(4)))
    for item in body:
        if isinstance(item, str):
            lines.append(item)
            continue
        lines.append(
            "  ".join(
                (cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) if i < 3 else cell)
                for i, cell in enumerate(item)
            )
        )
    return "\n".join(lines)
