"""`make demo`: the sample jobs end to end on the embedded emulator.

Run 1 processes generated inspection records and must produce the right CSV. Run 2 gets a
file with a missing column, so its step fails for real; its cluster must still end TERMINATED.
Part 5 runs the PySpark job's spark-submit step, and part 6 the same application as a Livy batch,
for real on local Spark; each output is checked against an independent count. Without Java (or
PySpark) those two parts are reported as not run, never as passed, and the rest still runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from emr_autopilot_devkit.local.stack import REGION, LocalStack, Notification
from emr_autopilot_devkit.runs_view import ended_line
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
    outcome: str = ""  # what `run --wait` would print: the status, and SIMULATED when a step was not run
    not_run: str | None = None  # why this part could not run here (then it has no checks)


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
        expected = expected_red_counts(good_csv)
        good = _run(stack, say, "1. inspection records land in S3", _landing(stack, GOOD_KEY, good_csv))
        check_output(stack, say, good, expected)
        good.checks["execution SUCCEEDED"] = good.outcome == "SUCCEEDED"
        good.checks["cluster TERMINATED"] = good.cluster_state == "TERMINATED"

        bad = _run(
            stack,
            say,
            "2. a file with a renamed column lands in S3",
            _landing(stack, BAD_KEY, generate_malformed_inspections()),
        )
        bad.checks["execution FAILED"] = bad.status == "FAILED"
        bad.checks["cluster TERMINATED"] = bad.cluster_state == "TERMINATED"
        bad.checks["failure notification gives the reason"] = any(
            "violation_type" in n["message"] for n in bad.notifications if n["attributes"].get("severity") == "ERROR"
        )

        _show_ledger(stack, say, good, bad)
        reaped = _reap_idle_clusters(stack, say)
        from emr_autopilot_devkit.demo_livy import LABEL as LIVY_LABEL
        from emr_autopilot_devkit.demo_livy import run_livy_demo  # imports this module: not at the top
        from emr_autopilot_devkit.local.step_runner import spark_toolchain

        missing = spark_toolchain().missing
        if missing:
            say(f"\nParts 5 and 6 (Spark) not run: {missing}.")
            spark = [RunReport(label=SPARK_LABEL, not_run=missing), RunReport(label=LIVY_LABEL, not_run=missing)]
        else:
            spark = [_run_spark_job(stack, say, expected), run_livy_demo(stack, say, expected)]

        runs = [good, bad, reaped, *spark]
        passed = all(all(run.checks.values()) for run in runs)
        say()
        for run in runs:
            for check, ok in run.checks.items():
                say(f"   [{'ok' if ok else 'FAILED'}] run {run.label[:1]}: {check}")
            if run.not_run:
                say(f"   [not run] run {run.label[:1]}: {run.label[3:]} (needs Java and PySpark)")
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
    good.checks["ledger shows the run SUCCEEDED"] = statuses.get(good.execution_name) == "SUCCEEDED"  # not SIMULATED
    bad.checks["ledger shows the run FAILED"] = statuses.get(bad.execution_name) == "FAILED"
    if bad.cluster_id:
        say(f"\n   emr-autopilot runs show {bad.execution_name}:")
        for line in format_timeline(table, bad.cluster_id).splitlines():
            say(f"   {line}")
    step_notes = [n for n in bad.notifications if n["attributes"].get("event_type") == "STEP_FAILED"]
    bad.checks["step failure notice has the reason and stderr tail"] = any(
        "missing required column" in n["message"] and "Last lines of" in n["message"] for n in step_notes
    )


def _landing(stack: LocalStack, key: str, body: str) -> tuple[str, Callable[[], object]]:
    """A run started the usual way: an object lands under inspections/ in the landing bucket."""
    return f"s3://{stack.outputs['LandingBucketName']}/{key}", lambda: stack.put_object(key, body)


def _run(
    stack: LocalStack, say: _Printer, label: str, start: tuple[str, Callable[[], object]], timeout: float = 90
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
        say(f"   +{_elapsed(t0, entry.time)}  {entry.text}")
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
    location = _split(output_uri)
    listing = stack.client("s3").list_objects_v2(Bucket=location["Bucket"], Prefix=location["Key"])
    report.output_objects = [f"s3://{location['Bucket']}/{obj['Key']}" for obj in listing.get("Contents", [])]
    report.notifications = [_note(n) for n in stack.notifications[seen_notifications:]]
    say(f"   Execution {report.execution_name}: {report.outcome}; cluster {report.cluster_id}: {report.cluster_state}")
    for note in report.notifications:
        say(f"   Notification: {note['subject']}")
        for part in note["message"].split(" | "):
            say(f"     {part}")
    return report


def check_output(stack: LocalStack, say: _Printer, report: RunReport, expected: list[tuple[str, int]]) -> None:
    """The run's CSV output (one file, or Spark's one part file) against the independent count."""
    files = [uri for uri in report.output_objects if uri.endswith(".csv")]
    if len(files) != 1:
        say(f"   Output: expected one CSV, found {files or 'none'}")
        report.checks["output matches an independent count"] = False
        return
    body = stack.client("s3").get_object(**_split(files[0]))["Body"].read().decode("utf-8")
    actual = parse_result_csv(body)
    report.checks["output matches an independent count"] = actual == expected
    say(f"   Output {files[0]} ({len(actual)} restaurants); top 3:")
    for name, count in actual[:3]:
        say(f"     {count:>4}  {name}")


# -- 5. the PySpark job on a transient cluster ------------------------------------------------------
SPARK_JOB = "red-violations-spark"
SPARK_LABEL = "5. the PySpark job's spark-submit step, run by hand on the same file"


def _run_spark_job(stack: LocalStack, say: _Printer, expected: list[tuple[str, int]]) -> RunReport:
    """`emr-autopilot run red-violations-spark --input ...`: spark-submit runs on local PySpark."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.runs import StackContext
    from emr_autopilot.starter import DeadlineScheduler, ManualRunRequest, start_manual_run

    input_uri = f"s3://{stack.outputs['LandingBucketName']}/{GOOD_KEY}"

    def begin() -> None:
        start_manual_run(
            load_catalog(stack.outputs["ArtifactsBucketName"]),
            ManualRunRequest(job=SPARK_JOB, input_uri=input_uri),
            StackContext.from_stack_outputs(stack.outputs, REGION),
            DeadlineScheduler(stack.outputs["ScheduleGroupName"], stack.outputs["SchedulerRoleArn"]),
        )

    shown = f"emr-autopilot run {SPARK_JOB} --input {input_uri} (spark-submit on local PySpark)"
    # A JVM and Spark start for real: tens of seconds of wall time on a small machine.
    report = _run(stack, say, SPARK_LABEL, (shown, begin), timeout=300)
    check_output(stack, say, report, expected)
    report.checks["execution SUCCEEDED (not SIMULATED)"] = report.outcome == "SUCCEEDED"
    report.checks["the step ran for real"] = bool(report.steps) and all(
        step["state"] == "COMPLETED" and not step["simulated"] for step in report.steps
    )
    report.checks["cluster TERMINATED"] = report.cluster_state == "TERMINATED"
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
