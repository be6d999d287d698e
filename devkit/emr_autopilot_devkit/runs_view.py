"""`emr-autopilot runs`: the run ledger as a table, and one run's timeline."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emr_autopilot import emr, ledger
from emr_autopilot.jobs import parse_duration
from emr_autopilot.simulation import is_simulated_name
from emr_autopilot.step_logs import step_log

ACTIVE = frozenset(emr.NOT_TERMINATED)
REASON_WIDTH = 80  # the table's cut; --json keeps the whole reason

# Same-second order of timeline entries: EMR events carry whole seconds, so several often share one.
# One pass through a run (EMR Management Guide, "Understanding the cluster lifecycle"; EMR API Reference,
# StepStatus): the cluster starts, a step is added and runs, the cluster waits, then ends.
# emr.CLUSTER_LIFECYCLE ranks RUNNING and WAITING alike, so the order is defined here. WAITING also comes
# before a step (ready for one); placing it after the steps fits the common same-second case, a step
# ending and the cluster going back to WAITING with it (inferred).
TIMELINE_ORDER: dict[tuple[str, str], int] = {
    entry: rank
    for rank, entry in enumerate(
        [
            ("cluster", "STARTING"),
            ("cluster", "BOOTSTRAPPING"),
            ("step", "PENDING"),
            ("cluster", "RUNNING"),
            ("step", "RUNNING"),
            ("step", "CANCEL_PENDING"),
            ("step", "COMPLETED"),
            ("step", "CANCELLED"),
            ("step", "FAILED"),
            ("step", "INTERRUPTED"),
            ("cluster", "WAITING"),
            ("cluster", "TERMINATING"),
            ("cluster", "TERMINATED"),
            ("cluster", "TERMINATED_WITH_ERRORS"),
        ],
        start=1,
    )
}
_KIND = {"EMR Cluster State Change": "cluster", "EMR Step Status Change": "step"}


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
        reason=reason,
    )


def format_table(rows: list[RunRow]) -> str:
    if not rows:
        return "No runs in the ledger for these filters."
    headers = ["CREATED (UTC)", "JOB", "RUN", "CLUSTER", "STATE", "STATUS", "STEPS", "REASON"]
    cells = [
        [r.created_at, r.job, r.run_id, r.cluster_id, r.cluster_state, r.status, r.steps, r.reason[:REASON_WIDTH]]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def find_cluster(table: str, run_or_cluster_id: str) -> str | None:
    if run_or_cluster_id.startswith("j-") and ledger.get_cluster(table, run_or_cluster_id):
        return run_or_cluster_id
    matches = ledger.find_by_run_id(table, run_or_cluster_id)
    return str(matches[0]["pk"]).removeprefix("CLUSTER#") if matches else None


@dataclass(frozen=True)
class RunLocations:
    """Where a run read and wrote, and where its cluster's logs are ("-" when unknown)."""

    input_uri: str = "-"
    output_uri: str = "-"
    logs: str = "-"

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def run_locations(
    meta: dict[str, Any], cluster_id: str, state_machine_arn: str | None = None, describe_cluster: bool = True
) -> RunLocations:
    """Read, not stored: the run's input (runs.build_run_input: run.input_uri, run.output_uri and the
    cluster's LogUri) from its execution (DescribeExecution). The execution is the one the cluster's
    emr-autopilot:execution-arn tag names (DescribeCluster; EMR keeps a cluster two months), else the
    one the run id names on the stack's state machine (Step Functions keeps it 90 days after it ends)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from emr_autopilot import aws
    from emr_autopilot.runs import execution_arn
    from emr_autopilot.tags import TAG_EXECUTION_ARN

    arn, log_uri = None, None
    if describe_cluster:
        try:
            cluster = emr.describe_cluster(cluster_id)
            arn, log_uri = emr.tags_of(cluster).get(TAG_EXECUTION_ARN), cluster.get("LogUri")
        except (ClientError, BotoCoreError):
            pass  # a cluster EMR no longer knows: the run id still names the execution
    if not arn and state_machine_arn and meta.get("run_id"):
        arn = execution_arn(state_machine_arn, str(meta["run_id"]))
    run_input: dict[str, Any] = {}
    if arn:
        with suppress(ClientError, BotoCoreError, ValueError):  # an execution no longer kept: "-"
            run_input = json.loads(aws.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    run = run_input.get("run") or {}
    log_uri = log_uri or (run_input.get("cluster_request") or {}).get("LogUri")
    return RunLocations(
        input_uri=str(run.get("input_uri") or "-"),
        output_uri=str(run.get("output_uri") or "-"),
        logs=log_folder(str(log_uri or "-"), cluster_id),
    )


def log_folder(log_uri: str, cluster_id: str | None, step_id: str | None = None) -> str:
    """EMR's log folders, <LogUri>/<cluster id>/ and <LogUri>/<cluster id>/steps/<step id>/ (the layout
    step_logs.step_log follows)."""
    if not cluster_id or log_uri in ("", "-"):
        return "-"
    location = step_log(log_uri, cluster_id, step_id or "", name="")  # it drops the empty parts
    if location is None:
        return "-"
    key = location.key if step_id else location.key.removesuffix("/steps")  # the cluster's folder
    return f"s3://{location.bucket}/{key}/"


def timeline_key(item: dict[str, Any]) -> tuple[str, int, str, str]:
    """Time to the second, then TIMELINE_ORDER (entries without a state in it first), then time and key."""
    at = str(item.get("at", ""))
    rank = TIMELINE_ORDER.get((_KIND.get(str(item.get("detail_type")), ""), str(item.get("state", ""))), 0)
    return at[:19], rank, at, str(item.get("sk", ""))


def format_timeline(table: str, cluster_id: str, locations: RunLocations | None = None) -> str:
    items = ledger.cluster_items(table, cluster_id)
    meta = next((item for item in items if item["sk"] == "META"), {})
    steps = [item for item in items if str(item["sk"]).startswith("STEP#")]
    lines = [
        f"Run {meta.get('run_id') or meta.get('cluster_name') or '-'}  job {meta.get('job') or '-'}  "
        f"cluster {cluster_id}",
        f"Status {run_status(meta, steps)}; cluster {meta.get('state', '-')}"
        + (f" ({meta.get('reason_code')}: {meta.get('reason_message', '')})" if meta.get("reason_code") else ""),
    ]
    if locations is not None:  # looked up (run_locations): "-" where not found
        lines += [f"Input  {locations.input_uri}", f"Output {locations.output_uri}", f"Logs   {locations.logs}"]
    lines += ["", "Steps:"]
    lines += [_step_lines(step) for step in sorted(steps, key=_step_start)]
    lines += ["", "Timeline:"]
    timeline = [item for item in items if str(item["sk"]).startswith(("EVENT#", "DECISION#"))]
    for item in sorted(timeline, key=timeline_key):
        what = item.get("detail_type") or f"decision: {item.get('kind')}"
        subject = " ".join(
            str(item[key]) for key in ("name", "stepId", "state", "eventCode", "decision") if item.get(key)
        )
        lines.append(f"  {str(item.get('at', ''))[:19].replace('T', ' ')}  {what}: {subject}")
    return "\n".join(lines)


def _step_start(step: dict[str, Any]) -> str:
    return str(step.get("started_at", step.get("updated_at", "")))


def _step_lines(step: dict[str, Any]) -> str:
    """One step of `runs show`: id, state (SIMULATED when not run), name, then why and where its log is."""
    state = "SIMULATED" if is_simulated(step) and step.get("state") == "COMPLETED" else step.get("state", "-")
    line = f"  {str(step['sk']).removeprefix('STEP#')}  {state:<11} {step.get('step_name', '')}"
    if is_simulated(step):
        line += "\n      not run: the job marks it simulate: true"
    if step.get("failure_reason"):
        line += f"\n      reason: {step['failure_reason']}"
    if step.get("log_file"):
        line += f"\n      log: {step['log_file']}"
    return line


def since_from(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.now(UTC) - parse_duration(text)
