"""`emr-autopilot runs`: the run ledger as a table, one run's timeline, and cost by job.

Two kinds of runs share the ledger's runs index (emr_autopilot.ledger): clusters (pk=CLUSTER#<id>, steps in
STEP# items) and EMR Serverless runs (pk=RUN#<run id>, compute=emr-serverless, job runs in JOBRUN# items,
shown as the run's steps). Costs are the estimates the event reactions record (emr_autopilot.run_costs).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emr_autopilot import emr, ledger, run_costs
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


EC2_COMPUTE = "emr-ec2"
SERVERLESS = ledger.SERVERLESS_COMPUTE
# A serverless run's state (ledger.serverless_run_state) in the words `runs` uses for every run.
SERVERLESS_STATUS = {"RUNNING": "RUNNING", "SUCCESS": "SUCCEEDED", "FAILED": "FAILED", "CANCELLED": "CANCELLED"}
JOB_RUN_OK = ("SUCCESS", "COMPLETED")  # an EMR Serverless job run's, an EMR on EKS job run's
EKS = ledger.EKS_COMPUTE  # EMR on EKS runs are laid out as serverless runs (ledger "EMR on EKS runs")


@dataclass(frozen=True)
class RunRow:
    created_at: str
    job: str
    run_id: str
    cluster_id: str  # a serverless run: its application id ("serverless" when unknown); EMR on EKS: virtual cluster
    cluster_state: str
    status: str
    steps: str
    reason: str
    compute: str = EC2_COMPUTE
    cost_usd: float | None = None
    cost_label: str = ""
    cost_detail: str = ""
    execution_arn: str = ""  # a serverless run's (its META keeps it)

    @property
    def cost(self) -> str:
        """The COST column: ~$ when estimated, "unknown" when it could not be, "-" when not recorded."""
        if self.cost_usd is not None:
            return f"~${self.cost_usd:.4f}"
        return "unknown" if self.cost_label else "-"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def is_serverless(meta: dict[str, Any]) -> bool:
    return meta.get("compute") == SERVERLESS or str(meta.get("pk", "")).startswith("RUN#")


def run_steps(table: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's steps: a cluster's STEP# items, or a serverless run's job runs (JOBRUN# items)."""
    pk = str(meta["pk"])
    if is_serverless(meta):
        return [item for item in ledger.partition_items(table, pk) if str(item["sk"]).startswith("JOBRUN#")]
    items = ledger.cluster_items(table, pk.removeprefix("CLUSTER#"))
    return [item for item in items if str(item["sk"]).startswith("STEP#")]


def _cost_fields(meta: dict[str, Any]) -> dict[str, Any]:
    cost = run_costs.recorded_cost(meta)
    if cost is None:
        return {}
    return {"cost_usd": cost.usd, "cost_label": cost.label, "cost_detail": cost.detail}


def is_simulated(step: dict[str, Any]) -> bool:
    """A step the job marked simulate: true: it completed without running (emr_autopilot.simulation)."""
    return bool(step.get("simulated")) or is_simulated_name(step.get("step_name"))


def run_status(meta: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """One word for a run: what a person asks first. SIMULATED: it ended well, but a step was not run."""
    state = str(meta.get("state", ""))
    if is_serverless(meta):
        return SERVERLESS_STATUS.get(state, "ENDED")
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
        steps = run_steps(table, meta)
        row_status = run_status(meta, steps)
        if status and row_status != status.upper():
            continue
        rows.append(
            _serverless_row(meta, steps, row_status) if is_serverless(meta) else _run_row(meta, steps, row_status)
        )
        if len(rows) >= limit:
            break
    return rows


def _serverless_row(meta: dict[str, Any], job_runs: list[dict[str, Any]], row_status: str) -> RunRow:
    failed = [item for item in job_runs if item.get("state") == "FAILED"]
    cancelled = [item for item in job_runs if item.get("state") == "CANCELLED"]
    reason = next((str(item.get("failure_reason") or "") for item in failed + cancelled), "")
    done = sum(1 for item in job_runs if item.get("state") in JOB_RUN_OK)
    return RunRow(
        created_at=str(meta.get("created_at", ""))[:19].replace("T", " "),
        job=str(meta.get("job") or "-"),
        run_id=str(meta.get("run_id") or str(meta["pk"]).removeprefix("RUN#")),
        cluster_id=str(meta.get("application_id") or meta.get("virtual_cluster_id") or "serverless"),
        cluster_state=str(meta.get("state", "")),
        status=row_status,
        steps=f"{done}/{len(job_runs)} ok"
        + (f", {len(failed)} failed" if failed else "")
        + (f", {len(cancelled)} cancelled" if cancelled else ""),
        reason=reason,
        compute=str(meta.get("compute") or SERVERLESS),
        execution_arn=str(meta.get("execution_arn") or ""),
        **_cost_fields(meta),
    )


def _run_row(meta: dict[str, Any], steps: list[dict[str, Any]], row_status: str) -> RunRow:
    cluster_id = str(meta["pk"]).removeprefix("CLUSTER#")
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
        **_cost_fields(meta),
    )


def format_table(rows: list[RunRow]) -> str:
    if not rows:
        return "No runs in the ledger for these filters."
    headers = ["CREATED (UTC)", "JOB", "RUN", "CLUSTER", "STATE", "STATUS", "STEPS", "COST", "REASON"]
    cells = [
        [
            r.created_at,
            r.job,
            r.run_id,
            r.cluster_id,
            r.cluster_state,
            r.status,
            r.steps,
            r.cost,
            r.reason[:REASON_WIDTH],
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def find_cluster(table: str, run_or_cluster_id: str) -> str | None:
    if run_or_cluster_id.startswith("j-") and ledger.get_cluster(table, run_or_cluster_id):
        return run_or_cluster_id
    matches = [m for m in ledger.find_by_run_id(table, run_or_cluster_id) if str(m["pk"]).startswith("CLUSTER#")]
    return str(matches[0]["pk"]).removeprefix("CLUSTER#") if matches else None


def find_serverless_run(table: str, run_id: str) -> dict[str, Any] | None:
    """A serverless run's META by its run id (one query: its partition is named after it)."""
    items = [i for i in ledger.partition_items(table, f"RUN#{run_id}") if i["sk"] == "META"] if run_id else []
    return items[0] if items else None


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


def serverless_locations(
    execution_arn: str | None, application_id: str | None, compute: str = SERVERLESS
) -> RunLocations:
    """A serverless run's input and output (its execution's input, serverless_runs.build_serverless_input) and
    its application's log folder, <logUri>applications/<application id>/ (the layout GetJobRun's log URIs use).
    An EMR on EKS run (eks_runs.build_eks_run_input, the same layout): application_id is its virtual cluster, and
    the folder <logUri>/<virtual cluster id>/jobs/ (the layout emr_eks.driver_log_uri follows)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from emr_autopilot import aws

    run_input: dict[str, Any] = {}
    if execution_arn:
        with suppress(ClientError, BotoCoreError, ValueError):  # an execution no longer kept: "-"
            run_input = json.loads(aws.client("stepfunctions").describe_execution(executionArn=execution_arn)["input"])
    run = run_input.get("run") or {}
    requests = [job_run.get("Request") or {} for job_run in run_input.get("job_runs") or []]
    monitoring = (requests[0].get("ConfigurationOverrides") or {}).get("MonitoringConfiguration") if requests else None
    log_uri = ((monitoring or {}).get("S3MonitoringConfiguration") or {}).get("LogUri")
    folder = f"{application_id}/jobs" if compute == EKS else f"applications/{application_id}"
    logs = f"{str(log_uri).rstrip('/')}/{folder}/" if log_uri and application_id else "-"
    return RunLocations(str(run.get("input_uri") or "-"), str(run.get("output_uri") or "-"), logs)


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
    if run_costs.recorded_cost(meta) or meta.get("state") in emr.TERMINATED:
        lines.append(run_costs.cost_line(meta))
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


def format_serverless_run(table: str, run_id: str, locations: RunLocations | None = None) -> str:
    """`runs show` for an EMR Serverless run: its job runs as steps (reason, log, cost), then its timeline."""
    items = ledger.partition_items(table, f"RUN#{run_id}")
    meta = next((item for item in items if item["sk"] == "META"), {})
    job_runs = [item for item in items if str(item["sk"]).startswith("JOBRUN#")]
    lines = [
        f"Run {run_id}  job {meta.get('job') or '-'}  {_where(meta)}",
        f"Status {run_status(meta, job_runs)}; run {meta.get('state', '-')}",
    ]
    if meta.get("execution_arn"):
        lines.append(f"Execution {meta['execution_arn']}")
    if locations is not None:  # looked up (serverless_locations): "-" where not found
        lines += [f"Input  {locations.input_uri}", f"Output {locations.output_uri}", f"Logs   {locations.logs}"]
    if meta.get("state") not in (None, "RUNNING") or run_costs.recorded_cost(meta):
        lines.append(run_costs.cost_line(meta))
    lines += ["", "Job runs:"]
    lines += [_job_run_lines(item) for item in sorted(job_runs, key=_step_start)]
    lines += ["", "Timeline:"]
    for item in sorted((i for i in items if str(i["sk"]).startswith("EVENT#")), key=lambda i: str(i["sk"])):
        keys = ("jobRunName", "name", "state", "failureReason", "newAttempt")  # "name"...: an EMR on EKS event's
        subject = " ".join(str(item[key]) for key in keys if item.get(key))
        if item.get("resourceUtilizationFinal") is not None:  # a utilization update names only its job run
            final = str(item["resourceUtilizationFinal"]).lower() == "true"
            subject = f"{item.get('jobRunId', '')} {'final' if final else 'so far'}".strip()
        lines.append(f"  {str(item.get('at', ''))[:19].replace('T', ' ')}  {item.get('detail_type')}: {subject}")
    return "\n".join(lines)


def _where(meta: dict[str, Any]) -> str:
    if meta.get("compute") == EKS:
        return f"EMR on EKS virtual cluster {meta.get('virtual_cluster_id') or '-'}"
    return f"EMR Serverless application {meta.get('application_id') or '-'}"


def _job_run_lines(item: dict[str, Any]) -> str:
    attempt = f" (attempt {item['attempt']})" if int(item.get("attempt") or 1) > 1 else ""
    line = f"  {str(item['sk']).removeprefix('JOBRUN#')}  {item.get('state', '-'):<11} {item.get('step_name', '')}"
    line += attempt
    if item.get("failure_reason"):
        line += f"\n      reason: {item['failure_reason']}"
    if item.get("log_file"):
        line += f"\n      log: {item['log_file']}"
    if run_costs.recorded_cost(item):
        line += "\n      cost: " + run_costs.cost_line(item).removeprefix("Cost: ")
    return line


# -- cost by job ----------------------------------------------------------------------------------
@dataclass
class JobCost:
    job: str
    compute: str
    runs: int = 0  # finished runs
    usd: float = 0.0  # the sum of the known estimates
    unknown: int = 0  # finished runs with no estimate
    labels: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "compute": self.compute,
            "runs": self.runs,
            "cost_usd": round(self.usd, 4),
            "unknown": self.unknown,
            "cost_labels": sorted(self.labels),
        }


def cost_by_job(table: str, since: datetime | None, job: str | None = None) -> tuple[list[JobCost], int]:
    """Finished runs' recorded costs summed by job and compute target (META items only), and how many runs
    were still running (not counted)."""
    found: dict[tuple[str, str], JobCost] = {}
    running = 0
    for meta in ledger.list_runs(table, since):
        if job and meta.get("job") != job:
            continue
        compute = str(meta.get("compute") or SERVERLESS) if is_serverless(meta) else EC2_COMPUTE
        ended = meta.get("state") in (("SUCCESS", "FAILED", "CANCELLED") if compute != EC2_COMPUTE else emr.TERMINATED)
        if not ended:
            running += 1
            continue
        key = (str(meta.get("job") or "-"), compute)
        entry = found.setdefault(key, JobCost(*key))
        entry.runs += 1
        cost = run_costs.recorded_cost(meta)
        if cost is None or cost.usd is None:
            entry.unknown += 1
        else:
            entry.usd += cost.usd
        if cost is not None:
            entry.labels.add(cost.label)
    return sorted(found.values(), key=lambda c: (c.job, c.compute)), running


def format_costs(costs: list[JobCost], running: int, since: datetime | None) -> str:
    period = f"runs started since {since:%Y-%m-%d %H:%M} UTC" if since else "all runs in the ledger"
    if not costs:
        return f"No finished runs for these filters ({period})."
    headers = ["JOB", "COMPUTE", "RUNS", "COST (USD)", "UNKNOWN"]
    cells = [[c.job, c.compute, str(c.runs), _usd(c.usd, c.runs - c.unknown), str(c.unknown)] for c in costs]
    total_usd, total_runs = sum(c.usd for c in costs), sum(c.runs for c in costs)
    unknown = sum(c.unknown for c in costs)
    cells.append(["TOTAL", "", str(total_runs), _usd(total_usd, total_runs - unknown), str(unknown)])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [f"Cost by job, {period}: ESTIMATES from list prices, not a bill."]
    lines += ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    labels = sorted(set().union(*(c.labels for c in costs))) or [_default_labels()]
    lines += ["", "Prices: " + "; ".join(labels) + "."]
    lines.append("UNKNOWN: finished runs with no estimate (see `runs show <run>` for why); not in COST.")
    if running:
        lines.append(f"{running} run(s) still running: not counted.")
    return "\n".join(lines)


def _usd(usd: float, estimated: int) -> str:
    return f"~${usd:.4f}" if estimated else "unknown"  # no estimate at all is not $0


def _default_labels() -> str:
    from emr_autopilot.pricing import price_table

    return f"{price_table().label}; {run_costs.serverless_prices().label}; {run_costs.eks_prices().label}"


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
