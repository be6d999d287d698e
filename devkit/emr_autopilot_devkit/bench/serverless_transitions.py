"""Figure 3b, state transitions per EMR Serverless run (ServerlessPipeline; Standard workflows bill per transition).

A transition is a state entered (one `*StateEntered` history event, Map iterations included), as in figure 3.
Each run is a serverless job of k spark-submit steps whose entry point is a one-line PySpark program, run for
real on local PySpark by the local runtime (a JVM start per job run: k = 1 and 3 keep this under a minute);
the job asks for its application to be started first and stopped after the run, so every optional state runs.
Without Java or PySpark the runs cannot succeed, and the figures say so instead of counting a failed run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.bench.bench_jobs import write_jobs
from emr_autopilot_devkit.bench.common import say
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.bench.transitions import entered_states, transitions
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

SECTION = "3b. State transitions per EMR Serverless run (StateEntered events)"
STEP_COUNTS = (1, 3)
ENTRY_POINT = "bench_tiny/count.py"
PROGRAM = "from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate().range(10).count()\n"


def budget(steps: int) -> int:
    """The same budget as the cluster pipeline's: 2k + 8."""
    return 2 * steps + 8


def serverless_job(name: str, steps: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark job (make bench)",
        "compute": "emr-serverless",
        "serverless": {
            "application": {"release_label": "emr-7.5.0", "auto_start": False},
            "start_application_first": True,
            "stop_application_after_run": True,
        },
        "steps": [
            {"name": f"step {number}", "type": "spark-submit", "script": ENTRY_POINT} for number in range(1, steps + 1)
        ],
        "run_timeout": "1h",
    }


def measure(step_counts: tuple[int, ...] = STEP_COUNTS) -> list[Figure]:
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-serverless-") as tmp, LocalRuntime() as stack:
        jobs_dir = write_jobs(Path(tmp) / "jobs", [serverless_job(f"bench-serverless-{k}", k) for k in step_counts])
        (jobs_dir / ENTRY_POINT).parent.mkdir(parents=True)
        (jobs_dir / ENTRY_POINT).write_text(PROGRAM, encoding="utf-8")
        stack.deploy_jobs(jobs_dir)
        context = StackContext.from_stack_outputs(stack.outputs, REGION)
        catalog = load_catalog(stack.outputs["ArtifactsBucketName"])
        sfn = stack.client("stepfunctions")
        for k in step_counts:
            started = time.monotonic()
            run = start_manual_run(catalog, ManualRunRequest(job=f"bench-serverless-{k}"), context, None)
            stack.settle(timeout=600)
            status = sfn.describe_execution(executionArn=run.execution_arn)["status"]
            history = stack.history(run.execution_arn)
            count = transitions(history)
            detail = {"status": status, "states": dict(entered_states(history)), "wall_seconds": 0.0}
            detail["wall_seconds"] = round(time.monotonic() - started, 1)
            say(f"    k={k}: {count} transitions ({status}), {detail['wall_seconds']}s")
            figures.append(
                Figure(
                    id=f"transitions.serverless.k{k}",
                    section=SECTION,
                    name=f"ServerlessPipeline, k={k} job runs, start first and stop after (budget 2k+8)",
                    value=count,
                    unit="",
                    budget=budget(k),
                    error=None if status == "SUCCEEDED" else f"the run did not succeed: {status}",
                    detail=detail,
                )
            )
    return figures
