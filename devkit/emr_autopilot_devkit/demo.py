"""`make demo`: the sample job end to end on the embedded emulator, twice.

Run 1 processes generated inspection records and must produce the right CSV. Run 2 gets a
file with a missing column, so its step fails for real; its cluster must still end TERMINATED.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from emr_autopilot_devkit.local.stack import LocalStack, Notification
from emr_autopilot_devkit.sample_data import (
    expected_red_counts,
    generate_inspections,
    generate_malformed_inspections,
    parse_result_csv,
)

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


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


def run_demo(report_path: Path | None, out: TextIO, repo_root: Path | None = None) -> bool:
    say = _Printer(out)
    started = time.monotonic()
    kwargs: dict[str, Any] = {"repo_root": repo_root} if repo_root else {}
    with LocalStack(**kwargs) as stack:
        say(f"Embedded AWS emulator on {stack.endpoint} (moto); EMR simulated, fast clock x{stack.clock.speedup:g}.")
        deployed = stack.deploy_jobs()
        say(f"Deployed job(s) {', '.join(deployed.jobs)}: {len(deployed.uploaded)} object(s) to the artifacts bucket.")

        good_csv = generate_inspections()
        good = _run(stack, say, "1. inspection records land in S3", GOOD_KEY, good_csv)
        expected = expected_red_counts(good_csv)
        if good.output_objects:
            body = stack.client("s3").get_object(**_split(good.output_objects[0]))["Body"].read().decode("utf-8")
            actual = parse_result_csv(body)
            good.checks["output matches an independent count"] = actual == expected
            say(f"   Output {good.output_objects[0]} ({len(actual)} restaurants); top 3:")
            for name, count in actual[:3]:
                say(f"     {count:>4}  {name}")
        else:
            good.checks["output matches an independent count"] = False
        good.checks["execution SUCCEEDED"] = good.status == "SUCCEEDED"
        good.checks["cluster TERMINATED"] = good.cluster_state == "TERMINATED"

        bad = _run(stack, say, "2. a file with a renamed column lands in S3", BAD_KEY, generate_malformed_inspections())
        bad.checks["execution FAILED"] = bad.status == "FAILED"
        bad.checks["cluster TERMINATED"] = bad.cluster_state == "TERMINATED"
        bad.checks["failure notification gives the reason"] = any(
            "violation_type" in n["message"] for n in bad.notifications if n["attributes"].get("severity") == "ERROR"
        )

        _show_ledger(stack, say, good, bad)
        reaped = _reap_idle_clusters(stack, say)
        from emr_autopilot_devkit.demo_livy import run_livy_demo  # imports this module: not at the top

        livy = run_livy_demo(stack, say)

        runs = [good, bad, reaped, livy]
        passed = all(all(run.checks.values()) for run in runs)
        say()
        for run in runs:
            for check, ok in run.checks.items():
                say(f"   [{'ok' if ok else 'FAILED'}] run {run.label[:1]}: {check}")
        say(f"\nDemo {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.1f}s.")
        if report_path:
            report = {"passed": passed, "endpoint": stack.endpoint, "runs": [run.__dict__ for run in runs]}
            report_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
            say(f"Report written to {report_path}.")
    return passed


def _show_ledger(stack: LocalStack, say: _Printer, good: RunReport, bad: RunReport) -> None:
    """What `emr-autopilot runs` and `runs show` print for these runs."""
    from emr_autopilot_devkit.runs_view import format_table, format_timeline, list_runs

    table = stack.outputs["RunLedgerTableName"]
    rows = list_runs(table)
    say("\n3. The run ledger (emr-autopilot runs):")
    for line in format_table(rows).splitlines():
        say(f"   {line}")
    statuses = {row.run_id: row.status for row in rows}
    good.checks["ledger shows the run SUCCEEDED"] = statuses.get(good.execution_name) == "SUCCEEDED"
    bad.checks["ledger shows the run FAILED"] = statuses.get(bad.execution_name) == "FAILED"
    if bad.cluster_id:
        say(f"\n   emr-autopilot runs show {bad.execution_name}:")
        for line in format_timeline(table, bad.cluster_id).splitlines():
            say(f"   {line}")
    step_notes = [n for n in bad.notifications if n["attributes"].get("event_type") == "STEP_FAILED"]
    bad.checks["step failure notice has the reason and stderr tail"] = any(
        "missing required column" in n["message"] and "Last lines of" in n["message"] for n in step_notes
    )


def _run(stack: LocalStack, say: _Printer, label: str, key: str, body: str) -> RunReport:
    say(f"\n{label}: s3://{stack.outputs['LandingBucketName']}/{key}")
    seen_notifications = len(stack.notifications)
    seen_timeline = len(stack.timeline)
    before = {item["executionArn"] for item in stack.executions()}
    t0 = stack.clock.now()
    stack.put_object(key, body)
    stack.settle(timeout=90)
    for entry in stack.timeline[seen_timeline:]:
        say(f"   +{_elapsed(t0, entry.time)}  {entry.text}")
    report = RunReport(label=label)
    new = [item for item in stack.executions() if item["executionArn"] not in before]
    if not new:
        say("   no execution started")
        return report
    execution = new[0]
    report.execution_name, report.status = execution["name"], execution["status"]
    report.error = execution.get("error")
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
    location = _split(output_uri)
    listing = stack.client("s3").list_objects_v2(Bucket=location["Bucket"], Prefix=location["Key"])
    report.output_objects = [f"s3://{location['Bucket']}/{obj['Key']}" for obj in listing.get("Contents", [])]
    report.notifications = [_note(n) for n in stack.notifications[seen_notifications:]]
    say(f"   Execution {report.execution_name}: {report.status}; cluster {report.cluster_id}: {report.cluster_state}")
    for note in report.notifications:
        say(f"   Notification: {note['subject']}")
        for part in note["message"].split(" | "):
            say(f"     {part}")
    return report


def _note(notification: Notification) -> dict[str, Any]:
    return {"subject": notification.subject, "message": notification.message, "attributes": notification.attributes}


def _elapsed(t0: datetime, t: datetime) -> str:
    seconds = max(int((t - t0).total_seconds()), 0)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _split(uri: str) -> dict[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Bucket": bucket, "Key": key}


# -- 4. the idle reaper --------------------------------------------------------------------------
def _reap_idle_clusters(stack: LocalStack, say: _Printer) -> RunReport:
    """Three clusters started by hand and left idle: the reaper ends the plain one, and leaves the
    termination-protected and the opted-out one running, saying why."""
    report = RunReport(label="4. idle clusters started by hand")
    say("\n4. Three clusters started by hand (not by the pipeline) are left idle for 75 minutes:")
    emr = stack.client("emr")

    def start(name: str, protected: bool = False, tags: dict[str, str] | None = None) -> str:
        cluster_id: str = emr.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.5.0",
            Applications=[{"Name": "Spark"}],
            Instances={
                "InstanceGroups": [
                    {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                    {"InstanceRole": "CORE", "InstanceType": "r5.2xlarge", "InstanceCount": 2},
                ],
                "KeepJobFlowAliveWhenNoSteps": True,
                "TerminationProtected": protected,
            },
            JobFlowRole=stack.outputs["EmrInstanceRoleName"],
            ServiceRole=stack.outputs["EmrServiceRoleName"],
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )["JobFlowId"]
        return cluster_id

    idle = start("adhoc-analysis")
    protected = start("shared-notebooks", protected=True)
    opted_out = start("nightly-backfill", tags={"emr-autopilot:reaper": "skip"})
    names = {idle: "plain", protected: "termination-protected", opted_out: "tagged emr-autopilot:reaper=skip"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_state(stack, cid) != "WAITING" for cid in names):
        time.sleep(0.02)  # starting and bootstrapping take six virtual minutes
    stack.clock.advance(75 * 60)
    written = stack.simulator.publish_idle_metrics()
    for cluster_id, what in names.items():
        say(f"   {cluster_id} ({what}): {_state(stack, cluster_id)}")
    say(f"   {written} IsIdle datapoints in CloudWatch (AWS/ElasticMapReduce, 5-minute periods).")

    # The template's default is a dry run; the demo shows the live reaper.
    stack.functions["IdleReaperFunction"].environment["REAPER_DRY_RUN"] = "false"
    seen_notifications, seen_timeline = len(stack.notifications), len(stack.timeline)
    t0 = stack.clock.now()
    invocation = stack.fire_function_schedule("IdleReaperFunction")
    stack.settle(timeout=30)
    say("   The reaper's schedule fires (stack.fire_function_schedule('IdleReaperFunction')):")
    for entry in stack.timeline[seen_timeline:]:
        say(f"   +{_elapsed(t0, entry.time)}  {entry.text}")
    result = invocation.result if isinstance(invocation.result, dict) else {}
    decisions = {row["cluster_id"]: row for row in result.get("clusters", [])}
    say("   Decisions:")
    for cluster_id in names:
        row = decisions.get(cluster_id, {})
        say(f"     {cluster_id}  {row.get('action', '?'):<10}  {row.get('reason', 'not scanned')}")
    notes = [n for n in stack.notifications[seen_notifications:] if n.attributes.get("event_type") == "IDLE_REAPER"]
    report.notifications = [_note(n) for n in notes]
    for note in notes:
        say(f"   Notification ({note.attributes.get('severity')}): {note.subject}")
        for line in note.message.splitlines():
            say(f"     {line}")

    report.cluster_id, report.cluster_state = idle, _state(stack, idle)
    report.status = str(result.get("reaper_summary", invocation.error or ""))
    report.checks["idle cluster TERMINATED by the reaper"] = report.cluster_state == "TERMINATED"
    report.checks["protected cluster left running, reported skipped"] = (
        _state(stack, protected) == "WAITING" and decisions.get(protected, {}).get("code") == "protected"
    )
    report.checks["opted-out cluster left running, reported skipped"] = (
        _state(stack, opted_out) == "WAITING" and decisions.get(opted_out, {}).get("code") == "opted-out"
    )
    report.checks["summary notification names the terminated cluster"] = any(idle in n.message for n in notes)
    return report


def _state(stack: LocalStack, cluster_id: str) -> str:
    state: str = stack.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
    return state
