"""Parts 7 and 8: the same PySpark job on EMR Serverless.

Job red-violations-serverless is red-violations-spark's PySpark application with compute: emr-serverless.
A run starts ServerlessPipeline, whose startJobRun.sync job run the local runtime runs for real on local
PySpark, with the driver's logs written where EMR Serverless writes them. Part 7 runs it on part 5's file:
its output must be the independent count, and the same as the EC2 run's. Part 8 runs it on the file with a
renamed column: it must fail and say why. After each, no job run may be active and the application must be
STOPPED (the job asks stop_application_after_run), and the run's cost must be in the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emr_autopilot import ledger
from emr_autopilot.emr_serverless import JOB_RUN_ACTIVE
from emr_autopilot.tags import TAG_RUN_ID
from emr_autopilot_devkit.demo.livy import SPARK_INFO
from emr_autopilot_devkit.demo.runs import (
    BAD_KEY,
    COST_CHECK,
    GOOD_KEY,
    SUCCESS_COST_CHECK,
    Printer,
    RunReport,
    check_output,
    elapsed,
    notice_of,
    read_output,
    show_cost,
    split_uri,
    success_notice_costed,
)
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime
from emr_autopilot_devkit.local.timeline import TimelineEntry

JOB = "red-violations-serverless"
GOOD_LABEL = "7. the same PySpark job on EMR Serverless, on the same file"
BAD_LABEL = "8. the same job on EMR Serverless, on the file with a renamed column"
LINE_WIDTH = 240  # the demo cuts a notice's longer lines (the Cause JSON); the report keeps them whole
MISSING_COLUMN = "missing required column(s): violation_type"


@dataclass
class ServerlessRun:
    report: RunReport
    application_id: str = ""
    application_state: str = ""
    job_runs: list[dict[str, Any]] = field(default_factory=list)
    ledger_items: list[dict[str, Any]] = field(default_factory=list)  # the run's ledger partition (RUN#<run id>)

    @property
    def meta(self) -> dict[str, Any]:
        return next((item for item in self.ledger_items if item["sk"] == "META"), {})

    @property
    def ledger_job_runs(self) -> list[dict[str, Any]]:
        return [item for item in self.ledger_items if str(item["sk"]).startswith("JOBRUN#")]


def run_serverless_jobs(
    stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]], ec2: RunReport
) -> list[RunReport]:
    """Part 7 (good file, compared with part 5's EC2 output) and part 8 (bad file)."""
    good = run_serverless(stack, say, GOOD_LABEL, GOOD_KEY)
    check_output(stack, say, good.report, expected)
    checks = good.report.checks
    checks["same output as the EC2 run (part 5)"] = same_as_ec2(stack, say, good.report, ec2)
    checks["execution SUCCEEDED"] = good.report.status == "SUCCEEDED"
    checks["the job run ran for real: SUCCESS, driver logs in S3"] = bool(good.job_runs) and all(
        run["state"] == "SUCCESS" and run["driver_log"] for run in good.job_runs
    )
    checks["ledger shows the run SUCCESS"] = good.meta.get("state") == "SUCCESS"
    nothing_left_running(stack, good)
    checks[COST_CHECK] = show_cost(stack, say, good.report, f"RUN#{good.report.execution_name}")
    checks[SUCCESS_COST_CHECK] = success_notice_costed(good.report)

    bad = run_serverless(stack, say, BAD_LABEL, BAD_KEY)
    checks = bad.report.checks
    checks["execution FAILED"] = bad.report.status == "FAILED"
    checks["failure notice gives the reason (the missing column)"] = any(
        "Job run failed" in n["subject"] and MISSING_COLUMN in n["message"] for n in bad.report.notifications
    )
    checks["ledger shows the run FAILED, with the reason on its job run"] = bad.meta.get("state") == "FAILED" and any(
        MISSING_COLUMN in str(item.get("failure_reason")) for item in bad.ledger_job_runs
    )
    nothing_left_running(stack, bad)
    checks[COST_CHECK] = show_cost(stack, say, bad.report, f"RUN#{bad.report.execution_name}")
    return [good.report, bad.report]


def run_serverless(stack: LocalRuntime, say: Printer, label: str, key: str, job: str = JOB) -> ServerlessRun:
    """`emr-autopilot run red-violations-serverless --input ...` (or another serverless job), and what it did."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    out = stack.outputs
    input_uri = f"s3://{out['LandingBucketName']}/{key}"
    say(f"\n{label}: emr-autopilot run {job} --input {input_uri} (EMR Serverless, the job run on local PySpark)")
    stack.settle(timeout=60)  # what the previous part left in flight is not this run's
    seen_notifications, seen_timeline = len(stack.notifications), len(stack.timeline)
    t0 = stack.clock.now()
    outcome = start_manual_run(
        load_catalog(out["ArtifactsBucketName"]),
        ManualRunRequest(job=job, input_uri=input_uri),
        StackContext.from_stack_outputs(out, REGION),
        DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
    )
    stack.settle(timeout=300)  # a JVM and Spark start for real

    execution = stack.client("stepfunctions").describe_execution(executionArn=outcome.execution_arn)
    report = RunReport(label=label, execution_name=outcome.execution_name, status=execution["status"])
    report.error, report.outcome = execution.get("error"), execution["status"]
    run = ServerlessRun(report)
    run_input: dict[str, Any] = json.loads(execution["input"])
    run.application_id = str(run_input["run"]["application_id"])
    table = out["RunLedgerTableName"]
    entries = stack.timeline[seen_timeline:]
    for entry in readable_timeline(table, entries, (t0, stack.clock.now()), report.execution_name, run.application_id):
        say(f"   +{elapsed(t0, entry.time)}  {entry.text}")

    emr_serverless = stack.client("emr-serverless")
    run.application_state = emr_serverless.get_application(applicationId=run.application_id)["application"]["state"]
    run.job_runs = job_runs_of(stack, run.application_id, report.execution_name)
    report.steps = run.job_runs
    run.ledger_items = ledger.partition_items(table, f"RUN#{report.execution_name}")
    output = split_uri(run_input["run"]["output_uri"])
    listing = stack.client("s3").list_objects_v2(Bucket=output["Bucket"], Prefix=output["Key"])
    report.output_objects = [f"s3://{output['Bucket']}/{obj['Key']}" for obj in listing.get("Contents", [])]
    report.notifications = [notice_of(n) for n in stack.notifications[seen_notifications:]]

    job_run_states = ", ".join(f"{r['id']} {r['state']}" for r in run.job_runs) or "none"
    say(
        f"   Execution {report.execution_name}: {report.status}; job run {job_run_states}; "
        f"application {run.application_id}: {run.application_state}"
    )
    for note in report.notifications:
        show_notice(say, note)
    return run


def readable_timeline(
    table: str, entries: list[TimelineEntry], window: tuple[datetime, datetime], run_id: str, application_id: str
) -> list[TimelineEntry]:
    """The runtime's timeline names an EMR Serverless event only by its type: its lines are replaced by the
    states the ledger recorded from those events within `window` (EmrServerlessEventFunction's "ok" lines
    with them)."""
    kept = [
        entry
        for entry in entries
        if not entry.text.startswith("aws.emr-serverless ") and entry.text != "EmrServerlessEventFunction: ok"
    ]
    start, end = window
    for partition in (f"RUN#{run_id}", f"APPLICATION#{application_id}"):
        for item in ledger.partition_items(table, partition):
            if not str(item["sk"]).startswith("EVENT#"):
                continue
            at = datetime.fromisoformat(str(item["at"]))
            if start <= at <= end:
                kept.append(TimelineEntry(at, _event_text(item, application_id)))
    return sorted(kept, key=lambda entry: entry.time)


def _event_text(item: dict[str, Any], application_id: str) -> str:
    kind = str(item.get("detail_type", ""))
    if kind == "EMR Serverless Application State Change":
        return f"EMR Serverless application {application_id} {item.get('state')}"
    job_run = f"EMR Serverless job run {item.get('jobRunId')}"
    if kind == "EMR Serverless Job Run State Change":
        return f"{job_run} {item.get('state')}"
    if kind == "EMR Serverless Job Resource Utilization Update":
        final = " (final)" if item.get("resourceUtilizationFinal") == "True" else ""
        return f"{job_run}: resource utilization{final}"
    if kind == "EMR Serverless Job Run Retry":
        return f"{job_run}: retry, attempt {item.get('newAttempt')}"
    return f"{kind} {item.get('jobRunId') or application_id}"


def job_runs_of(stack: LocalRuntime, application_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's job runs (tagged with its run id), with where the driver's log is, if it was written."""
    client, s3 = stack.client("emr-serverless"), stack.client("s3")
    found = []
    for summary in client.list_job_runs(applicationId=application_id)["jobRuns"]:
        run = client.get_job_run(applicationId=application_id, jobRunId=summary["id"])["jobRun"]
        if run.get("tags", {}).get(TAG_RUN_ID) != run_id:
            continue
        log_uri = (
            run.get("configurationOverrides", {}).get("monitoringConfiguration", {}).get("s3MonitoringConfiguration")
            or {}
        ).get("logUri")
        driver_log = None
        if log_uri:
            # <logUri>/applications/<app>/jobs/<job run>/SPARK_DRIVER/ (EMR Serverless User Guide, getting started)
            uri = f"{log_uri.rstrip('/')}/applications/{application_id}/jobs/{run['jobRunId']}/SPARK_DRIVER/stdout.gz"
            where = split_uri(uri)
            listed = s3.list_objects_v2(Bucket=where["Bucket"], Prefix=where["Key"]).get("Contents", [])
            driver_log = uri if listed else None
        found.append(
            {
                "id": run["jobRunId"],
                "name": run.get("name"),
                "state": run["state"],
                "state_details": run.get("stateDetails"),
                "application_id": application_id,
                "billed_resource_utilization": run.get("billedResourceUtilization"),
                "driver_log": driver_log,
            }
        )
    return found


def same_as_ec2(stack: LocalRuntime, say: Printer, report: RunReport, ec2: RunReport) -> bool:
    ours, theirs = read_output(stack, report), read_output(stack, ec2)
    if ours is None or theirs is None:
        missing = "the EC2 run's" if theirs is None else "this run's"
        say(f"   Same output on EC2 and EMR Serverless: cannot compare, {missing} CSV is missing")
        return False
    same = ours[1] == theirs[1]
    verdict = "identical" if same else f"DIFFERENT (EC2: {len(theirs[1])} restaurants)"
    say(f"   Same output on EC2 (part 5) and EMR Serverless: {len(ours[1])} restaurants, {verdict}")
    return same


def nothing_left_running(stack: LocalRuntime, run: ServerlessRun) -> None:
    """No job run of the application has not ended (CANCELLING included: it still runs), and it was stopped."""
    states = [*JOB_RUN_ACTIVE, "CANCELLING"]
    active = stack.client("emr-serverless").list_job_runs(applicationId=run.application_id, states=states)
    run.report.checks["no job run left active"] = not active["jobRuns"]
    run.report.checks["application STOPPED after the run"] = run.application_state == "STOPPED"


def show_notice(say: Printer, note: dict[str, Any]) -> None:
    say(f"   Notification: {note['subject']}")
    lines = [line for part in note["message"].split(" | ") for line in part.splitlines() if line.strip()]
    # Spark's own INFO logging is left out here (it is in the notification).
    shown = [line for line in lines if not SPARK_INFO.match(line.strip())]
    for line in shown:
        say(f"     {line if len(line) <= LINE_WIDTH else line[:LINE_WIDTH] + '…'}")
    if len(shown) < len(lines):
        say(f"     ({len(lines) - len(shown)} lines of Spark INFO logging not shown)")
