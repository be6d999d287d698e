"""Figure 8, cluster time lost while Step Functions has not yet noticed that a step ended (issue 21).

The Step Functions developer guide, "Call Amazon EMR with Step Functions" (connect-emr): for the
EMR integration Step Functions "has a hard-coded 60 seconds job polling frequency for the first 10
minutes and 300 seconds after that". Between a step's end and the pipeline's next action (the next
AddJobFlowSteps, or TerminateJobFlows after the last step) the cluster idles, billed.

What runs: the real TransientClusterPipeline in the local runtime, whose addStep.sync polls at that
cadence from the task's start (moto_patches/sfn_emr_integration.py). Each job has k `command` steps
marked `simulate: true`: no process runs, each step is RUNNING for exactly 1 or 60 virtual minutes. The
figure measures orchestration, not Spark.

What is measured, from the emulator's records on the virtual clock: each step's EndDateTime (ListSteps)
and the time of every AddJobFlowSteps and TerminateJobFlows call (the EMR backend, hooked). A step's lag
is the time from its end to the first of those calls at or after it. Cluster-seconds are seconds of the
whole cluster; dollars price them at the sample job's cluster (jobs/red-violations.yaml) with the shipped
price table (emr_autopilot.pricing).

Two runs per (k, step length): steps RUNNING for exactly 1 or 60 minutes, which end on a poll of their
task (the step starts at the AddJobFlowSteps call, the task's polls count from just after it): the best
case; and steps one second longer, which end just after a poll: the worst case.

Time (discrete events): while a run is open the clock runs at wall speed (a transition, a Lambda or an
EMR call takes milliseconds, as in AWS), and a `.sync` task waiting for its next poll leaps the clock to
the next thing EMR has due (a simulated step's end, a cluster's next state) or to the poll, whichever
comes first, and lets EMR catch up there. So a step's EndDateTime is within a fraction of a second of its
due time, a poll at T sees EMR as of T whatever order the machine's threads run in, and the figures
agree from run to run to within tenths of a second per step.
SLACK_SECONDS allows for the wall-speed work between a poll and the next call (a fraction of a second).
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from emr_autopilot_devkit.bench.bench_jobs import command_job, write_jobs
from emr_autopilot_devkit.bench.common import REPO_ROOT, entered_states, say, transitions
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

SECTION = (
    "8. Cluster-s from each step's end to the next AddStep/Terminate (.sync polls 60 s, 300 s after 10 min;"
    " budgets: each lag <= the interval in force + 5 s; +1 s steps: mean >= interval - 2 s)"
)
STEP_COUNTS = (1, 5, 20)
STEP_MINUTES = (1, 60)
SPEEDUP = 1500.0  # outside the runs (deploying the stack)
# Steps RUNNING for whole minutes end on a poll of their task (both start at the AddJobFlowSteps call):
# the best case. One second more and they end just after a poll: the worst case.
ON_POLL, AFTER_POLL = "end on a poll", "+1 s, end just after a poll"
PHASES = {ON_POLL: 0.0, AFTER_POLL: 1.0}
SAMPLE_JOB = REPO_ROOT / "jobs" / "red-violations.yaml"

# connect-emr (quoted above). Written out here, not imported from the runtime, so the budget checks the
# runtime's model against the AWS text rather than against itself.
POLL_FIRST_SECONDS = 60.0
POLL_LATER_SECONDS = 300.0
FIRST_PERIOD_SECONDS = 600.0
# The next call comes after a few state transitions and the poll's own calls, at wall speed: what a lag may
# exceed the poll interval by, locally (usually under half a second; up to 2.6 s seen on a loaded machine).
SLACK_SECONDS = 5.0
# Events mode (`step_completion: events`): the budget, from EMR's step-end event to the next action,
# in the local runtime.
EVENTS_BUDGET_SECONDS = 5.0
# How long (virtual = wall seconds while a run is open) a wait for a token lets the runtime deliver what EMR
# emitted before the clock leaps on: far above a delivery's milliseconds (10 s was once too short on a machine
# at load 10, and a step was then noticed by the wait's recheck), below the 240 s wait.
EVENT_WINDOW_SECONDS = 60.0
EVENTS_SECTION = (
    "8b. step_completion: events - cluster-s from each step's end to the next AddStep/Terminate "
    f"(budget: each <= {EVENTS_BUDGET_SECONDS:.0f} s)"
)


@dataclass(frozen=True)
class StepTimes:
    """One step, on the virtual clock (epoch seconds): when AddJobFlowSteps added it, when it ended."""

    added: float
    ended: float


@dataclass(frozen=True)
class StepLag:
    ended: float
    noticed_by: float  # the next AddJobFlowSteps or TerminateJobFlows call
    lag: float  # cluster-seconds idle
    bound: float  # the poll interval in force when the step ended (connect-emr), before SLACK_SECONDS


def poll_bound(seconds_since_task_start: float) -> float:
    """The longest a step that ends this long after its addStep.sync task started can go unnoticed."""
    return POLL_FIRST_SECONDS if seconds_since_task_start < FIRST_PERIOD_SECONDS else POLL_LATER_SECONDS


def step_lags(steps: Sequence[StepTimes], actions: Sequence[float]) -> list[StepLag]:
    """Each step's lag: from its end to the first action (AddJobFlowSteps or TerminateJobFlows) at or after it.
    The pipeline runs one step at a time (step_concurrency 1), so that action is the one its end waited for.
    A step with no later action raises ValueError: the run did not reach its next call."""
    lags = []
    for step in sorted(steps, key=lambda s: s.ended):
        later = [at for at in actions if at >= step.ended]
        if not later:
            raise ValueError(f"no AddJobFlowSteps or TerminateJobFlows call after a step ended at {step.ended}")
        noticed = min(later)
        lags.append(
            StepLag(
                ended=step.ended,
                noticed_by=noticed,
                lag=noticed - step.ended,
                bound=poll_bound(step.ended - step.added),
            )
        )
    return lags


def dollars(cluster_seconds: float, hourly_usd: float) -> float:
    return cluster_seconds / 3600.0 * hourly_usd


def sample_cluster_hourly(job_path: Path = SAMPLE_JOB) -> tuple[float, str]:
    """The sample job's cluster per hour as it is launched: each fleet's target capacity in its first listed
    instance type (instance groups: their count), Spot at on-demand as emr_autopilot.pricing does."""
    from emr_autopilot.pricing import estimate_from_instances, price_table

    cluster = yaml.safe_load(job_path.read_text(encoding="utf-8"))["cluster"]
    instances: list[tuple[str, str]] = []
    for fleet in cluster.get("instance_fleets") or []:
        first = fleet["instance_types"][0]
        weight = int(first.get("weighted_capacity", 1))
        for key, market in (("target_on_demand_capacity", "ON_DEMAND"), ("target_spot_capacity", "SPOT")):
            units = int(fleet.get(key) or 0)
            instances += [(first["instance_type"], market)] * -(-units // weight)
    for group in cluster.get("instance_groups") or []:
        market = "SPOT" if group.get("market") == "SPOT" else "ON_DEMAND"
        instances += [(group["instance_type"], market)] * int(group.get("instance_count", 1))
    table = price_table()
    estimate = estimate_from_instances(instances, table)
    if estimate.hourly_usd is None:
        raise ValueError(f"the sample job's cluster is not in the price table: {estimate.detail}")
    return estimate.hourly_usd, f"{estimate.detail} ({table.label})"


class _LeapingPolls:
    """While a run is open the clock runs at wall speed, and a `.sync` task's wait for its next poll leaps it.

    Stands in for the runtime's clock inside sfn_emr_integration only (see _polls_leap). A wait leaps the
    clock to the next thing EMR has due (a simulated step's end, a cluster's next state) or to the poll,
    whichever is first, and lets EMR catch up at each (discrete-event time): a step's EndDateTime is its
    due time and a poll at T sees EMR as of T, whatever order the machine's threads happen to run in."""

    def __init__(self, stack: LocalRuntime) -> None:
        self.stack = stack
        self.clock = stack.clock
        self.open = False

    @contextlib.contextmanager
    def run_open(self) -> Iterator[None]:
        with self.clock.real_time():
            self.open = True
            try:
                yield
            finally:
                self.open = False

    def wait_for(self, waiter: Callable[[float], bool], virtual_seconds: float) -> bool:
        if not self.open:
            return self.clock.wait_for(waiter, virtual_seconds)
        deadline = self.clock.timestamp() + max(float(virtual_seconds), 0.0)
        while True:
            now = self.clock.timestamp()
            if now >= deadline:
                return False
            if self._leap(waiter, now, deadline):
                return True

    def _leap(self, waiter: Callable[[float], bool], now: float, deadline: float) -> bool:
        """One leap of a wait that ends at `deadline`; True when the waiter is done."""
        target = min([deadline, *(at for at in self._emr_due() if at > now)])
        self.clock.advance(target - now)
        self._catch_up(target)
        return waiter(0.0005)  # stopped, or the task timed out

    def _emr_due(self) -> list[float]:
        simulator = self.stack.simulator
        due = []
        with simulator.lock:
            for sim in simulator._clusters.values():
                if sim.cluster.state in ("STARTING", "BOOTSTRAPPING", "TERMINATING"):
                    due.append(sim.next_at)
                for step in sim.cluster.steps:
                    if step.state == "RUNNING" and step.start_date_time is not None:
                        due.append(step.start_date_time.timestamp() + simulator.timings.simulated_step)
        return due

    def _catch_up(self, now: float) -> None:
        """Every simulated step due by `now` has ended (its thread noticed the leap) and EMR has ticked."""
        simulator = self.stack.simulator
        give_up = time.monotonic() + 5.0
        while time.monotonic() < give_up:
            with simulator.lock:
                waiting = [
                    step
                    for sim in simulator._clusters.values()
                    for step in sim.cluster.steps
                    if step.state == "RUNNING"
                    and step.id not in simulator._results
                    and step.start_date_time is not None
                    and step.start_date_time.timestamp() + simulator.timings.simulated_step <= now
                ]
            if not waiting:
                break
            time.sleep(0.0002)
        simulator.tick()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clock, name)


class _LeapingWaits(_LeapingPolls):
    """As _LeapingPolls, for a `step_completion: events` task's wait for its token (sfn_callback): the clock leaps
    to the next thing EMR has due, then runs at wall speed while the runtime delivers what EMR emitted there (the
    step's end reaches the EMR event handler, which completes the token). Only with nothing due and nothing
    delivered within EVENT_WINDOW_SECONDS does it leap on, to the wait's end (its WaitSeconds)."""

    def _leap(self, waiter: Callable[[float], bool], now: float, deadline: float) -> bool:
        due = [at for at in self._emr_due() if now < at < deadline]
        if due:  # EMR acts before the wait would end: leap there, then let its events be delivered
            self.clock.advance(min(due) - now)
            self._catch_up(min(due))
            return self.clock.wait_for(waiter, min(EVENT_WINDOW_SECONDS, deadline - self.clock.timestamp()))
        if waiter(0.0005):
            return True
        # Nothing due before the wait's end (a long step's WaitSeconds): leap to it.
        self.clock.advance(max(deadline - self.clock.timestamp(), 0.0))
        return False


@contextlib.contextmanager
def _polls_leap(leaping: _LeapingPolls) -> Iterator[None]:
    from emr_autopilot_devkit.local.moto_patches import sfn_callback, sfn_emr_integration

    original = sfn_emr_integration.active_clock
    original_waits = sfn_callback.active_clock
    waits = _LeapingWaits(leaping.stack)
    waits.open = True
    sfn_emr_integration.active_clock = lambda: leaping  # type: ignore[assignment,return-value]
    sfn_callback.active_clock = lambda: waits  # type: ignore[assignment,return-value]
    try:
        yield
    finally:
        sfn_emr_integration.active_clock = original
        sfn_callback.active_clock = original_waits


@contextlib.contextmanager
def _emr_calls(stack: LocalRuntime, calls: list[tuple[str, float]]) -> Iterator[None]:
    """Records AddJobFlowSteps and TerminateJobFlows on the virtual clock. The simulator ticks when a step is
    added (it starts at once, as the simulator's own next tick would start it) and when a step's simulated
    work ends (EndDateTime is then that moment, not the simulator's next wall-clock tick)."""
    from moto.emr.models import ElasticMapReduceBackend

    backend = ElasticMapReduceBackend
    saved = {name: getattr(backend, name) for name in ("add_job_flow_steps", "terminate_job_flows")}
    simulator = stack.simulator
    original_execute = simulator._execute

    def recording(name: str, operation: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append((operation, stack.clock.timestamp()))
            answer = saved[name](self, *args, **kwargs)
            simulator.tick()
            return answer

        return call

    def execute(cluster: Any, step: Any) -> None:
        original_execute(cluster, step)
        simulator.tick()

    backend.add_job_flow_steps = recording("add_job_flow_steps", "AddJobFlowSteps")  # type: ignore[method-assign]
    backend.terminate_job_flows = recording("terminate_job_flows", "TerminateJobFlows")  # type: ignore[method-assign]
    simulator._execute = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(backend, name, method)
        simulator._execute = original_execute  # type: ignore[method-assign]


@contextlib.contextmanager
def _fine_slices() -> Iterator[None]:
    """Clock waits re-check every 1 ms, not 50 ms: a step's thread notices a leap of the clock at once."""
    from emr_autopilot_devkit.local import clock

    saved = clock._SLICE
    clock._SLICE = 0.001
    try:
        yield
    finally:
        clock._SLICE = saved


def _wait_ended(sfn: Any, arn: str, timeout: float, stack: LocalRuntime | None = None) -> str:
    """Until the execution ends; with `stack`, delivering its events meanwhile (EventBridge's part), every 10 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status != "RUNNING":
            return status
        if stack is not None:
            stack.pump()
        time.sleep(0.01 if stack is not None else 0.02)
    raise TimeoutError(f"execution still running after {timeout:.0f}s: {arn}")


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)


def _completed_steps(stack: LocalRuntime, cluster_id: str) -> list[StepTimes]:
    steps = []
    for step in stack.steps(cluster_id):
        timeline = step["Status"]["Timeline"]
        if step["Status"]["State"] != "COMPLETED" or "EndDateTime" not in timeline:
            raise RuntimeError(f"step {step['Name']} is {step['Status']['State']}")
        steps.append(StepTimes(added=_epoch(timeline["CreationDateTime"]), ended=_epoch(timeline["EndDateTime"])))
    return steps


def _run_row(
    stack: LocalRuntime, calls: list[tuple[str, float]], status: str, flat_bound: float | None = None
) -> dict[str, Any]:
    adds = [at for operation, at in calls if operation == "AddJobFlowSteps"]
    terminates = [at for operation, at in calls if operation == "TerminateJobFlows"]
    clusters = stack.clusters()
    if len(clusters) != 1:
        raise RuntimeError(f"expected one cluster for the run, found {len(clusters)}")
    cluster = clusters[0]
    steps = _completed_steps(stack, cluster["Id"])
    lags = step_lags(steps, adds + terminates)
    if flat_bound is not None:  # events mode: one budget per step, whatever the cadence
        lags = [StepLag(item.ended, item.noticed_by, item.lag, flat_bound - SLACK_SECONDS) for item in lags]
    ready = _epoch(cluster["Status"]["Timeline"]["ReadyDateTime"])
    return {
        "status": status,
        "lags_s": [round(item.lag, 1) for item in lags],
        "bounds_s": [item.bound for item in lags],
        "end_after_add_s": [
            round(item.ended - step.added, 1)
            for item, step in zip(lags, sorted(steps, key=lambda s: s.ended), strict=True)
        ],
        "total_s": round(sum(item.lag for item in lags), 1),
        "mean_s": round(statistics.fmean(item.lag for item in lags), 1),
        "budget_total_s": sum(item.bound + SLACK_SECONDS for item in lags),
        "mean_bound_s": statistics.fmean(item.bound for item in lags),
        "over_bound": [n for n, item in enumerate(lags, 1) if item.lag > item.bound + SLACK_SECONDS],
        # createCluster.sync polls at the same cadence: ready -> first AddJobFlowSteps, reported apart.
        "cluster_ready_to_first_add_s": round(min(adds) - ready, 1) if adds else None,
        "add_calls": len(adds),
        "terminate_calls": len(terminates),
    }


def measure_run(jobs_dir: Path, job: str, step_seconds: float, events: bool = False) -> dict[str, Any]:
    """One run of `job` (from `jobs_dir`) through the real pipeline, each step RUNNING `step_seconds`. `events`:
    the job is `step_completion: events`, and the runtime delivers EMR's events while the run goes on."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    calls: list[tuple[str, float]] = []
    # A fresh runtime per run: the run's cluster is the only one, its records the only ones.
    with LocalRuntime(speedup=SPEEDUP) as stack:
        stack.deploy_jobs(jobs_dir)
        stack.simulator.timings.simulated_step = step_seconds
        context = StackContext.from_stack_outputs(stack.outputs, REGION)
        catalog = load_catalog(stack.outputs["ArtifactsBucketName"])
        leaping = _LeapingPolls(stack)
        sfn = stack.client("stepfunctions")
        started = time.monotonic()
        with _polls_leap(leaping), _fine_slices(), _emr_calls(stack, calls), leaping.run_open():
            run = start_manual_run(catalog, ManualRunRequest(job=job), context, None)
            status = _wait_ended(sfn, run.execution_arn, timeout=600, stack=stack if events else None)
        row = _run_row(stack, calls, status, EVENTS_BUDGET_SECONDS if events else None)
        row["wall_seconds"] = round(time.monotonic() - started, 1)
        history = stack.history(run.execution_arn)
        row["transitions"] = transitions(history)  # for bench section 3
        row["states"] = dict(entered_states(history))
        return row


def measure(step_counts: tuple[int, ...] = STEP_COUNTS, step_minutes: tuple[int, ...] = STEP_MINUTES) -> list[Figure]:
    hourly, priced = sample_cluster_hourly()
    out: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        jobs_dir = write_jobs(
            Path(tmp) / "jobs", [command_job(f"bench-lag-{k}", k, step_completion="polling") for k in step_counts]
        )
        for minutes in step_minutes:
            for k in step_counts:
                runs = {}
                for label, extra in PHASES.items():
                    row = measure_run(jobs_dir, f"bench-lag-{k}", minutes * 60.0 + extra)
                    runs[label] = row
                    say(
                        f"    k={k:>2} {minutes:>2}-min steps, {label}: {row['total_s']} cluster-s lost "
                        f"(mean {row['mean_s']} s/step), {row['wall_seconds']}s wall"
                    )
                out += figures(k, minutes, runs, hourly, priced)
        events_jobs = write_jobs(
            Path(tmp) / "events-jobs",
            [command_job(f"bench-lag-events-{k}", k, step_completion="events") for k in step_counts],
        )
        for minutes in step_minutes:
            for k in step_counts:
                row = measure_run(events_jobs, f"bench-lag-events-{k}", minutes * 60.0 + 1.0, events=True)
                say(
                    f"    k={k:>2} {minutes:>2}-min steps, step_completion: events: {row['total_s']} cluster-s lost "
                    f"(mean {row['mean_s']} s/step), {row['wall_seconds']}s wall"
                )
                out += events_figures(k, minutes, row, hourly, priced)
    return out


def events_figures(k: int, minutes: int, row: Mapping[str, Any], hourly_usd: float, priced: str) -> list[Figure]:
    """Two figures per (k, step length) in events mode: cluster-s lost in the run (budget: 5 s a step), and $."""
    error = None if row["status"] == "SUCCEEDED" else f"the run ended {row['status']}"
    if row["over_bound"]:
        error = f"steps {row['over_bound']} were noticed more than {EVENTS_BUDGET_SECONDS} s after their end"
    return [
        Figure(
            id=f"notice_lag.events.k{k}.{minutes}m.total",
            section=EVENTS_SECTION,
            name=f"k={k}, {minutes}-min steps: cluster-s lost (max {max(row['lags_s']):.1f} s/step, "
            f"${dollars(row['total_s'], hourly_usd):.4f})",
            value=row["total_s"],
            unit="s",
            budget=EVENTS_BUDGET_SECONDS * k,
            error=error,
            detail={
                **row,
                "step_minutes": minutes,
                "steps": k,
                "usd": round(dollars(row["total_s"], hourly_usd), 5),
                "cluster_usd_per_hour": hourly_usd,
                "priced": priced,
            },
        ),
        Figure(
            id=f"notice_lag.events.k{k}.{minutes}m.max",
            section=EVENTS_SECTION,
            name=f"k={k}, {minutes}-min steps: the longest step-end-to-next-action",
            value=max(row["lags_s"]),
            unit="s",
            budget=EVENTS_BUDGET_SECONDS,
        ),
    ]


def figures(
    k: int, minutes: int, runs: Mapping[str, Mapping[str, Any]], hourly_usd: float, priced: str
) -> list[Figure]:
    """Four figures per (k, step length) from its two runs: steps ending on a poll, and 1 s after one."""
    on, after = runs[ON_POLL], runs[AFTER_POLL]
    out = []
    for key, label, row in (("on_poll", ON_POLL, on), ("after_poll", AFTER_POLL, after)):
        error = None if row["status"] == "SUCCEEDED" else f"the run ended {row['status']}"
        if row["over_bound"]:  # the sum can hide one step noticed later than the cadence allows
            error = f"steps {row['over_bound']} were noticed later than the poll interval in force + {SLACK_SECONDS} s"
        out.append(
            Figure(
                id=f"notice_lag.k{k}.{minutes}m.{key}.total",
                section=SECTION,
                name=f"k={k}, {minutes}-min steps, {label}: cluster-s lost (mean {row['mean_s']:.1f} s/step, "
                f"${dollars(row['total_s'], hourly_usd):.3f})",
                value=row["total_s"],
                unit="s",
                budget=row["budget_total_s"],
                error=error,
                detail={
                    **row,
                    "step_minutes": minutes,
                    "steps": k,
                    "usd": round(dollars(row["total_s"], hourly_usd), 4),
                    "cluster_usd_per_hour": hourly_usd,
                    "priced": priced,
                },
            )
        )
    # The cadence is no faster than documented either: a step that ends 1 s after a poll waits for the next.
    out.append(
        Figure(
            id=f"notice_lag.k{k}.{minutes}m.after_poll.mean",
            section=SECTION,
            name=f"k={k}, {minutes}-min steps, {AFTER_POLL}: mean lag per step",
            value=after["mean_s"],
            unit="s",
            budget=after["mean_bound_s"] - 2.0,
            comparison=">=",
        )
    )
    out.append(
        Figure(
            id=f"notice_lag.k{k}.{minutes}m.after_poll.usd",
            section=SECTION,
            name=f"k={k}, {minutes}-min steps, {AFTER_POLL}: that time at ${hourly_usd:.2f}/h (sample job)",
            value=round(dollars(after["total_s"], hourly_usd), 4),
            unit="USD",
            note=f"estimate: {priced}",
        )
    )
    return out
