"""Part 5: the PySpark job's spark-submit step on a transient cluster, run for real on local PySpark."""

from __future__ import annotations

from emr_autopilot_devkit.demo.runs import GOOD_KEY, Printer, RunReport, check_output, run_and_report
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

JOB = "red-violations-spark"
LABEL = "5. the PySpark job's spark-submit step, run by hand on the same file"


def run_spark_job(stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]]) -> RunReport:
    """`emr-autopilot run red-violations-spark --input ...`: spark-submit runs on local PySpark."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    input_uri = f"s3://{stack.outputs['LandingBucketName']}/{GOOD_KEY}"

    def begin() -> None:
        start_manual_run(
            load_catalog(stack.outputs["ArtifactsBucketName"]),
            ManualRunRequest(job=JOB, input_uri=input_uri),
            StackContext.from_stack_outputs(stack.outputs, REGION),
            DeadlineScheduler(stack.outputs["ScheduleGroupName"], stack.outputs["SchedulerRoleArn"]),
        )

    shown = f"emr-autopilot run {JOB} --input {input_uri} (spark-submit on local PySpark)"
    # A JVM and Spark start for real: tens of seconds of wall time on a small machine.
    report = run_and_report(stack, say, LABEL, (shown, begin), timeout=300)
    check_output(stack, say, report, expected)
    report.checks["execution SUCCEEDED (not SIMULATED)"] = report.outcome == "SUCCEEDED"
    report.checks["the step ran for real"] = bool(report.steps) and all(
        step["state"] == "COMPLETED" and not step["simulated"] for step in report.steps
    )
    report.checks["cluster TERMINATED"] = report.cluster_state == "TERMINATED"
    return report
