"""Realistic EMR behaviour on top of moto's EMR backend.

moto (pinned) makes a cluster WAITING at once, terminates instantly, leaves steps RUNNING or
PENDING forever and emits no events. The simulator moves clusters and steps through EMR's
real state sequences on the fast clock, runs steps for real where they can run on this
machine, writes their logs under LogUri, emits EMR's EventBridge events and injects faults.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from moto.core.exceptions import ServiceException
from moto.emr.exceptions import InvalidRequestException, ValidationException
from moto.emr.models import Cluster, ElasticMapReduceBackend, Step, emr_backends
from moto.emr.responses import ElasticMapReduceResponse

from emr_autopilot_devkit.local.clock import FastClock

ACTIVE = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
# Commands a command-runner step may run on this machine; anything else (hadoop, hive, ...) is simulated.
LOCAL_COMMANDS = {"bash", "sh", "python3", "python", "echo", "true", "false"}


class ThrottlingException(ServiceException):
    code = "ThrottlingException"


@dataclass
class Timings:
    """Virtual seconds each phase takes; close to what a small real cluster shows."""

    starting: float = 240.0
    bootstrapping: float = 120.0
    terminating: float = 60.0
    simulated_step: float = 90.0
    step_timeout_real: float = 300.0


@dataclass
class Faults:
    """Faults to inject. Run-scoped faults match clusters whose name (the run id) starts with `match`."""

    bootstrap_failure: list[str] = field(default_factory=list)
    spot_capacity_timeout: list[str] = field(default_factory=list)
    create_failure: list[str] = field(default_factory=list)
    failing_steps: dict[str, str] = field(default_factory=dict)  # step name -> failure message
    throttle: dict[str, int] = field(default_factory=dict)  # backend method -> calls left to throttle
    # backend method -> calls left to refuse with a ValidationException (an error no retry fixes)
    errors: dict[str, int] = field(default_factory=dict)
    log_delay_seconds: float = 0.0
    logs_never_written: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_throttle(self, api: str) -> bool:
        return self._take(self.throttle, api)

    def take_error(self, api: str) -> bool:
        return self._take(self.errors, api)

    def _take(self, table: dict[str, int], api: str) -> bool:
        with self._lock:
            left = table.get(api, 0)
            if left > 0:
                table[api] = left - 1
                return True
            return False


@dataclass
class StepRun:
    state: str
    stdout: str
    stderr: str
    controller: str
    simulated: bool
    failure: dict[str, str] | None = None


@dataclass
class _ClusterSim:
    cluster: Any
    created: float  # virtual timestamp
    idle_timeout: float | None
    fleets: bool
    next_at: float = 0.0
    reason: tuple[str, str] | None = None
    idle_since: float | None = None
    idle_metrics_until: float = 0.0  # IsIdle written for periods before this virtual time (idle reaper)


class EmrSimulator:
    def __init__(
        self,
        clock: FastClock,
        account_id: str,
        region: str,
        endpoint_url: str,
        emit: Callable[[str, str, dict[str, Any]], None],
        timings: Timings | None = None,
    ) -> None:
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.endpoint_url = endpoint_url
        self.emit = emit
        self.timings = timings or Timings()
        self.faults = Faults()
        self.simulated_steps: dict[str, str] = {}  # step id -> why it was simulated
        self._clusters: dict[str, _ClusterSim] = {}
        self._running: dict[str, threading.Thread] = {}
        self._results: dict[str, StepRun] = {}
        self._processes: dict[str, subprocess.Popen[str]] = {}  # step id -> its real process
        self._worker = threading.local()
        self._pending_logs: list[tuple[float, Any, Any, StepRun]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def backend(self) -> ElasticMapReduceBackend:
        return emr_backends[self.account_id][self.region]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="emr-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self._clusters.clear()
            self._results.clear()
            self._pending_logs.clear()
            self.simulated_steps.clear()
            self.faults = Faults()

    def busy(self) -> bool:
        """True while anything is still moving (not counting clusters idling in WAITING)."""
        with self._lock:
            if self._running or self._pending_logs:
                return True
            for sim in self._clusters.values():
                state = sim.cluster.state
                if state in ("STARTING", "BOOTSTRAPPING", "TERMINATING", "RUNNING"):
                    return True
                if state == "WAITING" and any(step.state == "PENDING" for step in sim.cluster.steps):
                    return True
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep simulating; surface the bug in the runtime log
                print(f"emr-simulator: {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(0.005)

    # -- hooks called from the patched moto backend ------------------------------------------
    def on_cluster_created(self, cluster: Any, request: dict[str, Any]) -> None:
        now = self.clock.timestamp()
        for match in self.faults.create_failure:
            if cluster.name.startswith(match):
                self.backend.clusters.pop(cluster.id, None)
                raise ValidationException(f"Injected fault: RunJobFlow rejected for {cluster.name}")
        policy = request.get("AutoTerminationPolicy") or {}
        with self._lock:
            cluster.state = "STARTING"
            cluster.ready_datetime = None
            cluster.creation_datetime = self.clock.now()
            cluster.start_datetime = cluster.creation_datetime
            self._clusters[cluster.id] = _ClusterSim(
                cluster=cluster,
                created=now,
                idle_timeout=float(policy["IdleTimeout"]) if policy.get("IdleTimeout") else None,
                fleets=bool(request.get("Instances", {}).get("InstanceFleets")),
                next_at=now + self.timings.starting,
            )
        self._cluster_event(
            cluster,
            "STARTING",
            "INFO",
            f"Amazon EMR cluster {cluster.id} ({cluster.name}) was requested and is being created.",
        )

    def on_steps_added(self, cluster: Any, steps: list[Step]) -> None:
        with self._lock:
            for step in steps:
                step.state = "PENDING"
                step.creation_date_time = self.clock.now()
            if cluster.state == "RUNNING" and not any(s.state == "RUNNING" for s in cluster.steps):
                cluster.state = "WAITING" if cluster.ready_datetime else cluster.state
            sim = self._clusters.get(cluster.id)
            if sim and cluster.ready_datetime is None:
                # moto's add_steps marked the cluster RUNNING; it is still starting.
                cluster.state = (
                    "STARTING" if self.clock.timestamp() < sim.next_at - self.timings.bootstrapping else "BOOTSTRAPPING"
                )
        for step in steps:
            self._step_event(
                cluster, step, "PENDING", "INFO", f"Step {step.id} ({step.name}) was added to cluster {cluster.id}."
            )

    def on_terminate(
        self, cluster: Any, code: str = "USER_REQUEST", message: str = "Terminated by user request"
    ) -> None:
        with self._lock:
            if cluster.state in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"):
                return
            sim = self._clusters.get(cluster.id)
            if sim is None:  # created before the simulator (e.g. by a test through moto directly)
                sim = _ClusterSim(cluster=cluster, created=self.clock.timestamp(), idle_timeout=None, fleets=False)
                self._clusters[cluster.id] = sim
            self._begin_termination(sim, code, message)

    def _kill_processes(self, cluster: Any) -> None:
        """Instances shutting down stop what runs on them (and a real process holds the clock at 1x)."""
        for step in cluster.steps:
            process = self._processes.get(step.id)
            if process is not None and step.state == "RUNNING":
                process.kill()

    def on_cancel(self, cluster: Any, step_ids: list[str]) -> list[dict[str, str]]:
        infos = []
        with self._lock:
            for step in cluster.steps:
                if step.id not in step_ids:
                    continue
                if step.state == "PENDING":
                    self._finish_step(cluster, step, "CANCELLED", None)
                    infos.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
                else:
                    infos.append({"StepId": step.id, "Status": "FAILED", "Reason": f"Step is {step.state}"})
        return infos

    # -- the state machine of EMR ---------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.timestamp()
        with self._lock:
            for sim in list(self._clusters.values()):
                self._advance(sim, now)
            self._flush_logs(now)

    def _advance(self, sim: _ClusterSim, now: float) -> None:
        cluster = sim.cluster
        state = cluster.state
        if state == "STARTING" and now >= sim.next_at:
            if self._matches(cluster, self.faults.spot_capacity_timeout):
                code = "INSTANCE_FLEET_TIMEOUT" if sim.fleets else "INSTANCE_FAILURE"
                self._emit_capacity_timeout(cluster, sim.fleets)
                self._begin_termination(
                    sim, code, "The requested Spot capacity was not available before the provisioning timeout."
                )
                return
            cluster.state = "BOOTSTRAPPING"
            sim.next_at = now + self.timings.bootstrapping
        elif state == "BOOTSTRAPPING" and now >= sim.next_at:
            if self._matches(cluster, self.faults.bootstrap_failure):
                self._begin_termination(
                    sim,
                    "BOOTSTRAP_FAILURE",
                    "On the master instance (i-0local), bootstrap action 1 returned a non-zero return code",
                )
                return
            cluster.ready_datetime = self.clock.now()
            cluster.state = "WAITING"
            self._cluster_event(
                cluster, "RUNNING", "INFO", f"Amazon EMR cluster {cluster.id} ({cluster.name}) has started running."
            )
            self._cluster_event(
                cluster,
                "WAITING",
                "INFO",
                f"Amazon EMR cluster {cluster.id} ({cluster.name}) is ready and waiting for steps.",
            )
            sim.idle_since = now
        elif state in ("WAITING", "RUNNING"):
            self._run_steps(sim, now)
        elif state == "TERMINATING" and now >= sim.next_at:
            self._finish_termination(sim)

    def _run_steps(self, sim: _ClusterSim, now: float) -> None:
        cluster = sim.cluster
        for step in cluster.steps:
            if step.state == "RUNNING" and step.id in self._results:
                self._complete(sim, step, self._results.pop(step.id))
        running = [step for step in cluster.steps if step.state == "RUNNING"]
        slots = max(int(cluster.step_concurrency_level or 1), 1) - len(running)
        pending = sorted((s for s in cluster.steps if s.state == "PENDING"), key=lambda s: s.creation_date_time)
        for step in pending[: max(slots, 0)]:
            step.state = "RUNNING"
            step.start_date_time = self.clock.now()
            cluster.state = "RUNNING"
            self._step_event(
                cluster,
                step,
                "RUNNING",
                "INFO",
                f"Step {step.id} ({step.name}) started running on cluster {cluster.id}.",
            )
            worker = threading.Thread(target=self._execute, args=(cluster, step), name=f"step-{step.id}", daemon=True)
            self._running[step.id] = worker
            worker.start()
        if cluster.state == "RUNNING" and not any(s.state in ("RUNNING", "PENDING") for s in cluster.steps):
            cluster.state = "WAITING"
            sim.idle_since = now
            self._cluster_event(
                cluster,
                "WAITING",
                "INFO",
                f"Amazon EMR cluster {cluster.id} ({cluster.name}) has completed its steps and is waiting.",
            )
        if (
            cluster.state == "WAITING"
            and sim.idle_timeout
            and sim.idle_since is not None
            and now - sim.idle_since >= sim.idle_timeout
        ):
            self.on_terminate(
                cluster, "ALL_STEPS_COMPLETED", "Cluster was terminated after its auto-termination idle timeout."
            )

    def _complete(self, sim: _ClusterSim, step: Any, run: StepRun) -> None:
        cluster = sim.cluster
        self._running.pop(step.id, None)
        self._finish_step(cluster, step, run.state, run.failure)
        delay = self.faults.log_delay_seconds
        if not self.faults.logs_never_written:
            self._pending_logs.append((self.clock.timestamp() + delay, cluster, step, run))
        if run.state == "FAILED":
            if step.action_on_failure in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
                for other in cluster.steps:
                    if other.state == "PENDING":
                        self._finish_step(cluster, other, "CANCELLED", None)
                self.on_terminate(cluster, "STEP_FAILURE", f"Shut down as step failed: {step.name}")
            elif step.action_on_failure == "CANCEL_AND_WAIT":
                for other in cluster.steps:
                    if other.state == "PENDING":
                        self._finish_step(cluster, other, "CANCELLED", None)

    def _finish_step(self, cluster: Any, step: Any, state: str, failure: dict[str, str] | None) -> None:
        step.state = state
        step.end_date_time = self.clock.now()
        step.failure_details = failure
        if failure:
            step.last_state_change_reason = failure.get("Message")
        severity = "ERROR" if state == "FAILED" else ("WARN" if state in ("CANCELLED", "INTERRUPTED") else "INFO")
        words = {
            "COMPLETED": "completed",
            "FAILED": "failed",
            "CANCELLED": "was cancelled",
            "INTERRUPTED": "was interrupted",
        }
        self._step_event(
            cluster,
            step,
            state,
            severity,
            f"Step {step.id} ({step.name}) {words.get(state, state)} on cluster {cluster.id}.",
        )

    def _begin_termination(self, sim: _ClusterSim, code: str, message: str) -> None:
        """TERMINATING now, with the reason the cluster will end with; by request or by a failure."""
        cluster = sim.cluster
        cluster.state = "TERMINATING"
        sim.reason = (code, message)
        sim.next_at = self.clock.timestamp() + self.timings.terminating
        cluster.last_state_change_reason = message
        cluster.state_change_reason_code = code
        self._kill_processes(cluster)

    def _finish_termination(self, sim: _ClusterSim) -> None:
        cluster = sim.cluster
        code, message = sim.reason or ("USER_REQUEST", "Terminated by user request")
        for step in cluster.steps:
            if step.state == "PENDING":
                self._finish_step(cluster, step, "CANCELLED", None)
            elif step.state == "RUNNING":
                self._running.pop(step.id, None)
                self._results.pop(step.id, None)
                self._finish_step(cluster, step, "INTERRUPTED", None)
        error = code not in ("USER_REQUEST", "ALL_STEPS_COMPLETED")
        cluster.state = "TERMINATED_WITH_ERRORS" if error else "TERMINATED"
        cluster.end_datetime = self.clock.now()
        cluster.last_state_change_reason = message
        cluster.state_change_reason_code = code
        self._cluster_event(
            cluster,
            cluster.state,
            "ERROR" if error else "INFO",
            f"Amazon EMR Cluster {cluster.id} ({cluster.name}) has terminated with "
            f"{'errors' if error else 'no errors'}. Reason: {code}.",
            reason={"code": code, "message": message},
        )

    def _matches(self, cluster: Any, prefixes: list[str]) -> bool:
        return any(cluster.name.startswith(prefix) for prefix in prefixes)

    # -- steps ---------------------------------------------------------------------------------
    def _execute(self, cluster: Any, step: Any) -> None:
        self._worker.step_id = step.id
        try:
            run = self._run_step(cluster, step)
        except Exception as exc:
            run = StepRun(
                "FAILED",
                "",
                f"{type(exc).__name__}: {exc}\n",
                "",
                simulated=False,
                failure={"Reason": "Unknown Error.", "Message": str(exc)},
            )
        if run.failure is not None:
            run.failure.setdefault("LogFile", self._log_prefix(cluster, step) + "stderr.gz")
        with self._lock:
            if step.state == "RUNNING":
                self._results[step.id] = run
            else:
                self._running.pop(step.id, None)

    def _run_step(self, cluster: Any, step: Any) -> StepRun:
        args = [str(arg) for arg in step.args]
        jar = str(step.jar)
        if step.name in self.faults.failing_steps:
            message = self.faults.failing_steps[step.name]
            self.clock.sleep(self.timings.simulated_step)
            return StepRun(
                "FAILED",
                "",
                f"Injected fault: {message}\n",
                self._controller(jar, args, 1),
                simulated=True,
                failure={"Reason": message, "Message": message},
            )
        if jar.endswith("script-runner.jar") and args:
            return self._run_script(args[0], args[1:], jar)
        if jar == "command-runner.jar" and args and args[0] in LOCAL_COMMANDS:
            return self._run_process(self._local_argv(args), jar, args)
        if jar == "command-runner.jar" and args and args[0] == "spark-submit":
            spark_submit, java = shutil.which("spark-submit"), shutil.which("java")
            if spark_submit and java:
                return self._run_spark(spark_submit, args)
            why = "spark-submit needs PySpark and Java on this machine (pip install pyspark; a JDK 17+)"
        else:
            why = f"{args[0] if args else jar} is not available on this machine"
        self.simulated_steps[step.id] = why
        self.clock.sleep(self.timings.simulated_step)
        note = f"[local runtime] step simulated, not run: {why}\n"
        return StepRun("COMPLETED", note, note, self._controller(jar, args, 0), simulated=True)

    def _run_spark(self, spark_submit: str, args: list[str]) -> StepRun:
        """spark-submit on local PySpark. s3:// arguments are staged through the emulator: existing
        objects (the application, inputs) are downloaded; other s3:// arguments are outputs, written
        locally and uploaded when the application succeeds."""
        s3 = self._s3()
        with tempfile.TemporaryDirectory(prefix="emr-spark-") as workdir:
            staged: list[str] = []
            outputs: list[tuple[Path, str]] = []
            options = iter(args[1:])
            for arg in options:
                if arg in ("--deploy-mode", "--master"):
                    next(options, None)  # a cluster's master and deploy mode do not apply locally
                    continue
                if not arg.startswith("s3://"):
                    staged.append(arg)
                    continue
                bucket, _, key = arg.removeprefix("s3://").partition("/")
                local = Path(workdir) / f"s3-{len(staged)}" / (Path(key).name or "out")
                local.parent.mkdir(parents=True)
                listing = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
                if any(obj["Key"] == key for obj in listing):
                    s3.download_file(bucket, key, str(local))
                elif listing:
                    local.mkdir()
                    for obj in listing:
                        target = local / obj["Key"][len(key) :].lstrip("/")
                        target.parent.mkdir(parents=True, exist_ok=True)
                        s3.download_file(bucket, obj["Key"], str(target))
                else:
                    outputs.append((local, arg))
                staged.append(str(local))
            run = self._run_process(
                [spark_submit, "--master", "local[2]", *staged], "command-runner.jar", args, cwd=workdir
            )
            if run.state == "COMPLETED":
                for local, uri in outputs:
                    bucket, _, key = uri.removeprefix("s3://").partition("/")
                    # Hadoop's local .crc side files do not exist on S3 (EMRFS writes none).
                    files = (
                        [local]
                        if local.is_file()
                        else sorted(p for p in local.rglob("*") if p.is_file() and not p.name.startswith("."))
                    )
                    for path in files:
                        name = key if path == local else f"{key.rstrip('/')}/{path.relative_to(local).as_posix()}"
                        s3.upload_file(str(path), bucket, name)
            return run

    def _local_argv(self, args: list[str]) -> list[str]:
        return [sys.executable, *args[1:]] if args[0] in ("python3", "python") else args

    def _run_script(self, script_uri: str, script_args: list[str], jar: str) -> StepRun:
        with tempfile.TemporaryDirectory(prefix="emr-step-") as workdir:
            local = Path(workdir) / Path(script_uri).name
            bucket, _, key = script_uri.removeprefix("s3://").partition("/")
            self._s3().download_file(bucket, key, str(local))
            local.chmod(0o755)
            if local.suffix == ".py":
                argv = [sys.executable, str(local), *script_args]
            elif local.suffix == ".sh" or shutil.which("bash") is None:
                argv = ["bash", str(local), *script_args]
            else:
                argv = [str(local), *script_args]
            return self._run_process(argv, jar, [script_uri, *script_args], cwd=workdir)

    def _run_process(self, argv: list[str], jar: str, args: list[str], cwd: str | None = None) -> StepRun:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "PYTHONUNBUFFERED": "1",
        }
        step_id = getattr(self._worker, "step_id", "")
        # A real process takes real time, whatever the clock's speed.
        with self.clock.real_time():
            process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self._processes[step_id] = process  # killed if its cluster terminates meanwhile
            try:
                stdout, stderr = process.communicate(timeout=self.timings.step_timeout_real)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
                return StepRun(
                    "FAILED",
                    stdout,
                    stderr + "\nkilled: local step timeout\n",
                    self._controller(jar, args, -9),
                    simulated=False,
                    failure={"Reason": "Step timed out on the local runtime", "Message": "killed after timeout"},
                )
            finally:
                self._processes.pop(step_id, None)
        proc = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
        controller = self._controller(jar, args, proc.returncode)
        if proc.returncode == 0:
            return StepRun("COMPLETED", proc.stdout, proc.stderr, controller, simulated=False)
        last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
        return StepRun(
            "FAILED",
            proc.stdout,
            proc.stderr,
            controller,
            simulated=False,
            failure={
                "Reason": last[:256] or "Unknown Error.",
                "Message": f"Command exited with status {proc.returncode}",
            },
        )

    def _controller(self, jar: str, args: list[str], code: int) -> str:
        stamp = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{stamp} INFO startExec '{jar} {' '.join(args)}'\n{stamp} INFO Process finished with exit code {code}\n"

    # -- logs and events -------------------------------------------------------------------
    def _s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def _log_prefix(self, cluster: Any, step: Any) -> str:
        base = (cluster.log_uri or "").rstrip("/")
        return f"{base}/{cluster.id}/steps/{step.id}/"

    def _flush_logs(self, now: float) -> None:
        due = [item for item in self._pending_logs if item[0] <= now]
        if not due:
            return
        self._pending_logs = [item for item in self._pending_logs if item[0] > now]
        for _, cluster, step, run in due:
            if not cluster.log_uri:
                continue
            prefix = self._log_prefix(cluster, step).removeprefix("s3://")
            bucket, _, key_prefix = prefix.partition("/")
            s3 = self._s3()
            for name, text in (("stdout", run.stdout), ("stderr", run.stderr), ("controller", run.controller)):
                s3.put_object(Bucket=bucket, Key=f"{key_prefix}{name}.gz", Body=gzip.compress(text.encode("utf-8")))

    def _cluster_event(
        self, cluster: Any, state: str, severity: str, message: str, reason: dict[str, str] | None = None
    ) -> None:
        self.emit(
            "EMR Cluster State Change",
            cluster.arn if hasattr(cluster, "arn") else cluster.id,
            {
                "severity": severity,
                # EMR sends the reason as a JSON-encoded string.
                "stateChangeReason": json.dumps(reason or {"code": ""}),
                "name": cluster.name,
                "clusterId": cluster.id,
                "state": state,
                "message": message,
            },
        )

    def _step_event(self, cluster: Any, step: Any, state: str, severity: str, message: str) -> None:
        self.emit(
            "EMR Step Status Change",
            cluster.id,
            {
                "severity": severity,
                "actionOnFailure": step.action_on_failure,
                "stepId": step.id,
                "name": step.name,
                "clusterId": cluster.id,
                "state": state,
                "message": message,
            },
        )

    def _emit_capacity_timeout(self, cluster: Any, fleets: bool) -> None:
        detail: dict[str, Any] = {
            "clusterId": cluster.id,
            "severity": "ERROR",
            "eventCode": "Spot Provisioning timeout",
            "message": f"The Spot capacity for the TASK of cluster {cluster.id} could not be provisioned in time.",
        }
        detail["instanceFleetType" if fleets else "instanceGroupType"] = "TASK"
        self.emit(
            "EMR Instance Fleet Provisioning" if fleets else "EMR Instance Group Provisioning", cluster.id, detail
        )

    # -- idle reaper support: CloudWatch IsIdle and the idle timeout -------------------- (begin) --
    IDLE_PERIOD = 300  # IsIdle is a 5-minute metric

    def publish_idle_metrics(self) -> int:
        """Write AWS/ElasticMapReduce IsIdle (dimension JobFlowId) for each complete 5-minute virtual period
        since a cluster was ready that has not been written yet: 1 if the cluster has been WAITING with no
        step pending or running since before the period began, else 0. EMR publishes this metric by itself;
        the local runtime writes it when asked (the demo, tests, `local up`). Returns datapoints written."""
        period = self.IDLE_PERIOD
        end = self.clock.timestamp() // period * period
        data: list[Any] = []  # MetricDatum dicts
        with self._lock:
            for sim in self._clusters.values():
                cluster = sim.cluster
                if cluster.ready_datetime is None or cluster.state not in ("WAITING", "RUNNING"):
                    continue
                start = max(-(-cluster.ready_datetime.timestamp() // period) * period, sim.idle_metrics_until)
                active = any(step.state in ("PENDING", "CANCEL_PENDING", "RUNNING") for step in cluster.steps)
                idle_since = sim.idle_since if cluster.state == "WAITING" and not active else None
                at = start
                while at + period <= end:
                    data.append(
                        {
                            "MetricName": "IsIdle",
                            "Dimensions": [{"Name": "JobFlowId", "Value": cluster.id}],
                            "Timestamp": datetime.fromtimestamp(at, tz=cluster.ready_datetime.tzinfo),
                            # Periods not written in time are judged by the state now: 0 unless provably idle.
                            "Value": 1.0 if idle_since is not None and at >= idle_since else 0.0,
                        }
                    )
                    at += period
                sim.idle_metrics_until = max(start, at)
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for first in range(0, len(data), 1000):  # PutMetricData takes up to 1,000 datapoints
            cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=data[first : first + 1000])
        return len(data)

    def idle_timeout(self, cluster_id: str) -> float | None:
        with self._lock:
            sim = self._clusters.get(cluster_id)
            return sim.idle_timeout if sim else None

    def set_idle_timeout(self, cluster_id: str, seconds: float | None) -> bool:
        """PutAutoTerminationPolicy on a simulated cluster: it then ends itself after that idle time."""
        with self._lock:
            sim = self._clusters.get(cluster_id)
            if sim is None:
                return False
            sim.idle_timeout = seconds
            return True

    # -- idle reaper support ---------------------------------------------------------------- (end) --


# ---------------------------------------------------------------------------------------------
# moto patches: installed once per process, they delegate to whichever simulator is active.

_active: EmrSimulator | None = None
_request = threading.local()
_installed = False


def activate(simulator: EmrSimulator | None) -> None:
    global _active
    _active = simulator


def active() -> EmrSimulator | None:
    return _active


def _throttled(api: str) -> None:
    if _active is not None and _active.faults.take_throttle(api):
        raise ThrottlingException("Rate exceeded")
    if _active is not None and _active.faults.take_error(api):
        raise ValidationException(f"Injected fault: {api} refused")


def install_patches() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    backend = ElasticMapReduceBackend
    original_run = backend.run_job_flow
    original_add = backend.add_job_flow_steps

    def run_job_flow(self: ElasticMapReduceBackend, **kwargs: Any) -> Cluster:
        _throttled("run_job_flow")
        cluster = original_run(self, **kwargs)
        if _active is not None:
            _active.on_cluster_created(cluster, getattr(_request, "params", {}) or {})
        return cluster

    def add_job_flow_steps(self: ElasticMapReduceBackend, job_flow_id: str, steps: list[dict[str, Any]]) -> list[Step]:
        _throttled("add_job_flow_steps")
        cluster = self.clusters[job_flow_id]
        if cluster.state not in ACTIVE:
            raise ValidationException(
                f"A job flow that is shutting down, terminated, or finished may not be modified: {job_flow_id}"
            )
        added = original_add(self, job_flow_id, steps)
        if _active is not None:
            _active.on_steps_added(cluster, added)
        return added

    def terminate_job_flows(self: ElasticMapReduceBackend, job_flow_ids: list[str]) -> list[Cluster]:
        _throttled("terminate_job_flows")
        clusters = [self.describe_cluster(cluster_id) for cluster_id in job_flow_ids]
        if any(cluster.termination_protected for cluster in clusters):
            raise ValidationException("Could not shut down one or more job flows since they are termination protected.")
        for cluster in clusters:
            if _active is not None:
                _active.on_terminate(cluster)
            else:
                cluster.terminate()
        return clusters

    def cancel_steps(self: ElasticMapReduceBackend, cluster_id: str, step_ids: list[str]) -> list[dict[str, str]]:
        _throttled("cancel_steps")
        cluster = self.describe_cluster(cluster_id)
        if _active is None:
            return [{"StepId": step_id, "Status": "FAILED", "Reason": "no simulator"} for step_id in step_ids]
        return _active.on_cancel(cluster, step_ids)

    original_describe_step = backend.describe_step

    def describe_step(self: ElasticMapReduceBackend, cluster_id: str, step_id: str) -> Step:
        # EMR answers InvalidRequestException for a cluster or step it does not know; moto raises KeyError (a 500).
        step = original_describe_step(self, self.describe_cluster(cluster_id).id, step_id)
        if step is None:
            raise InvalidRequestException(f"Step id '{step_id}' is not valid.")
        return step

    backend.describe_step = describe_step  # type: ignore[method-assign]

    for name in ("describe_cluster", "describe_step", "list_clusters", "list_steps"):
        original = getattr(backend, name)

        def throttled(self: Any, *args: Any, __original: Any = original, __name: str = name, **kwargs: Any) -> Any:
            _throttled(__name)
            return __original(self, *args, **kwargs)

        setattr(backend, name, throttled)

    from emr_autopilot_devkit.local import emr_auto_termination  # imports this module

    emr_auto_termination.install()  # moto has no Get/Put/RemoveAutoTerminationPolicy
    backend.run_job_flow = run_job_flow  # type: ignore[method-assign]
    backend.add_job_flow_steps = add_job_flow_steps  # type: ignore[method-assign]
    backend.terminate_job_flows = terminate_job_flows  # type: ignore[method-assign]
    backend.cancel_steps = cancel_steps  # type: ignore[attr-defined]

    response = ElasticMapReduceResponse
    original_run_response = response.run_job_flow

    def run_job_flow_response(self: ElasticMapReduceResponse) -> Any:
        # The backend is not given AutoTerminationPolicy or InstanceFleets; hand them over.
        _request.params = {
            "AutoTerminationPolicy": self._get_param("AutoTerminationPolicy"),
            "Instances": {"InstanceFleets": self._get_param("Instances.InstanceFleets")},
        }
        try:
            return original_run_response(self)
        finally:
            _request.params = None

    def cancel_steps_response(self: ElasticMapReduceResponse) -> Any:
        from moto.core.responses import ActionResult

        infos = self.backend.cancel_steps(self._get_param("ClusterId"), self._get_param("StepIds", []))  # type: ignore[attr-defined]
        return ActionResult({"CancelStepsInfoList": infos})

    response.run_job_flow = run_job_flow_response  # type: ignore[method-assign]
    response.cancel_steps = cancel_steps_response  # type: ignore[attr-defined]

    def step_status(self: Step) -> dict[str, Any]:
        status: dict[str, Any] = {
            "State": self.state,
            "StateChangeReason": {"Message": getattr(self, "last_state_change_reason", None)},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "StartDateTime": self.start_date_time,
                "EndDateTime": self.end_date_time,
            },
        }
        failure = getattr(self, "failure_details", None)
        if failure:
            status["FailureDetails"] = failure
        return status

    def cluster_status(self: Cluster) -> dict[str, Any]:
        reason: dict[str, Any] = {"Message": getattr(self, "last_state_change_reason", None)}
        code = getattr(self, "state_change_reason_code", None)
        if code:
            reason["Code"] = code
        return {
            "State": self.state,
            "StateChangeReason": reason,
            "Timeline": {
                "CreationDateTime": self.creation_datetime,
                "EndDateTime": self.end_datetime,
                "ReadyDateTime": self.ready_datetime,
            },
        }

    Step.status = property(step_status)  # type: ignore[assignment,method-assign]
    Cluster.status = property(cluster_status)  # type: ignore[assignment,method-assign]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
