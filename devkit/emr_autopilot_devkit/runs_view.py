"""`emr-autopilot runs`: the run ledger as a table, and one run's timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emr_autopilot import emr, ledger
from emr_autopilot.jobs import parse_duration
from emr_autopilot.simulation import is_simulated_name

ACTIVE = frozenset(emr.NOT_TERMINATED)


@dataclass(frozen=True)
class RunRow:
    created_at: str
    job: str
    run_id: str
    cluster_id: str
    cluster_state: str
    status: str
    steps: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def is_simulated(step: dict[str, Any]) -> bool:
    """A step the job marked simulate: true: it completed without running (emr_autopilot.simulation)."""
    return bool(step.get("simulated")) or is_simulated_name(step.get("step_name"))


def run_status(meta: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """One word for a run: what a person asks first. SIMULATED: it ended well, but a step was not run."""
    state = str(meta.get("state", ""))
    if state in ACTIVE:
        return "RUNNING"
    if state == "TERMINATED_WITH_ERRORS" or any(step.get("state") == "FAILED" for step in steps):
        return "FAILED"
    if steps and all(step.get("state") == "COMPLETED" for step in steps):
        return "SIMULATED" if any(is_simulated(step) for step in steps) else "SUCCEEDED"
    if any(step.get("state") in ("CANCELLED", "INTERRUPTED") for step in steps):
        return "CANCELLED"
    return "ENDED"


def ended_line(status: str, execution_input: str | None) -> str:
    """What `run --wait` prints when the execution ends: its status, and SIMULATED when the run's
    input (runs.build_run_input) says a step was not run."""
    try:
        run = json.loads(execution_input or "{}").get("run") or {}
    except ValueError:
        run = {}
    if status == "SUCCEEDED" and run.get("outcome") == "SIMULATED":
        return f"SUCCEEDED, {run.get('outcome_detail') or 'SIMULATED'}"
    return status


def list_runs(
    table: str, job: str | None = None, status: str | None = None, since: datetime | None = None, limit: int = 50
) -> list[RunRow]:
    rows: list[RunRow] = []
    for meta in ledger.list_runs(table, since):
        if job and meta.get("job") != job:
            continue
        cluster_id = str(meta["pk"]).removeprefix("CLUSTER#")
        steps = [item for item in ledger.cluster_items(table, cluster_id) if str(item["sk"]).startswith("STEP#")]
        row_status = run_status(meta, steps)
        if status and row_status != status.upper():
            continue
        rows.append(_run_row(meta, cluster_id, steps, row_status))
        if len(rows) >= limit:
            break
    return rows


def _run_row(meta: dict[str, Any], cluster_id: str, steps: list[dict[str, Any]], row_status: str) -> RunRow:
    failed = [step for step in steps if step.get("state") == "FAILED"]
    if failed:
        reason = str(failed[0].get("failure_reason", ""))
    else:
        reason = str(meta.get("reason_code", "") or "") if row_status == "FAILED" else ""
    done = sum(1 for step in steps if step.get("state") == "COMPLETED" and not is_simulated(step))
    simulated = sum(1 for step in steps if is_simulated(step))
    return RunRow(
        created_at=str(meta.get("created_at", ""))[:19].replace("T", " "),
        job=str(meta.get("job") or "-"),
        run_id=str(meta.get("run_id") or meta.get("cluster_name") or "-"),
        cluster_id=cluster_id,
        cluster_state=str(meta.get("state", "")),
        status=row_status,
        steps=f"{done}/{len(steps)} ok"
        + (f", {simulated} simulated (not run)" if simulated else "")
        + (f", {len(failed)} failed" if failed else ""),
        reason=reason[:80],
    )


def format_table(rows: list[RunRow]) -> str:
    if not rows:
        return "No runs in the ledger for these filters."
    headers = ["CREATED (UTC)", "JOB", "RUN", "CLUSTER", "STATE", "STATUS", "STEPS", "REASON"]
    cells = [[r.created_at, r.job, r.run_id, r.cluster_id, r.cluster_state, r.status, r.steps, r.reason] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def find_cluster(table: str, run_or_cluster_id: str) -> str | None:
    if run_or_cluster_id.startswith("j-") and ledger.get_cluster(table, run_or_cluster_id):
        return run_or_cluster_id
    matches = ledger.find_by_run_id(table, run_or_cluster_id)
    return str(matches[0]["pk"]).removeprefix("CLUSTER#") if matches else None


def format_timeline(table: str, cluster_id: str) -> str:
    items = ledger.cluster_items(table, cluster_id)
    meta = next((item for item in items if item["sk"] == "META"), {})
    steps = [item for item in items if str(item["sk"]).startswith("STEP#")]
    lines = [
        f"Run {meta.get('run_id') or meta.get('cluster_name') or '-'}  job {meta.get('job') or '-'}  "
        f"cluster {cluster_id}",
        f"Status {run_status(meta, steps)}; cluster {meta.get('state', '-')}"
        + (f" ({meta.get('reason_code')}: {meta.get('reason_message', '')})" if meta.get("reason_code") else ""),
        "",
        "Steps:",
    ]
    for step in sorted(steps, key=lambda item: str(item.get("started_at", item.get("updated_at", "")))):
        state = "SIMULATED" if is_simulated(step) and step.get("state") == "COMPLETED" else step.get("state", "-")
        line = f"  {str(step['sk']).removeprefix('STEP#')}  {state:<11} {step.get('step_name', '')}"
        if is_simulated(step):
            line += "\n      not run: the job marks it simulate: true"
        if step.get("failure_reason"):
            line += f"\n      reason: {step['failure_reason']}"
        lines.append(line)
    lines += ["", "Timeline:"]
    timeline = [item for item in items if str(item["sk"]).startswith(("EVENT#", "DECISION#"))]
    for item in sorted(timeline, key=lambda entry: str(entry.get("at", ""))):
        what = item.get("detail_type") or f"decision: {item.get('kind')}"
        subject = " ".join(
            str(item[key]) for key in ("name", "stepId", "state", "eventCode", "decision") if item.get(key)
        )
        lines.append(f"  {str(item.get('at', ''))[:19].replace('T', ' ')}  {what}: {subject}")
    return "\n".join(lines)


def since_from(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.now(UTC) - parse_duration(text)
