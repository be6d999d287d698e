"""Realistic EMR behaviour on top of moto's EMR backend.

moto (pinned) makes a cluster WAITING at once, terminates instantly, leaves steps RUNNING or
PENDING forever and emits no events. The simulator moves clusters and steps through EMR's
real state sequences on the fast clock, runs steps through step_runner (for real, or failed
saying what this machine lacks), writes their logs under LogUri, emits EMR's EventBridge events
and injects faults.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.core.exceptions import ServiceException
from moto.emr.exceptions import ValidationException
from moto.emr.models import ElasticMapReduceBackend, Step, emr_backends
from moto.emr.utils import random_id

from emr_autopilot.emr import ENDED, READY, STEP_ACTIVE
from emr_autopilot_devkit.local import emr_idle_metrics
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.emr_events import EmrEvents, Fleet
from emr_autopilot_devkit.local.emr_events import event_time as _at
from emr_autopilot_devkit.local.emr_instance_hours import normalized_instance_hours
from emr_autopilot_devkit.local.emulator_clients import emulator_client
from emr_autopilot_devkit.local.job_run_simulator import SimulatorCore
from emr_autopilot_devkit.local.simulator_thread import ActiveSlot, TickThread
from emr_autopilot_devkit.local.step_runner import StepRun


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
    # CANCEL_PENDING -> CANCELLED for a step with no process to signal (inferred: EMR documents no duration).
    cancelling: float = 10.0


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
class _Cancel:
    """A CancelSteps request for a RUNNING step: its option, when it came, whether the process was signalled."""

    option: str
    at: float
    signalled: bool = False


@dataclass
class _ClusterSim:
    cluster: Any
    created: float  # virtual timestamp
    idle_timeout: float | None
    fleets: list[Fleet]
    request: dict[str, Any] = field(default_factory=dict)  # RunJobFlow's: the instances, for the bill
    next_at: float = 0.0
    cancels: dict[str, _Cancel] = field(default_factory=dict)  # step id -> its pending cancellation
    reason: tuple[str, str] | None = None
    idle_since: float | None = None
    idle_metrics_until: float = 0.0  # IsIdle written for periods before this virtual time (idle reaper)


class EmrSimulator(SimulatorCore):
    def __init__(
        self,
        clock: FastClock,
        account_id: str,
        region: str,
        endpoint_url: str,
        emit: Callable[[str, str, dict[str, Any]], None],
        timings: Timings | None = None,
    ) -> None:
        super().__init__(clock, account_id, region, endpoint_url, emit)
        # self.emit is looked up at each event: a test or the bench may replace it.
        self.events = EmrEvents(lambda detail_type, resource, detail: self.emit(detail_type, resource, detail))
        self.timings = timings or Timings()
        self.faults = Faults()
        self.simulated_steps = self.runner.simulated  # step id -> why it was simulated (simulate: true)
        self._clusters: dict[str, _ClusterSim] = {}
        self._running: dict[str, threading.Thread] = {}
        self._results: dict[str, StepRun] = {}
        self._processes = self.runner.processes  # step id -> its real process (its own process group)
        self._pending_logs: list[tuple[float, Any, Any, StepRun]] = []
        self._lock = threading.RLock()
        self._ticker = TickThread("emr-simulator", self.tick)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def backend(self) -> ElasticMapReduceBackend:
        return emr_backends[self.account_id][self.region]

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

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
            # RunJobFlow's Steps wait for the cluster: moto marked the first RUNNING (emr-overview,
            # "Understanding the cluster lifecycle": steps run once the cluster is RUNNING).
            for order, step in enumerate(cluster.steps):
                step.state = "PENDING"
                # A microsecond apart: ListSteps answers newest first, so submission order must show in time.
                step.creation_date_time = cluster.creation_datetime + timedelta(microseconds=order)
                step.start_date_time = None
            self._clusters[cluster.id] = _ClusterSim(
                cluster=cluster,
                created=now,
                idle_timeout=float(policy["IdleTimeout"]) if policy.get("IdleTimeout") else None,
                fleets=[_fleet(item) for item in (request.get("Instances", {}).get("InstanceFleets") or [])],
                request=dict(request),
                next_at=now + self.timings.starting,
            )
            for group in cluster.instance_groups:  # moto stamps the wall clock; the cluster lives on the fast one
                group.creation_date_time = group.ready_date_time = cluster.creation_datetime
        self.events.cluster(
            cluster,
            "STARTING",
            "INFO",
            f"Amazon EMR cluster {cluster.id} ({cluster.name}) was requested at {_at(cluster.creation_datetime)} "
            "and is being created.",
        )
        for step in cluster.steps:
            self.events.step_pending(cluster, step)

    @property
    def lock(self) -> threading.RLock:
        """Held by every tick; the EMR backend patches hold it while moto changes a cluster's steps."""
        return self._lock

    def on_steps_added(self, cluster: Any, steps: list[Step]) -> None:
        with self._lock:
            now = self.clock.now()
            for order, step in enumerate(steps):
                step.state = "PENDING"
                step.creation_date_time = now + timedelta(microseconds=order)  # newest first in ListSteps
                step.start_date_time = None
            sim = self._clusters.get(cluster.id)
            if sim and cluster.ready_datetime is None:
                # moto's add_steps marked the cluster RUNNING; it is still starting.
                cluster.state = (
                    "STARTING" if self.clock.timestamp() < sim.next_at - self.timings.bootstrapping else "BOOTSTRAPPING"
                )
            elif cluster.ready_datetime is not None:
                # moto's add_steps marked it RUNNING; it stays WAITING until the next tick starts the step (with
                # its RUNNING event), or RUNNING if a step still runs.
                busy = any(s.state in ("RUNNING", "CANCEL_PENDING") for s in cluster.steps)
                cluster.state = "RUNNING" if busy else "WAITING"
        for step in steps:
            self.events.step_pending(cluster, step)

    def on_terminate(
        self, cluster: Any, code: str = "USER_REQUEST", message: str = "Terminated by user request"
    ) -> None:
        with self._lock:
            if cluster.state in ENDED:
                return
            sim = self._clusters.get(cluster.id)
            if sim is None:  # created before the simulator (e.g. by a test through moto directly)
                sim = _ClusterSim(cluster=cluster, created=self.clock.timestamp(), idle_timeout=None, fleets=[])
                self._clusters[cluster.id] = sim
            self._begin_termination(sim, code, message)

    def _kill_processes(self, cluster: Any) -> None:
        """Instances shutting down stop what runs on them (and a real process holds the clock at 1x)."""
        for step in cluster.steps:
            process = self._processes.get(step.id)
            if process is not None and step.state == "RUNNING":
                process.kill()

    def on_cancel(self, cluster: Any, step_ids: list[str], option: str = "SEND_INTERRUPT") -> list[dict[str, str]]:
        """CancelSteps (API_CancelSteps; emr-cancel-steps.md): a PENDING step is CANCELLED at once; a RUNNING
        one (EMR 5.28.0+) goes CANCEL_PENDING, its process gets SIGTERM (SEND_INTERRUPT, the default) or
        SIGKILL (TERMINATE_PROCESS), and it is CANCELLED once the process has ended. Cancelling never
        triggers the step's ActionOnFailure."""
        infos = []
        with self._lock:
            sim = self._clusters.get(cluster.id)
            for step in cluster.steps:
                if step.id not in step_ids:
                    continue
                if step.state == "PENDING":
                    self._finish_step(cluster, step, "CANCELLED", None)
                    infos.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
                elif step.state == "RUNNING" and sim is not None:
                    step.state = "CANCEL_PENDING"
                    sim.cancels[step.id] = _Cancel(option=option, at=self.clock.timestamp())
                    self.events.step(
                        cluster,
                        step,
                        "CANCEL_PENDING",
                        "WARN",
                        f"Step {step.id} ({step.name}) in Amazon EMR cluster {cluster.id} ({cluster.name}) was "
                        f"cancelled at {_at(self.clock.now())} and is pending cancellation.",
                    )
                    self._signal_cancelled(sim, step)
                    infos.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
                else:
                    infos.append({"StepId": step.id, "Status": "FAILED", "Reason": f"Step is {step.state}"})
        return infos

    def _signal_cancelled(self, sim: _ClusterSim, step: Any) -> None:
        """Signal a cancelled step's process once it has one: SIGTERM for SEND_INTERRUPT, SIGKILL for
        TERMINATE_PROCESS, to its process group when it leads one (emr-cancel-steps.md: "the step and all
        its descendant processes")."""
        cancel = sim.cancels.get(step.id)
        process = self._processes.get(step.id)
        if cancel is None or cancel.signalled or process is None:
            return
        cancel.signalled = True
        if cancel.option == "TERMINATE_PROCESS":
            self.runner.kill(step.id)
        else:
            _signal(process, signal.SIGTERM)

    # -- the state machine of EMR ---------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.timestamp()
        with self._lock:
            for sim in list(self._clusters.values()):
                self._reap_orphans(sim)
                self._advance(sim, now)
            self._flush_logs(now)

    def _advance(self, sim: _ClusterSim, now: float) -> None:
        # EMR's cluster life cycle (emr-overview.md, "Understanding the cluster lifecycle"):
        # STARTING -> BOOTSTRAPPING -> RUNNING while steps run -> WAITING, or TERMINATING -> TERMINATED when
        # KeepJobFlowAliveWhenNoSteps is false. Events exist for STARTING, RUNNING, WAITING, TERMINATED and
        # TERMINATED_WITH_ERRORS only (emr-manage-cloudwatch-events.md, "Cluster events").
        cluster = sim.cluster
        state = cluster.state
        if state == "STARTING" and now >= sim.next_at:
            if self._matches(cluster, self.faults.spot_capacity_timeout):
                code = "INSTANCE_FLEET_TIMEOUT" if sim.fleets else "INSTANCE_FAILURE"
                self.events.capacity_timeout(sim.cluster, sim.fleets)
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
            if any(step.state == "PENDING" for step in cluster.steps):
                self._run_steps(sim, now)  # RUNNING, "began running steps"
            elif not _keep_alive(cluster):
                # A transient cluster with no step left ends at once (inferred: no WAITING in between).
                self._begin_termination(sim, "ALL_STEPS_COMPLETED", "Steps completed")
            else:
                cluster.state = "WAITING"
                sim.idle_since = now
                self.events.cluster(
                    cluster,
                    "WAITING",
                    "INFO",
                    f"Amazon EMR cluster {cluster.id} ({cluster.name}) was created at {_at(cluster.ready_datetime)} "
                    "and is ready for use.",
                )
        elif state in READY:
            self._run_steps(sim, now)
        elif state == "TERMINATING" and now >= sim.next_at:
            self._finish_termination(sim)

    def _run_steps(self, sim: _ClusterSim, now: float) -> None:
        cluster = sim.cluster
        self._advance_cancels(sim, now)
        for step in cluster.steps:
            if step.state == "RUNNING" and step.id in self._results:
                self._complete(sim, step, self._results.pop(step.id))
        if cluster.state not in ("BOOTSTRAPPING", "WAITING", "RUNNING"):
            return  # a failed step ended the cluster
        self._start_pending_steps(cluster)
        all_ended = not any(s.state in STEP_ACTIVE for s in cluster.steps)
        if cluster.state == "RUNNING" and all_ended and not self._wait_or_end(sim, now):
            return
        if (
            cluster.state == "WAITING"
            and sim.idle_timeout
            and sim.idle_since is not None
            and now - sim.idle_since >= sim.idle_timeout
        ):
            self.on_terminate(
                cluster, "ALL_STEPS_COMPLETED", "Cluster was terminated after its auto-termination idle timeout."
            )

    def _start_pending_steps(self, cluster: Any) -> None:
        # A CANCEL_PENDING step keeps its slot until it is CANCELLED (emr-cancel-steps.md: cancelling a
        # running step does not let a pending step start; read as "until the cancellation is done").
        active = [step for step in cluster.steps if step.state in ("RUNNING", "CANCEL_PENDING")]
        slots = max(max(int(cluster.step_concurrency_level or 1), 1) - len(active), 0)
        # Pending steps start in the order they were submitted (emr-concurrent-steps.md).
        starting = [step for step in cluster.steps if step.state == "PENDING"][:slots]
        if starting and cluster.state != "RUNNING":
            cluster.state = "RUNNING"
            self.events.cluster(
                cluster,
                "RUNNING",
                "INFO",
                f"Amazon EMR cluster {cluster.id} ({cluster.name}) began running steps at {_at(self.clock.now())}.",
            )
        for step in starting:
            step.state = "RUNNING"
            step.start_date_time = self.clock.now()
            self.events.step(
                cluster,
                step,
                "RUNNING",
                "INFO",
                f"Step {step.id} ({step.name}) in Amazon EMR cluster {cluster.id} ({cluster.name}) started running "
                f"at {_at(step.start_date_time)}.",
            )
            worker = threading.Thread(target=self._execute, args=(cluster, step), name=f"step-{step.id}", daemon=True)
            self._running[step.id] = worker
            worker.start()

    def _wait_or_end(self, sim: _ClusterSim, now: float) -> bool:
        """A RUNNING cluster whose last step ended: WAITING (True), or terminating when it is not kept alive."""
        cluster = sim.cluster
        if not _keep_alive(cluster):
            # KeepJobFlowAliveWhenNoSteps false: "As soon as the last step completes, Amazon EMR terminates
            # the cluster" (emr-plan-longrunning-transient.md); termination protection does not hold it
            # (UsingEMR_TerminationProtection.md). The messages are inferred.
            failed = any(s.state == "FAILED" for s in cluster.steps)
            self._begin_termination(
                sim, "ALL_STEPS_COMPLETED", "Steps completed with errors" if failed else "Steps completed"
            )
            return False
        cluster.state = "WAITING"
        sim.idle_since = now
        self.events.cluster(
            cluster,
            "WAITING",
            "INFO",
            f"Amazon EMR cluster {cluster.id} ({cluster.name}) finished running all pending steps at "
            f"{_at(self.clock.now())}.",
        )
        return True

    def _advance_cancels(self, sim: _ClusterSim, now: float) -> None:
        """CANCEL_PENDING -> CANCELLED once the step's process has ended, or, when no process was ever
        signalled (a simulated step, or one that had not started its process), after Timings.cancelling."""
        cluster = sim.cluster
        for step in cluster.steps:
            if step.state != "CANCEL_PENDING":
                continue
            self._signal_cancelled(sim, step)
            cancel = sim.cancels.get(step.id)
            signalled = cancel is not None and cancel.signalled
            waited = cancel is None or now >= cancel.at + self.timings.cancelling
            if step.id in self._running and (signalled or not waited or step.id in self._processes):
                continue
            self._running.pop(step.id, None)
            self._results.pop(step.id, None)
            sim.cancels.pop(step.id, None)
            self._finish_step(cluster, step, "CANCELLED", None)

    def _reap_orphans(self, sim: _ClusterSim) -> None:
        """A step's process that started after its step was cancelled or its cluster shut down is killed."""
        for step in sim.cluster.steps:
            process = self._processes.get(step.id)
            if process is not None and step.state not in ("RUNNING", "CANCEL_PENDING"):
                self.runner.kill(step.id)

    def _complete(self, sim: _ClusterSim, step: Any, run: StepRun) -> None:
        cluster = sim.cluster
        self._running.pop(step.id, None)
        if not self.faults.logs_never_written:
            self._pending_logs.append((self.clock.timestamp() + self.faults.log_delay_seconds, cluster, step, run))
            # Logs due now are in S3 before the step's event is: a handler reacting to the event (in another
            # thread) found them or not depending on which thread ran first.
            self._write_due_logs()
        self._finish_step(cluster, step, run.state, run.failure)
        if run.state == "FAILED":
            self._on_step_failure(sim, step)

    def _on_step_failure(self, sim: _ClusterSim, step: Any) -> None:
        """ActionOnFailure (API_StepConfig): TERMINATE_CLUSTER / TERMINATE_JOB_FLOW shut the cluster down,
        CANCEL_AND_WAIT cancels the pending steps and returns to WAITING, CONTINUE runs the next step."""
        cluster = sim.cluster
        action = step.action_on_failure
        if action not in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW", "CANCEL_AND_WAIT"):
            return
        if int(cluster.step_concurrency_level or 1) > 1:
            # "If the step concurrency level of a cluster is greater than one, step ActionOnFailure feature
            # will not activate" (emr-concurrent-steps.md).
            return
        for other in cluster.steps:
            if other.state == "PENDING":
                self._finish_step(cluster, other, "CANCELLED", None)
        if action == "CANCEL_AND_WAIT":
            return  # WAITING, or the end of a transient cluster: it has no step left (_run_steps)
        if cluster.termination_protected and _keep_alive(cluster):
            # Termination protection keeps a cluster up "in the event of a job-flow error"
            # (API_SetTerminationProtection), unless step execution is on (UsingEMR_TerminationProtection.md).
            # Inferred: it then waits, as after CANCEL_AND_WAIT.
            return
        # The reason as a real TERMINATED_WITH_ERRORS event gives it: {"code":"STEP_FAILURE","message":"Shut down as
        # step failed"} (an SNS-delivered EMR Cluster State Change quoted in a public PagerDuty integration note).
        self.on_terminate(cluster, "STEP_FAILURE", "Shut down as step failed")

    def _finish_step(self, cluster: Any, step: Any, state: str, failure: dict[str, str] | None) -> None:
        step.state = state
        step.end_date_time = self.clock.now()
        step.failure_details = failure
        if failure:
            step.last_state_change_reason = failure.get("Message")
        if state == "INTERRUPTED":
            # EMR documents Step Status Change events for PENDING, CANCEL_PENDING, RUNNING, COMPLETED, CANCELLED
            # and FAILED only (emr-manage-cloudwatch-events.md, "Step events"): INTERRUPTED shows in DescribeStep
            # and ListSteps, never as an event, so nothing downstream learns to rely on one.
            return
        where = f"in Amazon EMR cluster {cluster.id} ({cluster.name})"
        at = _at(step.end_date_time)
        if state == "COMPLETED":
            started = step.start_date_time or step.end_date_time
            minutes = round((step.end_date_time - started).total_seconds() / 60)
            severity = "INFO"
            message = (
                f"Step {step.id} ({step.name}) {where} completed execution at {at}. The step started running at "
                f"{_at(started)} and took {minutes} minutes to complete."
            )
        elif state == "FAILED":
            severity, message = "ERROR", f"Step {step.id} ({step.name}) {where} failed at {at}."
        else:
            severity = "WARN"
            message = (
                f"Cancellation request has succeeded for cluster step {step.id} ({step.name}) {where} at {at}, "
                "and the step is now cancelled."
            )
        self.events.step(cluster, step, state, severity, message)

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
            if step.state in ("PENDING", "CANCEL_PENDING"):
                self._running.pop(step.id, None)
                self._results.pop(step.id, None)
                sim.cancels.pop(step.id, None)
                self._finish_step(cluster, step, "CANCELLED", None)
            elif step.state == "RUNNING":
                self._running.pop(step.id, None)
                self._results.pop(step.id, None)
                self._finish_step(cluster, step, "INTERRUPTED", None)
        error = code not in ("USER_REQUEST", "ALL_STEPS_COMPLETED")
        cluster.state = "TERMINATED_WITH_ERRORS" if error else "TERMINATED"
        cluster.end_datetime = self.clock.now()
        for group in cluster.instance_groups:  # ListInstances shows each instance's state and times from its group
            group.state, group.end_date_time = "TERMINATED", cluster.end_datetime
        seconds_up = (cluster.end_datetime - cluster.creation_datetime).total_seconds()
        cluster.normalized_instance_hours = normalized_instance_hours(sim.request, seconds_up)
        cluster.last_state_change_reason = message
        cluster.state_change_reason_code = code
        when = _at(cluster.end_datetime)
        # emr-manage-cloudwatch-events.md, "Cluster events": TERMINATED_WITH_ERRORS is CRITICAL. TERMINATED's
        # severity "depends on the reason" (that table is not in the archived guide): INFO for the two
        # non-error reasons is inferred.
        self.events.cluster(
            cluster,
            cluster.state,
            "CRITICAL" if error else "INFO",
            f"Amazon EMR Cluster {cluster.id} ({cluster.name}) has terminated with errors at {when} with a reason "
            f"of {code}."
            if error
            else f"Amazon EMR Cluster {cluster.id} ({cluster.name}) has terminated at {when} with a reason of {code}.",
            reason={"code": code, "message": message},
        )

    def _matches(self, cluster: Any, prefixes: list[str]) -> bool:
        return any(cluster.name.startswith(prefix) for prefix in prefixes)

    # -- steps ---------------------------------------------------------------------------------
    def _execute(self, cluster: Any, step: Any) -> None:
        # Runs on the step's own thread: step_runner runs it for real, or fails it saying what is missing.
        run = self.runner.run(step, self.timings, self.faults.failing_steps, self._log_prefix(cluster, step))
        with self._lock:
            if step.state == "RUNNING":
                self._results[step.id] = run
            else:
                self._running.pop(step.id, None)

    # -- logs and events -------------------------------------------------------------------
    def _s3(self) -> Any:
        return emulator_client("s3", self.endpoint_url, self.region)

    def _log_prefix(self, cluster: Any, step: Any) -> str:
        base = (cluster.log_uri or "").rstrip("/")
        return f"{base}/{cluster.id}/steps/{step.id}/"

    def _write_due_logs(self) -> None:
        try:
            self._flush_logs(self.clock.timestamp())
        except Exception as exc:  # as in TickThread: the step still ends; the failure goes to the runtime log
            print(f"emr-simulator: {type(exc).__name__}: {exc}", file=sys.stderr)

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

    # -- idle reaper support: CloudWatch IsIdle and the idle timeout -------------------- (begin) --
    def publish_idle_metrics(self) -> int:
        """Write AWS/ElasticMapReduce IsIdle (dimension JobFlowId) for each complete 5-minute virtual period
        since a cluster was ready that has not been written yet: 1 if the cluster has been WAITING with no
        step pending or running since before the period began, else 0. EMR publishes this metric by itself;
        the local runtime writes it when asked (the demo, tests, `local up`). Returns datapoints written."""
        with self._lock:
            data = emr_idle_metrics.datapoints(self._clusters.values(), self.clock.timestamp())
        return emr_idle_metrics.put(emulator_client("cloudwatch", self.endpoint_url, self.region), data)

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


def _keep_alive(cluster: Any) -> bool:
    """Instances.KeepJobFlowAliveWhenNoSteps; false by default (API_JobFlowInstancesConfig)."""
    return bool(getattr(cluster, "keep_job_flow_alive_when_no_steps", False))


def _fleet(config: Any) -> Fleet:
    spot = ((config.get("LaunchSpecifications") or {}).get("SpotSpecification")) or {}
    minutes = spot.get("TimeoutDurationMinutes")
    return Fleet(
        id=f"if-{random_id()}",
        type=str(config.get("InstanceFleetType") or "TASK"),
        spot_capacity=int(config.get("TargetSpotCapacity") or 0),
        timeout_action=spot.get("TimeoutAction"),
        timeout_minutes=int(minutes) if minutes is not None else None,
    )


def _signal(process: subprocess.Popen[str], sig: int) -> None:
    """Signal a step's process and its descendants (step_runner starts each in a process group of its own)."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass  # it has ended meanwhile


# ---------------------------------------------------------------------------------------------
# moto patches: installed once per process, they delegate to whichever simulator is active.

_slot: ActiveSlot[EmrSimulator] = ActiveSlot()
activate = _slot.activate
active = _slot.active


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
