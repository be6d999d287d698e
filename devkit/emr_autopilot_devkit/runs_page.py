"""`emr-autopilot runs --html FILE`: the run ledger as one self-contained HTML page.

One run per row: the cluster's life (start-up, running, termination) and each step as a bar on the run's
own time axis, coloured by outcome (green succeeded, red failed, grey cancelled, amber SIMULATED: not
run), the failure reason under a failed run, where its logs are, and its cost estimate. An EMR Serverless
run has no cluster: its row shows the run's span and each job run as a step. The page is plain HTML and inline
CSS: no script, font, image or stylesheet from the network (its Content-Security-Policy forbids them), so
it opens from a file, a mail attachment or a CI artefact with no network. Every value from the ledger is
escaped, and a row with missing or odd fields still renders (what cannot be placed in time is listed).

Hand-written HTML rather than a template engine: the page is a few fixed fragments, and every value goes
through html.escape in one place (_e), which is easier to audit than autoescape settings.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emr_autopilot import ledger, run_costs
from emr_autopilot.notifications import console_cluster_url, console_s3_url
from emr_autopilot.step_logs import parse_s3_uri
from emr_autopilot_devkit.runs_view import EKS, SERVERLESS, is_serverless, is_simulated, list_runs, run_status

# Cluster states by phase (EMR ClusterState, API reference "ClusterStatus").
STARTUP = frozenset({"STARTING", "BOOTSTRAPPING"})
UP = frozenset({"RUNNING", "WAITING"})
ENDING = frozenset({"TERMINATING"})
TERMINAL = frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"})
SERVERLESS_ENDED = frozenset({"SUCCESS", "FAILED", "CANCELLED"})  # ledger.serverless_run_state
MIN_BAR_PCT = 0.8  # a step that took no time on the axis is still a visible sliver
MIN_WORDS_PCT = 8.0  # a narrower bar has no words in it (they are in the lane's label and the bar's title)
TICK_SECONDS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


@dataclass(frozen=True)
class RunRecord:
    """Everything the ledger holds about one run (a cluster's ledger.cluster_items, or a serverless run's
    partition, whose cluster_id is its application id), and where its logs are."""

    cluster_id: str
    items: list[dict[str, Any]]
    log_uri: str | None = None
    log_uri_note: str = ""  # why the LogUri is a guess, when it is one


@dataclass
class _Span:
    kind: str  # CSS class
    start: datetime
    end: datetime
    label: str
    title: str


@dataclass
class _Run:
    record: RunRecord
    meta: dict[str, Any]
    steps: list[dict[str, Any]]
    status: str
    phases: list[_Span] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


# -- reading the ledger -------------------------------------------------------------------------------
def load_runs(
    table: str,
    *,
    job: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    log_uri_of: Callable[[str], tuple[str | None, str]] | None = None,
) -> list[RunRecord]:
    """The runs `emr-autopilot runs` lists for these filters, newest first, with each cluster's items.
    `log_uri_of(cluster_id)` gives (LogUri, note) for the log links; without it the page names no logs."""
    records = []
    for row in list_runs(table, job=job, status=status, since=since, limit=limit):
        if row.compute in (SERVERLESS, EKS):  # no cluster to describe: each job run's item names its log
            records.append(RunRecord(row.cluster_id, ledger.partition_items(table, f"RUN#{row.run_id}")))
            continue
        log_uri, note = log_uri_of(row.cluster_id) if log_uri_of else (None, "")
        records.append(RunRecord(row.cluster_id, ledger.cluster_items(table, row.cluster_id), log_uri, note))
    return records


def cluster_log_uri(default_log_uri: str | None) -> Callable[[str], tuple[str | None, str]]:
    """The cluster's LogUri from DescribeCluster (the ledger does not keep it); for a cluster EMR no
    longer describes (older than about two months), the stack's default, said to be a guess."""
    from botocore.exceptions import BotoCoreError, ClientError

    from emr_autopilot import emr

    def log_uri_of(cluster_id: str) -> tuple[str | None, str]:
        try:
            return emr.describe_cluster(cluster_id).get("LogUri"), ""
        except (ClientError, BotoCoreError):
            if default_log_uri:
                return default_log_uri, "the stack's default LogUri; EMR no longer describes this cluster"
            return None, ""

    return log_uri_of


# -- times --------------------------------------------------------------------------------------------
def _time(value: Any) -> datetime | None:
    """An ISO 8601 time from the ledger, or None for anything else (a row with odd data still renders)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _duration(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _stamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


# -- one run ------------------------------------------------------------------------------------------
def _cluster_changes(items: Iterable[dict[str, Any]]) -> list[tuple[datetime, str]]:
    changes = []
    for item in items:
        if str(item.get("sk", "")).startswith("EVENT#") and item.get("detail_type") == "EMR Cluster State Change":
            at = _time(item.get("at"))
            if at and item.get("state"):
                changes.append((at, str(item["state"])))
    return sorted(changes)


def _phase(state: str) -> tuple[str, str]:
    if state in STARTUP:
        return "startup", "start-up"
    if state in UP:
        return "up", state.lower()
    if state in ENDING:
        return "ending", "terminating"
    return "other", state.lower()


def _phases(changes: list[tuple[datetime, str]], meta: dict[str, Any], end: datetime) -> list[_Span]:
    """The cluster's states as spans; the events expire (ledger.TIMELINE_TTL_DAYS), so without them the
    cluster is one span from created_at to ended_at."""
    if not changes:
        created = _time(meta.get("created_at"))
        return [_Span("up", created, end, "cluster", "no state changes in the ledger")] if created else []
    spans: list[_Span] = []
    for (at, state), following in zip(changes, [*changes[1:], None], strict=True):
        if state in TERMINAL:
            continue
        until = following[0] if following else end
        kind, label = _phase(state)
        if spans and spans[-1].kind == kind and spans[-1].label == label:
            spans[-1].end = until  # WAITING, then WAITING again: one span
            continue
        spans.append(
            _Span(kind, at, until, label, f"{state} {_stamp(at)} for {_duration((until - at).total_seconds())}")
        )
    return spans


def _run(record: RunRecord, now: datetime) -> _Run:
    meta = next((item for item in record.items if item.get("sk") == "META"), {})
    prefix = "JOBRUN#" if is_serverless(meta) else "STEP#"
    steps = [item for item in record.items if str(item.get("sk", "")).startswith(prefix)]
    run = _Run(record, meta, steps, run_status(meta, steps))
    changes = _cluster_changes(record.items)
    times = [at for at, _ in changes]
    for item in [meta, *steps]:
        times += [t for key in ("created_at", "started_at", "ended_at", "updated_at") if (t := _time(item.get(key)))]
    if not times:
        return run
    run.start, run.end = min(times), max(times)
    if run.status == "RUNNING" and now > run.end:
        run.end = now
    if is_serverless(meta):  # no cluster: the run's one span, from its first record to its end
        title = (
            f"run {meta.get('state') or '-'} {_stamp(run.start)} for {_duration((run.end - run.start).total_seconds())}"
        )
        run.phases = [_Span("up", run.start, run.end, "serverless run", title)]
        return run
    run.phases = _phases(changes, meta, run.end)
    return run


def _step_span(step: dict[str, Any], run_end: datetime) -> _Span | None:
    start = _time(step.get("started_at"))
    if start is None:
        return None  # never started (or no time recorded): listed, not drawn
    end = _time(step.get("ended_at")) or run_end
    state = str(step.get("state") or "UNKNOWN")
    kind, label = _step_look(step)
    took = _duration((end - start).total_seconds())
    return _Span(kind, start, max(end, start), label, f"{state}: {_stamp(start)}, {took}")


def _step_look(step: dict[str, Any]) -> tuple[str, str]:
    """(CSS class, words) for a step: a simulated step is never shown as a success."""
    state = str(step.get("state") or "UNKNOWN")
    if is_simulated(step):
        return "simulated", "SIMULATED, not run" + ("" if state == "COMPLETED" else f" ({state})")
    return {
        "COMPLETED": ("ok", "COMPLETED"),
        "SUCCESS": ("ok", "SUCCESS"),  # an EMR Serverless job run's
        "FAILED": ("failed", "FAILED"),
        "CANCELLED": ("cancelled", "CANCELLED"),
        "INTERRUPTED": ("cancelled", "INTERRUPTED"),
        "RUNNING": ("running", "RUNNING"),
    }.get(state, ("pending", state))


# -- HTML ---------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sorted_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(steps, key=lambda step: (str(step.get("started_at") or "~"), str(step.get("sk", ""))))


class _Axis:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 1.0)

    def pct(self, at: datetime) -> float:
        return min(max((at - self.start).total_seconds() / self.seconds * 100, 0.0), 100.0)

    def place(self, span: _Span) -> str:
        left = self.pct(span.start)
        width = max(self.pct(span.end) - left, MIN_BAR_PCT)
        left = min(left, 100 - width)
        return f"left:{left:.3f}%;width:{width:.3f}%"

    def ticks(self) -> str:
        step = next((s for s in TICK_SECONDS if self.seconds / s <= 8), TICK_SECONDS[-1])
        marks = []
        for n in range(int(self.seconds // step) + 1):
            left = n * step / self.seconds * 100
            if n and left > 94:
                break  # its label would run off the track
            marks.append(f'<span class="tick" style="left:{left:.3f}%">+{_e(_tick_label(n * step))}</span>')
        return "".join(marks)


def _tick_label(seconds: int) -> str:
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return _duration(seconds)


def _bar(axis: _Axis, span: _Span, text: str = "") -> str:
    words = text or span.label if axis.pct(span.end) - axis.pct(span.start) >= MIN_WORDS_PCT else ""
    return (
        f'<div class="bar {_e(span.kind)}" style="{axis.place(span)}" title="{_e(span.title)}">'
        f"<span>{_e(words)}</span></div>"
    )


def _cluster_lane(run: _Run, axis: _Axis) -> str:
    bars = "".join(_bar(axis, span) for span in run.phases)
    state = str(run.meta.get("state") or "")
    if state in TERMINAL | SERVERLESS_ENDED and run.end:
        ended = _time(run.meta.get("ended_at")) or run.end
        kind = "end-errors" if state in ("TERMINATED_WITH_ERRORS", "FAILED") else "end"
        bars += (
            f'<div class="end-mark {kind}" style="left:{axis.pct(ended):.3f}%" title="{_e(state)} {_e(_stamp(ended))}">'
            f"<span>{_e(state.lower().replace('_', ' '))}</span></div>"
        )
    what = "run" if is_serverless(run.meta) else "cluster"
    label = f"{what} <small>{_e(state or 'state unknown')}</small>"
    return f'<div class="lane"><div class="label">{label}</div><div class="track">{bars}</div></div>'


def _step_lane(step: dict[str, Any], axis: _Axis | None, run_end: datetime | None) -> str:
    kind, words = _step_look(step)
    name = step.get("step_name") or str(step.get("sk", "")).removeprefix("STEP#") or "unnamed step"
    span = _step_span(step, run_end) if run_end else None
    took = f", {_duration((span.end - span.start).total_seconds())}" if span else ", never started"
    label = f'<span class="name">{_e(name)}</span><span class="state {_e(kind)}">{_e(words)}{_e(took)}</span>'
    track = _bar(axis, span, words.split(",")[0]) if span and axis else ""  # in the bar: SIMULATED, FAILED...
    return f'<div class="lane step"><div class="label">{label}</div><div class="track">{track}</div></div>'


def _step_failure(step: dict[str, Any]) -> str:
    name = step.get("step_name") or "a step"
    reason = str(step.get("failure_reason") or "no reason recorded")
    message = step.get("failure_message")
    detail = f" ({message})" if message and str(message) not in reason else ""
    return f"<b>{_e(name)} failed:</b> {_e(reason)}{_e(detail)}"


def _reasons(run: _Run) -> str:
    """Under a failed run, why; under a run with a simulated step, that it was not run; else how the
    cluster ended."""
    lines = [_step_failure(step) for step in run.steps if step.get("state") == "FAILED"]
    code, message = run.meta.get("reason_code"), run.meta.get("reason_message")
    because = f"{_e(code or 'no reason recorded')}{': ' + _e(message) if message else ''}"
    if run.status == "FAILED" and not lines:
        lines.append(f"<b>Cluster {_e(run.meta.get('state') or '')}:</b> {because}")
    notes = "".join(f'<p class="reason">{line}</p>' for line in lines)
    simulated = sum(1 for step in run.steps if is_simulated(step))
    if simulated:
        notes += (
            f'<p class="reason simulated"><b>SIMULATED:</b> {simulated} step(s) not run: '
            "the job marks them simulate: true.</p>"
        )
    if code and run.status != "FAILED":
        notes += f'<p class="note">Cluster ended: {because}</p>'
    return notes


def _job_run_log_links(run: _Run, region: str | None) -> str:
    """A serverless run's logs: each job run's driver log the ledger names (failed ones: ledger.JobRunChange)."""
    items = []
    for step in _sorted_steps(run.steps):
        uri = step.get("log_file")
        if not uri:
            continue
        location = parse_s3_uri(str(uri))
        link = ""
        if region and location:
            link = (
                f' <a href="{_e(console_s3_url(location.bucket, location.key.rsplit("/", 1)[0] + "/"))}">S3 console</a>'
            )
        items.append(f"<li>{_e(step.get('step_name') or step.get('sk'))}: <code>{_e(uri)}</code>{link}</li>")
    if not items:
        return '<p class="note">Logs: the ledger names a job run\'s driver log when the job run fails.</p>'
    opened = " open" if run.status == "FAILED" else ""
    return f'<details class="logs"{opened}><summary>Logs</summary><ul>{"".join(items)}</ul></details>'


def _log_links(run: _Run, region: str | None) -> str:
    record = run.record
    if is_serverless(run.meta):
        return _job_run_log_links(run, region)
    if not record.log_uri:
        return '<p class="note">Logs: the cluster has no LogUri the page could find.</p>'
    base = record.log_uri.rstrip("/") + "/" + record.cluster_id + "/"
    entries = [("cluster", base, "")]
    for step in _sorted_steps(run.steps):
        step_id = str(step.get("sk", "")).removeprefix("STEP#")
        log_file = step.get("log_file")
        where = str(log_file) if log_file else f"{base}steps/{step_id}/"
        entries.append((str(step.get("step_name") or step_id), where, " (EMR's LogFile)" if log_file else ""))
    items = []
    for what, uri, note in entries:
        link = ""
        location = parse_s3_uri(uri)
        if region and location:
            folder = location.key if location.key.endswith("/") else location.key.rsplit("/", 1)[0] + "/"
            link = f' <a href="{_e(console_s3_url(location.bucket, folder))}">S3 console</a>'
        items.append(f"<li>{_e(what)}: <code>{_e(uri)}</code>{_e(note)}{link}</li>")
    guess = f' <span class="note">({_e(record.log_uri_note)})</span>' if record.log_uri_note else ""
    console = (
        f' <a href="{_e(console_cluster_url(region, record.cluster_id))}">cluster in the EMR console</a>'
        if region
        else ""
    )
    opened = " open" if run.status == "FAILED" else ""
    return f'<details class="logs"{opened}><summary>Logs{guess}{console}</summary><ul>{"".join(items)}</ul></details>'


def _run_section(run: _Run, region: str | None) -> str:
    meta, status = run.meta, run.status
    title = meta.get("run_id") or meta.get("cluster_name") or run.record.cluster_id
    took = _duration((run.end - run.start).total_seconds()) if run.start and run.end else "-"
    where = "EMR Serverless application" if is_serverless(meta) else "cluster"
    where = "EMR on EKS virtual cluster" if meta.get("compute") == EKS else where
    facts = (
        f"job <b>{_e(meta.get('job') or '-')}</b> · {where} <code>{_e(run.record.cluster_id)}</code> · "
        f"started {_e(_stamp(run.start))} · {_e(took)}"
    )
    ended = str(meta.get("state") or "") in TERMINAL | SERVERLESS_ENDED
    cost = f'<p class="cost">{_e(run_costs.cost_line(meta))}</p>' if ended or run_costs.recorded_cost(meta) else ""
    axis = _Axis(run.start, run.end) if run.start and run.end else None
    lanes = _cluster_lane(run, axis) if axis else '<p class="note">No times in the ledger for this run.</p>'
    lanes += "".join(_step_lane(step, axis, run.end) for step in _sorted_steps(run.steps))
    if not run.steps:
        lanes += '<p class="note">No steps in the ledger for this run.</p>'
    if axis:
        lanes += f'<div class="lane axis"><div class="label">elapsed</div><div class="track">{axis.ticks()}</div></div>'
    return (
        f'<section class="run {_e(status.lower())}" data-status="{_e(status)}" '
        f'data-cluster="{_e(run.record.cluster_id)}" data-compute="{_e(meta.get("compute") or "emr-ec2")}">'
        f'<header><span class="badge {_e(status.lower())}">{_e(status)}</span><h2>{_e(title)}</h2></header>'
        f'<p class="facts">{facts}</p>{cost}<div class="lanes">{lanes}</div>{_reasons(run)}'
        f"{_log_links(run, region)}</section>"
    )


def render_page(
    records: Sequence[RunRecord], *, generated_at: datetime | None = None, region: str | None = None
) -> str:
    """The whole page. `region` adds AWS console links; leave it None for the local runtime, whose
    clusters and buckets are not in any console."""
    now = generated_at or datetime.now(UTC)
    runs = [_run(record, now) for record in records]
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    summary = " · ".join(f'<span class="badge {_e(s.lower())}">{_e(s)}</span> {n}' for s, n in sorted(counts.items()))
    body = (
        "".join(_run_section(run, region) for run in runs)
        or '<p class="note">No runs in the ledger for these filters.</p>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # Nothing from the network: the page must open offline, and ledger text can never load anything.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>emr-autopilot runs</title><style>{CSS}</style></head><body>"
        f'<h1>emr-autopilot runs</h1><p class="summary">{len(runs)} run(s), newest first, '
        f"as of {_e(_stamp(now))}. {summary}</p>{LEGEND}{body}</body></html>\n"
    )


def write_runs_page(
    path: Path,
    outputs: dict[str, str],
    *,
    region: str | None,
    job: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> int:
    """Write the page of the runs these filters select to `path`; returns how many runs it shows.
    `region` None: no console links (the local runtime). `now`: the clock the runs were timed by
    (the local runtime's fast clock runs ahead of this machine's); a running run's bars reach it."""
    # The run starter's default LogUri when a job sets none (emr_autopilot.runs, the RunJobFlow request).
    default_log_uri = f"s3://{outputs['LogsBucketName']}/emr-logs/" if outputs.get("LogsBucketName") else None
    records = load_runs(
        outputs["RunLedgerTableName"],
        job=job,
        status=status,
        since=since,
        limit=limit,
        log_uri_of=cluster_log_uri(default_log_uri),
    )
    path.write_text(render_page(records, region=region, generated_at=now), encoding="utf-8")
    return len(records)


LEGEND = (
    '<p class="legend"><span class="key startup"></span>cluster start-up '
    '<span class="key up"></span>cluster running / waiting <span class="key ending"></span>terminating '
    '<span class="key ok"></span>step succeeded <span class="key failed"></span>failed '
    '<span class="key cancelled"></span>cancelled <span class="key simulated"></span>SIMULATED (not run) '
    '<span class="key running"></span>running</p>'
)

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2630;background:#f4f6f8}
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0;word-break:break-all}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.summary,.legend{color:#48525c;margin:4px 0}.legend{font-size:12px}
.key{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px;border-radius:2px;vertical-align:middle}
.run{background:#fff;border:1px solid #d5dbe1;border-left:6px solid #90a4ae;border-radius:6px;margin:14px 0;
padding:12px 16px}
.run.succeeded{border-left-color:#2e7d32}.run.failed{border-left-color:#c62828}
.run.simulated{border-left-color:#f9a825}.run.cancelled{border-left-color:#9e9e9e}.run.running{border-left-color:#1565c0}
header{display:flex;gap:10px;align-items:center}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:700;color:#fff;
background:#78909c}
.badge.succeeded{background:#2e7d32}.badge.failed{background:#c62828}.badge.simulated{background:#f9a825;color:#3e2c00}
.badge.cancelled{background:#9e9e9e}.badge.running{background:#1565c0}
.facts{margin:4px 0 8px;color:#48525c;font-size:12px}
.lane{display:grid;grid-template-columns:260px 1fr;align-items:center;min-height:26px}
.label{padding-right:10px;font-size:12px;overflow:hidden}
.label .name{display:block;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.label small{color:#6b7680}
.state{display:block;font-size:11px;color:#48525c}.state.failed{color:#c62828;font-weight:700}
.state.simulated{color:#8a6100;font-weight:700}.state.ok{color:#2e7d32}
.track{position:relative;height:22px;background:#eef1f4;border-radius:3px}
.lane.axis .track{background:none;height:18px;border-top:1px solid #b0bac4;border-radius:0}
.tick{position:absolute;top:2px;font-size:10px;color:#6b7680;transform:translateX(-50%);white-space:nowrap}
.tick:first-child{transform:none}
.bar{position:absolute;top:2px;bottom:2px;border-radius:3px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;
font-size:11px;color:#fff;padding:0 4px;box-sizing:border-box}
.bar span{line-height:18px}
.bar.startup{background:#78909c}.bar.up{background:#b0bec5;color:#1d2630}.bar.ending{background:#455a64}
.bar.other{background:#cfd8dc;color:#1d2630}
.bar.ok,.key.ok{background:#2e7d32}.bar.failed,.key.failed{background:#c62828}
.bar.cancelled,.key.cancelled{background:#9e9e9e}.bar.running,.key.running{background:#1565c0}
.bar.pending{background:#fff;border:1px dashed #78909c;color:#48525c}
.bar.simulated,.key.simulated{background:repeating-linear-gradient(135deg,#f9a825 0 6px,#ffd54f 6px 12px);color:#3e2c00;
font-weight:700}
.key.startup{background:#78909c}.key.up{background:#b0bec5}.key.ending{background:#455a64}
.end-mark{position:absolute;top:-3px;bottom:-3px;width:3px;margin-left:-1px;background:#1d2630}
.end-mark.end-errors{background:#c62828}
.end-mark span{position:absolute;right:6px;top:5px;font-size:10px;white-space:nowrap;color:#1d2630;background:#fffc;
padding:0 2px}
.reason{margin:8px 0 0;padding:6px 10px;background:#fdecea;border-radius:4px;color:#7f1d1d;word-break:break-word}
.reason b{color:#c62828}
.reason.simulated{background:#fff8e1;color:#5d4300}.reason.simulated b{color:#8a6100}
.note{color:#6b7680;font-size:12px;margin:6px 0 0}.cost{margin:0 0 8px;font-size:12px;color:#1d2630}
.logs{margin-top:8px;font-size:12px}.logs summary{cursor:pointer;color:#48525c}.logs ul{margin:4px 0;padding-left:18px}
a{color:#0b5cad}
"""
