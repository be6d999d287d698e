"""What `emr-autopilot run --wait` prints when a run ends: the answer to the next question.

Success: where the output and the logs are. Failure: which state failed, why (EMR's step failure
reason when the Cause or the ledger has it), and where the logs are. Built from the Step Functions
execution (DescribeExecution, GetExecutionHistory) and the run's input (runs.build_run_input); the
ledger only fills in what those lack. Plain functions over dicts, so tests need no stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from emr_autopilot.step_logs import parse_s3_uri
from emr_autopilot_devkit.runs_view import ended_line, log_folder

# GetExecutionHistory event types that end a task state with an error (the API's HistoryEventType list).
_TASK_FAILED = ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut", "ActivityFailed")
_ENDED_DETAILS = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


@dataclass
class RunSummary:
    status: str  # the execution's: SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    headline: str  # runs_view.ended_line: SUCCEEDED, SIMULATED..., FAILED, ...
    execution_arn: str = ""
    run_id: str = "-"
    cluster_ids: list[str] = field(default_factory=list)
    input_uri: str = "-"
    output_uri: str = "-"
    log_uri: str = "-"  # the cluster's LogUri, as the run asked for it
    failed_state: str | None = None  # the run's state (RunSteps, CreateCluster...), and the task inside it
    error: str | None = None
    reason: str | None = None
    step: str | None = None  # the failed EMR step: "s-... (name)"
    logs: str = "-"  # where to look first: the failed step's log folder, else the cluster's

    def lines(self) -> list[str]:
        out = [self.headline]
        rows: list[tuple[str, str]] = [("run", self.run_id), ("cluster", ", ".join(self.cluster_ids) or "-")]
        if self.status == "SUCCEEDED":
            rows += [("output", self.output_uri), ("logs", self.logs)]
        else:
            rows += [
                ("failed in" if self.status == "FAILED" else "stopped in", self.failed_state or "-"),
                ("error", self.error or "-"),
            ]
            if self.step:
                rows.append(("step", self.step))
            rows += [("reason", self.reason or "-"), ("logs", self.logs), ("input", self.input_uri)]
        rows.append(("execution", self.execution_arn or "-"))
        out += [f"  {label + ':':<12}{value}" for label, value in rows]
        return out


def summarize(
    execution: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    ledger_items: Iterable[Mapping[str, Any]] = (),
) -> RunSummary:
    """The summary of an ended execution (DescribeExecution), its history, and the ledger items of its
    cluster(s) (optional: the ledger may not have caught up when the execution ends)."""
    events = list(history)
    status = str(execution.get("status", ""))
    run_input = _json(execution.get("input"))
    run = run_input.get("run") or {}
    log_uri = str((run_input.get("cluster_request") or {}).get("LogUri") or "-")
    summary = RunSummary(
        status=status,
        headline=ended_line(status, execution.get("input")),
        execution_arn=str(execution.get("executionArn", "")),
        run_id=str(run.get("run_id") or execution.get("name") or "-"),
        cluster_ids=created_clusters(events),
        input_uri=str(run.get("input_uri") or "-"),
        output_uri=str(run.get("output_uri") or "-"),
        log_uri=log_uri,
    )
    cluster = summary.cluster_ids[-1] if summary.cluster_ids else None
    summary.logs = log_folder(log_uri, cluster) if cluster else "-"
    if status == "SUCCEEDED":
        return summary

    error, cause = _execution_error(execution, events)
    summary.error = error
    summary.failed_state = failed_state(events)
    _explain(summary, cause, log_uri, cluster)
    _fill_from_ledger(summary, ledger_items, log_uri)
    return summary


def _explain(summary: RunSummary, cause: str | None, log_uri: str, cluster: str | None) -> None:
    """The reason (and the failed step, and its log folder) from the failed task's Cause."""
    details = _cause_fields(cause)
    failure = (details.get("Status") or {}).get("FailureDetails") or {}
    if failure or str(details.get("Id", "")).startswith("s-"):
        # addStep.sync's Cause is the failed step (DescribeStep's Step) with its FailureDetails.
        summary.step = f"{details.get('Id', '-')} ({details.get('Name', '-')})"
        summary.reason = _reason(failure.get("Reason"), failure.get("Message"))
        step_folder = _log_folder(failure.get("LogFile")) or (
            log_folder(log_uri, cluster, str(details.get("Id"))) if cluster else None
        )
        summary.logs = step_folder or summary.logs
    elif str(details.get("Id", "")).startswith("j-"):
        # createCluster.sync's Cause is the cluster that ended: its StateChangeReason says why.
        changed = (details.get("Status") or {}).get("StateChangeReason") or {}
        summary.reason = _reason(changed.get("Code"), changed.get("Message"))
    else:
        summary.reason = cause or None


def created_clusters(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Cluster ids the execution's createCluster tasks returned (or named in their failure), in order."""
    found: list[str] = []
    for event in history:
        kind = str(event.get("type", ""))
        details = event.get(_details_key(kind)) or {}
        if not str(details.get("resource", "")).startswith("createCluster"):
            continue
        payload = _json(details.get("output") or details.get("cause"))
        cluster_id = payload.get("ClusterId") or payload.get("Id")
        if isinstance(cluster_id, str) and cluster_id.startswith("j-") and cluster_id not in found:
            found.append(cluster_id)
    return found


def failed_state(history: Iterable[Mapping[str, Any]]) -> str | None:
    """Where the run failed: the state the project's failure record names (its RunFailed state's input
    carries failure.state), with the task state inside it whose task failed; for a timeout or an abort,
    the state the run was in."""
    events = list(history)
    by_id = {event.get("id"): event for event in events}
    recorded = None
    for event in events:
        details = event.get("stateEnteredEventDetails") or {}
        if event.get("type") == "FailStateEntered":
            recorded = (_json(details.get("input")).get("failure") or {}).get("state") or recorded
    failed_task = None
    for event in reversed(events):
        if event.get("type") in _TASK_FAILED:
            failed_task = _entered_state(event, by_id)
            break
    if recorded and failed_task and failed_task != recorded:
        return f"{recorded} (task {failed_task})"
    if recorded:
        return recorded
    # No failure recorded (an abort, the run's deadline): where the run was. A task that failed earlier may have
    # been caught and gone on (step_completion: events ends each 240 s wait with a caught States.Timeout).
    return _open_state(events) or failed_task


def _entered_state(event: Mapping[str, Any], by_id: Mapping[Any, Mapping[str, Any]]) -> str | None:
    # previousEventId leads back through TaskSubmitted/Started/Scheduled to the state's *StateEntered,
    # even when Map iterations interleave in the history.
    seen = 0
    current: Mapping[str, Any] | None = event
    while current is not None and seen < 100:
        if str(current.get("type", "")).endswith("StateEntered"):
            return str((current.get("stateEnteredEventDetails") or {}).get("name"))
        current = by_id.get(current.get("previousEventId"))
        seen += 1
    return None


def _open_state(events: list[Mapping[str, Any]]) -> str | None:
    """The states entered and not exited, outermost first: where a timed-out or aborted run was."""
    open_states: list[tuple[str, str]] = []  # (name, event type)
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            open_states.append((str((event.get("stateEnteredEventDetails") or {}).get("name")), kind))
        elif kind.endswith("StateExited"):
            name = str((event.get("stateExitedEventDetails") or {}).get("name"))
            entered = [index for index, (open_name, _) in enumerate(open_states) if open_name == name]
            if entered:
                del open_states[entered[-1]]
    if not open_states:
        return None
    (outer, _), (inner, inner_kind) = open_states[0], open_states[-1]
    if len(open_states) > 1 and inner_kind == "TaskStateEntered":
        return f"{outer} (task {inner})"
    return " > ".join(name for name, _ in open_states)


def _execution_error(execution: Mapping[str, Any], events: list[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    error, cause = execution.get("error"), execution.get("cause")
    if error or cause:
        return error, cause
    for event in reversed(events):
        key = _ENDED_DETAILS.get(str(event.get("type")))
        if key:
            details = event.get(key) or {}
            return details.get("error"), details.get("cause")
    return None, None


def _fill_from_ledger(summary: RunSummary, items: Iterable[Mapping[str, Any]], log_uri: str) -> None:
    """A failed step the Cause did not describe (a Cause cut short, a timeout while a step ran)."""
    if summary.step and summary.reason:
        return
    items = list(items)
    failed = [item for item in items if str(item.get("sk", "")).startswith("STEP#") and item.get("state") == "FAILED"]
    if not failed:
        if not summary.reason:  # a cluster that ended with errors: EMR's reason, as its event said
            meta = next((item for item in items if item.get("sk") == "META" and item.get("reason_code")), {})
            summary.reason = _reason(meta.get("reason_code"), meta.get("reason_message"))
        return
    step = failed[0]
    step_id = str(step["sk"]).removeprefix("STEP#")
    cluster_id = str(step.get("pk", "")).removeprefix("CLUSTER#")
    summary.step = f"{step_id} ({step.get('step_name', '-')})"
    summary.reason = _reason(step.get("failure_reason"), step.get("failure_message")) or summary.reason
    summary.logs = _log_folder(step.get("log_file")) or log_folder(log_uri, cluster_id, step_id)


def _reason(reason: Any, message: Any) -> str | None:
    parts = [str(part) for part in (reason, message) if part]
    if len(parts) == 2 and parts[1] in parts[0]:
        parts = parts[:1]
    return " | ".join(parts) or None


def _log_folder(log_file: Any) -> str | None:
    # FailureDetails.LogFile names a file (stderr.gz, syslog) or the step's folder: print the folder.
    named = parse_s3_uri(str(log_file)) if log_file else None
    if named is None:
        return None
    folder = named.key if named.key.endswith("/") else named.key.rsplit("/", 1)[0] + "/"
    return f"s3://{named.bucket}/{folder}"


def _cause_fields(cause: Any) -> dict[str, Any]:
    """The Cause as JSON, or, when it is not whole JSON, the fields read here. The pipeline cuts a
    createCluster Cause before "Configurations" (they can hold credentials), so its JSON never closes."""
    loaded = _json(cause)
    if loaded or not isinstance(cause, str):
        return loaded
    fields: dict[str, Any] = {}
    for key in ("Id", "Name"):
        if match := re.search(rf'"{key}":\s*"([^"]*)"', cause):
            fields[key] = match.group(1)
    status: dict[str, Any] = {}
    for key in ("StateChangeReason", "FailureDetails"):
        if match := re.search(rf'"{key}":\s*(\{{[^{{}}]*\}})', cause):
            status[key] = _json(match.group(1))
    if status:
        fields["Status"] = status
    return fields


def _details_key(kind: str) -> str:
    # TaskSubmitted -> taskSubmittedEventDetails
    return kind[:1].lower() + kind[1:] + "EventDetails"


def _json(text: Any) -> dict[str, Any]:
    if isinstance(text, Mapping):
        return dict(text)
    try:
        loaded = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def read_summary(sfn: Any, execution_arn: str, ledger_table: str | None = None) -> RunSummary:
    """Read an ended execution (and, when given, the ledger) and summarize it. Without leave to read
    the history or the ledger, the summary says less (the status and the run's input still tell)."""
    from botocore.exceptions import ClientError

    execution = sfn.describe_execution(executionArn=execution_arn)
    history: list[dict[str, Any]] = []
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn,
        PaginationConfig={"PageSize": 1000},  # the API's largest page
    )
    with suppress(ClientError):
        for page in pages:
            history.extend(page["events"])
    items: list[dict[str, Any]] = []
    if ledger_table and execution.get("status") != "SUCCEEDED":
        from emr_autopilot import ledger

        with suppress(ClientError):
            for cluster_id in created_clusters(history):
                items.extend(ledger.cluster_items(ledger_table, cluster_id))
    return summarize(execution, history, items)
