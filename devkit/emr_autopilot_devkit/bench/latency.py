"""Figure 6, reaction latency in the local runtime (fast clock x600), wall time, 50 runs each:

- S3 put -> StartExecution: from the PutObject call on a key a job's trigger matches, to the run
  starter's StartExecution call (the botocore before-call hook on the application's client). The
  local runtime delivers events when pumped; the benchmark pumps in a tight loop, as `local up` does.
- EMR step failed -> SNS publish: from an "EMR Step Status Change" FAILED event put on the bus (a real
  failed step with its stderr.gz in S3), to EmrEventFunction's Publish call: DescribeStep, the ledger,
  the log tail and the notice. The container is warm for that cluster (its DescribeCluster is cached,
  as after the cluster's earlier events).

One untimed run of each comes first (imports, the catalog's first read). Each execution started is
stopped and the stack settles before the next run, so runs do not queue behind each other. These are
local-runtime figures: in AWS, EventBridge delivery adds its own latency (typically well under a second).
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from emr_autopilot_devkit.bench.bench_jobs import command_job, write_jobs
from emr_autopilot_devkit.bench.calls import AppCalls, Call
from emr_autopilot_devkit.bench.common import say
from emr_autopilot_devkit.bench.event_calls import FAILING_STEP, add_bash_step, create_tagged_cluster
from emr_autopilot_devkit.bench.report import Figure, median, percentile
from emr_autopilot_devkit.local.runtime import LocalRuntime

SECTION = "6. Reaction latency (local runtime, fast clock; wall time, 50 runs)"
RUNS = 50
# Half a second of local processing, so EventBridge's own delivery still fits in one second end to end.
BUDGET_P95_SECONDS = 0.5
PREFIX = "bench-latency/"


def _until(stack: LocalRuntime, counter: AppCalls, mark: int, wanted: Callable[[Call], bool], timeout: float) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in counter.since(mark):
            if wanted(call):
                return call
        stack.pump()
    raise TimeoutError("the reaction did not happen in time")


def _s3_to_start(stack: LocalRuntime, counter: AppCalls, number: int) -> float:
    mark = counter.mark()
    started = time.perf_counter()
    stack.put_object(f"{PREFIX}{number:03d}-{uuid.uuid4().hex[:8]}.csv", "name,violation_type\nA,RED\n")
    call = _until(stack, counter, mark, lambda c: c.service == "stepfunctions" and c.operation == "StartExecution", 30)
    elapsed = call.at - started
    sfn = stack.client("stepfunctions")
    for arn in stack.running_executions():
        sfn.stop_execution(executionArn=arn, error="Benchmark", cause="latency run done")
    stack.settle(timeout=60)
    return elapsed


def _failure_to_publish(stack: LocalRuntime, counter: AppCalls, cluster_id: str, step_id: str) -> float:
    mark = counter.mark()
    started = time.perf_counter()
    stack.emit(
        "EMR Step Status Change",
        cluster_id,
        {
            "severity": "ERROR",
            "actionOnFailure": "CONTINUE",
            "stepId": step_id,
            "name": "failing step",
            "clusterId": cluster_id,
            "state": "FAILED",
            "message": f"Step {step_id} (failing step) failed on cluster {cluster_id}.",
        },
    )
    call = _until(stack, counter, mark, lambda c: c.service == "sns" and c.operation == "Publish", 30)
    elapsed = call.at - started
    stack.settle(timeout=60)
    return elapsed


def _figures(key: str, label: str, samples: list[float]) -> list[Figure]:
    p95 = percentile(samples, 95)
    return [
        Figure(
            id=f"latency.{key}.p95",
            section=SECTION,
            name=f"{label}, p95 (median {median(samples) * 1000:.0f} ms)",
            value=round(p95 * 1000, 1),
            unit="ms",
            budget=BUDGET_P95_SECONDS * 1000,
            detail={
                "median_ms": round(median(samples) * 1000, 1),
                "p95_ms": round(p95 * 1000, 1),
                "max_ms": round(max(samples) * 1000, 1),
                "runs": len(samples),
                "samples_ms": [round(s * 1000, 1) for s in samples],
            },
        )
    ]


def measure(runs: int = RUNS) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp, LocalRuntime() as stack:
        stack.deploy_jobs(write_jobs(Path(tmp) / "jobs", [command_job("bench-latency", 1, trigger_prefix=PREFIX)]))
        cluster_id = create_tagged_cluster(stack)
        step_id = add_bash_step(stack, cluster_id, "failing step", FAILING_STEP)
        stack.settle(timeout=120)
        with AppCalls(only_thread=threading.get_ident()) as counter:
            _s3_to_start(stack, counter, 0)  # untimed: first imports, first catalog read
            starts = [_s3_to_start(stack, counter, n) for n in range(1, runs + 1)]
            say(f"    S3 put -> StartExecution: median {median(starts) * 1000:.0f} ms")
            _failure_to_publish(stack, counter, cluster_id, step_id)  # untimed
            publishes = [_failure_to_publish(stack, counter, cluster_id, step_id) for _ in range(runs)]
            say(f"    step failed -> SNS publish: median {median(publishes) * 1000:.0f} ms")
    return _figures("s3_put_to_start_execution", "S3 put -> StartExecution", starts) + _figures(
        "step_failed_to_sns_publish", "EMR step failed -> SNS publish", publishes
    )
