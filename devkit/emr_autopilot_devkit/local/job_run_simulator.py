"""What the EMR simulators share, and what the two job-run simulators (EMR Serverless, EMR on EKS) share: the tick
thread and lock, best-effort event delivery, a job run's spark-submit driver run for real on local PySpark (through
step_runner), its cancellation once the driver's process is gone, and its gzipped driver logs in S3.

Each service's simulator (emr_serverless_simulator, emr_eks_simulator) keeps its own states, timings, wording and
log paths; only the mechanics are here.
"""

from __future__ import annotations

import gzip
import shlex
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.emulator_clients import emulator_client
from emr_autopilot_devkit.local.simulator_thread import TickThread
from emr_autopilot_devkit.local.step_runner import StepRun, StepRunner, failure_reason

Emit = Callable[[str, str, dict[str, Any]], None]


class SimulatorCore:
    """The clock, account, region, emulator endpoint, event hook and step runner of every EMR simulator."""

    def __init__(self, clock: FastClock, account_id: str, region: str, endpoint_url: str, emit: Emit) -> None:
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.endpoint_url = endpoint_url
        self.emit = emit  # looked up at each event: a test or the bench may replace it
        self.runner = StepRunner(clock, endpoint_url, region)


@dataclass
class ApiFaults:
    """API faults to inject (the fault matrix): backend method -> calls left to refuse. `throttle` answers
    ThrottlingException (AWS's throttling error, in neither service's model), `internal` the modeled
    InternalServerException, `errors` a ValidationException (an error no retry fixes)."""

    throttle: dict[str, int] = field(default_factory=dict)
    internal: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, api: str) -> str | None:
        """The kind of fault this call of `api` meets ("throttle", "internal", "errors"), counted down; or None."""
        with self._lock:
            for kind in ("throttle", "internal", "errors"):
                table: dict[str, int] = getattr(self, kind)
                if table.get(api, 0) > 0:
                    table[api] -= 1
                    return kind
        return None


@dataclass
class JobRunSim:
    """One job run as a simulator follows it (each simulator adds its own fields)."""

    run: Any
    next_at: float
    cancel_at: float | None = None  # when the cancellation began
    cancel_details: str = ""
    thread: threading.Thread | None = None
    result: StepRun | None = None


class JobRunSimulator(SimulatorCore):
    """The tick thread, lock, event delivery and job-run mechanics of the EMR Serverless and EMR on EKS
    simulators."""

    NAME: ClassVar[str]  # the tick thread's name, and the runtime log's prefix
    TERMINAL_JOB_STATES: ClassVar[frozenset[str]]
    CANCEL_STATE: ClassVar[str]  # CANCELLING (EMR Serverless) or CANCEL_PENDING (EMR on EKS)

    def __init__(self, clock: FastClock, account_id: str, region: str, endpoint_url: str, emit: Emit) -> None:
        super().__init__(clock, account_id, region, endpoint_url, emit)
        self._runs: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._ticker = TickThread(self.NAME, self.tick)

    def tick(self) -> None:
        raise NotImplementedError

    def _set_run(self, run: Any, state: str) -> None:
        raise NotImplementedError

    def _emit(self, detail_type: str, resource: str, detail: dict[str, Any]) -> None:
        # EventBridge delivery is best effort (EMR Serverless User Guide, using-eventbridge; inferred for EMR on
        # EKS): a failing target never fails the API call or the state change that emitted the event; the
        # failure goes to the runtime log.
        try:
            self.emit(detail_type, resource, detail)
        except Exception as exc:
            print(f"{self.NAME}: event {detail_type!r} not delivered: {exc}", file=sys.stderr)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop(timeout=0)  # ends the loop; joined below, once no job run's process is left
        with self._lock:
            for run_id in list(self._runs):
                self.runner.kill(run_id)
        self._ticker.stop()

    # -- the life cycle ---------------------------------------------------------------------------------------
    def _has_ended(self, sim: JobRunSim) -> bool:
        """True for a run that ended; a process started after it was cancelled is stopped."""
        run = sim.run
        if run.state not in self.TERMINAL_JOB_STATES:
            return False
        if run.id in self.runner.processes:
            self.runner.kill(run.id)
        return True

    def _start_driver(self, sim: JobRunSim, thread_name: str) -> None:
        sim.result = None
        sim.thread = threading.Thread(target=self._execute, args=(sim,), name=thread_name, daemon=True)
        sim.thread.start()

    def _execute(self, sim: JobRunSim) -> None:
        raise NotImplementedError

    def _begin_cancel(self, sim: JobRunSim, details: str) -> None:
        sim.cancel_at = self.clock.timestamp()
        sim.cancel_details = details
        self._set_run(sim.run, self.CANCEL_STATE)
        self.runner.kill(sim.run.id)  # the real process goes (spark-submit's JVM and Python workers with it)

    def _cancel_settled(self, sim: JobRunSim, now: float, seconds: float) -> bool:
        """True once a cancelled run may be CANCELLED: its driver's process is gone and the cancellation's time
        has passed (inferred)."""
        run = sim.run
        self.runner.kill(run.id)
        if sim.cancel_at is not None and now < sim.cancel_at + seconds:
            return False
        return not (sim.thread is not None and sim.thread.is_alive() and run.id in self.runner.processes)

    # -- running a job driver ---------------------------------------------------------------------------------
    def _spark_submit(self, sim: JobRunSim, args: list[str], timings: Any, log_prefix: str = "") -> StepRun:
        """Run a job driver's spark-submit command line (spark_submit_args) for real, as an EMR on EC2
        command-runner step."""
        run = sim.run
        step = SimpleNamespace(id=run.id, name=run.name or run.id, jar="command-runner.jar", args=args)
        return self.runner.run(step, timings, {}, log_prefix)

    def _put_logs(self, objects: Iterable[tuple[str, str]], where: str) -> None:
        """Each (s3 uri, text) gzipped to S3; a failure goes to the runtime log (the run still ends)."""
        s3 = emulator_client("s3", self.endpoint_url, self.region)
        try:
            for uri, text in objects:
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode("utf-8")))
        except Exception as exc:
            print(f"{self.NAME}: cannot write logs {where}: {exc}", file=sys.stderr)


def spark_submit_args(spark: dict[str, Any], conf: list[str] | None = None) -> list[str]:
    """spark-submit's command line for a job driver: `conf` first (spark-defaults, which the job's own
    sparkSubmitParameters override), then the parameters, the entry point and its arguments."""
    return [
        "spark-submit",
        *(conf or []),
        *shlex.split(str(spark.get("sparkSubmitParameters") or "")),
        str(spark.get("entryPoint")),
        *map(str, spark.get("entryPointArguments") or []),
    ]


def cannot_run(why: str) -> StepRun:
    """The result of a job driver the local runtime cannot run (never a fake success)."""
    return StepRun("FAILED", "", f"[local runtime] {why}\n", "", simulated=False, failure={"Reason": why})


def not_run_reason(result: StepRun) -> str | None:
    """Why step_runner did not run the driver (e.g. no Java, an entry point missing from S3), or None."""
    failure = result.failure or {}
    if result.state != "COMPLETED" and "not run by the local runtime" in failure.get("Message", ""):
        return str(failure.get("Reason", ""))
    return None


def cannot_run_details(why: str) -> str:
    """stateDetails of a job run the local runtime cannot run (wording inferred)."""
    return f"Job run not run by the local runtime: {why}"


def driver_failure(result: StepRun) -> tuple[str, str]:
    """(exit code, reason) of a driver that ended badly, for the service's stateDetails wording."""
    failure = result.failure or {}
    message = failure.get("Message", "")
    code = message.rsplit(" ", 1)[-1] if message.startswith("Command exited with status") else "1"
    reason = failure.get("Reason", "Unknown Error.")
    if reason == "Unknown Error.":
        # spark-submit's PythonRunner merges the Python driver's stderr into its stdout, so a PySpark traceback is
        # in the driver's stdout.gz while stderr holds Spark's own logging (inferred from Spark's PythonRunner).
        reason = failure_reason(result.stdout)
    return code, reason
