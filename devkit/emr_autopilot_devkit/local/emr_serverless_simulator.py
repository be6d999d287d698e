"""Realistic EMR Serverless behaviour on top of moto's emr-serverless backend.

moto (pinned 5.2.5) makes an application STARTED at creation and a job run SUCCESS at once, runs nothing and
emits no events. The simulator moves applications and job runs through EMR Serverless's documented states on
the fast clock, runs spark-submit job drivers for real on local PySpark (through step_runner, as EMR on EC2's
spark-submit steps), writes the driver's stdout/stderr under the job's logUri, and emits EMR Serverless's
EventBridge events (emr_serverless_events).

Sources (EMR Serverless User Guide unless said otherwise):
- application-states.html: CREATING -> CREATED -> STARTING -> STARTED -> STOPPING -> STOPPED -> TERMINATED;
  "Started: The application is ready to accept new jobs. The application only accepts jobs when it's in this
  state."; "Stopping: All jobs have completed and the application is releasing its capacity";
- job-states.html: SUBMITTED -> PENDING -> SCHEDULED -> RUNNING -> SUCCESS | FAILED; "Failed: EMR Serverless
  failed to submit the job run to the application, or it completed unsuccessfully. Refer to StateDetails";
  "Cancelling: The CancelJobRun API has requested job run cancellation, or the job run has timed out";
- botocore's emr-serverless model (API reference): StopApplication "All scheduled and running jobs must be
  completed or cancelled before stopping an application"; DeleteApplication "An application has to be in a
  stopped or created state"; autoStartConfiguration {enabled: true} and autoStopConfiguration {enabled: true,
  idleTimeoutMinutes: 15} by default; GetJobRun's startedAt ("when the job moved to the RUNNING state"),
  endedAt, totalExecutionDurationSeconds (terminal states only), totalResourceUtilization ("rounded up to the
  nearest second"), billedResourceUtilization ("a 1-minute minimum usage for workers, plus additional storage
  over 20 GB per worker").
"inferred" marks what no AWS page states.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.emrserverless.exceptions import ValidationException
from moto.emrserverless.models import EMRServerlessBackend, emrserverless_backends

from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.emr_serverless_events import EmrServerlessEvents
from emr_autopilot_devkit.local.job_run_simulator import (
    ApiFaults,
    JobRunSim,
    JobRunSimulator,
    cannot_run,
    cannot_run_details,
    driver_failure,
    not_run_reason,
    spark_submit_args,
)
from emr_autopilot_devkit.local.simulator_thread import ActiveSlot
from emr_autopilot_devkit.local.step_runner import StepRun

TERMINAL_JOB_STATES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
ACTIVE_JOB_STATES = frozenset({"SUBMITTED", "QUEUED", "PENDING", "SCHEDULED", "RUNNING", "CANCELLING"})


@dataclass
class ServerlessTimings:
    """Virtual seconds each phase takes (inferred: no AWS page gives durations; close to a small real app)."""

    creating: float = 10.0
    starting: float = 60.0
    stopping: float = 30.0
    submitted: float = 5.0  # SUBMITTED -> PENDING
    pending: float = 10.0  # PENDING -> SCHEDULED, once the application is STARTED
    scheduled: float = 20.0  # SCHEDULED -> RUNNING (workers being allocated)
    cancelling: float = 10.0  # CANCELLING -> CANCELLED for a run with no process to stop
    # step_runner's Timing: the longest real time a local process may run, and (unused here: nothing is
    # simulated) a simulated step's duration.
    step_timeout_real: float = 300.0
    simulated_step: float = 90.0


# -- the failure texts EMR Serverless's stateDetails would carry (all inferred: AWS documents no wording) -------
def failed_details(exit_code: int | str, reason: str) -> str:
    """stateDetails of a spark-submit job whose driver ended badly (inferred wording)."""
    return f"Job failed, please check complete logs in configured logging destination. ExitCode: {exit_code}. {reason}"


NOT_STARTED_DETAILS = "Application {app} is {state} and its autoStartConfiguration is disabled: start it first."
TIMEOUT_DETAILS = "Job run timed out after {minutes} minutes (executionTimeoutMinutes)."
CANCELLED_DETAILS = "Job run cancelled by request (CancelJobRun)."


# -- utilization (inferred) -------------------------------------------------------------------------------------
# The EMR Serverless "Spark defaults" (spark-defaults in the user guide: spark.driver.cores 4, spark.driver.memory
# 14g, spark.executor.cores 4, spark.executor.memory 14g, spark.emr-serverless.driver.disk / executor.disk 20G,
# spark.dynamicAllocation.initialExecutors 3); a worker's memory is Spark's memory plus 10% overhead rounded up
# to a GB. A run is billed for its driver plus spark.executor.instances (else the initial 3) executors, all
# for the whole RUNNING time (the local run has no dynamic allocation to measure): inferred.
_DEFAULTS = {"driver.cores": 4.0, "driver.memory": 14.0, "executor.cores": 4.0, "executor.memory": 14.0}
_DISK_GB = 20.0
_FREE_DISK_GB = 20.0
_INITIAL_EXECUTORS = 3
_MINIMUM_BILLED_SECONDS = 60.0


def _spark_conf(parameters: str) -> dict[str, str]:
    conf: dict[str, str] = {}
    words = shlex.split(parameters or "")
    for index, word in enumerate(words):
        if word == "--conf" and index + 1 < len(words) and "=" in words[index + 1]:
            key, _, value = words[index + 1].partition("=")
            conf[key.strip()] = value.strip()
    return conf


def _gigabytes(value: str) -> float:
    text = value.strip().lower().removesuffix("b")
    units = {"k": 1 / 1024 / 1024, "m": 1 / 1024, "g": 1.0, "t": 1024.0}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text) / 1024 / 1024 / 1024  # bytes


def utilization(job_driver: dict[str, Any] | None, running_seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """(totalResourceUtilization, billedResourceUtilization) of a run that was RUNNING for `running_seconds` of
    virtual time, from its spark-submit parameters (formula above; inferred)."""
    spark = (job_driver or {}).get("sparkSubmit") or {}
    conf = _spark_conf(str(spark.get("sparkSubmitParameters") or ""))

    def number(key: str) -> float:
        raw = conf.get(f"spark.{key}")
        try:
            return _gigabytes(raw) if raw and key.endswith("memory") else float(raw) if raw else _DEFAULTS[key]
        except ValueError:
            return _DEFAULTS[key]

    def disk(role: str) -> float:
        raw = conf.get(f"spark.emr-serverless.{role}.disk")
        try:
            return _gigabytes(raw) if raw else _DISK_GB
        except ValueError:
            return _DISK_GB

    try:
        executors = int(conf.get("spark.executor.instances", _INITIAL_EXECUTORS))
    except ValueError:
        executors = _INITIAL_EXECUTORS
    workers = [("driver", 1)] + ([("executor", executors)] if executors > 0 else [])
    seconds = math.ceil(max(running_seconds, 0.0))
    billed_seconds = max(float(seconds), _MINIMUM_BILLED_SECONDS)
    total = {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0}
    billed = {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0}
    for role, count in workers:
        cores, memory = number(f"{role}.cores"), math.ceil(number(f"{role}.memory") * 1.1)
        storage = disk(role)
        for bucket, secs, extra_storage in (
            (total, seconds, storage),
            (billed, billed_seconds, storage - _FREE_DISK_GB),
        ):
            hours = count * secs / 3600.0
            bucket["vCPUHour"] += cores * hours
            bucket["memoryGBHour"] += memory * hours
            bucket["storageGBHour"] += max(extra_storage, 0.0) * hours
    return _rounded(total), _rounded(billed)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in values.items()}


# The fault matrix's API faults (emr_serverless_backend raises them).
ServerlessFaults = ApiFaults


@dataclass
class _AppSim:
    app: Any
    next_at: float | None = None  # when the current transition (CREATING, STARTING, STOPPING) ends
    idle_since: float | None = None


@dataclass
class _RunSim(JobRunSim):
    running_since: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class EmrServerlessSimulator(JobRunSimulator):
    NAME = "emr-serverless-simulator"
    TERMINAL_JOB_STATES = TERMINAL_JOB_STATES
    CANCEL_STATE = "CANCELLING"

    def __init__(
        self,
        clock: FastClock,
        account_id: str,
        region: str,
        endpoint_url: str,
        emit: Callable[[str, str, dict[str, Any]], None],
        timings: ServerlessTimings | None = None,
    ) -> None:
        super().__init__(clock, account_id, region, endpoint_url, emit)
        self.events = EmrServerlessEvents(self._emit)
        self.timings = timings or ServerlessTimings()
        self.faults = ServerlessFaults()  # off unless a test arms one (emr_serverless_backend raises them)
        self._apps: dict[str, _AppSim] = {}
        self._runs: dict[str, _RunSim] = {}

    @property
    def backend(self) -> EMRServerlessBackend:
        return emrserverless_backends[self.account_id][self.region]

    def busy(self) -> bool:
        """True while anything moves: an application changing state or a job run not ended (an idle STARTED
        application waiting for its auto-stop is not busy, as an idle EMR cluster is not)."""
        with self._lock:
            if any(sim.app.state in ("CREATING", "STARTING", "STOPPING") for sim in self._apps.values()):
                return True
            return any(sim.run.state not in TERMINAL_JOB_STATES for sim in self._runs.values())

    # -- hooks called from the patched moto backend (under self.lock) ---------------------------------------
    def on_application_created(self, app: Any) -> None:
        # application-states: "When you create an application ... the application run enters the CREATING state".
        app.created_at = app.updated_at = self.clock.now()
        self._apps[app.id] = _AppSim(app, next_at=self.clock.timestamp() + self.timings.creating)
        self._set_app(app, "CREATING")

    def on_start_application(self, app: Any) -> None:
        if app.state in ("CREATED", "STOPPED"):
            self._begin_start(app)
        elif app.state not in ("STARTING", "STARTED"):
            # Starting an application that is being created, stopped or is terminated (inferred wording; the
            # model names ValidationException for StartApplication).
            raise ValidationException(
                f"Application {app.id} must be in one of the following statuses [CREATED, STOPPED]. "
                f"Current status: {app.state}"
            )

    def on_stop_application(self, app: Any) -> None:
        # StopApplication (API reference): "All scheduled and running jobs must be completed or cancelled before
        # stopping an application" (sleeper#2909 and Airflow PR #30757 hit this refusal on AWS).
        active = [sim.run.id for sim in self._runs.values() if sim.run.application_id == app.id and _active(sim.run)]
        if active:
            raise ValidationException(
                f"Application {app.id} has job runs that are not completed or cancelled: {', '.join(active)}. "
                "All scheduled and running jobs must be completed or cancelled before stopping an application."
            )
        if app.state in ("STARTING", "STARTED"):
            self._apps.setdefault(app.id, _AppSim(app)).next_at = self.clock.timestamp() + self.timings.stopping
            self._set_app(app, "STOPPING")
        elif app.state in ("CREATING", "TERMINATED"):
            raise ValidationException(
                f"Application {app.id} must be in one of the following statuses [STARTING, STARTED]. "
                f"Current status: {app.state}"
            )
        # CREATED, STOPPING, STOPPED: nothing holds capacity; accepted without a change (inferred).

    def on_application_deleted(self, app: Any) -> None:
        # moto checked DeleteApplication's rule ([CREATED, STOPPED]) and set TERMINATED.
        app.updated_at = self.clock.now()
        self.events.application(app)

    def on_job_run_started(self, app: Any, run: Any, request: dict[str, Any]) -> None:
        now = self.clock.now()
        run.created_at = run.updated_at = now
        run.created_by = f"arn:aws:sts::{self.account_id}:assumed-role/local/emr-autopilot"  # inferred (caller)
        run.mode = request.get("mode") or "BATCH"  # StartJobRun mode: BATCH unless STREAMING (model)
        run.retry_policy = request.get("retryPolicy")
        run.attempt = 1  # no retries emulated: one attempt (inferred)
        run.attempt_created_at = now
        run.started_at = run.ended_at = None
        run.total_execution_duration_seconds = None
        run.total_resource_utilization = None
        run.billed_resource_utilization = None
        run.state_details = None
        run.state = "SUBMITTED"
        sim = _RunSim(run, next_at=self.clock.timestamp() + self.timings.submitted)
        self._runs[run.id] = sim
        self.events.job_run(run, "")  # the doc sample's SUBMITTED event has previousState ""
        if app.state in ("CREATED", "STOPPED") and _auto_start(app):
            # autoStartConfiguration: "Enables the application to automatically start on job submission".
            self._begin_start(app)

    def on_cancel_job_run(self, run: Any) -> None:
        if run.state in TERMINAL_JOB_STATES:
            # moto cancels anything; a run that has ended cannot be cancelled (inferred from job-states: CANCELLING
            # is reached from a running run; the wording is inferred).
            raise ValidationException(f"Job run {run.id} is in {run.state} state and cannot be cancelled.")
        if run.state == "CANCELLING":
            return
        sim = self._runs.get(run.id)
        if sim is None:  # made before this simulator started (moto's own run): nothing runs; cancelled at once
            run.state, run.state_details = "CANCELLED", CANCELLED_DETAILS
            return
        self._begin_cancel(sim, CANCELLED_DETAILS)

    # -- the life cycles ------------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.timestamp()
        with self._lock:
            for app_sim in list(self._apps.values()):
                self._advance_app(app_sim, now)
            for run_sim in list(self._runs.values()):
                self._advance_run(run_sim, now)

    def _advance_app(self, sim: _AppSim, now: float) -> None:
        app = sim.app
        if app.state == "CREATING" and sim.next_at is not None and now >= sim.next_at:
            sim.next_at = None
            self._set_app(app, "CREATED")
            self._start_for_waiting_runs(app)
        elif app.state == "STARTING" and sim.next_at is not None and now >= sim.next_at:
            sim.next_at = None
            sim.idle_since = now
            self._set_app(app, "STARTED")
        elif app.state == "STOPPING" and sim.next_at is not None and now >= sim.next_at:
            sim.next_at = None
            self._set_app(app, "STOPPED")
            self._start_for_waiting_runs(app)
        elif app.state == "STARTED":
            if any(s.run.application_id == app.id and _active(s.run) for s in self._runs.values()):
                sim.idle_since = None
                return
            if sim.idle_since is None:
                sim.idle_since = now
            stop = app.auto_stop_configuration or {}
            idle_minutes = float(stop.get("idleTimeoutMinutes", 15))
            # autoStopConfiguration: "Enables the application to automatically stop after a certain amount of time
            # being idle" (default 15 minutes).
            if bool(stop.get("enabled", True)) and now - sim.idle_since >= idle_minutes * 60:
                sim.next_at = now + self.timings.stopping
                self._set_app(app, "STOPPING")

    def _advance_run(self, sim: _RunSim, now: float) -> None:
        run = sim.run
        if self._has_ended(sim):
            return
        timeout = run.execution_timeout_minutes
        if run.state != "CANCELLING" and timeout and now - run.created_at.timestamp() >= float(timeout) * 60:
            # job-states, Cancelling: "... or the job run has timed out". Counted from submission (inferred).
            self._begin_cancel(sim, TIMEOUT_DETAILS.format(minutes=timeout))
            return
        step = {
            "SUBMITTED": self._from_submitted,
            "PENDING": self._from_pending,
            "SCHEDULED": self._from_scheduled,
            "RUNNING": self._from_running,
            "CANCELLING": self._from_cancelling,
        }.get(run.state)
        if step is not None:
            step(sim, now)

    def _from_submitted(self, sim: _RunSim, now: float) -> None:
        run, app = sim.run, self.backend.applications.get(sim.run.application_id)
        if now < sim.next_at:
            return
        if app is not None and app.state not in ("STARTING", "STARTED") and not _auto_start(app):
            # job-states, Failed: "EMR Serverless failed to submit the job run to the application".
            self._finish(sim, "FAILED", NOT_STARTED_DETAILS.format(app=app.id, state=app.state))
            return
        sim.next_at = now + self.timings.pending
        self._set_run(run, "PENDING")

    def _from_pending(self, sim: _RunSim, now: float) -> None:
        app = self.backend.applications.get(sim.run.application_id)
        if now >= sim.next_at and app is not None and app.state == "STARTED":
            # application-states, Started: "The application only accepts jobs when it's in this state."
            sim.next_at = now + self.timings.scheduled
            self._set_run(sim.run, "SCHEDULED")

    def _from_scheduled(self, sim: _RunSim, now: float) -> None:
        if now < sim.next_at:
            return
        run = sim.run
        sim.running_since = now
        run.started_at = self.clock.now()
        self._set_run(run, "RUNNING")
        self._start_driver(sim, f"job-run-{run.id}")

    def _from_running(self, sim: _RunSim, now: float) -> None:
        result = sim.result
        if result is None:
            return
        self._write_logs(sim, result)
        if result.state == "COMPLETED":
            self._finish(sim, "SUCCESS", None)
        else:
            self._finish(sim, "FAILED", sim.extra.get("details") or _details_of(result))

    def _from_cancelling(self, sim: _RunSim, now: float) -> None:
        if not self._cancel_settled(sim, now, self.timings.cancelling):
            return
        if sim.result is not None:
            self._write_logs(sim, sim.result)
        self._finish(sim, "CANCELLED", sim.cancel_details)

    def _start_for_waiting_runs(self, app: Any) -> None:
        # A job submitted while the application was being created or stopped starts it once it can (inferred).
        if _auto_start(app) and any(s.run.application_id == app.id and _active(s.run) for s in self._runs.values()):
            self._begin_start(app)

    def _begin_start(self, app: Any) -> None:
        sim = self._apps.setdefault(app.id, _AppSim(app))
        sim.next_at = self.clock.timestamp() + self.timings.starting
        self._set_app(app, "STARTING")

    def _set_app(self, app: Any, state: str) -> None:
        app.state = state
        app.updated_at = self.clock.now()
        self.events.application(app)

    def _set_run(self, run: Any, state: str) -> None:
        previous = run.state
        run.state = state
        run.updated_at = self.clock.now()
        self.events.job_run(run, previous)

    def _finish(self, sim: _RunSim, state: str, details: str | None) -> None:
        run = sim.run
        now = self.clock.now()
        run.ended_at = now
        run.state_details = details
        running = (now.timestamp() - sim.running_since) if sim.running_since is not None else 0.0
        # totalExecutionDurationSeconds: from submission to the end (inferred; the model says only that it is set
        # in terminal states).
        run.total_execution_duration_seconds = math.ceil(now.timestamp() - run.created_at.timestamp())
        run.total_resource_utilization, run.billed_resource_utilization = utilization(run.job_driver, running)
        if sim.running_since is None or "details" in sim.extra:  # nothing ran: nothing used or billed (inferred)
            zero = {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0}
            run.total_resource_utilization, run.billed_resource_utilization = dict(zero), dict(zero)
        self._set_run(run, state)
        self.events.final_utilization(run)

    # -- running a job driver -------------------------------------------------------------------------------
    def _execute(self, sim: JobRunSim) -> None:
        # Runs on the job run's own thread.
        assert isinstance(sim, _RunSim)
        run = sim.run
        driver = run.job_driver or {}
        spark = driver.get("sparkSubmit")
        if spark is None:
            engine = "Hive" if "hive" in driver else "this"
            why = f"the local runtime runs sparkSubmit job drivers on local PySpark; a {engine} job driver cannot run"
            why += " here"
            result = cannot_run(why)
            sim.extra["details"] = cannot_run_details(why)
        else:
            result = self._spark_submit(sim, spark_submit_args(spark), self.timings, self._log_prefix(run) or "")
            why_not = not_run_reason(result)
            if why_not is not None:
                sim.extra["details"] = cannot_run_details(why_not)
        with self._lock:
            sim.result = result

    # -- logs -----------------------------------------------------------------------------------------------
    def _log_uri(self, run: Any) -> str | None:
        """monitoringConfiguration.s3MonitoringConfiguration.logUri of the job run, else of its application."""
        for source in (
            run.configuration_overrides or {},
            getattr(self.backend.applications.get(run.application_id), "request", {}) or {},
        ):
            uri = ((source.get("monitoringConfiguration") or {}).get("s3MonitoringConfiguration") or {}).get("logUri")
            if uri:
                return str(uri)
        return None

    def _log_prefix(self, run: Any) -> str | None:
        """`<logUri>/applications/<appId>/jobs/<jobRunId>/` (user guide, getting started "Review output": the driver's
        output is at .../applications/<application-id>/jobs/<job-run-id>/SPARK_DRIVER/stdout.gz); with a retry
        policy each attempt writes under .../attempts/<n>/ (using-eventbridge / job retries)."""
        uri = self._log_uri(run)
        if uri is None:
            return None
        base = f"{uri.rstrip('/')}/applications/{run.application_id}/jobs/{run.id}/"
        if run.retry_policy:
            base += f"attempts/{run.attempt}/"
        # HIVE_DRIVER for a Hive job (inferred by analogy with SPARK_DRIVER).
        return base + ("HIVE_DRIVER/" if "hive" in (run.job_driver or {}) else "SPARK_DRIVER/")

    def _write_logs(self, sim: _RunSim, result: StepRun) -> None:
        prefix = self._log_prefix(sim.run)
        if prefix is None or sim.extra.get("logs_written"):
            return
        sim.extra["logs_written"] = True
        self._put_logs(((f"{prefix}stdout.gz", result.stdout), (f"{prefix}stderr.gz", result.stderr)), f"to {prefix}")


def _active(run: Any) -> bool:
    return run.state in ACTIVE_JOB_STATES


def _auto_start(app: Any) -> bool:
    return bool((app.auto_start_configuration or {}).get("enabled", True))


def _details_of(result: StepRun) -> str:
    return failed_details(*driver_failure(result))


# ---------------------------------------------------------------------------------------------
# The patched moto backend delegates to whichever simulator is active.
_slot: ActiveSlot[EmrServerlessSimulator] = ActiveSlot()
activate = _slot.activate
active = _slot.active
