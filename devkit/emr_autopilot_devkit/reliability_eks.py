"""The fault matrix's EMR on EKS row: the EksPipeline state machine under each fault that applies to it.

An EKS cell runs one job (`reliability-eks`, compute: emr-eks) from an S3 trigger on a virtual cluster the
harness registers first (an EKS cluster and its namespace: CreateVirtualCluster needs both), on the same harness
as the other cells (reliability.Run), with the job-run rows' entry point (reliability_job_runs: `ok`, `fail` or
`sleep`, one spark-submit start each). EMR on EKS has no application to start or stop: what the run owns is its
job run.

On top of the matrix's common checks (one execution ending as expected, exactly one terminal notice, no notice
sent twice, the fault fired), an EKS cell checks:
- no job run of the run is left active (PENDING, SUBMITTED, RUNNING, CANCEL_PENDING), and there is at most one job
  run per step (the ClientToken: a repeated StartJobRun or a redelivered trigger starts no second one);
- the ledger's run (RUN#<run id>) shows each job run's final state and the run state those give
  (ledger.eks_run_state); "no job run" when the run started none.

This module does not import reliability (reliability imports it to build CELLS).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emr_autopilot import ledger
from emr_autopilot.tags import TAG_EXECUTION_ARN
from emr_autopilot_devkit import reliability_job_runs as job_runs
from emr_autopilot_devkit.local.account import ACCOUNT_ID
from emr_autopilot_devkit.local.eks_clusters import register_virtual_cluster
from emr_autopilot_devkit.local.emr_eks_simulator import EksTimings
from emr_autopilot_devkit.reliability_job_runs import (
    FAILED_BY_ENTRY_POINT,
    SLEEP,
    Arrange,
    Harness,
    duplicate_trigger,
    lambda_raises,
    run_timed_out,
)

if TYPE_CHECKING:
    from emr_autopilot_devkit.local.runtime import LocalRuntime

EKS = "EksPipeline"
JOB = "reliability-eks"
ACTIVE_JOB_RUN_STATES = frozenset({"PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"})
FAULT_KIND = "eks-"  # Run.emr kinds for EMR on EKS API faults: eks-throttle, eks-internal, eks-errors
EVENT_FUNCTION = "EmrEksEventFunction"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/emr-autopilot-eks-jobs"


def prepare(stack: LocalRuntime) -> str:
    """The virtual cluster the job runs on: an EKS cluster's namespace registered with EMR (its id is EMR's)."""
    return register_virtual_cluster(stack, "reliability", "jobs")


def write_job(target: Path, overrides: dict[str, Any], virtual_cluster_id: str) -> None:
    """jobs/reliability-eks.yaml and its entry point (reliability_job_runs.write_job), on `virtual_cluster_id`,
    with no retry policy (a failed driver is not started again: one spark-submit start per cell)."""
    eks = {
        "virtual_cluster_id": virtual_cluster_id,
        "execution_role": ROLE,
        "release_label": "emr-7.5.0-latest",
        "logs": {"s3": True},
    }
    job_runs.write_job(target, JOB, {"compute": "emr-eks", "eks": eks}, overrides)


def start(stack: LocalRuntime) -> None:
    job_runs.start_by_trigger(stack, JOB)


# -- what the emulated EMR on EKS holds ----------------------------------------------------------------------
def _job_runs(run: Harness) -> list[Any]:
    """The simulator's job runs (moto's JobRun objects), read in the harness's thread."""
    simulator = run.stack.eks
    with simulator.lock:
        return list(simulator.backend.job_runs.values())


def moving(stack: LocalRuntime) -> bool:
    """Whether EMR on EKS will still change something by itself: a job run on its way to RUNNING or being
    cancelled, a virtual cluster being deleted. A RUNNING job run is not: once no execution waits for it, it is one
    left running (the harness must not wait for it to end by itself)."""
    simulator = stack.eks
    with simulator.lock:
        if any(cluster.state == "TERMINATING" for cluster in simulator.backend.virtual_clusters.values()):
            return True
        runs = list(simulator.backend.job_runs.values())
        return any(job_run.state in ACTIVE_JOB_RUN_STATES - {"RUNNING"} for job_run in runs)


def _job_run_in(*states: str) -> Callable[[Harness], bool]:
    return lambda run: any(job_run.state in states for job_run in _job_runs(run))


# -- the arrangements ----------------------------------------------------------------------------------------
def api_fault(kind: str, api: str, count: int, at: str | None = None, lift: bool = False) -> Arrange:
    """EMR on EKS answers `count` calls of a backend method with a fault (throttle, internal, errors)."""
    return job_runs.api_fault(FAULT_KIND, kind, api, count, at, lift)


def job_run_fails(run: Harness) -> None:
    run.proof(lambda: _job_run_in("FAILED")(run), "the job run failed")


def job_run_cancelled(run: Harness) -> None:
    run.proof(lambda: _job_run_in("CANCELLED")(run), "the job run was cancelled")


def abort_while_running(run: Harness) -> None:
    run.when(lambda: _job_run_in("RUNNING")(run), run.stop_execution, "job run running")


def start_job_run_again(run: Harness) -> None:
    """While the job run runs, StartJobRun is sent again with its ClientToken (as a retried or redriven task
    would): EMR on EKS answers with the same job run."""

    def resend() -> None:
        (first,) = _job_runs(run)
        request = dict(getattr(first, "request", {}) or {})  # the request as validated (emr_containers_backend)
        answer = run.stack.client("emr-containers").start_job_run(**request)
        if answer["id"] == first.id:
            run.hits["same job run"] += 1

    run.when(lambda: _job_run_in("RUNNING")(run), resend, "StartJobRun sent again")


# -- the checks ----------------------------------------------------------------------------------------------
def _described_job_runs(stack: LocalRuntime, execution_arn: str) -> list[dict[str, Any]]:
    client = stack.client("emr-containers")
    found = []
    for cluster in client.list_virtual_clusters()["virtualClusters"]:
        for page in client.get_paginator("list_job_runs").paginate(virtualClusterId=cluster["id"]):
            for summary in page["jobRuns"]:
                job_run = client.describe_job_run(virtualClusterId=cluster["id"], id=summary["id"])["jobRun"]
                if job_run.get("tags", {}).get(TAG_EXECUTION_ARN) == execution_arn:
                    found.append(job_run)
    return found


def check_job_runs(
    stack: LocalRuntime, execution: dict[str, Any], problems: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """No job run of the run left active, at most one per step. Returns the run's job runs and how many are
    left active."""
    arn = execution.get("executionArn")
    if not arn:
        problems.append("no execution")
        return [], 0
    described = _described_job_runs(stack, str(arn))
    return described, job_runs.count_left(described, "id", ACTIVE_JOB_RUN_STATES, problems)


def ledger_view(stack: LocalRuntime, described: list[dict[str, Any]], problems: list[str]) -> str:
    """The ledger's state for the run, after checking each job run's item against EMR on EKS."""
    return job_runs.ledger_view(stack, described, problems, "id", ledger.eks_run_state)


# -- the cells (reliability.Cell's fields, machine EKS) ------------------------------------------------------
# Step Functions names an EMR on EKS error "EmrContainers.<code>" (inferred, as sfn_emr_containers_integration).
INTERNAL = "EmrContainers.InternalServerException"
JOB_RUN_ATTEMPTS = 4  # StartJobRun: the first call and the ASL's 3 tries again (StartJobRunFailed)
# A real process runs in real time (the clock slows to it while one runs), so a timeout cannot pass quickly while
# the job run is RUNNING: the timeout cells meet their job run while its driver pod is being scheduled (SUBMITTED
# for 10 minutes). The aborted cell covers a RUNNING job run.
SLOW_DRIVER = EksTimings(submitted=600)

CELLS: list[dict[str, Any]] = [
    dict(fault="none", state="-", expect="SUCCEEDED", arrange=lambda run: None),
    # StartJobRun tries again any error but a failed or timed-out job run and a refused request
    # (...ValidationException): a throttled or failed call costs a try, not the run; a refused one is not sent again.
    dict(fault="service_error", state="StartJobRun", expect="FAILED", arrange=api_fault("errors", "start_job_run", 1),
         expect_error="EmrContainers.ValidationException", expect_fired=1, notice_says="start_job_run refused"),
    dict(fault="throttled", state="StartJobRun", expect="SUCCEEDED", arrange=api_fault("throttle", "start_job_run", 1),
         expect_fired=1),
    dict(fault="internal_error", state="StartJobRun", expect="SUCCEEDED",
         arrange=api_fault("internal", "start_job_run", 1), expect_fired=1, in_slice=True),
    # ... and when StartJobRun fails for good, the run fails cleanly after the tries, before any job run.
    dict(fault="internal_error_never_ends", state="StartJobRun", expect="FAILED",
         arrange=api_fault("internal", "start_job_run", 10**6, lift=True), expect_error=INTERNAL,
         expect_fired=JOB_RUN_ATTEMPTS, notice_says="Internal error (injected into start_job_run)"),
    # The job run itself fails (its driver raises): the run fails with the driver's reason.
    dict(fault="job_run_fails", state="RunJobs", expect="FAILED", arrange=job_run_fails, job={"mode": "fail"},
         expect_error="States.TaskFailed", notice_says=FAILED_BY_ENTRY_POINT),
    # EMR on EKS has no job run timeout: the step's timeout is the task's TimeoutSeconds; Step Functions cancels
    # the job run (best effort) and the run fails with States.Timeout.
    dict(fault="task_timed_out", state="StartJobRun", expect="FAILED", arrange=job_run_cancelled,
         job={**SLEEP, "step_timeout": "5m"}, eks_timings=SLOW_DRIVER, expect_error="States.Timeout"),
    # The execution ends while the job run runs: no Catch runs, so the .sync task's best-effort cancel and the
    # execution janitor are what cancel the job run.
    dict(fault="aborted", state="RunJobs", expect="ABORTED", arrange=abort_while_running, job=SLEEP),
    # The run's deadline (run_timeout) comes first: the step's timeout (no longer than run_timeout, as the job
    # model requires) counts from StartJobRun's start, after the run's.
    dict(fault="timed_out", state="RunJobs", expect="ABORTED", arrange=run_timed_out,
         job={**SLEEP, "run_timeout": "5m", "step_timeout": "5m"}, eks_timings=SLOW_DRIVER, expect_error="RunTimedOut"),
    # The event handler raises on its first event: the pipeline does not wait for events, so the run still ends
    # as it should, with its one terminal notice, and the ledger still ends with the job run's final state.
    dict(fault="lambda_raises", state=EVENT_FUNCTION, expect="SUCCEEDED", arrange=lambda_raises(EVENT_FUNCTION)),
    # The same run asked for twice: a redelivered trigger, a StartJobRun sent again with the same ClientToken.
    dict(fault="event_twice", state="RunStarterFunction", expect="SUCCEEDED", arrange=duplicate_trigger),
    dict(fault="start_repeated", state="StartJobRun", expect="SUCCEEDED", arrange=start_job_run_again,
         variant="same-client-token", expect_fired=2),
]  # fmt: skip
