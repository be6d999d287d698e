"""Which columns of an inspections file hold the restaurant's name and the violation's type (runs on the driver)."""

from __future__ import annotations

REQUIRED = ("name", "violation_type")


def required_columns(columns: list[str]) -> tuple[str, str]:
    """The file's own spelling of the name and violation_type columns (compared case-insensitively, without a BOM);
    SystemExit naming what is missing, so the step fails saying why."""
    found = {column.strip().lower().lstrip("\ufeff"): column for column in columns}
    missing = [wanted for wanted in REQUIRED if wanted not in found]
    if missing:
        raise SystemExit(f"missing required column(s): {', '.join(missing)}; columns found: {', '.join(columns)}")
    return found["name"], found["violation_type"]
