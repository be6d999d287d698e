"""The fault matrix: the state machines, run on the local runtime with a fault injected at every state.

Each cell is one run on a fresh local runtime (moto, the real ASL, the real handlers, simulated EMR
and Livy) with one fault: an EMR, SNS or Livy error, throttling that ends or that outlasts the
state's retries, a failed step or batch, a failed bootstrap, a Spot capacity timeout, a stop
(StopExecution) or a timeout in that state, a Lambda that raises, an event delivered twice or out
of order. When everything has settled, the cell checks what must hold whatever went wrong:

- no cluster the run created is left running (STARTING .. TERMINATING), and a long-running cluster
  the run only used is left as it was;
- no Livy batch is left running on a cluster that still runs;
- for ServerlessPipeline (its cells and extra checks: reliability_serverless), no EMR Serverless job run is left
  active, at most one per step, and the application is not left STARTED;
- for EksPipeline (reliability_eks), no EMR on EKS job run is left active, at most one per step;
- exactly one terminal notification: for TransientClusterPipeline event_type RUN_SUCCEEDED,
  RUN_FAILED, RUN_ABORTED or RUN_TIMED_OUT; for LivyBatchPipeline LIVY_BATCH_SUCCEEDED,
  LIVY_BATCH_FAILED, LIVY_RUN_ABORTED, LIVY_RUN_TIMED_OUT or LIVY_RUN_FAILED. Every other notice
  (STEP_FAILED, CLUSTER_FAILED, CAPACITY, the janitors' RUN_CLEANUP / LIVY_RUN_CLEANUP, ...) is
  not terminal, and no notice at all may be sent twice;
- the run ledger shows the true outcome: for every cluster involved, the ledger's state and each
  step's state are EMR's final ones;
- the execution ended as expected, and the fault was really injected (a cell whose fault never
  fired proves nothing and fails); where the count is the proof, it acted exactly that often (one
  refused call: no retry; seven throttled calls: the first and the ASL's 6 retries);
- where the cell says so, the terminal notice carries the error's own message (EMR's, for example).

`emr-autopilot local reliability [--full]` prints the matrix and writes reliability-report.json;
tests/integration/test_reliability.py runs the slice (`Cell.in_slice`) in `make test`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

import yaml

from emr_autopilot import emr
from emr_autopilot_devkit import reliability_eks as eks
from emr_autopilot_devkit import reliability_serverless as serverless
from emr_autopilot_devkit import reliability_step_events as step_events
from emr_autopilot_devkit.local.emr_eks_simulator import EksTimings
from emr_autopilot_devkit.local.emr_serverless_simulator import ServerlessTimings
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.livy_server import primary_dns
from emr_autopilot_devkit.local.runtime import REPO_ROOT, LocalRuntime, Notification
from emr_autopilot_devkit.reliability_job_runs import TERMINAL_EVENT_TYPES as JOB_RUN_TERMINAL_EVENT_TYPES

PIPELINE, LIVY, SERVERLESS, EKS = "TransientClusterPipeline", "LivyBatchPipeline", serverless.SERVERLESS, eks.EKS
MACHINE_WORDS = {PIPELINE: "pipeline", LIVY: "livy", SERVERLESS: "serverless", EKS: "eks"}  # in cell ids, the table
TERMINAL_EVENT_TYPES = {
    PIPELINE: frozenset({"RUN_SUCCEEDED", "RUN_FAILED", "RUN_ABORTED", "RUN_TIMED_OUT"}),
    LIVY: frozenset(
        {"LIVY_BATCH_SUCCEEDED", "LIVY_BATCH_FAILED", "LIVY_RUN_ABORTED", "LIVY_RUN_TIMED_OUT", "LIVY_RUN_FAILED"}
    ),
    SERVERLESS: JOB_RUN_TERMINAL_EVENT_TYPES,
    EKS: JOB_RUN_TERMINAL_EVENT_TYPES,
}
RUNNING_CLUSTER_STATES = frozenset(emr.NOT_TERMINATED)
FINAL_BATCH_STATES = frozenset({"success", "dead", "killed", "error"})
FOREVER = 10**6  # "until the run has given up": lifted when the execution ends
JOB = "reliability"
SAMPLE_JOB = "red-violations"
# A command this machine does not have, in a step marked `simulate: true`: not run; it takes
# Timings.simulated_step virtual seconds.
SIMULATED = ["hadoop", "jar", "/usr/lib/hadoop-mapreduce/hadoop-mapreduce-examples.jar", "pi", "10", "100"]
QUICK = Timings(starting=60, bootstrapping=30, terminating=30, simulated_step=60)
STOPPED_BY = ("Operator", "stopped by the fault matrix")


# -- the cells --------------------------------------------------------------------------------------
Arrange = Callable[["Run"], None]


@dataclass(frozen=True)
class Cell:
    machine: str  # PIPELINE, LIVY, SERVERLESS or EKS
    fault: str
    state: str
    expect: str  # the execution's status at the end
    arrange: Arrange
    variant: str = ""  # tells two cells of one (fault, state) apart, e.g. the Livy cluster kind
    expect_error: str | None = None  # the execution's error, when the fault decides it
    expect_fired: int | None = None  # how often the fault acted, when that is the proof (a retry bound, no retry)
    notice_says: str | None = None  # text the terminal notice must carry (e.g. EMR's own message)
    timings: Timings = field(default_factory=lambda: QUICK)
    serverless_timings: ServerlessTimings | None = None  # the EMR Serverless simulator's; None: its defaults
    eks_timings: EksTimings | None = None  # the EMR on EKS simulator's; None: its defaults
    job: dict[str, Any] = field(default_factory=dict)  # overrides of the pipeline (or serverless) job
    livy: str = "long-running"  # "long-running": a team's cluster; "transient": the run creates one
    livy_run: dict[str, Any] = field(default_factory=dict)  # the Livy run's `run` options
    cluster_request: dict[str, Any] = field(default_factory=dict)  # fields added to a transient Livy run's request
    # The cluster may end by its AutoTerminationPolicy (the idle timeout); the serverless application by its auto-stop.
    backstop: bool = False
    in_slice: bool = False  # part of the pytest slice that `make test` runs
    must_enter: tuple[str, ...] = ()  # states the run must enter: proof it took the path the cell is about

    @property
    def id(self) -> str:
        return ":".join(part for part in (MACHINE_WORDS[self.machine], self.fault, self.state, self.variant) if part)


# -- one run under a fault ----------------------------------------------------------------------------
class InjectedFault(Exception):
    """What an injected Lambda failure raises (the ASL sees this class name as the error)."""


@dataclass
class _LambdaFault:
    when: str  # "before": raises instead of running; "after": runs, then raises; "stop": runs, then StopExecution
    left: int
    per_event: bool = False  # once for each distinct event, not `left` times in all
    seen: set[str] = field(default_factory=set)


class Run:
    """The harness around one cell's stack: the faults it arms, when, and what happened."""

    def __init__(self, cell: Cell, stack: LocalRuntime) -> None:
        self.cell = cell
        self.stack = stack
        self.hits: Counter[str] = Counter()  # fault -> times it fired
        self.entered: list[str] = []  # states entered, in order (Map iterations included)
        self.execution_arn: str | None = None
        self.long_running: str | None = None  # a cluster the run uses but did not create
        self._on_state: dict[str, list[Callable[[], None]]] = {}
        self._when: list[tuple[Callable[[], bool], Callable[[], None], str]] = []
        self._proofs: list[tuple[Callable[[], bool], str]] = []
        self._lambda: dict[str, _LambdaFault] = {}
        self._sns: dict[str, int] = {}  # "throttle" | "error" -> publishes left to refuse
        self.internal: dict[str, int] = {}  # EMR backend method -> calls left to answer InternalServerError
        self._armed: dict[tuple[str, str], int] = {}  # (kind, method) -> count armed, to count what fired
        self._lift_on_end = False
        self._duplicate: tuple[int, frozenset[str]] | None = None
        self._held: list[tuple[str, dict[str, Any]]] = []  # EMR events held back (out of order)
        self._hold_emr = False
        self._deliver_later: Callable[[str, dict[str, Any]], None] = stack.enqueue
        self._ended = False
        self._lock = threading.Lock()

    # -- what a cell arranges ------------------------------------------------------------------
    def on_state(self, state: str, action: Callable[[], None]) -> None:
        """`action` runs in the interpreter's thread when `state` is first entered, before it does anything."""
        self._on_state.setdefault(state, []).append(action)

    def when(self, predicate: Callable[[], bool], action: Callable[[], None], what: str) -> None:
        """`action` once, as soon as `predicate()` holds (checked between deliveries)."""
        self._when.append((predicate, action, what))

    def emr(self, kind: str, method: str, count: int, at: str | None = None) -> None:
        """EMR answers `count` calls of a backend method with throttling ("throttle"), a ValidationException
        ("errors") or its modeled InternalServerError ("internal"), armed when state `at` is entered (else at once)."""

        def arm() -> None:
            self._emr_faults(kind)[method] = count
            self._armed[(kind, method)] = count

        self.on_state(at, arm) if at else arm()

    def sns(self, kind: str, count: int, at: str) -> None:
        """SNS refuses the next `count` terminal notices (throttled or AuthorizationError) from state `at` on."""

        def arm() -> None:
            self._sns[kind] = count

        self.on_state(at, arm)

    def lambda_fault(self, function: str, when: str, count: int = 1, per_event: bool = False) -> None:
        self._lambda[function] = _LambdaFault(when, count, per_event)

    def livy_http(self, count: int, status: int, at: str) -> None:
        """Livy answers the next `count` requests with `status`, from state `at` on."""

        def arm() -> None:
            faults = self.stack.livy.faults
            faults.http_error_status, faults.http_errors = status, count
            self._armed[("livy", str(status))] = count

        self.on_state(at, arm)

    def lift_on_end(self) -> None:
        """Faults last until the run has given up: the cleanup after it meets a working API."""
        self._lift_on_end = True

    def duplicate(self, times: int, functions: frozenset[str]) -> None:
        """EventBridge delivers each event for these functions `times` times (the same id, time and detail)."""
        self._duplicate = (times, functions)

    def emr_events_out_of_order(self) -> None:
        """Hold every EMR event back and deliver them, newest first, once the execution has ended."""
        self._hold_emr = True

    def proof(self, check: Callable[[], bool], what: str) -> None:
        """For a fault the simulator acts out itself (a failed step, bootstrap, ...): how to tell it happened."""
        self._proofs.append((check, what))

    def stop_execution(self) -> None:
        sfn = self.stack.client("stepfunctions")
        for arn in self.stack.running_executions():
            sfn.stop_execution(executionArn=arn, error=STOPPED_BY[0], cause=STOPPED_BY[1])

    # -- hooks the patches call ---------------------------------------------------------------
    def state_entered(self, name: str) -> None:
        with self._lock:
            first = name not in self.entered
            self.entered.append(name)
            actions = self._on_state.pop(name, []) if first else []
        for action in actions:
            action()

    def execution_ended(self) -> None:
        with self._lock:
            self._ended = True
        if self._lift_on_end:
            self._lift()

    def _lift(self) -> None:
        with self._lock:
            for (kind, what), armed in list(self._armed.items()):
                self.hits[f"{kind}:{what}"] += armed - self._left(kind, what)
                if kind == "livy":
                    self.stack.livy.faults.http_errors = 0
                else:
                    self._emr_faults(kind).pop(what, None)
            self._armed.clear()
            self._sns.clear()

    def _left(self, kind: str, what: str) -> int:
        if kind == "livy":
            return int(self.stack.livy.faults.http_errors)
        return int(self._emr_faults(kind).get(what, 0))

    def _emr_faults(self, kind: str) -> dict[str, int]:
        # The simulator injects throttling and ValidationExceptions; internal errors are this harness's own.
        # EMR Serverless faults ("serverless-throttle", ...) are its simulator's (emr_serverless_backend raises them).
        if kind.startswith(serverless.FAULT_KIND):
            table: dict[str, int] = getattr(self.stack.serverless.faults, kind.removeprefix(serverless.FAULT_KIND))
        elif kind.startswith(eks.FAULT_KIND):  # EMR on EKS faults ("eks-throttle", ...): emr_containers_backend's
            table = getattr(self.stack.eks.faults, kind.removeprefix(eks.FAULT_KIND))
        else:
            table = self.internal if kind == "internal" else getattr(self.stack.simulator.faults, kind)
        return table

    def take_internal(self, method: str) -> bool:
        """Whether this call of an EMR backend method answers InternalServerError (counted down)."""
        with self._lock:
            left = self.internal.get(method, 0)
            if left > 0:
                self.internal[method] = left - 1
            return left > 0

    def refuse_publish(self, message_attributes: Any) -> str | None:
        """The SNS fault to raise for this publish, if any: only run-level notices are refused."""
        terminal = TERMINAL_EVENT_TYPES[self.cell.machine]
        if not any(kind in str(message_attributes) for kind in terminal):
            return None
        with self._lock:
            for kind in ("throttle", "error"):
                if self._sns.get(kind, 0) > 0:
                    self._sns[kind] -= 1
                    self.hits[f"sns:{kind}"] += 1
                    return kind
        return None

    def invoke(self, original: Callable[[str, Any], Any], function: str, event: Any) -> Any:
        fault = self._lambda.get(function)
        if fault is None:
            return original(function, event)
        key = json.dumps(event, sort_keys=True, default=str)
        with self._lock:
            fire = fault.left > 0 and (not fault.per_event or key not in fault.seen)
            if fire:
                fault.seen.add(key)
                if not fault.per_event:
                    fault.left -= 1
        if fire and fault.when == "before":
            self.hits[f"lambda:{function}:before"] += 1
            raise InjectedFault(f"injected: {function} failed before doing anything")
        result = original(function, event)
        if fire and fault.when == "after":
            self.hits[f"lambda:{function}:after"] += 1
            raise InjectedFault(f"injected: {function} failed after doing its work")
        if fire and fault.when == "stop":
            self.hits[f"lambda:{function}:stop"] += 1
            self.stop_execution()
        return result

    def enqueue(self, original: Callable[[str, dict[str, Any]], None], function: str, event: dict[str, Any]) -> None:
        self._deliver_later = original  # held events are released past this hook
        if self._hold_emr and event.get("source") == "aws.emr":
            with self._lock:
                self._held.append((function, copy.deepcopy(event)))
            return
        times = 1
        if self._duplicate and function in self._duplicate[1]:
            times = self._duplicate[0]
            self.hits[f"duplicate:{function}"] += times - 1
        for _ in range(times):
            original(function, copy.deepcopy(event))

    # -- driving ------------------------------------------------------------------------------
    def _poll(self) -> None:
        for item in list(self._when):
            predicate, action, what = item
            if predicate():
                self._when.remove(item)
                self.hits[f"when:{what}"] += 1
                action()
        if self._held and self._ended:
            with self._lock:
                held, self._held = self._held, []
            self.hits["out-of-order"] += len(held)
            for function, event in reversed(held):
                self._deliver_later(function, event)

    def drive(self, timeout: float = 120.0) -> None:
        """Deliver events, fire deadlines and advance time until nothing runs or waits (as settle does)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            self._poll()
            done = self.stack.pump()
            busy = (
                done
                or self.stack.simulator.busy()
                or serverless.moving(self.stack)
                or eks.moving(self.stack)
                or self.stack.running_executions()
                or self._held
            )
            quiet = 0 if busy else quiet + 1
            if quiet >= 3:
                self.stack.collect_notifications()
                return
            time.sleep(0.01)
        raise TimeoutError(f"still busy after {timeout:.0f}s: executions {self.stack.running_executions()}")

    def backstop(self) -> None:
        """Let EMR's AutoTerminationPolicy (or the serverless application's auto-stop) act: jump past the idle
        timeout, then settle again."""
        self.stack.clock.advance(2 * 3600)
        self.drive()

    def fired(self) -> int:
        """How many times an injected fault acted (a throttled call, a refused publish, a trigger, ...)."""
        with self._lock:
            counted = sum(self.hits.values()) + sum(armed - self._left(k, w) for (k, w), armed in self._armed.items())
        return counted + sum(1 for check, _ in self._proofs if check())


# -- process-wide patches: installed once, they act for the active Run only ---------------------------
_active: Run | None = None
_patched = False


def _install_patches() -> None:
    global _patched
    if _patched:
        return
    _patched = True
    from moto.sns.exceptions import SNSException
    from moto.sns.models import SNSBackend
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    class Throttled(SNSException):
        code = "Throttled"

    class AuthorizationError(SNSException):
        code = "AuthorizationError"

    original_eval_body = CommonStateField._eval_body

    def eval_body(self: Any, env: Any) -> None:
        run = _active
        if run is not None:
            run.state_entered(str(self.name))
        original_eval_body(self, env)

    CommonStateField._eval_body = eval_body  # type: ignore[method-assign]

    original_publish = SNSBackend.publish

    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        run = _active
        refused = run.refuse_publish(kwargs.get("message_attributes")) if run is not None else None
        if refused == "throttle":
            raise Throttled("Rate exceeded (injected)")
        if refused == "error":
            raise AuthorizationError("Not authorized to publish to this topic (injected)")
        return str(original_publish(self, message, arn, *args, **kwargs))

    SNSBackend.publish = publish  # type: ignore[method-assign]

    from moto.core.exceptions import ServiceException
    from moto.emr.models import ElasticMapReduceBackend

    class InternalServerError(ServiceException):
        code = "InternalServerError"  # an error shape of EMR's model (botocore), unlike ThrottlingException

    def refuse_internally(method: str) -> None:
        original = getattr(ElasticMapReduceBackend, method)

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            run = _active
            if run is not None and run.take_internal(method):
                raise InternalServerError("Internal error (injected)")
            return original(self, *args, **kwargs)

        setattr(ElasticMapReduceBackend, method, call)

    for method in ("run_job_flow", "add_job_flow_steps", "terminate_job_flows"):
        refuse_internally(method)


@contextlib.contextmanager
def _activated(run: Run) -> Iterator[None]:
    global _active
    from emr_autopilot_devkit.local.moto_patches import sfn as sfn_patches

    _install_patches()
    stack = run.stack
    original_invoke, original_enqueue = stack.invoke, stack.enqueue

    def invoke(function_logical_id: str, event: Any) -> Any:
        return run.invoke(original_invoke, function_logical_id, event)

    def enqueue(function_logical_id: str, event: dict[str, Any]) -> None:
        run.enqueue(original_enqueue, function_logical_id, event)

    # Both the deliveries and the state machine's lambda:invoke tasks look these up on the instance.
    stack.invoke = invoke  # type: ignore[method-assign]
    stack.enqueue = enqueue  # type: ignore[method-assign]

    def ended(execution: Any) -> None:
        run.execution_ended()  # before the status-change event exists: the janitor meets lifted faults
        stack._execution_ended(execution)

    sfn_patches.on_execution_end(ended)
    _active = run
    try:
        yield
    finally:
        _active = None
        sfn_patches.on_execution_end(stack._execution_ended)


# -- starting the run -----------------------------------------------------------------------------
def _write_jobs(target: Path, overrides: dict[str, Any], machine: str = PIPELINE, stack: Any = None) -> Path:
    """jobs/: one job with one simulated command step, on the sample job's cluster (Spot TASK fleet,
    a bootstrap action, a 30-minute idle timeout); for a serverless or EKS cell, that row's job instead (an EKS
    job on a virtual cluster registered on `stack` first)."""
    if machine == SERVERLESS:
        serverless.write_job(target, overrides)
        return target
    if machine == EKS:
        eks.write_job(target, overrides, eks.prepare(stack))
        return target
    sample = yaml.safe_load((REPO_ROOT / "jobs" / f"{SAMPLE_JOB}.yaml").read_text(encoding="utf-8"))
    step: dict[str, Any] = {"name": "work", "type": "command", "args": SIMULATED, "simulate": True}
    if "step_timeout" in overrides:
        step["timeout"] = overrides["step_timeout"]
    if "step_completion" in overrides:  # the events cells (reliability_step_events)
        sample["cluster"]["step_completion"] = overrides["step_completion"]
    job = {
        "name": JOB,
        "triggers": {"s3": [{"bucket": "landing", "prefix": f"{JOB}/", "suffix": ".csv"}]},
        "cluster": sample["cluster"],
        "steps": [step],
        "run_timeout": overrides.get("run_timeout", "1h"),
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{JOB}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    shutil.copytree(REPO_ROOT / "jobs" / "red_violations", target / "red_violations", dirs_exist_ok=True)
    return target


def _start(run: Run, name: str) -> None:
    stack, cell = run.stack, run.cell
    if cell.machine == SERVERLESS:
        serverless.start(stack)
        return
    if cell.machine == EKS:
        eks.start(stack)
        return
    if cell.machine == PIPELINE:
        stack.put_object(f"{JOB}/input.csv", "id,value\n1,2\n")  # the S3 event starts the run
        return
    from emr_autopilot.jobs import load_jobs
    from emr_autopilot.livy_runs import build_livy_run_input, start_livy_run
    from emr_autopilot.runs import StackContext, Trigger
    from emr_autopilot_devkit.local.livy_samples import create_livy_cluster

    machine_arn = stack.outputs["LivyStateMachineArn"]
    run_options = {"job_name": "sessionize", "poll_interval_seconds": 10, **cell.livy_run}
    if cell.livy == "transient":
        job = load_jobs(REPO_ROOT / "jobs").get("red-violations-spark")
        context = StackContext.from_stack_outputs({**stack.outputs, "StateMachineArn": machine_arn}, "us-east-1")
        trigger = Trigger(kind="manual", time=datetime.now(UTC), input_uri="s3://in/x.csv")
        document = build_livy_run_input(job, trigger, context, name, poll_interval_seconds=10)
        document["run"].update({k: v for k, v in run_options.items() if k != "job_name"})
        document["cluster_request"].update(cell.cluster_request)
    else:
        run.long_running = create_livy_cluster(stack)
        # The cluster's own state-change events are handled first: a fault armed for the run's first EMR call
        # must meet that call, not the event handler's DescribeCluster for a cluster the team started earlier.
        run.drive()
        document = {"cluster_id": run.long_running, "batch": {"file": "s3://acme/jobs/sessionize.py"}}
        document["run"] = run_options
    run.execution_arn = start_livy_run(machine_arn, name, document)


# -- what a cell found ------------------------------------------------------------------------------
@dataclass
class CellResult:
    id: str
    machine: str
    fault: str
    state: str
    variant: str
    expected: str
    outcome: str
    error: str
    clusters_left_running: int
    batches_left_running: int
    terminal_notifications: int
    notifications: list[str]  # every notice's event_type, in order
    ledger: str
    dead_letters: int
    fired: int
    passed: bool
    problems: list[str]
    seconds: float
    job_runs_left_running: int = 0  # EMR Serverless or EMR on EKS job runs of the run still active
    applications_left_started: int = 0  # the serverless application left STARTING/STARTED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tags(cluster: dict[str, Any]) -> dict[str, str]:
    return emr.tags_of(cluster)


def _ledger_view(stack: LocalRuntime, clusters: list[dict[str, Any]], problems: list[str]) -> str:
    """The ledger's word for each cluster (runs_view.run_status), after checking it against EMR."""
    from emr_autopilot import ledger
    from emr_autopilot_devkit.runs_view import run_status

    table = stack.outputs["RunLedgerTableName"]
    words = []
    for cluster in clusters:
        cluster_id = cluster["Id"]
        items = ledger.cluster_items(table, cluster_id)
        meta = next((item for item in items if item["sk"] == "META"), None)
        if meta is None:
            problems.append(f"ledger has no record of cluster {cluster_id}")
            words.append("missing")
            continue
        if meta.get("state") != cluster["Status"]["State"]:
            problems.append(f"ledger says {cluster_id} is {meta.get('state')}, EMR says {cluster['Status']['State']}")
        steps = {str(item["sk"]).removeprefix("STEP#"): item for item in items if str(item["sk"]).startswith("STEP#")}
        for step in stack.steps(cluster_id):
            recorded = steps.get(step["Id"], {}).get("state")
            if recorded != step["Status"]["State"]:
                problems.append(f"ledger says step {step['Id']} is {recorded}, EMR says {step['Status']['State']}")
        words.append(run_status(meta, list(steps.values())))
    return ", ".join(words) or "no cluster"


def _dead_letters(stack: LocalRuntime) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["FunctionDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _check_execution(executions: list[dict[str, Any]], cell: Cell, problems: list[str]) -> dict[str, Any]:
    """Exactly one execution, ended as the cell expects, with the expected error; returns it (or {})."""
    if len(executions) != 1:
        problems.append(f"{len(executions)} executions, expected exactly one")
    execution = executions[-1] if executions else {}
    outcome, error = str(execution.get("status", "none")), str(execution.get("error") or "")
    if outcome != cell.expect:
        problems.append(f"execution {outcome}, expected {cell.expect}")
    if cell.expect_error and error != cell.expect_error:
        problems.append(f"execution error {error or '-'}, expected {cell.expect_error}")
    return execution


def _check_clusters(
    run: Run, execution: dict[str, Any], problems: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """No cluster the run created is left running; a team's long-running cluster is left WAITING.
    Returns the clusters left running and every cluster the run used."""
    clusters = run.stack.clusters()
    arn = execution.get("executionArn")
    created = [c for c in clusters if arn and _tags(c).get("emr-autopilot:execution-arn") == arn]
    left = [c for c in created if c["Status"]["State"] in RUNNING_CLUSTER_STATES]
    for cluster in left:
        problems.append(f"cluster {cluster['Id']} left {cluster['Status']['State']}")
    used = list(created)
    if run.long_running:
        kept = next(c for c in clusters if c["Id"] == run.long_running)
        used.append(kept)
        if kept["Status"]["State"] != "WAITING":
            problems.append(f"the team's long-running cluster is {kept['Status']['State']}: it was not the run's")
    return left, used


def _check_batches(stack: LocalRuntime, used: list[dict[str, Any]], problems: list[str]) -> int:
    """No Livy batch left unfinished on a cluster that is still up; returns how many were."""
    batches_left = 0
    for cluster in used:
        if cluster["Status"]["State"] not in emr.READY:
            continue  # a batch on a cluster that ended is gone with it
        for batch in stack.livy.batches(primary_dns(cluster["Id"])):
            if batch["state"] not in FINAL_BATCH_STATES:
                batches_left += 1
                problems.append(f"Livy batch {batch['id']} left {batch['state']} on {cluster['Id']}")
    return batches_left


def _check_notices(notices: list[Notification], cell: Cell, problems: list[str]) -> tuple[list[str], list[str]]:
    """Exactly one terminal notice, saying what the cell expects, and no notice sent twice.
    Returns every notice's event type and the terminal ones."""
    kinds = [notice.attributes.get("event_type", "-") for notice in notices]
    terminal_types = TERMINAL_EVENT_TYPES[cell.machine]
    terminal = [kind for kind in kinds if kind in terminal_types]
    if len(terminal) != 1:
        problems.append(f"{len(terminal)} terminal notifications ({terminal}), expected exactly one")
    said = [n.message for n in notices if n.attributes.get("event_type") in terminal_types]
    if cell.notice_says and not any(cell.notice_says in message for message in said):
        problems.append(f"the terminal notice does not say {cell.notice_says!r}")
    repeated = [
        subject for (subject, _), count in Counter((n.subject, n.message) for n in notices).items() if count > 1
    ]
    if repeated:
        problems.append(f"notices sent more than once: {repeated}")
    return kinds, terminal


def _check_fault_fired(run: Run, problems: list[str]) -> int:
    """The fault acted (else the cell proves nothing), as often as the cell says; returns how often."""
    cell = run.cell
    fired = run.fired()
    if fired == 0 and cell.fault != "none":
        problems.append("the fault never fired: this cell proves nothing")
    if cell.expect_fired is not None and fired != cell.expect_fired:
        problems.append(f"the fault acted {fired} time(s), expected {cell.expect_fired}")
    return fired


def evaluate(run: Run, seconds: float) -> CellResult:
    """The cell's verdict: every check below adds what it found wrong to `problems`, in this order."""
    stack, cell = run.stack, run.cell
    problems: list[str] = []
    execution = _check_execution(stack.executions(), cell, problems)
    outcome, error = str(execution.get("status", "none")), str(execution.get("error") or "")
    left, used = _check_clusters(run, execution, problems)
    batches_left = _check_batches(stack, used, problems)
    job_runs_left, applications_left = 0, 0
    if cell.machine == SERVERLESS:
        job_runs, job_runs_left = serverless.check_job_runs(stack, execution, problems)
        applications_left = serverless.check_application(run, problems)
        ledger_word = serverless.ledger_view(stack, job_runs, problems)
    elif cell.machine == EKS:
        job_runs, job_runs_left = eks.check_job_runs(stack, execution, problems)
        ledger_word = eks.ledger_view(stack, job_runs, problems)
    else:
        ledger_word = _ledger_view(stack, used, problems)
    kinds, terminal = _check_notices(stack.notifications, cell, problems)
    fired = _check_fault_fired(run, problems)
    problems += [f"the run never entered {name}: it took another path" for name in cell.must_enter
                 if name not in run.entered]  # fmt: skip
    return CellResult(
        id=cell.id,
        machine=cell.machine,
        fault=cell.fault,
        state=cell.state,
        variant=cell.variant,
        expected=cell.expect,
        outcome=outcome,
        error=error,
        clusters_left_running=len(left),
        batches_left_running=batches_left,
        terminal_notifications=len(terminal),
        notifications=kinds,
        ledger=ledger_word,
        dead_letters=_dead_letters(stack),
        fired=fired,
        passed=not problems,
        problems=problems,
        seconds=round(seconds, 2),
        job_runs_left_running=job_runs_left,
        applications_left_started=applications_left,
    )


def run_cell(cell_id: str) -> CellResult:
    """One cell on a fresh local runtime; a harness error is a failed cell, with its traceback."""
    cell = CELLS[cell_id]
    started = time.monotonic()
    # powertools (no metric emitted) and moto (error shapes) warn; the matrix output has no room for that.
    warnings.filterwarnings("ignore", category=UserWarning)
    with tempfile.TemporaryDirectory(prefix="emr-reliability-") as tmp:
        stack = LocalRuntime(
            timings=cell.timings, serverless_timings=cell.serverless_timings, eks_timings=cell.eks_timings
        ).start()
        stack.livy.simulate_batches = True  # the matrix is about the pipelines; batches' Spark code does not run
        try:
            stack.deploy_jobs(_write_jobs(Path(tmp) / "jobs", cell.job, cell.machine, stack))
            run = Run(cell, stack)
            with _activated(run):
                cell.arrange(run)
                _start(run, name="rel-" + hashlib.sha256(cell_id.encode()).hexdigest()[:12])
                run.drive()
                if cell.backstop:
                    run.backstop()
                return evaluate(run, time.monotonic() - started)
        except Exception as exc:
            problem = f"harness error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
            return CellResult(
                cell.id, cell.machine, cell.fault, cell.state, cell.variant, cell.expect, "error", "", -1, -1, -1,
                [], "-", -1, 0, False, [problem], round(time.monotonic() - started, 2), -1, -1,
            )  # fmt: skip
        finally:
            stack.stop()


# -- the catalogue of cells -----------------------------------------------------------------------------
def _nothing(run: Run) -> None:
    return None


def _step_fails(run: Run) -> None:
    from emr_autopilot.simulation import MARK

    # The job's step is `simulate: true`: EMR knows it by its marked name.
    run.stack.simulator.faults.failing_steps[f"work {MARK}"] = "Injected: executor lost"
    run.proof(lambda: _step_in("FAILED")(run), "the step failed")


_REASON = {"bootstrap_failure": "BOOTSTRAP_FAILURE", "spot_capacity_timeout": "INSTANCE_FLEET_TIMEOUT"}


def _cluster_named(run: Run, prefix_faults: str) -> None:
    getattr(run.stack.simulator.faults, prefix_faults).extend([JOB, "rel-"])
    run.proof(
        lambda: any(
            getattr(c, "state_change_reason_code", None) == _REASON[prefix_faults]
            for c in list(_sim(run).backend.clusters.values())
        ),
        f"a cluster ended {_REASON[prefix_faults]}",
    )


def _times_out(run: Run) -> None:
    def timed_out() -> bool:
        errors = {str(e.get("error")) for e in run.stack.executions()}
        return bool(errors & {"RunTimedOut", "States.Timeout", "LivyBatchTimedOut"})

    run.proof(timed_out, "the run timed out")


def _with(*arrangements: Arrange) -> Arrange:
    def arrange(run: Run) -> None:
        for each in arrangements:
            each(run)

    return arrange


def _emr(kind: str, method: str, count: int, at: str, lift: bool = False) -> Arrange:
    def arrange(run: Run) -> None:
        run.emr(kind, method, count, at)
        if lift:
            run.lift_on_end()

    return arrange


def _sns(kind: str, count: int, at: str, lift: bool = False) -> Arrange:
    def arrange(run: Run) -> None:
        run.sns(kind, count, at)
        if lift:
            run.lift_on_end()

    return arrange


def _livy_http(count: int, status: int, at: str, lift: bool = False) -> Arrange:
    def arrange(run: Run) -> None:
        run.livy_http(count, status, at)
        if lift:
            run.lift_on_end()

    return arrange


def _lambda(function: str, when: str, per_event: bool = False) -> Arrange:
    def arrange(run: Run) -> None:
        run.lambda_fault(function, when, per_event=per_event)

    return arrange


def _sim(run: Run) -> Any:
    return run.stack.simulator


def _cluster_in(*states: str) -> Callable[[Run], bool]:
    return lambda run: any(c.state in states for c in list(_sim(run).backend.clusters.values()))


def _step_in(state: str) -> Callable[[Run], bool]:
    return lambda run: any(s.state == state for c in list(_sim(run).backend.clusters.values()) for s in list(c.steps))


def _entered_and(state: str, condition: Callable[[Run], bool]) -> Callable[[Run], bool]:
    return lambda run: state in run.entered and condition(run)


def _batch_running(run: Run) -> bool:
    return any(batch["state"] == "running" for batch in run.stack.livy.batches())


def _abort_when(predicate: Callable[[Run], bool], what: str) -> Arrange:
    def arrange(run: Run) -> None:
        run.when(lambda: predicate(run), run.stop_execution, what)

    return arrange


def _forever_batch(run: Run) -> None:
    run.stack.livy.faults.run_seconds = {"rel-": FOREVER}


def _dead_batch(run: Run) -> None:
    run.stack.livy.faults.dead = {"rel-": "java.io.FileNotFoundException: s3://acme-landing/missing.csv"}
    run.proof(lambda: any(batch["state"] == "dead" for batch in run.stack.livy.batches()), "the batch died")


def _duplicate(times: int, *functions: str) -> Arrange:
    return lambda run: run.duplicate(times, frozenset(functions))


def _out_of_order(run: Run) -> None:
    run.emr_events_out_of_order()


SLOW_TERMINATION = Timings(starting=60, bootstrapping=30, terminating=900, simulated_step=60)
P, L = PIPELINE, LIVY
RUN_STARTER, JANITOR, EVENTS = "RunStarterFunction", "ExecutionJanitorFunction", "EmrEventFunction"
LIVY_JANITOR = "LivyJanitorFunction"
TERMINATE = "terminate_job_flows"
# How Step Functions names an EMR error the AWS SDK has no class for (aws/aws-cdk#13735): a validation
# error or throttling alike. Only EMR's code in the Cause tells them apart.
EMR_ERROR = "EMR.AmazonElasticMapReduceException"
EMR_INTERNAL = "EMR.InternalServerErrorException"  # EMR's modeled InternalServerError
EMR_ATTEMPTS = 7  # the first call and the ASL's 6 retries of a retryable EMR error
T = "transient"

_RUNNING_LONG = Timings(starting=60, bootstrapping=30, terminating=30, simulated_step=3600)
_MAX_WAIT = {"max_wait_seconds": 120, "poll_interval_seconds": 30}  # 4 polls, then KillBatch


def _abort_during_step() -> Arrange:
    return _abort_when(_step_in("RUNNING"), "step running")


def _abort_during_batch() -> Arrange:
    return _with(_forever_batch, _abort_when(_batch_running, "batch running"))


def _refused(method: str) -> dict[str, Any]:
    """A ValidationException (the simulator's `errors`) fails the run at once: no retry, EMR's message in the notice."""
    return {"expect_error": EMR_ERROR, "expect_fired": 1, "notice_says": f"Injected fault: {method} refused"}


def _no_cluster(run: Run) -> None:
    run.proof(lambda: not run.stack.clusters(), "the run created no cluster")


# Bootstrapping lasts 10 minutes, so the harness (which checks between deliveries, in wall time) arms the
# fault while the .sync poll still waits, and the run's 30-minute deadline passes long after. With 30 s of
# bootstrapping and a 5-minute deadline the window was ~0.1 s of wall time: on a loaded machine the run timed
# out in STARTING before the fault was armed, and the cell failed ("the fault never fired").
_LONG_BOOTSTRAP = Timings(starting=60, bootstrapping=600, terminating=30, simulated_step=60)


def _throttle_describe_from_bootstrap(run: Run) -> None:
    # Only the .sync poll's DescribeCluster: armed once the cluster is past its first event. Any state
    # after STARTING: on a loaded machine the checks between deliveries can miss BOOTSTRAPPING.
    run.when(
        lambda: _cluster_in("BOOTSTRAPPING", "RUNNING", "WAITING")(run),
        lambda: run.emr("throttle", "describe_cluster", FOREVER),
        "DescribeCluster throttled",
    )
    run.lift_on_end()


_CELLS: list[Cell] = [
    # TransientClusterPipeline ---------------------------------------------------------------------
    Cell(P, "none", "-", "SUCCEEDED", _nothing),
    Cell(P, "service_error", "CreateCluster", "FAILED", _emr("errors", "run_job_flow", 1, "CreateCluster"),
         **_refused("run_job_flow")),
    Cell(P, "service_error", "RunSteps", "FAILED", _emr("errors", "add_job_flow_steps", 1, "RunSteps"),
         in_slice=True, **_refused("add_job_flow_steps")),
    Cell(P, "service_error", "TerminateCluster", "FAILED", _emr("errors", TERMINATE, 1, "TerminateCluster"),
         in_slice=True, **_refused(TERMINATE)),
    Cell(P, "service_error", "TerminateAfterFailure", "FAILED",
         _with(_step_fails, _emr("errors", TERMINATE, 1, "TerminateAfterFailure"))),
    Cell(P, "service_error", "NotifySuccess", "FAILED", _sns("error", 1, "NotifySuccess"), in_slice=True),
    Cell(P, "service_error", "NotifyFailure", "FAILED", _with(_step_fails, _sns("error", 1, "NotifyFailure"))),
    Cell(P, "throttle_then_success", "CreateCluster", "SUCCEEDED",
         _emr("throttle", "run_job_flow", 2, "CreateCluster")),
    Cell(P, "throttle_then_success", "RunSteps", "SUCCEEDED",
         _emr("throttle", "add_job_flow_steps", 2, "RunSteps")),
    Cell(P, "throttle_then_success", "TerminateCluster", "SUCCEEDED",
         _emr("throttle", TERMINATE, 2, "TerminateCluster")),
    Cell(P, "throttle_then_success", "TerminateAfterFailure", "FAILED",
         _with(_step_fails, _emr("throttle", TERMINATE, 2, "TerminateAfterFailure"))),
    Cell(P, "throttle_then_success", "NotifySuccess", "SUCCEEDED", _sns("throttle", 2, "NotifySuccess")),
    Cell(P, "throttle_then_success", "NotifyFailure", "FAILED",
         _with(_step_fails, _sns("throttle", 2, "NotifyFailure"))),
    Cell(P, "throttle_never_ends", "CreateCluster", "FAILED",
         _emr("throttle", "run_job_flow", FOREVER, "CreateCluster", lift=True), in_slice=True,
         expect_error=EMR_ERROR, expect_fired=EMR_ATTEMPTS),
    Cell(P, "throttle_never_ends", "CreateCluster", "ABORTED", _throttle_describe_from_bootstrap,
         variant="sync-poll", expect_error="RunTimedOut", job={"run_timeout": "30m"}, timings=_LONG_BOOTSTRAP),
    Cell(P, "throttle_never_ends", "RunSteps", "FAILED",
         _emr("throttle", "add_job_flow_steps", FOREVER, "RunSteps", lift=True),
         expect_error=EMR_ERROR, expect_fired=EMR_ATTEMPTS),
    Cell(P, "throttle_never_ends", "TerminateCluster", "FAILED",
         _emr("throttle", TERMINATE, FOREVER, "TerminateCluster", lift=True),
         expect_error=EMR_ERROR, expect_fired=EMR_ATTEMPTS),
    Cell(P, "throttle_never_ends", "TerminateAfterFailure", "FAILED",
         _with(_step_fails, _emr("throttle", TERMINATE, FOREVER, "TerminateAfterFailure", lift=True))),
    Cell(P, "throttle_never_ends", "NotifySuccess", "FAILED", _sns("throttle", FOREVER, "NotifySuccess", lift=True)),
    Cell(P, "throttle_never_ends", "NotifyFailure", "FAILED",
         _with(_step_fails, _sns("throttle", FOREVER, "NotifyFailure", lift=True))),
    # EMR's modeled internal error: the Retry of CreateCluster and the terminate tasks takes it; AddStep must not
    # (the step may have been added), so the run fails at once.
    Cell(P, "internal_error_then_success", "CreateCluster", "SUCCEEDED",
         _emr("internal", "run_job_flow", 2, "CreateCluster"), expect_fired=2),
    Cell(P, "internal_error_then_success", "TerminateCluster", "SUCCEEDED",
         _emr("internal", TERMINATE, 2, "TerminateCluster"), expect_fired=2),
    Cell(P, "internal_error", "RunSteps", "FAILED", _emr("internal", "add_job_flow_steps", 1, "RunSteps"),
         expect_error=EMR_INTERNAL, expect_fired=1, notice_says="Internal error (injected)", in_slice=True),
    Cell(P, "service_error_never_ends", "TerminateCluster", "FAILED",
         _emr("errors", TERMINATE, FOREVER, "TerminateCluster"), backstop=True),
    Cell(P, "step_fails", "RunSteps", "FAILED", _step_fails, expect_error="States.TaskFailed", in_slice=True),
    Cell(P, "bootstrap_fails", "CreateCluster", "FAILED", lambda run: _cluster_named(run, "bootstrap_failure")),
    Cell(P, "spot_capacity_timeout", "CreateCluster", "FAILED",
         lambda run: _cluster_named(run, "spot_capacity_timeout")),
    Cell(P, "aborted", "CreateCluster", "ABORTED",
         _abort_when(_cluster_in(*emr.STARTING), "cluster starting"), in_slice=True),
    Cell(P, "aborted", "RunSteps", "ABORTED", _abort_during_step(), timings=_RUNNING_LONG),
    Cell(P, "aborted", "TerminateCluster", "ABORTED",
         _abort_when(_entered_and("TerminateCluster", _cluster_in("TERMINATING")), "cluster terminating"),
         timings=SLOW_TERMINATION),
    Cell(P, "aborted", "TerminateAfterFailure", "ABORTED",
         _with(_step_fails,
               _abort_when(_entered_and("TerminateAfterFailure", _cluster_in("TERMINATING")), "terminating")),
         timings=SLOW_TERMINATION),
    Cell(P, "timed_out", "CreateCluster", "ABORTED", _times_out, expect_error="RunTimedOut", job={"run_timeout": "5m"},
         timings=Timings(starting=900, bootstrapping=30, terminating=30, simulated_step=60)),
    Cell(P, "timed_out", "RunSteps", "ABORTED", _times_out, expect_error="RunTimedOut", job={"run_timeout": "5m"},
         timings=_RUNNING_LONG),
    Cell(P, "timed_out", "TerminateCluster", "ABORTED", _times_out, expect_error="RunTimedOut",
         job={"run_timeout": "5m"}, timings=Timings(starting=60, bootstrapping=30, terminating=3600,
                                                    simulated_step=60)),
    Cell(P, "timed_out", "RunSteps", "FAILED", _times_out, variant="step-timeout", expect_error="States.Timeout",
         job={"step_timeout": "60s"}, timings=_RUNNING_LONG),
    Cell(P, "lambda_raises", RUN_STARTER, "SUCCEEDED", _lambda(RUN_STARTER, "before")),
    Cell(P, "lambda_raises", RUN_STARTER, "SUCCEEDED", _lambda(RUN_STARTER, "after"), variant="after-start"),
    Cell(P, "lambda_raises", JANITOR, "ABORTED", _with(_abort_during_step(), _lambda(JANITOR, "before")),
         timings=_RUNNING_LONG),
    Cell(P, "lambda_raises", JANITOR, "ABORTED", _with(_abort_during_step(), _lambda(JANITOR, "after")),
         variant="after-cleanup", timings=_RUNNING_LONG, in_slice=True),
    Cell(P, "lambda_raises", EVENTS, "FAILED", _with(_step_fails, _lambda(EVENTS, "after", per_event=True))),
    # The cost estimate fails: the run still succeeds, and its one notice says the cost is not available.
    Cell(P, "lambda_raises", "EstimateCost", "SUCCEEDED", _lambda("RunCostFunction", "before")),
    Cell(P, "event_twice", RUN_STARTER, "SUCCEEDED", _duplicate(2, RUN_STARTER)),
    Cell(P, "event_twice", EVENTS, "FAILED", _with(_step_fails, _duplicate(2, EVENTS))),
    Cell(P, "event_twice", JANITOR, "ABORTED", _with(_abort_during_step(), _duplicate(2, JANITOR)),
         timings=_RUNNING_LONG, in_slice=True),
    Cell(P, "event_twice", JANITOR, "FAILED",
         _with(_emr("errors", TERMINATE, 1, "TerminateCluster"), _duplicate(2, JANITOR)), variant="cleanup"),
    Cell(P, "events_out_of_order", EVENTS, "SUCCEEDED", _out_of_order),
    # LivyBatchPipeline ------------------------------------------------------------------------------
    Cell(L, "none", "-", "SUCCEEDED", _nothing),
    Cell(L, "none", "-", "SUCCEEDED", _nothing, variant=T, livy=T),
    Cell(L, "service_error", "CreateCluster", "FAILED", _emr("errors", "run_job_flow", 1, "CreateCluster"), livy=T,
         **_refused("run_job_flow")),
    Cell(L, "bad_request", "CreateCluster", "FAILED", _no_cluster, livy=T,
         cluster_request={"EbsRootVolumeSize": 64},
         notice_says="cluster_request has fields CreateCluster does not pass to RunJobFlow: EbsRootVolumeSize"),
    Cell(L, "service_error", "ResolveCluster", "FAILED", _emr("errors", "describe_cluster", 1, "ResolveCluster")),
    Cell(L, "service_error", "SubmitBatch", "FAILED", _livy_http(1, 400, "SubmitBatch"), expect_error="LivyHttpError"),
    Cell(L, "service_error", "CheckBatch", "FAILED", _with(_forever_batch, _livy_http(1, 400, "CheckBatch")),
         expect_error="LivyHttpError", in_slice=True),
    Cell(L, "service_error", "KillBatch", "FAILED", _with(_forever_batch, _livy_http(1, 400, "KillBatch")),
         livy_run=_MAX_WAIT, expect_error="LivyBatchTimedOut"),
    Cell(L, "service_error", "TerminateCluster", "FAILED", _emr("errors", TERMINATE, 1, "TerminateCluster"), livy=T,
         **_refused(TERMINATE)),
    Cell(L, "service_error", "NotifySuccess", "FAILED", _sns("error", 1, "NotifySuccess")),
    Cell(L, "service_error", "NotifyFailure", "FAILED", _with(_dead_batch, _sns("error", 1, "NotifyFailure"))),
    Cell(L, "throttle_then_success", "CreateCluster", "SUCCEEDED",
         _emr("throttle", "run_job_flow", 2, "CreateCluster"), livy=T, in_slice=True),
    Cell(L, "throttle_then_success", "SubmitBatch", "SUCCEEDED", _livy_http(2, 503, "SubmitBatch")),
    Cell(L, "throttle_then_success", "CheckBatch", "SUCCEEDED", _livy_http(4, 503, "CheckBatch")),
    Cell(L, "throttle_then_success", "TerminateCluster", "SUCCEEDED",
         _emr("throttle", TERMINATE, 2, "TerminateCluster"), livy=T),
    Cell(L, "throttle_then_success", "NotifySuccess", "SUCCEEDED", _sns("throttle", 2, "NotifySuccess")),
    Cell(L, "throttle_never_ends", "CreateCluster", "FAILED",
         _emr("throttle", "run_job_flow", FOREVER, "CreateCluster", lift=True), livy=T,
         expect_error=EMR_ERROR, expect_fired=EMR_ATTEMPTS),
    Cell(L, "internal_error_then_success", "CreateCluster", "SUCCEEDED",
         _emr("internal", "run_job_flow", 2, "CreateCluster"), livy=T, expect_fired=2),
    Cell(L, "throttle_never_ends", "SubmitBatch", "FAILED", _livy_http(FOREVER, 503, "SubmitBatch", lift=True),
         expect_error="LivyUnavailable"),
    Cell(L, "throttle_never_ends", "CheckBatch", "FAILED",
         _with(_forever_batch, _livy_http(FOREVER, 503, "CheckBatch", lift=True)), expect_error="LivyUnavailable"),
    Cell(L, "throttle_never_ends", "TerminateCluster", "FAILED",
         _emr("throttle", TERMINATE, FOREVER, "TerminateCluster", lift=True), livy=T,
         expect_error=EMR_ERROR, expect_fired=EMR_ATTEMPTS),
    Cell(L, "throttle_never_ends", "NotifyFailure", "FAILED",
         _with(_dead_batch, _sns("throttle", FOREVER, "NotifyFailure", lift=True))),
    Cell(L, "batch_fails", "CheckBatch", "FAILED", _dead_batch, expect_error="LivyBatchFailed", in_slice=True),
    Cell(L, "batch_fails", "CheckBatch", "FAILED", _dead_batch, variant=T, livy=T, expect_error="LivyBatchFailed"),
    Cell(L, "bootstrap_fails", "CreateCluster", "FAILED", lambda run: _cluster_named(run, "bootstrap_failure"),
         livy=T),
    Cell(L, "spot_capacity_timeout", "CreateCluster", "FAILED",
         lambda run: _cluster_named(run, "spot_capacity_timeout"), livy=T),
    Cell(L, "aborted", "CreateCluster", "ABORTED",
         _abort_when(_cluster_in(*emr.STARTING), "cluster starting"), livy=T),
    Cell(L, "aborted", "SubmitBatch", "ABORTED", _with(_forever_batch, _lambda("LivySubmitFunction", "stop"))),
    Cell(L, "aborted", "WaitForBatch", "ABORTED", _abort_during_batch(), in_slice=True),
    Cell(L, "aborted", "WaitForBatch", "ABORTED", _abort_during_batch(), variant=T, livy=T),
    Cell(L, "aborted", "TerminateCluster", "ABORTED",
         _abort_when(_entered_and("TerminateCluster", _cluster_in("TERMINATING")), "cluster terminating"),
         livy=T, timings=SLOW_TERMINATION),
    Cell(L, "timed_out", "WaitForBatch", "FAILED", _with(_forever_batch, _times_out), expect_error="LivyBatchTimedOut",
         livy_run=_MAX_WAIT, in_slice=True),
    Cell(L, "timed_out", "WaitForBatch", "FAILED", _with(_forever_batch, _times_out), variant=T, livy=T,
         expect_error="LivyBatchTimedOut", livy_run=_MAX_WAIT),
    Cell(L, "lambda_raises", "ResolveCluster", "FAILED", _lambda("LivyResolveFunction", "before"),
         expect_error="InjectedFault"),
    Cell(L, "lambda_raises", "SubmitBatch", "FAILED", _with(_forever_batch, _lambda("LivySubmitFunction", "after")),
         variant="after-submit", expect_error="InjectedFault", in_slice=True),
    Cell(L, "lambda_raises", "CheckBatch", "FAILED", _with(_forever_batch, _lambda("LivyStatusFunction", "before")),
         expect_error="InjectedFault"),
    Cell(L, "lambda_raises", "KillBatch", "FAILED", _with(_forever_batch, _lambda("LivyKillFunction", "before")),
         livy_run=_MAX_WAIT, expect_error="LivyBatchTimedOut"),
    Cell(L, "lambda_raises", LIVY_JANITOR, "ABORTED", _with(_abort_during_batch(), _lambda(LIVY_JANITOR, "before"))),
    Cell(L, "lambda_raises", LIVY_JANITOR, "ABORTED", _with(_abort_during_batch(), _lambda(LIVY_JANITOR, "after")),
         variant="after-cleanup"),
    Cell(L, "event_twice", LIVY_JANITOR, "ABORTED", _with(_abort_during_batch(), _duplicate(2, LIVY_JANITOR))),
    Cell(L, "event_twice", EVENTS, "SUCCEEDED", _duplicate(2, EVENTS), livy=T),
]  # fmt: skip
# TransientClusterPipeline with step_completion: polling (addStep.sync), which a job can still choose: every cell
# whose fault meets a step, or none, again with the job set to polling.
_CELLS += [
    replace(cell, variant=":".join(filter(None, (cell.variant, "polling"))), in_slice=False,
            job={**cell.job, "step_completion": "polling"}, must_enter=("AddStep",))
    for cell in _CELLS
    if cell.machine == PIPELINE and cell.state in ("RunSteps", "-")
]  # fmt: skip
# TransientClusterPipeline's own events-mode faults (the default mode): in reliability_step_events.
_CELLS += [Cell(PIPELINE, **spec) for spec in step_events.CELLS]
# ServerlessPipeline: its cells and their extra checks are in reliability_serverless.
_CELLS += [Cell(SERVERLESS, **spec) for spec in serverless.CELLS]
# EksPipeline: likewise, in reliability_eks.
_CELLS += [Cell(EKS, **spec) for spec in eks.CELLS]
CELLS: dict[str, Cell] = {cell.id: cell for cell in _CELLS}
SLICE = [cell.id for cell in _CELLS if cell.in_slice]
assert len(CELLS) == len(_CELLS), "two cells share an id"


# -- running many, the report ---------------------------------------------------------------------
def run_cells(
    cell_ids: list[str], workers: int = 1, progress: Callable[[CellResult], None] | None = None
) -> list[CellResult]:
    """In this process, or in `workers` fresh processes (each cell still gets its own stack and ports)."""
    results: dict[str, CellResult] = {}
    if workers <= 1:
        for cell_id in cell_ids:
            results[cell_id] = run_cell(cell_id)
            if progress:
                progress(results[cell_id])
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for result in pool.map(run_cell, cell_ids):
                results[result.id] = result
                if progress:
                    progress(result)
    return [results[cell_id] for cell_id in cell_ids]


COLUMNS = (
    "machine", "fault", "state", "expected", "outcome", "left", "batches", "jobruns", "apps", "terminal", "ledger",
    "ok",
)  # fmt: skip


def format_row(result: CellResult) -> list[str]:
    state = result.state + (f" ({result.variant})" if result.variant else "")
    return [
        MACHINE_WORDS.get(result.machine, result.machine),
        result.fault,
        state,
        result.expected,
        result.outcome + (f" {result.error}" if result.error and result.outcome != "SUCCEEDED" else ""),
        str(result.clusters_left_running),
        str(result.batches_left_running),
        str(result.job_runs_left_running),
        str(result.applications_left_started),
        str(result.terminal_notifications),
        result.ledger,
        "PASS" if result.passed else "FAIL",
    ]


def format_matrix(results: list[CellResult]) -> str:
    rows = [list(COLUMNS)] + [format_row(result) for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    for result in results:
        for problem in result.problems:
            lines.append(f"  {result.id}: {problem}")
    return "\n".join(lines)


def summary(results: list[CellResult], seconds: float) -> dict[str, Any]:
    return {
        "cells": len(results),
        "passed": sum(result.passed for result in results),
        "failed": sum(not result.passed for result in results),
        "clusters_left_running": sum(max(result.clusters_left_running, 0) for result in results),
        "batches_left_running": sum(max(result.batches_left_running, 0) for result in results),
        "job_runs_left_running": sum(max(result.job_runs_left_running, 0) for result in results),
        "applications_left_started": sum(max(result.applications_left_started, 0) for result in results),
        "seconds": round(seconds, 1),
        "terminal_event_types": {machine: sorted(kinds) for machine, kinds in TERMINAL_EVENT_TYPES.items()},
    }


def run_matrix(full: bool, report: Path | None, out: TextIO, workers: int = 2, only: list[str] | None = None) -> bool:
    cell_ids = only or (list(CELLS) if full else SLICE)
    unknown = [cell_id for cell_id in cell_ids if cell_id not in CELLS]
    if unknown:
        raise KeyError(f"unknown cell(s) {unknown}; known: {sorted(CELLS)}")
    print(f"Fault matrix: {len(cell_ids)} cell(s) on {workers} worker(s), each on a fresh local runtime.", file=out)
    started = time.monotonic()

    def progress(result: CellResult) -> None:
        mark = "ok  " if result.passed else "FAIL"
        print(f"  {mark} {result.id} ({result.seconds:.1f}s)", file=out, flush=True)

    results = run_cells(cell_ids, workers=workers, progress=progress)
    totals = summary(results, time.monotonic() - started)
    print("", file=out)
    print(format_matrix(results), file=out)
    print(
        f"\n{totals['passed']}/{totals['cells']} cells passed; clusters left running: "
        f"{totals['clusters_left_running']}; Livy batches left running: {totals['batches_left_running']}; "
        f"job runs (EMR Serverless, EMR on EKS) left running: {totals['job_runs_left_running']}; "
        f"applications left started: {totals['applications_left_started']}; {totals['seconds']}s.",
        file=out,
    )
    if report is not None:
        report.write_text(json.dumps(report_document(results, totals), indent=2) + "\n", encoding="utf-8")
        print(f"Report: {report}", file=out)
    return totals["failed"] == 0


_REPORT_FIRST = ("fault", "state", "outcome", "clusters_left_running", "notifications", "passed")


def report_document(results: list[CellResult], totals: dict[str, Any]) -> dict[str, Any]:
    """reliability-report.json: the summary, then one entry per cell, the agreed fields first."""
    cells = []
    for result in results:
        fields = result.as_dict()
        cells.append({key: fields[key] for key in _REPORT_FIRST} | fields)
    return {"summary": totals, "cells": cells}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m emr_autopilot_devkit.reliability", description=__doc__)
    parser.add_argument("--full", action="store_true", help="every cell, not only the slice")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cell", action="append", default=None, help="run only this cell id (repeatable)")
    args = parser.parse_args(argv)
    return 0 if run_matrix(args.full, args.report, sys.stdout, args.workers, args.cell) else 1


if __name__ == "__main__":
    sys.exit(main())
