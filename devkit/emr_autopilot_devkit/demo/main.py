"""`make demo`: the sample jobs end to end on the local runtime.

Run 1 processes generated inspection records and must produce the right CSV. Run 2 gets a
file with a missing column, so its step fails for real; its cluster must still end TERMINATED.
Part 5 runs the PySpark job's spark-submit step, part 6 the same application as a Livy batch, and
parts 7 and 8 the same application on EMR Serverless (a good file, then the bad one), for real on
local Spark; each output is checked against an independent count, and part 7's against part 5's. Parts 9 to 11
run the packaged project (jobs/red_violations_packaged: own modules and a PyPI dependency, shipped as a zip and a
packed environment) on a cluster, on EMR Serverless and on EMR on EKS. Parts 12 and 13 run the PySpark sample on EMR
on EKS (a good file, then the bad one); part 12's output must be the same as parts 5 and 7's.
Each run's cost line comes from the ledger. Without Java (or PySpark) parts 5 to 13 are reported as
not run, never as passed, and the rest still runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from emr_autopilot_devkit.demo import eks, livy, packaged, serverless, spark
from emr_autopilot_devkit.demo.pipeline import landing, show_ledger
from emr_autopilot_devkit.demo.reaper import reap_idle_clusters
from emr_autopilot_devkit.demo.runs import (
    BAD_KEY,
    COST_CHECK,
    GOOD_KEY,
    SUCCESS_COST_CHECK,
    Printer,
    RunReport,
    check_output,
    run_and_report,
    show_cost,
    success_notice_costed,
)
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.local.step_runner import spark_toolchain
from emr_autopilot_devkit.sample_data import expected_red_counts, generate_inspections, generate_malformed_inspections

RUNS_PAGE = Path("runs.html")  # `make demo` runs in the repository: the page lands beside demo-report.json


def run_demo(
    report_path: Path | None, out: TextIO, repo_root: Path | None = None, runs_page: Path | None = RUNS_PAGE
) -> bool:
    say = Printer(out)
    started = time.monotonic()
    kwargs: dict[str, Any] = {"repo_root": repo_root} if repo_root else {}
    with LocalRuntime(**kwargs) as stack:
        say(f"Local runtime on {stack.endpoint} (moto); EMR simulated, fast clock x{stack.clock.speedup:g}.")
        deployed = stack.deploy_jobs()
        say(f"Deployed job(s) {', '.join(deployed.jobs)}: {len(deployed.uploaded)} object(s) to the artifacts bucket.")

        good_csv = generate_inspections()
        expected = expected_red_counts(good_csv)
        good = run_and_report(stack, say, "1. inspection records land in S3", landing(stack, GOOD_KEY, good_csv))
        check_output(stack, say, good, expected)
        good.checks["execution SUCCEEDED"] = good.outcome == "SUCCEEDED"
        good.checks["cluster TERMINATED"] = good.cluster_state == "TERMINATED"
        good.checks[SUCCESS_COST_CHECK] = success_notice_costed(good)
        show_cost(stack, say, good, cluster_partition(good))

        bad = run_and_report(
            stack,
            say,
            "2. a file with a renamed column lands in S3",
            landing(stack, BAD_KEY, generate_malformed_inspections()),
        )
        bad.checks["execution FAILED"] = bad.status == "FAILED"
        bad.checks["cluster TERMINATED"] = bad.cluster_state == "TERMINATED"
        bad.checks["failure notification gives the reason"] = any(
            "violation_type" in n["message"] for n in bad.notifications if n["attributes"].get("severity") == "ERROR"
        )
        show_cost(stack, say, bad, cluster_partition(bad))

        show_ledger(stack, say, good, bad)
        reaped = reap_idle_clusters(stack, say)
        spark_runs = run_spark_parts(stack, say, expected, deployed)

        if runs_page:
            from emr_autopilot_devkit.runs_page import write_runs_page

            # No console links: the local runtime's clusters are in no console.
            shown = write_runs_page(runs_page, stack.outputs, region=None, now=stack.clock.now())
            say(f"\nThe runs as a page (emr-autopilot runs --html): {runs_page.resolve()} ({shown} runs).")
        runs = [good, bad, reaped, *spark_runs]
        passed = all(all(run.checks.values()) for run in runs)
        summarise(say, runs)
        say(f"\nDemo {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.1f}s.")
        if report_path:
            report = {"passed": passed, "endpoint": stack.endpoint, "runs": [run.__dict__ for run in runs]}
            report_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
            say(f"Report written to {report_path}.")
    return passed


def run_spark_parts(
    stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]], deployed: Any
) -> list[RunReport]:
    """Parts 5 to 13, or, without Java or PySpark, each reported as not run."""
    missing = spark_toolchain().missing
    if missing:
        say(f"\nParts 5 to 13 (Spark) not run: {missing}.")
        labels = (spark.LABEL, livy.LABEL, serverless.GOOD_LABEL, serverless.BAD_LABEL, *packaged.LABELS, *eks.LABELS)
        return [RunReport(label=label, not_run=missing) for label in labels]
    ec2 = spark.run_spark_job(stack, say, expected)
    ec2.checks[COST_CHECK] = show_cost(stack, say, ec2, cluster_partition(ec2))
    livy_run = livy.run_livy_batch(stack, say, expected)
    serverless_runs = serverless.run_serverless_jobs(stack, say, expected, ec2)
    packaged_runs = packaged.run_packaged_jobs(stack, say, expected, deployed)
    eks_runs = eks.run_eks_jobs(stack, say, expected, [ec2, serverless_runs[0]])
    return [ec2, livy_run, *serverless_runs, *packaged_runs, *eks_runs]


def summarise(say: Printer, runs: list[RunReport]) -> None:
    say("\nCost per run (from the ledger):")
    for run in runs:
        if run.cost:
            say(f"   run {run.label.split('.')[0]} {run.execution_name}: {run.cost}")
    say()
    for run in runs:
        for check, ok in run.checks.items():
            say(f"   [{'ok' if ok else 'FAILED'}] run {run.label.split('.')[0]}: {check}")
        if run.not_run:
            say(f"   [not run] run {run.label.split('.')[0]}: {run.label.split('. ', 1)[-1]} (needs Java and PySpark)")


def cluster_partition(report: RunReport) -> str | None:
    """The ledger partition of an EC2 run: its cluster's."""
    return f"CLUSTER#{report.cluster_id}" if report.cluster_id else None
