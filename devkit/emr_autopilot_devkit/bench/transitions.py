"""Figure 3, state transitions per pipeline run (Standard workflows bill per state transition).

Definition: a transition is a state entered, i.e. one `*StateEntered` event in the execution history,
counting the states inside Map iterations; that is what AWS bills ("each time a step of your workflow
is executed"). Retries would add transitions too; these runs have none (no faults are injected).

Each run is a job of k `command` steps the EMR simulator simulates for 1 or 60 virtual minutes. It runs
twice, side by side on the same local runtime and the same input: through the real
TransientClusterPipeline with `step_completion: polling` (the `.sync` integrations) and through a
benchmark-only polling design (polling_pipeline.asl.json, never deployed: aws-sdk Describe* calls in
Wait/Choice loops every 30 s). Then once more, on a runtime of its own and section 8's clock, with
`step_completion: events` (the default), whose count grows with a step's length: each 240 s wait that ends
before the step does adds two states.

Time: the polling design's count depends on virtual time, so the local runtime's own overhead must
not eat into its 30 s Waits, nor make EMR look slower than it is. For this figure only:
- while a polling run is open the fast clock is held at wall speed and runs fast only inside its
  Wait states (in AWS a transition or a Describe call takes milliseconds). A Wait runs fast until
  EARLY virtual seconds before its end and then jumps the clock to its exact end, so a thread's
  wake-up delay does not stretch it;
- clock waits re-check the time every 2 ms (not 50 ms), and the EMR simulator is brought up to date
  whenever a step is added or a cluster or step is described (its own tick runs every 5 ms of wall
  time, i.e. several virtual seconds here).
Each poll is then 30 virtual seconds apart and sees EMR as of that moment: the figures report polls
per step, which come out at minutes x 2. The stack runs at x1500, so an hour-long step takes about 4 s.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.bench import step_notice_lag
from emr_autopilot_devkit.bench.bench_jobs import command_job, write_jobs
from emr_autopilot_devkit.bench.common import entered_states, say, transitions
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REGION, LocalRuntime

SECTION = "3. State transitions per run (StateEntered events; .sync and events modes vs a polling design)"
POLLING_ASL = Path(__file__).with_name("polling_pipeline.asl.json")
STEP_COUNTS = (1, 5, 20)
STEP_MINUTES = (1, 60)
SPEEDUP = 1500.0
POLL_SECONDS = 30


def budget(steps: int) -> int:
    return 2 * steps + 8


# step_completion: events (the default) has one state per step more than polling (the request-response AddStep,
# then the wait), and two more for each 240 s wait that ends before the step does (StepEndRecheck, WaitForStepEnd
# again; emr_autopilot.runs STEP_WAIT_SECONDS): at most ceil(length / 240 s) of them for the bench's steps, which
# end 1 s past whole minutes (a 60-minute step: 15 waits time out, the 16th is ended by the step's event).
def events_budget(steps: int, minutes: int) -> int:
    from emr_autopilot.runs import STEP_WAIT_SECONDS

    rechecks = -(-minutes * 60 // STEP_WAIT_SECONDS)
    return steps * (3 + 2 * rechecks) + 8


class _WaitOnlyClock:
    """While active, the fast clock runs at wall speed except inside Wait states."""

    def __init__(self, clock: FastClock) -> None:
        self.clock = clock
        self.active = False
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        with self.clock.real_time():
            self.active = True
            try:
                yield
            finally:
                self.active = False

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        clock = self.clock
        if not self.active:
            yield
            return
        # FastClock keeps a count of holders; drop ours for the Wait, as real_time() would on exit.
        with clock._lock:
            clock._virtual0, clock._real0 = clock._now_locked(), time.monotonic()
            clock._holds -= 1
        try:
            yield
        finally:
            with clock._lock:
                clock._virtual0, clock._real0 = clock._now_locked(), time.monotonic()
                clock._holds += 1

    def wait(self, env: Any, seconds: float) -> None:
        """A Wait state: fast until EARLY virtual seconds before its end, then a jump to the exact end."""
        if not self.active:
            self.clock.wait_for(env.program_state_event.wait, seconds)
            return
        start = self.clock.timestamp()
        with self.released():
            stopped = self.clock.wait_for(env.program_state_event.wait, max(seconds - EARLY, 0.0))
        left = seconds - (self.clock.timestamp() - start)
        if not stopped and left > 0:
            self.clock.advance(left)


EARLY = 5.0  # virtual seconds: 3 ms at x1500, more than a thread's usual wake-up delay


@contextlib.contextmanager
def _waits_release(hold: _WaitOnlyClock) -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    original = WaitFunction._wait_interval

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            hold.wait(env, float(wait_seconds))

    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]
    try:
        yield
    finally:
        WaitFunction._wait_interval = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _fine_slices() -> Iterator[None]:
    """Clock waits re-check the time every 2 ms instead of 50 ms: a simulated step whose end falls inside
    a Wait's final jump is noticed within 2 ms of wall time, not one or two polling loops later."""
    from emr_autopilot_devkit.local import clock

    saved = clock._SLICE
    clock._SLICE = 0.002
    try:
        yield
    finally:
        clock._SLICE = saved


@contextlib.contextmanager
def _emr_current(stack: LocalRuntime) -> Iterator[None]:
    """EMR answers with its state as of now: the simulator is brought up to date when a step is added
    and before a cluster or step is described. Its own tick runs every 5 ms of wall time, which under
    load is tens of virtual seconds at this speed, and would make a step look longer than it ran."""
    from moto.emr.models import ElasticMapReduceBackend

    backend = ElasticMapReduceBackend
    saved = {name: getattr(backend, name) for name in ("describe_cluster", "describe_step", "add_job_flow_steps")}

    def describing(name: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            stack.simulator.tick()
            return saved[name](self, *args, **kwargs)

        return call

    def add_job_flow_steps(self: Any, *args: Any, **kwargs: Any) -> Any:
        added = saved["add_job_flow_steps"](self, *args, **kwargs)
        stack.simulator.tick()
        return added

    backend.describe_cluster = describing("describe_cluster")  # type: ignore[method-assign]
    backend.describe_step = describing("describe_step")  # type: ignore[method-assign]
    backend.add_job_flow_steps = add_job_flow_steps  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(backend, name, method)


def _wait_ended(sfn: Any, arns: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {arn: sfn.describe_execution(executionArn=arn)["status"] for arn in arns}
        if all(status != "RUNNING" for status in statuses.values()):
            return statuses
        time.sleep(0.05)
    raise TimeoutError(f"executions still running after {timeout:.0f}s: {statuses}")


def measure(step_counts: tuple[int, ...] = STEP_COUNTS, step_minutes: tuple[int, ...] = STEP_MINUTES) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        events_dir = write_jobs(
            Path(tmp) / "events-jobs",
            [command_job(f"bench-events-{k}", k, step_completion="events") for k in step_counts],
        )
        # The events runs first, each on a fresh runtime of its own and bench section 8's clock: EMR's events are
        # delivered at wall speed while a run waits (at x1500, a 240 s wait is 0.16 s of wall time, less than
        # delivering an event takes, and every step would look rechecked). Steps 1 s past whole minutes, as there.
        events_runs = {
            (k, minutes): step_notice_lag.measure_run(events_dir, f"bench-events-{k}", minutes * 60.0 + 1.0, True)
            for minutes in step_minutes
            for k in step_counts
        }
        rows = _sync_and_polling_rows(Path(tmp), step_counts, step_minutes, events_runs)
    return _figures(rows, step_counts, step_minutes)


def _sync_and_polling_rows(
    tmp: Path,
    step_counts: tuple[int, ...],
    step_minutes: tuple[int, ...],
    events_runs: dict[tuple[int, int], dict[str, Any]],
) -> list[dict[str, Any]]:
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    rows: list[dict[str, Any]] = []
    with LocalRuntime(speedup=SPEEDUP) as stack:
        jobs = [command_job(f"bench-steps-{k}", k, step_completion="polling") for k in step_counts]
        jobs_dir = write_jobs(tmp / "jobs", jobs)
        stack.deploy_jobs(jobs_dir)
        sfn = stack.client("stepfunctions")
        polling_arn = sfn.create_state_machine(
            name="bench-polling-pipeline",
            definition=POLLING_ASL.read_text(encoding="utf-8"),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/bench-polling-pipeline",
            type="STANDARD",
        )["stateMachineArn"]
        context = StackContext.from_stack_outputs(stack.outputs, REGION)
        catalog = load_catalog(stack.outputs["ArtifactsBucketName"])
        hold = _WaitOnlyClock(stack.clock)
        with _waits_release(hold), _fine_slices(), _emr_current(stack):
            for minutes in step_minutes:
                stack.simulator.timings.simulated_step = minutes * 60.0
                for k in step_counts:
                    events_run = events_runs[(k, minutes)]
                    started = time.monotonic()
                    virtual_start = stack.clock.timestamp()
                    with hold.holding():  # only while the polling run is open
                        sync = start_manual_run(catalog, ManualRunRequest(job=f"bench-steps-{k}"), context, None)
                        document = sfn.describe_execution(executionArn=sync.execution_arn)["input"]
                        polling = sfn.start_execution(
                            stateMachineArn=polling_arn, name=f"polling-{k}-{minutes}m", input=document
                        )["executionArn"]
                        statuses = _wait_ended(sfn, [polling], timeout=900)
                    statuses.update(_wait_ended(sfn, [sync.execution_arn], timeout=900))
                    sync_history = stack.history(sync.execution_arn)
                    polling_history = stack.history(polling)
                    states = entered_states(polling_history)
                    loops = {
                        "cluster_start": states["DescribeCluster"],
                        "per_step": round(states["DescribeStep"] / k, 1),
                        "termination": states["DescribeTerminating"],
                    }
                    row: dict[str, Any] = {
                        "steps": k,
                        "step_minutes": minutes,
                        "sync": transitions(sync_history),
                        "polling": transitions(polling_history),
                        "events": events_run["transitions"],
                        "sync_status": statuses[sync.execution_arn],
                        "events_status": events_run["status"],
                        "events_states": events_run["states"],
                        "polling_status": statuses[polling],
                        "sync_states": dict(entered_states(sync_history)),
                        "polling_loops": loops,
                        "polls_per_step_expected": round(minutes * 60 / POLL_SECONDS),
                        "virtual_minutes": round((stack.clock.timestamp() - virtual_start) / 60, 1),
                        "wall_seconds": round(time.monotonic() - started, 1),
                    }
                    rows.append(row)
                    say(
                        f"    k={k:>2} {minutes:>2}-min steps: .sync {row['sync']} transitions, "
                        f"events {row['events']}, polling {row['polling']} ({loops['per_step']} polls/step), "
                        f"{row['wall_seconds']}s"
                    )
    return rows


def _figures(rows: list[dict[str, Any]], step_counts: tuple[int, ...], step_minutes: tuple[int, ...]) -> list[Figure]:
    figures = []
    by_key = {(row["steps"], row["step_minutes"]): row for row in rows}
    for row in rows:
        k, minutes = row["steps"], row["step_minutes"]
        ok = row["sync_status"] == row["polling_status"] == "SUCCEEDED"
        figures.append(
            Figure(
                id=f"transitions.sync.k{k}.{minutes}m",
                section=SECTION,
                name=f".sync pipeline, k={k}, {minutes}-min steps (budget 2k+8)",
                value=row["sync"],
                unit="",
                budget=budget(k),
                error=None if ok else f"a run did not succeed: {row['sync_status']} / {row['polling_status']}",
                detail=row,
            )
        )
        figures.append(
            Figure(
                id=f"transitions.events.k{k}.{minutes}m",
                section=SECTION,
                name=f"events mode, k={k}, {minutes}-min steps (budget k x (3 + 2 x ceil(step / 240 s)) + 8)",
                value=row["events"],
                unit="",
                budget=events_budget(k, minutes),
                error=None if row["events_status"] == "SUCCEEDED" else f"the run ended {row['events_status']}",
                note="the default mode: grows with step length, 2 transitions per 240 s a step runs",
                detail={"states": row["events_states"]},
            )
        )
        figures.append(
            Figure(
                id=f"transitions.polling.k{k}.{minutes}m",
                section=SECTION,
                name=f"polling design (30 s), k={k}, {minutes}-min steps: x{row['polling'] / row['sync']:.1f}",
                value=row["polling"],
                unit="",
                note="benchmark-only ASL with Wait/Choice/Describe loops; informational",
                detail={"ratio_polling_to_sync": round(row["polling"] / row["sync"], 2), **row["polling_loops"]},
            )
        )
    if len(step_minutes) > 1:
        short, long = min(step_minutes), max(step_minutes)
        for k in step_counts:
            if (k, short) in by_key and (k, long) in by_key:
                difference = by_key[(k, long)]["sync"] - by_key[(k, short)]["sync"]
                figures.append(
                    Figure(
                        id=f"transitions.sync.k{k}.long_minus_short",
                        section=SECTION,
                        name=f".sync pipeline, k={k}: {long}-min minus {short}-min steps",
                        value=difference,
                        unit="",
                        budget=0,
                        comparison="==",
                        note="the same number of transitions whatever a step lasts",
                    )
                )
    return figures
