"""Realistic EMR on EKS behaviour on top of moto's emr-containers backend.

moto (pinned 5.2.5) leaves a job run RUNNING forever, runs nothing and emits no events. The simulator moves job
runs through EMR on EKS's documented states on the fast clock, runs sparkSubmitJobDriver job drivers for real on
local PySpark (through step_runner, as the EMR Serverless simulator does), writes the driver's stdout.gz and
stderr.gz where EMR on EKS puts them (emr_autopilot.emr_eks.driver_log_uri), and emits the job run's EventBridge
event on every state change (emr_eks_events).

Sources (EMR on EKS Development Guide unless said otherwise):
- emr-eks-jobs-states.html: "When you submit a job run ... the job run enters the PENDING state. It then passes
  through the following states until it succeeds (exits with code 0) or fails (exits with a non-zero code)":
  PENDING -> SUBMITTED -> RUNNING -> COMPLETED | FAILED; "CANCEL_PENDING - A job run has been requested for
  cancellation"; "CANCELLED - A job run that was cancelled successfully"; FAILED: "Look at StateDetails and
  FailureReason";
- botocore's emr-containers model (API reference): JobRun.failureReason is one of INTERNAL_ERROR, USER_ERROR,
  VALIDATION_ERROR, CLUSTER_UNAVAILABLE; finishedAt "The date and time when the job run has finished";
  VirtualClusterState RUNNING, TERMINATING, TERMINATED, ARRESTED;
- retryPolicyConfiguration.maxAttempts: "The maximum number of attempts on the job's driver"; retryPolicyExecution
  .currentAttemptCount.
"inferred" marks what no AWS page states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.emrcontainers.models import EMRContainersBackend, emrcontainers_backends

from emr_autopilot.emr_eks import driver_log_uri
from emr_autopilot_devkit.local import job_run_simulator as job_runs
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.emr_eks_events import EmrEksEvents
from emr_autopilot_devkit.local.job_run_simulator import JobRunSim, JobRunSimulator
from emr_autopilot_devkit.local.simulator_thread import ActiveSlot
from emr_autopilot_devkit.local.step_runner import StepRun

TERMINAL_JOB_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
ACTIVE_JOB_STATES = frozenset({"PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"})

# The fault matrix's API faults, as for EMR Serverless (the same counting table; emr_containers_backend raises them).
EksFaults = job_runs.ApiFaults


@dataclass
class EksTimings:
    """Virtual seconds each phase takes (inferred: no AWS page gives durations; close to a small real job on a
    warm EKS node group)."""

    pending: float = 5.0  # PENDING -> SUBMITTED (EMR on EKS submits the job-runner pod)
    submitted: float = 30.0  # SUBMITTED -> RUNNING (the driver pod scheduled, its image pulled)
    cancel_pending: float = 10.0  # CANCEL_PENDING -> CANCELLED once the driver's process is gone
    terminating: float = 30.0  # virtual cluster TERMINATING -> TERMINATED
    # step_runner's Timing: the longest real time a local process may run, and (unused: nothing is simulated)
    # a simulated step's duration.
    step_timeout_real: float = 300.0
    simulated_step: float = 90.0


# -- stateDetails wording (inferred: AWS documents none) --------------------------------------------------------
def failed_details(exit_code: int | str, reason: str) -> str:
    """stateDetails of a job run whose driver exited non-zero (failureReason USER_ERROR)."""
    return f"Job run failed: the Spark driver exited with code {exit_code}. {reason}"


CANCELLED_DETAILS = "JobRun CANCELLED successfully."  # moto 5.2.5's wording for CancelJobRun (inferred)
CLUSTER_DELETED_DETAILS = "Job run cancelled: its virtual cluster {cluster} was deleted."  # inferred
CLUSTER_UNAVAILABLE_DETAILS = "Virtual cluster {cluster} is {state}: the job run cannot be submitted to it."


@dataclass
class _RunSim(JobRunSim):
    failure_reason: str = "USER_ERROR"
    details: str | None = None  # stateDetails decided before the run ended (a run that cannot run)
    logs_written: bool = False


@dataclass
class _ClusterSim:
    cluster: Any
    terminated_at: float


class EmrEksSimulator(JobRunSimulator):
    NAME = "emr-eks-simulator"
    TERMINAL_JOB_STATES = TERMINAL_JOB_STATES
    CANCEL_STATE = "CANCEL_PENDING"

    def __init__(
        self,
        clock: FastClock,
        account_id: str,
        region: str,
        endpoint_url: str,
        emit: Callable[[str, str, dict[str, Any]], None],
        timings: EksTimings | None = None,
    ) -> None:
        super().__init__(clock, account_id, region, endpoint_url, emit)
        self.events = EmrEksEvents(self._emit)
        self.timings = timings or EksTimings()
        self.faults = EksFaults()  # off unless a test arms one (emr_containers_backend raises them)
        self._runs: dict[str, _RunSim] = {}
        self._clusters: dict[str, _ClusterSim] = {}

    @property
    def backend(self) -> EMRContainersBackend:
        return emrcontainers_backends[self.account_id][self.region]

    def busy(self) -> bool:
        """True while a job run has not ended or a virtual cluster is being deleted."""
        with self._lock:
            if any(sim.cluster.state == "TERMINATING" for sim in self._clusters.values()):
                return True
            return any(sim.run.state not in TERMINAL_JOB_STATES for sim in self._runs.values())

    # -- hooks called from the patched moto backend (under self.lock) ---------------------------------------
    def on_virtual_cluster_created(self, cluster: Any) -> None:
        cluster.created_at = self.clock.now()  # moto truncates it to midnight

    def on_delete_virtual_cluster(self, cluster: Any) -> None:
        """DeleteVirtualCluster: TERMINATING, then TERMINATED once its job runs are cancelled (VirtualClusterState;
        that deleting a cluster cancels its active job runs is inferred: they run in the cluster's namespace)."""
        if cluster.state in ("TERMINATING", "TERMINATED"):
            return  # deleting again changes nothing (inferred)
        cluster.state = "TERMINATING"
        self._clusters[cluster.id] = _ClusterSim(cluster, self.clock.timestamp() + self.timings.terminating)
        for sim in self._runs.values():
            if sim.run.virtual_cluster_id == cluster.id and sim.run.state in ("PENDING", "SUBMITTED", "RUNNING"):
                self._begin_cancel(sim, CLUSTER_DELETED_DETAILS.format(cluster=cluster.id))

    def on_job_run_started(self, run: Any, request: dict[str, Any]) -> None:
        now = self.clock.now()
        run.created_at = now
        run.created_by = f"arn:aws:sts::{self.account_id}:assumed-role/local/emr-autopilot"  # inferred (caller)
        run.finished_at = None
        run.state_details = None
        run.failure_reason = None
        run.retry_policy_configuration = request.get("retryPolicyConfiguration")
        run.retry_policy_execution = {"currentAttemptCount": 1} if run.retry_policy_configuration else None
        run.state = "PENDING"  # emr-eks-jobs-states: "the job run enters the PENDING state"
        self._runs[run.id] = _RunSim(run, next_at=self.clock.timestamp() + self.timings.pending)
        self.events.job_run(run)

    def on_cancel_job_run(self, run: Any) -> None:
        # moto's rule, kept: a run that ended or is already being cancelled cannot be cancelled (ValidationException
        # "Job run <id> is not in a cancellable state"; moto 5.2.5's wording, inferred to be AWS's).
        sim = self._runs.get(run.id)
        if sim is None:  # made before this simulator started (moto's own run): nothing runs; cancelled at once
            run.state, run.state_details, run.finished_at = "CANCELLED", CANCELLED_DETAILS, self.clock.now()
            return
        self._begin_cancel(sim, CANCELLED_DETAILS)

    def set_sample_state(self, job_run_id: str, state: str, details: str | None, reason: str | None) -> None:
        """For `local invoke`'s samples (emr_samples): the job run a sample event describes is put in the sample's
        state and no longer driven. It did not run here, and no event is emitted: the sample is the event."""
        with self._lock:
            sim = self._runs.pop(job_run_id, None)
            run = sim.run if sim is not None else self.backend.job_runs[job_run_id]
            self.runner.kill(job_run_id)
            run.state, run.state_details = state, details
            run.failure_reason = reason if state == "FAILED" else None
            run.finished_at = self.clock.now() if state in TERMINAL_JOB_STATES else None

    # -- the life cycle -------------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.timestamp()
        with self._lock:
            for run_sim in list(self._runs.values()):
                self._advance_run(run_sim, now)
            for cluster_sim in list(self._clusters.values()):
                self._advance_cluster(cluster_sim, now)

    def _advance_cluster(self, sim: _ClusterSim, now: float) -> None:
        cluster = sim.cluster
        if cluster.state != "TERMINATING" or now < sim.terminated_at:
            return
        if any(s.run.virtual_cluster_id == cluster.id and _active(s.run) for s in self._runs.values()):
            return
        cluster.state = "TERMINATED"

    def _advance_run(self, sim: _RunSim, now: float) -> None:
        run = sim.run
        if self._has_ended(sim):
            return
        step = {
            "PENDING": self._from_pending,
            "SUBMITTED": self._from_submitted,
            "RUNNING": self._from_running,
            "CANCEL_PENDING": self._from_cancel_pending,
        }.get(run.state)
        if step is not None:
            step(sim, now)

    def _from_pending(self, sim: _RunSim, now: float) -> None:
        if now < sim.next_at:
            return
        cluster = self.backend.virtual_clusters.get(sim.run.virtual_cluster_id)
        if cluster is None or cluster.state != "RUNNING":
            # emr-eks-jobs-states, FAILED: "A job run that failed to be submitted to the virtual cluster";
            # failureReason CLUSTER_UNAVAILABLE (model enum; its use here is inferred).
            state = cluster.state if cluster is not None else "deleted"
            details = CLUSTER_UNAVAILABLE_DETAILS.format(cluster=sim.run.virtual_cluster_id, state=state)
            self._finish(sim, "FAILED", details, "CLUSTER_UNAVAILABLE")
            return
        sim.next_at = now + self.timings.submitted
        self._set_run(sim.run, "SUBMITTED")

    def _from_submitted(self, sim: _RunSim, now: float) -> None:
        if now < sim.next_at:
            return
        self._set_run(sim.run, "RUNNING")  # "the Spark driver process is in the running state"
        self._start_driver(sim, f"eks-job-run-{sim.run.id}")

    def _from_running(self, sim: _RunSim, now: float) -> None:
        result, run = sim.result, sim.run
        if result is None:
            return
        if result.state == "COMPLETED":
            self._write_logs(sim, result)
            self._finish(sim, "COMPLETED", None, None)
            return
        attempts = run.retry_policy_execution or {}
        allowed = int((run.retry_policy_configuration or {}).get("maxAttempts") or 1)
        if sim.details is None and attempts and attempts.get("currentAttemptCount", 1) < allowed:
            # retryPolicyConfiguration.maxAttempts: "The maximum number of attempts on the job's driver": the driver
            # runs again and the run stays RUNNING (the "EMR Job Run New Driver Attempt" event is not emitted: its
            # detail is unpublished; each attempt's logs replace the last one's: both inferred).
            attempts["currentAttemptCount"] = attempts.get("currentAttemptCount", 1) + 1
            self._write_logs(sim, result, force=True)
            self._start_driver(sim, f"eks-job-run-{run.id}")
            return
        self._write_logs(sim, result, force=True)
        self._finish(sim, "FAILED", sim.details or _details_of(result), sim.failure_reason)

    def _from_cancel_pending(self, sim: _RunSim, now: float) -> None:
        if not self._cancel_settled(sim, now, self.timings.cancel_pending):
            return
        if sim.result is not None:
            self._write_logs(sim, sim.result)
        self._finish(sim, "CANCELLED", sim.cancel_details, None)

    def _set_run(self, run: Any, state: str) -> None:
        run.state = state
        self.events.job_run(run)

    def _finish(self, sim: _RunSim, state: str, details: str | None, reason: str | None) -> None:
        run = sim.run
        run.finished_at = self.clock.now()
        run.state_details = details
        run.failure_reason = reason if state == "FAILED" else None
        self._set_run(run, state)

    # -- running a job driver -------------------------------------------------------------------------------
    def _execute(self, sim: JobRunSim) -> None:
        # Runs on the job run's own thread.
        assert isinstance(sim, _RunSim)
        run = sim.run
        driver = run.job_driver or {}
        spark = driver.get("sparkSubmitJobDriver")
        if spark is None:
            kind = next(iter(driver), "this") if isinstance(driver, dict) else "this"
            why = f"the local runtime runs sparkSubmitJobDriver job drivers on local PySpark; a {kind} cannot run here"
            result = job_runs.cannot_run(why)
            sim.details, sim.failure_reason = job_runs.cannot_run_details(why), "INTERNAL_ERROR"
        else:
            args = job_runs.spark_submit_args(spark, spark_defaults_conf(run.configuration_overrides))
            result = self._spark_submit(sim, args, self.timings)
            why_not = job_runs.not_run_reason(result)
            if why_not is not None:
                sim.details = job_runs.cannot_run_details(why_not)
                # An entry point missing from S3 fails on EKS too (the job's error); what this machine lacks
                # (Java, PySpark) is the runtime's (both inferred).
                sim.failure_reason = "USER_ERROR" if "does not exist in S3" in why_not else "INTERNAL_ERROR"
        with self._lock:
            sim.result = result

    # -- logs -----------------------------------------------------------------------------------------------
    def _write_logs(self, sim: _RunSim, result: StepRun, force: bool = False) -> None:
        """stdout.gz and stderr.gz of the driver at driver_log_uri (S3MonitoringConfiguration.logUri only)."""
        run = sim.run
        monitoring = (run.configuration_overrides or {}).get("monitoringConfiguration") or {}
        log_uri = (monitoring.get("s3MonitoringConfiguration") or {}).get("logUri")
        if not log_uri or (sim.logs_written and not force):
            return
        sim.logs_written = True
        objects = [
            (driver_log_uri(str(log_uri), run.virtual_cluster_id, run.id, name=name), text)
            for name, text in (("stdout.gz", result.stdout), ("stderr.gz", result.stderr))
        ]
        self._put_logs(objects, f"under {log_uri}")


def spark_defaults_conf(overrides: dict[str, Any] | None) -> list[str]:
    """`--conf k=v` for each spark-defaults property of configurationOverrides.applicationConfiguration: EMR on EKS
    writes them to the job's spark-defaults.conf, which the job's own sparkSubmitParameters override (Spark's
    precedence: spark-submit --conf over spark-defaults.conf; placed first, they lose to later --conf)."""
    found: list[str] = []
    for classification in (overrides or {}).get("applicationConfiguration") or []:
        if classification.get("classification") == "spark-defaults":
            for key, value in (classification.get("properties") or {}).items():
                found += ["--conf", f"{key}={value}"]
    return found


def _active(run: Any) -> bool:
    return run.state in ACTIVE_JOB_STATES


def _details_of(result: StepRun) -> str:
    return failed_details(*job_runs.driver_failure(result))


# ---------------------------------------------------------------------------------------------
# The patched moto backend delegates to whichever simulator is active.
_slot: ActiveSlot[EmrEksSimulator] = ActiveSlot()
activate = _slot.activate
active = _slot.active
