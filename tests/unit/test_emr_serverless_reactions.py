"""Reactions to EMR Serverless events against moto in-process: the run ledger, the notices, the handler.

moto 5.2.5 makes a job run SUCCESS at once and sets no attempt or retry policy; where a test needs another
state, stateDetails or an attempt, its Given step sets them on moto's backend object, as GetJobRun would then
answer (shared reference serverless-eks-facts.md §3, "Driving states in tests")."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from moto import mock_aws

from emr_autopilot import aws, ledger
from tests.helpers.handlers import (
    ACCOUNT,
    REGION,
    ROOT,
    TABLE,
    LambdaContext,
    aws_env,
    dead_letters,
    handler_environment,
    lambda_app,
)
from tests.helpers.serverless_world import EXECUTION, LOGS, RUN_ID, TablesWorld

EVENTS = ROOT / "events"
DETAILS = "Job failed, please check complete logs in configured logging destination. ExitCode: 1."
World = TablesWorld


@pytest.fixture(scope="module", autouse=True)
def _module_clients() -> Iterator[None]:
    # Clients are created once for this module (a fresh moto per test still applies to them).
    aws.reset_clients()
    yield
    aws.reset_clients()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    aws_env(monkeypatch)
    with mock_aws():
        yield World()


FAILED = "emr_serverless_job_run_failed.json"
SUCCEEDED = "emr_serverless_job_run_succeeded.json"
RETRY = "emr_serverless_job_run_retry.json"
UTILIZATION = "emr_serverless_job_resource_utilization_update.json"


def _state(world: World, job_run_id: str, state: str, previous: str, at: str, event_id: str) -> dict[str, Any]:
    event = world.event(SUCCEEDED, job_run_id, event_id, state=state, previousState=previous)
    event["time"] = at
    return event


# -- a failed job run ---------------------------------------------------------------------------------------
def test_a_failed_job_run_is_recorded_and_notified_with_its_reason_attempt_and_redacted_log(world: World) -> None:
    # Given a job run of a run that failed (GetJobRun: FAILED with stateDetails), its stderr in S3 with a secret
    job_run = world.job_run(state="FAILED", state_details=DETAILS, total_execution_duration_seconds=244)
    world.stderr(job_run, "INFO starting\nfs.s3a.secret.key=abc123\nValueError: no column 'grade'\n")
    # When its FAILED event arrives
    reaction = world.react(world.event(FAILED, job_run))
    # Then the job run is in the run's ledger with its reason, attempt and log, and the run is FAILED
    stderr = f"{LOGS}applications/{world.app}/jobs/{job_run}/SPARK_DRIVER/stderr.gz"
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert (item["state"], item["failure_reason"], item["log_file"], item["attempt"]) == ("FAILED", DETAILS, stderr, 1)
    assert (item["application_id"], item["duration_seconds"]) == (world.app, 244)
    assert item["step_name"] == f"{RUN_ID}.0 Count red violations"
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert (meta["state"], meta["compute"], meta["job"], meta["execution_arn"]) == (
        "FAILED",
        "emr-serverless",
        "red-violations",
        EXECUTION,
    )
    assert [run["pk"] for run in ledger.list_runs(TABLE)] == [f"RUN#{RUN_ID}"]
    # And one ERROR notice says why, with the log's last lines redacted
    (notice,) = world.notices()
    assert (
        notice["Subject"] == f"[emr-autopilot] Job run failed: 0 Count red violations on red-violations ({world.app})"
    )
    assert notice["MessageAttributes"]["severity"]["Value"] == "ERROR"
    assert f"Reason: {DETAILS}" in notice["Message"]
    assert "    fs.s3a.secret.key=[redacted]\n    ValueError: no column 'grade'" in notice["Message"]
    assert "abc123" not in notice["Message"]
    assert (reaction.category, reaction.job, reaction.run_id) == ("JOB_RUN_FAILED", "red-violations", RUN_ID)


def test_a_failed_job_run_whose_log_is_not_there_yet_says_where_it_will_be(world: World) -> None:
    # Given a failed job run whose stderr is not in S3 yet
    job_run = world.job_run(state="FAILED", state_details=DETAILS)
    # When its FAILED event arrives
    world.react(world.event(FAILED, job_run))
    # Then the notice names the log's location
    (notice,) = world.notices()
    where = f"{LOGS}applications/{world.app}/jobs/{job_run}/SPARK_DRIVER/stderr.gz"
    assert (
        f"The driver's log is not in S3 yet (EMR Serverless uploads it as the job runs): {where}" in notice["Message"]
    )


def test_a_failed_attempt_with_another_running_warns_once_and_a_later_attempt_outranks_it(world: World) -> None:
    # Given a job run with a retry policy whose attempt 1 failed; GetJobRun already shows attempt 2 RUNNING
    job_run = world.job_run(state="RUNNING", attempt=2, retry_policy={"maxAttempts": 3})
    world.stderr(job_run, "java.lang.OutOfMemoryError: Java heap space", attempt=1)
    # When attempt 1's FAILED event and the Retry event arrive
    failed = world.react(world.event(FAILED, job_run, "ev-failed"))
    retry = world.react(world.event(RETRY, job_run, "ev-retry"))
    # Then attempt 1 is recorded FAILED with its own log, no ERROR notice (the run goes on), one WARNING
    assert failed.notified == []
    assert (
        f"/jobs/{job_run}/attempts/1/SPARK_DRIVER/stderr.gz"
        in world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")["log_file"]
    )
    (notice,) = world.notices()
    assert notice["MessageAttributes"]["severity"]["Value"] == "WARNING"
    assert notice["Subject"].startswith("[emr-autopilot] Job run retried: ")
    assert "EMR Serverless started attempt 2 of 3." in notice["Message"]
    assert "    java.lang.OutOfMemoryError: Java heap space" in notice["Message"]
    assert retry.category == "JOB_RUN_RETRY"
    # And the ledger holds attempt 2 RUNNING; attempt 2's SUCCESS then moves it forward
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert (item["state"], item["attempt"]) == ("RUNNING", 2)
    world.set(job_run, state="SUCCESS")
    world.react(world.event(SUCCEEDED, job_run, "ev-success"))
    assert world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")["state"] == "SUCCESS"
    assert world.item(f"RUN#{RUN_ID}", "META")["state"] == "SUCCESS"


def test_a_retry_after_an_attempt_that_did_not_fail_is_recorded_without_a_notice(world: World) -> None:
    # Given a job run on its second attempt
    job_run = world.job_run(state="RUNNING", attempt=2, retry_policy={"maxAttempts": 3})
    # When a Retry event whose previous attempt was cancelled arrives
    reaction = world.react(world.event(RETRY, job_run, previousAttemptState="CANCELLED"))
    # Then it is recorded (timeline and attempt) and nobody is paged
    assert reaction.notified == [] and world.notices() == []
    assert world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")["attempt"] == 2
    assert ("JobRunRetries", "Count", 1) in reaction.metrics


@pytest.mark.parametrize(
    ("details", "notified"),
    [("Job run timed out after 60 minutes.", True), ("Job run was cancelled by user request.", False)],
    ids=["its timeout", "asked for"],
)
def test_a_cancelled_job_run_is_notified_only_when_nobody_asked(world: World, details: str, notified: bool) -> None:
    # Given a job run EMR Serverless cancelled, with stateDetails saying why
    job_run = world.job_run(state="CANCELLED", state_details=details)
    # When its CANCELLED event arrives
    reaction = world.react(world.event(FAILED, job_run, state="CANCELLED", previousState="CANCELLING"))
    # Then it is recorded CANCELLED, and a notice goes out only for the timeout
    assert world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")["failure_reason"] == details
    assert world.item(f"RUN#{RUN_ID}", "META")["state"] == "CANCELLED"
    assert len(world.notices()) == (1 if notified else 0)
    assert reaction.category == ("JOB_RUN_TIMED_OUT" if notified else "INFO")


# -- the run's state from its job runs ----------------------------------------------------------------------
def test_states_only_move_forward_and_the_run_is_running_until_every_job_run_ended(world: World) -> None:
    # Given two job runs of one run (concurrency 2)
    first, second = world.job_run(0), world.job_run(1)
    # When the first runs and succeeds, the second is submitted, and a late RUNNING of the first comes in
    world.react(_state(world, first, "RUNNING", "SCHEDULED", "2026-11-21T06:21:09Z", "e1"))
    world.react(_state(world, second, "SUBMITTED", "", "2026-11-21T06:21:10Z", "e2"))
    world.react(_state(world, first, "SUCCESS", "RUNNING", "2026-11-21T06:26:02Z", "e3"))
    late = world.react(_state(world, first, "RUNNING", "SCHEDULED", "2026-11-21T06:21:09Z", "e4"))
    # Then the first stays SUCCESS with its times, the late event is stale, and the run is still RUNNING
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{first}")
    assert (item["state"], item["started_at"], item["ended_at"]) == (
        "SUCCESS",
        "2026-11-21T06:21:09.000000Z",
        "2026-11-21T06:26:02.000000Z",
    )
    assert late.stale is True
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert meta["state"] == "RUNNING" and "ended_at" not in meta
    # When the second fails / Then the run is FAILED and ended
    world.set(second, state="FAILED", state_details=DETAILS)
    world.react(world.event(FAILED, second, "e5"))
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert (meta["state"], meta["ended_at"], meta["created_at"]) == (
        "FAILED",
        "2026-11-21T06:24:51.000000Z",
        "2026-11-21T06:21:09.000000Z",
    )
    # And the timeline holds every event, the late one included
    events = [i for i in ledger.partition_items(TABLE, f"RUN#{RUN_ID}") if str(i["sk"]).startswith("EVENT#")]
    assert sorted(i["event_id"] for i in events) == ["e1", "e2", "e3", "e4", "e5"]


def test_a_successful_job_run_records_its_totals_and_notifies_nobody(world: World) -> None:
    # Given a job run that succeeded, with its totals (moto sets no totalResourceUtilization: set here)
    total = {"vCPUHour": 0.406, "memoryGBHour": 1.622, "storageGBHour": 8.111}
    job_run = world.job_run(total_resource_utilization=total, total_execution_duration_seconds=292)
    # When its SUCCESS event arrives
    reaction = world.react(world.event(SUCCEEDED, job_run))
    # Then the job run and the run are SUCCESS, with the totals and the duration metric, and no notice
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert item["state"] == "SUCCESS" and "failure_reason" not in item and "log_file" not in item
    assert {k: float(v) for k, v in item["total_resource_utilization"].items()} == total
    assert world.item(f"RUN#{RUN_ID}", "META")["state"] == "SUCCESS"
    assert ("JobRunDurationSeconds", "Seconds", 292.0) in reaction.metrics
    assert world.notices() == []


# -- resource utilization -----------------------------------------------------------------------------------
def test_the_final_utilization_is_recorded_and_an_earlier_update_never_overwrites_it(world: World) -> None:
    # Given a job run of a run
    job_run = world.job_run()
    # When the final utilization update arrives, then an earlier periodic one, late
    final = world.react(world.event(UTILIZATION, job_run, "u-final"))
    early = world.event(UTILIZATION, job_run, "u-early", resourceUtilizationFinal=False)
    early["detail"]["calculatedTo"] = "2026-11-21T06:22:00Z"
    early["detail"]["totalBilledResourceUtilization"] = {"vCPUHour": 0.1, "memoryGBHour": 0.4, "storageGBHour": 0}
    late = world.react(early)
    # (and a periodic one for the very instant the final one covers: the final one still wins)
    same_instant = world.event(UTILIZATION, job_run, "u-same", resourceUtilizationFinal=False)
    same_instant["detail"]["totalBilledResourceUtilization"] = {"vCPUHour": 9.0, "memoryGBHour": 9.0}
    tied = world.react(same_instant)
    # Then the job run holds the final billed totals, marked final; the late one was stale; no notice
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert {k: float(v) for k, v in item["billed_resource_utilization"].items()} == {
        "vCPUHour": 0.533,
        "memoryGBHour": 2.133,
        "storageGBHour": 0.0,
    }
    assert item["utilization_final"] is True
    assert (final.stale, late.stale, tied.stale) == (False, True, True)
    assert ("BilledVCPUHours", "None", 0.533) in final.metrics
    assert world.notices() == []


# -- applications, job runs that are not ours, and job runs EMR Serverless does not know ------------------------
def test_an_application_state_change_is_kept_in_its_timeline_without_a_notice(world: World) -> None:
    # Given the application sample moved onto this world's application
    event = world.event("emr_serverless_application_state_change.json")
    # When it arrives
    reaction = world.react(event)
    # Then the application's timeline has it, nothing is notified, and it is counted
    (item,) = ledger.partition_items(TABLE, f"APPLICATION#{world.app}")
    assert (item["state"], item["applicationName"], item["event_id"]) == (
        "STARTED",
        "emr-autopilot-red-violations",
        event["id"],
    )
    assert (reaction.category, reaction.notified) == ("APPLICATION_STATE", [])
    assert ("ApplicationStateChanges", "Count", 1) in reaction.metrics
    assert world.notices() == []


def test_a_job_run_without_our_tags_is_recorded_with_its_application_not_as_a_run(world: World) -> None:
    # Given a job run someone else started (no emr-autopilot tags) that failed
    job_run = world.job_run(tagged=False, state="FAILED", state_details=DETAILS)
    # When its FAILED event arrives
    world.react(world.event(FAILED, job_run, jobRunName="adhoc"))
    # Then it is under its application, not in the runs list, and the notice says it is not ours
    assert world.item(f"APPLICATION#{world.app}", f"JOBRUN#{job_run}")["state"] == "FAILED"
    assert list(ledger.list_runs(TABLE)) == []
    (notice,) = world.notices()
    assert notice["Subject"] == f"[emr-autopilot] Job run failed: adhoc on application {world.app}"
    assert "Job run not started by emr-autopilot." in notice["Message"]


def test_a_job_run_emr_serverless_does_not_know_is_recorded_and_notified_without_crashing(world: World) -> None:
    # Given a FAILED event about a job run GetJobRun does not find
    event = world.event(FAILED, "00fkq3v8mbtm9g09")
    # When it arrives
    reaction = world.react(event)
    # Then it is kept with its application and notified with why the details are missing
    assert world.item(f"APPLICATION#{world.app}", "JOBRUN#00fkq3v8mbtm9g09")["state"] == "FAILED"
    (notice,) = world.notices()
    assert "Reason: job run details unavailable (GetJobRun: " in notice["Message"]
    assert reaction.run_id is None


# -- the handler ----------------------------------------------------------------------------------------------
_Context = partial(LambdaContext, "EmrServerlessEventFunction")


@pytest.fixture
def handler(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """The function's handler, imported as Lambda would with the template's environment."""
    from emr_autopilot.emr_serverless_reactions.settings import serverless_event_settings

    aws.client("scheduler").create_schedule_group(Name="jobs")  # a late driver log's follow-up is scheduled there
    environment = handler_environment(
        world.topic,
        SCHEDULE_GROUP_NAME="jobs",
        SCHEDULER_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/scheduler",
        LOG_FOLLOW_UP_FUNCTION_ARN=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:step-log-follow-up",
    )
    with lambda_app(monkeypatch, "emr_serverless_event_handler", environment, serverless_event_settings) as app:
        yield app.handler


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the redelivery emits none: by design
def test_a_redelivered_failure_is_recorded_and_notified_once(world: World, handler: Callable[..., Any]) -> None:
    # Given a failed job run and its FAILED event
    job_run = world.job_run(state="FAILED", state_details=DETAILS)
    event = world.event(FAILED, job_run)
    # When EventBridge delivers the event twice
    first = handler(event, _Context())
    again = handler(copy.deepcopy(event), _Context())
    # Then the second delivery returns the first result: one notice, one timeline entry, one follow-up (its log
    # is not in S3)
    assert first["status"] == again["status"] == "ok"
    assert again["notified"] == first["notified"] and len(first["notified"]) == 1
    assert len(world.notices()) == 1
    assert first["follow_up_scheduled"] is True
    assert len(aws.client("scheduler").list_schedules(GroupName="jobs")["Schedules"]) == 1
    events = [i for i in ledger.partition_items(TABLE, f"RUN#{RUN_ID}") if str(i["sk"]).startswith("EVENT#")]
    assert len(events) == 1


def test_the_handler_quarantines_an_event_it_cannot_read(world: World, handler: Callable[..., Any]) -> None:
    # Given an event whose job run id is not an EMR Serverless id
    event = world.event(FAILED, "not/an/id", "bad-event")
    # When it arrives
    result = handler(event, _Context())
    # Then it is rejected into the dead-letter queue, nothing recorded or notified
    assert (result["status"], result["event_id"]) == ("rejected", "bad-event")
    assert "jobRunId" in result["reason"]
    (message,) = dead_letters()
    assert message["function"] == "emr_serverless_event_handler"
    assert world.notices() == [] and list(ledger.list_runs(TABLE)) == []


def test_the_event_time_is_the_ledger_time(world: World) -> None:
    # Given a job run and a RUNNING event at a known time
    job_run = world.job_run(state="RUNNING")
    event = _state(world, job_run, "RUNNING", "SCHEDULED", "2026-11-21T06:21:09Z", "t1")
    # When it arrives
    world.react(event)
    # Then the run was first seen at the event's time, and is listed under it
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert meta["gsi1sk"] == f"2026-11-21T06:21:09.000000Z#{RUN_ID}"
    assert [run["run_id"] for run in ledger.list_runs(TABLE, since=datetime(2026, 11, 21, 6, tzinfo=UTC))] == [RUN_ID]
