"""State transitions per job-run run (figures 3b and 3c: ServerlessPipeline, EksPipeline), measured the same way.

A transition is a state entered (one `*StateEntered` history event, Map iterations included), as in figure 3.
Each run is a job of k spark-submit steps whose entry point is a one-line PySpark program, run for real on local
PySpark by the local runtime (a JVM start per job run: k = 1 and 3 keep each figure under a minute). Without Java or
PySpark the runs cannot succeed, and the figures say so instead of counting a failed run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.bench.bench_jobs import write_jobs
from emr_autopilot_devkit.bench.common import entered_states, say, transitions
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

ENTRY_POINT = "bench_tiny/count.py"
PROGRAM = "from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate().range(10).count()\n"


def budget(steps: int) -> int:
    """The same budget as the cluster pipeline's: 2k + 8."""
    return 2 * steps + 8


def steps(count: int) -> list[dict[str, Any]]:
    return [{"name": f"step {number}", "type": "spark-submit", "script": ENTRY_POINT} for number in range(1, count + 1)]


@dataclass(frozen=True)
class Target:
    """One figure's target: `job(name, k, stack)` is the job of k steps (the stack for what it must find there,
    e.g. a virtual cluster); `name` the figure's wording, with {k}."""

    word: str  # in figure ids and job names: transitions.<word>.k<k>
    section: str
    name: str
    job: Callable[[str, int, LocalRuntime], dict[str, Any]]


def measure(target: Target, step_counts: tuple[int, ...]) -> list[Figure]:
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    figures = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{target.word}-") as tmp, LocalRuntime() as stack:
        jobs = [target.job(f"bench-{target.word}-{k}", k, stack) for k in step_counts]
        jobs_dir = write_jobs(Path(tmp) / "jobs", jobs)
        (jobs_dir / ENTRY_POINT).parent.mkdir(parents=True)
        (jobs_dir / ENTRY_POINT).write_text(PROGRAM, encoding="utf-8")
        stack.deploy_jobs(jobs_dir)
        context = StackContext.from_stack_outputs(stack.outputs, REGION)
        catalog = load_catalog(stack.outputs["ArtifactsBucketName"])
        sfn = stack.client("stepfunctions")
        for k in step_counts:
            started = time.monotonic()
            run = start_manual_run(catalog, ManualRunRequest(job=f"bench-{target.word}-{k}"), context, None)
            stack.settle(timeout=600)
            status = sfn.describe_execution(executionArn=run.execution_arn)["status"]
            history = stack.history(run.execution_arn)
            count = transitions(history)
            detail = {"status": status, "states": dict(entered_states(history)), "wall_seconds": 0.0}
            detail["wall_seconds"] = round(time.monotonic() - started, 1)
            say(f"    k={k}: {count} transitions ({status}), {detail['wall_seconds']}s")
            figures.append(
                Figure(
                    id=f"transitions.{target.word}.k{k}",
                    section=target.section,
                    name=target.name.format(k=k),
                    value=count,
                    unit="",
                    budget=budget(k),
                    error=None if status == "SUCCEEDED" else f"the run did not succeed: {status}",
                    detail=detail,
                )
            )
    return figures
