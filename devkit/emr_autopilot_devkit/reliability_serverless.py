"""The fault matrix's serverless row: the ServerlessPipeline state machine under each fault that applies to it.

A serverless cell runs one job (`reliability-serverless`, compute: emr-serverless, a managed application with
auto-start, auto-stop after 15 idle minutes and stop_application_after_run) from an S3 trigger, on the same
harness as the cluster cells (reliability.Run), with the job-run rows' entry point (reliability_job_runs: `ok`,
`fail` or `sleep`, one spark-submit start each).

On top of the matrix's common checks (one execution ending as expected, exactly one terminal notice, no notice
sent twice, the fault fired), a serverless cell checks:
- no job run of the run is left active (SUBMITTED .. RUNNING, CANCELLING), and there is at most one job run per
  step (the ClientToken: a repeated StartJobRun or a redelivered trigger starts no second one);
- the application is not left STARTING or STARTED. "Nothing left running" for the application means it stops
  without anyone's help: where the run's own StopApplication ran, it is STOPPED when the run ends; where it
  could not (the execution was stopped or hit its deadline, StopApplication kept failing) the cell is marked
  `backstop`: the harness moves the clock past the application's idle timeout, and its auto-stop must have
  stopped it (the job's managed application has auto-stop on, as the tool's default; an application with
  auto-stop off would be left STARTED there, which the idle-application reaper reports and stops);
- the ledger's run (RUN#<run id>) shows each job run's final state and the run state those give
  (ledger.serverless_run_state); "no job run" when the run started none.

This module does not import reliability (reliability imports it to build CELLS): a cell's arrangement gets the
harness's Run and uses what `Harness` (reliability_job_runs) names of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emr_autopilot import ledger
from emr_autopilot.tags import TAG_EXECUTION_ARN
from emr_autopilot_devkit import reliability_job_runs as job_runs
from emr_autopilot_devkit.local.emr_serverless_simulator import ServerlessTimings
from emr_autopilot_devkit.reliability_job_runs import (
    FAILED_BY_ENTRY_POINT,
    SLEEP,
    Arrange,
    Harness,
    duplicate_trigger,
    run_timed_out,
)
from emr_autopilot_devkit.reliability_job_runs import with_all as _with

if TYPE_CHECKING:
    from emr_autopilot_devkit.local.runtime import LocalRuntime

SERVERLESS = "ServerlessPipeline"
JOB = "reliability-serverless"
ACTIVE_JOB_RUN_STATES = frozenset({"SUBMITTED", "QUEUED", "PENDING", "SCHEDULED", "RUNNING", "CANCELLING"})
STARTED_APPLICATION_STATES = frozenset({"STARTING", "STARTED"})  # holding (and billing) capacity
AUTO_STOP_MINUTES = 15
FAULT_KIND = "serverless-"  # Run.emr kinds for EMR Serverless API faults: serverless-throttle, -internal, -errors


def write_job(target: Path, overrides: dict[str, Any]) -> None:
    """jobs/reliability-serverless.yaml and its entry point (reliability_job_runs.write_job). Overrides: those of
    reliability_job_runs.write_job, start_first, stop_after."""
    serverless: dict[str, Any] = {
        "application": {
            "release_label": "emr-7.5.0",
            "auto_start": True,
            "auto_stop": {"enabled": True, "idle_timeout": f"{AUTO_STOP_MINUTES}m"},
        },
        "stop_application_after_run": overrides.get("stop_after", True),
    }
    if "start_first" in overrides:
        serverless["start_application_first"] = overrides["start_first"]
    job_runs.write_job(target, JOB, {"compute": "emr-serverless", "serverless": serverless}, overrides)


def start(stack: LocalRuntime) -> None:
    job_runs.start_by_trigger(stack, JOB)


# -- what the emulated EMR Serverless holds ----------------------------------------------------------------
def _job_runs(run: Harness) -> list[Any]:
    """The simulator's job runs (moto's JobRun objects), read in the harness's thread."""
    simulator = run.stack.serverless
    with simulator.lock:
        return [job_run for runs in simulator.backend.job_runs.values() for job_run in runs]


def moving(stack: LocalRuntime) -> bool:
    """Whether EMR Serverless will still change something by itself: an application between states, a job run
    on its way to RUNNING or being cancelled. A RUNNING job run is not: once no execution waits for it, it is
    one left running (the harness must not wait for it to end by itself)."""
    simulator = stack.serverless
    with simulator.lock:
        if any(app.state in ("CREATING", "STARTING", "STOPPING") for app in simulator.backend.applications.values()):
            return True
        runs = [job_run for runs in simulator.backend.job_runs.values() for job_run in runs]
        return any(job_run.state in ACTIVE_JOB_RUN_STATES - {"RUNNING"} for job_run in runs)


def _job_run_in(*states: str) -> Callable[[Harness], bool]:
    return lambda run: any(job_run.state in states for job_run in _job_runs(run))


# -- the arrangements ----------------------------------------------------------------------------------
def api_fault(kind: str, api: str, count: int, at: str | None = None, lift: bool = False) -> Arrange:
    """EMR Serverless answers `count` calls of a backend method with a fault (throttle, internal, errors), armed
    when state `at` is entered (its first call is the state's)."""
    return job_runs.api_fault(FAULT_KIND, kind, api, count, at, lift)


def job_run_fails(run: Harness) -> None:
    run.proof(lambda: _job_run_in("FAILED")(run), "the job run failed")


def job_run_timed_out(run: Harness) -> None:
    def cancelled_by_timeout() -> bool:
        return any(
            job_run.state == "CANCELLED" and "timed out" in str(job_run.state_details or "")
            for job_run in _job_runs(run)
        )

    run.proof(cancelled_by_timeout, "the job run was cancelled at its executionTimeoutMinutes")


def abort_while_running(run: Harness) -> None:
    run.when(lambda: _job_run_in("RUNNING")(run), run.stop_execution, "job run running")


def start_job_run_again(run: Harness) -> None:
    """While the job run runs, StartJobRun is sent again with its ClientToken (as a retried or redriven task
    would): EMR Serverless answers with the same job run."""

    def resend() -> None:
        (first,) = _job_runs(run)
        client = run.stack.client("emr-serverless")
        answer = client.start_job_run(
            applicationId=first.application_id,
            clientToken=first.client_token,
            executionRoleArn=first.execution_role_arn,
            name=first.name,
            jobDriver=first.job_driver,
            tags=first.tags or {},
            executionTimeoutMinutes=first.execution_timeout_minutes,
        )
        if answer["jobRunId"] == first.id:
            run.hits["same job run"] += 1

    run.when(lambda: _job_run_in("RUNNING")(run), resend, "StartJobRun sent again")


# -- the checks ------------------------------------------------------------------------------------------
def _described_job_runs(stack: LocalRuntime, application_id: str, execution_arn: str) -> list[dict[str, Any]]:
    client = stack.client("emr-serverless")
    summaries = [
        summary
        for page in client.get_paginator("list_job_runs").paginate(applicationId=application_id)
        for summary in page["jobRuns"]
    ]
    described = [client.get_job_run(applicationId=application_id, jobRunId=s["id"])["jobRun"] for s in summaries]
    return [job_run for job_run in described if job_run.get("tags", {}).get(TAG_EXECUTION_ARN) == execution_arn]


def _application(stack: LocalRuntime) -> dict[str, Any] | None:
    client = stack.client("emr-serverless")
    for summary in client.list_applications()["applications"]:
        if summary["name"] == f"emr-autopilot-{JOB}":
            application: dict[str, Any] = client.get_application(applicationId=summary["id"])["application"]
            return application
    return None


def check_job_runs(
    stack: LocalRuntime, execution: dict[str, Any], problems: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """No job run of the run left active, at most one per step. Returns the run's job runs and how many are
    left active."""
    application = _application(stack)
    arn = execution.get("executionArn")
    if application is None or not arn:
        problems.append("the job's managed application is missing" if application is None else "no execution")
        return [], 0
    described = _described_job_runs(stack, application["applicationId"], str(arn))
    return described, job_runs.count_left(described, "jobRunId", ACTIVE_JOB_RUN_STATES, problems)


def check_application(run: Harness, problems: list[str]) -> int:
    """The application is not left STARTING/STARTED. A `backstop` cell is checked after the harness has moved the
    clock past the auto-stop's idle timeout (Run.backstop), so its auto-stop must be on and must have acted.
    Returns 1 if it was left started, else 0."""
    application = _application(run.stack)
    if application is None or application["state"] not in STARTED_APPLICATION_STATES:
        return 0  # a missing application is check_job_runs's to report
    after = f" {AUTO_STOP_MINUTES}+ idle minutes later" if run.cell.backstop else " when the run ended"
    problems.append(f"application {application['applicationId']} left {application['state']}{after}")
    return 1


def ledger_view(stack: LocalRuntime, job_runs_: list[dict[str, Any]], problems: list[str]) -> str:
    """The ledger's state for the run, after checking each job run's item against EMR Serverless."""
    return job_runs.ledger_view(stack, job_runs_, problems, "jobRunId", ledger.serverless_run_state)


# -- the cells (reliability.Cell's fields, machine SERVERLESS) ------------------------------------------
# Step Functions names an EMR Serverless error "EmrServerless.<code>" (inferred, as sfn_emr_serverless_integration).
INTERNAL = "EmrServerless.InternalServerException"
APPLICATION_ATTEMPTS = 4  # StartApplication / StopApplication: the first call and the ASL's 3 retries
JOB_RUN_ATTEMPTS = 4  # StartJobRun: the same
# A real process runs in real time (the clock slows to it while one runs), so a timeout cannot pass quickly while
# the job run is RUNNING: the timeout cells meet their job run while its workers are still being allocated
# (SCHEDULED for 10 minutes). The aborted cell covers a RUNNING job run.
SLOW_WORKERS = ServerlessTimings(scheduled=600)

CELLS: list[dict[str, Any]] = [
    dict(fault="none", state="-", expect="SUCCEEDED", arrange=lambda run: None),
    # StartJobRun retries any error but a failed or timed-out job run, 3 times (its ClientToken makes a retry
    # return the job run a lost answer started): one refused, throttled or failed call costs a retry, not the run.
    dict(fault="service_error", state="StartJobRun", expect="SUCCEEDED",
         arrange=api_fault("errors", "start_job_run", 1), expect_fired=1),
    dict(fault="throttled", state="StartJobRun", expect="SUCCEEDED", arrange=api_fault("throttle", "start_job_run", 1),
         expect_fired=1),
    dict(fault="internal_error", state="StartJobRun", expect="SUCCEEDED",
         arrange=api_fault("internal", "start_job_run", 1), expect_fired=1, in_slice=True),
    # ... and when StartJobRun fails for good, the run fails cleanly after the retries, before any job run.
    dict(fault="internal_error_never_ends", state="StartJobRun", expect="FAILED",
         arrange=api_fault("internal", "start_job_run", 10**6, lift=True), expect_error=INTERNAL,
         expect_fired=JOB_RUN_ATTEMPTS, notice_says="Internal error (injected into start_job_run)"),
    # The job run itself: its entry point fails, its executionTimeoutMinutes cancels it.
    dict(fault="job_run_fails", state="RunJobs", expect="FAILED", arrange=job_run_fails, job={"mode": "fail"},
         expect_error="States.TaskFailed", notice_says=FAILED_BY_ENTRY_POINT),
    # (5 minutes: the shortest executionTimeoutMinutes the emulated StartJobRun accepts.)
    dict(fault="job_run_timed_out", state="RunJobs", expect="FAILED", arrange=job_run_timed_out,
         job={**SLEEP, "step_timeout": "5m"}, serverless_timings=SLOW_WORKERS, expect_error="States.TaskFailed",
         notice_says="timed out after 5 minutes"),
    # The execution ends while the job run runs: no Catch runs, so the .sync task's best-effort cancel and the
    # execution janitor are what cancel the job run; the application stops by its auto-stop.
    dict(fault="aborted", state="RunJobs", expect="ABORTED", arrange=abort_while_running, job=SLEEP, backstop=True,
         in_slice=True),
    # The run's deadline (run_timeout) comes first: the job run's own timeout (the same 5 minutes) counts from
    # its submission, after StartApplication took the application's start time.
    dict(fault="timed_out", state="RunJobs", expect="ABORTED", arrange=run_timed_out,
         job={**SLEEP, "run_timeout": "5m", "step_timeout": "5m", "start_first": True}, serverless_timings=SLOW_WORKERS,
         expect_error="RunTimedOut", backstop=True),
    # The application's own calls (start_application_first; stop_application_after_run).
    dict(fault="internal_error_then_success", state="StartApplication", expect="SUCCEEDED",
         arrange=api_fault("internal", "start_application", 2, "StartApplication"), job={"start_first": True},
         expect_fired=2),
    dict(fault="internal_error_never_ends", state="StartApplication", expect="FAILED",
         arrange=api_fault("internal", "start_application", 10**6, "StartApplication", lift=True),
         job={"start_first": True}, expect_error=INTERNAL, expect_fired=APPLICATION_ATTEMPTS),
    dict(fault="throttle_then_success", state="StopApplication", expect="SUCCEEDED",
         arrange=api_fault("throttle", "stop_application", 2, "StopApplication"), expect_fired=2),
    # The job run succeeded, but the application could not be stopped: the run says FAILED in StopApplication,
    # and the application's auto-stop stops it.
    dict(fault="internal_error_never_ends", state="StopApplication", expect="FAILED",
         arrange=api_fault("internal", "stop_application", 10**6, "StopApplication", lift=True),
         expect_error=INTERNAL, expect_fired=APPLICATION_ATTEMPTS, backstop=True),
    dict(fault="internal_error_never_ends", state="StopApplicationAfterJobsFailed", expect="FAILED",
         arrange=_with(job_run_fails,
                       api_fault("internal", "stop_application", 10**6, "StopApplicationAfterJobsFailed", lift=True)),
         job={"mode": "fail"}, expect_error="States.TaskFailed", backstop=True),
    # The same run asked for twice: a redelivered trigger, a StartJobRun sent again with the same ClientToken.
    dict(fault="event_twice", state="RunStarterFunction", expect="SUCCEEDED", arrange=duplicate_trigger),
    dict(fault="start_repeated", state="StartJobRun", expect="SUCCEEDED", arrange=start_job_run_again,
         variant="same-client-token", expect_fired=2),
]  # fmt: skip
