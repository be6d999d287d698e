"""What every part of the demo shares: a run's report, and starting a run and reading what it did."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from emr_autopilot_devkit.local.runtime import LocalRuntime, Notification
from emr_autopilot_devkit.runs_view import ended_line
from emr_autopilot_devkit.sample_data import parse_result_csv

GOOD_KEY = "inspections/2026-11-21/inspections.csv"
BAD_KEY = "inspections/2026-11-22/inspections-renamed-column.csv"


@dataclass
class RunReport:
    label: str
    execution_name: str = ""
    status: str = ""
    error: str | None = None
    cluster_id: str | None = None
    cluster_state: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    output_objects: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    outcome: str = ""  # what `run --wait` would print: the status, and SIMULATED when a step was not run
    not_run: str | None = None  # why this part could not run here (then it has no checks)
    cost: str | None = None  # the run's cost line, from the ledger (emr_autopilot.run_costs.cost_line)


class Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


def run_and_report(
    stack: LocalRuntime, say: Printer, label: str, start: tuple[str, Callable[[], object]], timeout: float = 90
) -> RunReport:
    shown, begin = start
    say(f"\n{label}: {shown}")
    seen_notifications = len(stack.notifications)
    seen_timeline = len(stack.timeline)
    before = {item["executionArn"] for item in stack.executions()}
    t0 = stack.clock.now()
    begin()
    stack.settle(timeout=timeout)
    for entry in stack.timeline[seen_timeline:]:
        say(f"   +{elapsed(t0, entry.time)}  {entry.text}")
    report = RunReport(label=label)
    new = [item for item in stack.executions() if item["executionArn"] not in before]
    if not new:
        say("   no execution started")
        return report
    execution = new[0]
    report.execution_name, report.status = execution["name"], execution["status"]
    report.error = execution.get("error")
    report.outcome = ended_line(report.status, execution["input"])
    for cluster in stack.clusters():
        if cluster["Name"] == execution["name"]:
            report.cluster_id, report.cluster_state = cluster["Id"], cluster["Status"]["State"]
            for step in stack.steps(cluster["Id"]):
                report.steps.append(
                    {
                        "id": step["Id"],
                        "name": step["Name"],
                        "state": step["Status"]["State"],
                        "simulated": step["Id"] in stack.simulator.simulated_steps,
                        "failure": step["Status"].get("FailureDetails"),
                    }
                )
    run_input = json.loads(execution["input"])
    output_uri = run_input["run"]["output_uri"]
    location = split_uri(output_uri)
    listing = stack.client("s3").list_objects_v2(Bucket=location["Bucket"], Prefix=location["Key"])
    report.output_objects = [f"s3://{location['Bucket']}/{obj['Key']}" for obj in listing.get("Contents", [])]
    report.notifications = [notice_of(n) for n in stack.notifications[seen_notifications:]]
    say(f"   Execution {report.execution_name}: {report.outcome}; cluster {report.cluster_id}: {report.cluster_state}")
    for note in report.notifications:
        say(f"   Notification: {note['subject']}")
        for part in note["message"].split(" | "):
            say(f"     {part}")
    return report


def read_output(stack: LocalRuntime, report: RunReport) -> tuple[str, list[tuple[str, int]]] | None:
    """The run's CSV output (one file, or Spark's one part file) and its rows; None without exactly one CSV."""
    files = [uri for uri in report.output_objects if uri.endswith(".csv")]
    if len(files) != 1:
        return None
    body = stack.client("s3").get_object(**split_uri(files[0]))["Body"].read().decode("utf-8")
    return files[0], parse_result_csv(body)


def check_output(stack: LocalRuntime, say: Printer, report: RunReport, expected: list[tuple[str, int]]) -> None:
    """The run's CSV output against the independent count."""
    output = read_output(stack, report)
    if output is None:
        found = [uri for uri in report.output_objects if uri.endswith(".csv")]
        say(f"   Output: expected one CSV, found {found or 'none'}")
        report.checks["output matches an independent count"] = False
        return
    uri, actual = output
    report.checks["output matches an independent count"] = actual == expected
    say(f"   Output {uri} ({len(actual)} restaurants); top 3:")
    for name, count in actual[:3]:
        say(f"     {count:>4}  {name}")


COST_CHECK = "a cost line is recorded in the ledger (an estimate)"


def show_cost(stack: LocalRuntime, say: Printer, report: RunReport, partition: str | None) -> bool:
    """Print the run's cost line from its ledger META (CLUSTER#<id> or RUN#<run id>); False when none is there."""
    from emr_autopilot import ledger
    from emr_autopilot.run_costs import cost_line

    meta: dict[str, Any] = {}
    if partition:
        table = stack.outputs["RunLedgerTableName"]
        meta = next((i for i in ledger.partition_items(table, partition) if i["sk"] == "META"), {})
    if not meta.get("cost_label") and meta.get("cost_usd") is None:
        report.cost = "cost: not recorded yet (the ledger has no cost_usd)"
    else:
        report.cost = cost_line(meta)  # "Cost: unknown (why)" when the ledger holds a reason but no amount
    say(f"   {report.cost}")
    # The check wants an amount, labelled an estimate: "unknown" is no cost line.
    return meta.get("cost_usd") is not None and "estimate" in str(meta.get("cost_label", "")).lower()


SUCCESS_COST_CHECK = "the success notice ends with the run's cost line (an estimate)"


def success_notice_costed(report: RunReport) -> bool:
    """The run's one RUN_SUCCEEDED notice ends with an amount labelled an estimate ("unknown" or "not available"
    is no cost line)."""
    ends = [
        n["message"].split(" | ")[-1]
        for n in report.notifications
        if n["attributes"].get("event_type") == "RUN_SUCCEEDED"
    ]
    return len(ends) == 1 and ends[0].startswith("Cost: ~$") and "(estimate: " in ends[0]


def notice_of(notification: Notification) -> dict[str, Any]:
    return {"subject": notification.subject, "message": notification.message, "attributes": notification.attributes}


def elapsed(t0: datetime, t: datetime) -> str:
    seconds = max(int((t - t0).total_seconds()), 0)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def split_uri(uri: str) -> dict[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Bucket": bucket, "Key": key}


def cluster_state(stack: LocalRuntime, cluster_id: str) -> str:
    state: str = stack.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
    return state
