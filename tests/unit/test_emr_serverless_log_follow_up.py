"""A failed EMR Serverless job run whose driver log is late: the reaction schedules a follow-up, and the step-log
follow-up function sends the log's last lines, looks again, or says it never came. Against moto in-process: EMR
Serverless, S3, SNS, DynamoDB (the template's tables) and EventBridge Scheduler; the follow-up function is the real
handler, as Lambda imports it."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import jmespath
import pytest
from moto import mock_aws
from pydantic import ValidationError

from emr_autopilot import aws, ledger
from emr_autopilot.emr_event_reactions.follow_up_schedule import (
    FollowUp,
    FollowUpScheduler,
    JobRunFollowUp,
    parse_follow_up,
)
from tests.helpers.handlers import ROOT, LambdaContext, aws_env, handler_environment, import_app, lambda_app
from tests.helpers.serverless_world import ACCOUNT, LOGS, REGION, RUN_ID, TABLE, TablesWorld

EVENTS = ROOT / "events"
GROUP = "emr-autopilot-jobs"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-SchedulerRole"
FOLLOW_UP_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:emr-autopilot-step-log-follow-up"
NOW = datetime(2026, 11, 21, 6, 25, tzinfo=UTC)
FAILED = "emr_serverless_job_run_failed.json"
DETAILS = "Job failed, please check complete logs in configured logging destination. ExitCode: 1."
TRACEBACK = (
    "Traceback (most recent call last):\n"
    "fs.s3a.secret.key=abc123\n"
    "ValueError: missing required column(s): violation_type\n"
)


class World(TablesWorld):
    """The serverless world with the template's ledger and idempotency tables and the follow-up schedule group."""

    def __init__(self) -> None:
        aws.client("scheduler").create_schedule_group(Name=GROUP)
        super().__init__()
        scheduler = FollowUpScheduler(GROUP, SCHEDULER_ROLE, FOLLOW_UP_FUNCTION, now=lambda: NOW)
        self.settings = self.settings._replace(follow_up=scheduler)

    def driver_log(self, job_run_id: str, name: str, text: str) -> str:
        """Put the driver's `name` log where EMR Serverless writes it; returns its URI."""
        key = f"serverless/red-violations/applications/{self.app}/jobs/{job_run_id}/SPARK_DRIVER/{name}"
        aws.client("s3").put_object(Bucket="emr-autopilot-logs", Key=key, Body=gzip.compress(text.encode()))
        return f"s3://emr-autopilot-logs/{key}"

    def uri(self, job_run_id: str, name: str) -> str:
        return f"{LOGS}applications/{self.app}/jobs/{job_run_id}/SPARK_DRIVER/{name}"

    def schedules(self) -> list[dict[str, Any]]:
        scheduler = aws.client("scheduler")
        listed = scheduler.list_schedules(GroupName=GROUP)["Schedules"]
        return [scheduler.get_schedule(GroupName=GROUP, Name=item["Name"]) for item in listed]

    def timeline(self) -> list[dict[str, Any]]:
        items = ledger.partition_items(TABLE, f"RUN#{RUN_ID}")
        return [item for item in items if item.get("detail_type") == "Job run log follow-up"]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    aws_env(monkeypatch)
    # Fresh clients (and so a fresh idempotency store, configured with this function's key) for each test.
    aws.reset_clients()
    with mock_aws():
        yield World()
    aws.reset_clients()


_Context = partial(LambdaContext, "emr-autopilot-step-log-follow-up", FOLLOW_UP_FUNCTION)


@pytest.fixture
def follow_up_handler(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """StepLogFollowUpFunction's handler, imported as Lambda would, with the template's environment."""
    from emr_autopilot.emr_event_reactions.settings import emr_event_settings

    environment = handler_environment(
        world.topic,
        SCHEDULE_GROUP_NAME=GROUP,
        SCHEDULER_ROLE_ARN=SCHEDULER_ROLE,
        LOG_FOLLOW_UP_FUNCTION_ARN=FOLLOW_UP_FUNCTION,
    )
    with lambda_app(monkeypatch, "step_log_follow_up", environment, emr_event_settings) as module:
        yield lambda event: module.handler(copy.deepcopy(event), _Context())


def _late_failure(world: World) -> tuple[str, dict[str, Any]]:
    """A PySpark job run that FAILED before its driver's logs reached S3, reacted to: (job run id, the request its
    follow-up schedule carries)."""
    job_run = world.job_run(state="FAILED", state_details=DETAILS)
    world.react(world.event(FAILED, job_run))
    (schedule,) = world.schedules()
    return job_run, json.loads(schedule["Target"]["Input"])


# -- the reaction schedules the follow-up -----------------------------------------------------------------------
def test_a_failed_job_run_whose_driver_log_is_late_schedules_one_follow_up_with_its_request(world: World) -> None:
    # Given a PySpark job run that failed, its driver's stdout.gz and stderr.gz not in S3 yet
    job_run = world.job_run(state="FAILED", state_details=DETAILS)
    event = world.event(FAILED, job_run)
    # When its FAILED event arrives, and EventBridge delivers it again
    first = world.react(event)
    again = world.react(copy.deepcopy(event))
    # Then one one-time schedule invokes the follow-up function five minutes later, and the re-delivery made none
    assert (first.follow_up_scheduled, again.follow_up_scheduled) == (True, False)
    (schedule,) = world.schedules()
    assert schedule["ScheduleExpression"] == "at(2026-11-21T06:30:00)"
    assert (schedule["ActionAfterCompletion"], schedule["Target"]["Arn"]) == ("DELETE", FOLLOW_UP_FUNCTION)
    assert schedule["Target"]["RoleArn"] == SCHEDULER_ROLE
    # And its name is the job run's and attempt's, its input a job run's follow-up request: where the driver's
    # stdout.gz (a PySpark traceback) and stderr.gz will be, the job, the run and the first look
    assert schedule["Name"] == JobRunFollowUp(world.app, job_run, "", (), None, None, 1).schedule_name()
    assert json.loads(schedule["Target"]["Input"]) == {
        "kind": "emr-serverless",
        "application_id": world.app,
        "job_run_id": job_run,
        "job_run_name": f"{RUN_ID}.0 Count red violations",
        "log_uris": [world.uri(job_run, "stdout.gz"), world.uri(job_run, "stderr.gz")],
        "job": "red-violations",
        "run_id": RUN_ID,
        "attempt": 1,
    }
    # And the failure notices say a follow-up will bring the log's last lines
    notices = world.notices()
    assert len(notices) == 2  # the reaction itself is not idempotent: the handler's `once` is (its own test)
    assert notices[0]["Message"].count("A follow-up with its last lines will be sent.") == 1


def test_a_failed_job_run_whose_driver_log_is_there_schedules_no_follow_up(world: World) -> None:
    # Given a failed job run whose driver stderr.gz is already in S3
    job_run = world.job_run(state="FAILED", state_details=DETAILS)
    world.stderr(job_run, "ERROR Executor: task failed\n")
    # When its FAILED event arrives
    reaction = world.react(world.event(FAILED, job_run))
    # Then the notice has the log's last lines and nothing is scheduled
    assert reaction.follow_up_scheduled is False
    assert world.schedules() == []
    (notice,) = world.notices()
    assert "    ERROR Executor: task failed" in notice["Message"]
    assert "follow-up" not in notice["Message"]


# -- the follow-up ----------------------------------------------------------------------------------------------
def test_the_follow_up_sends_the_late_driver_log_redacted_and_records_it_in_the_run(
    world: World, follow_up_handler: Callable[[dict[str, Any]], Any]
) -> None:
    # Given a failed job run's follow-up request, and its driver's stdout.gz (with a secret) in S3 since
    job_run, request = _late_failure(world)
    world.notices()  # the failure notice, read
    stdout = world.driver_log(job_run, "stdout.gz", TRACEBACK)
    # When the schedule invokes the follow-up function
    result = follow_up_handler(request)
    # Then one ERROR notice gives the log's last lines, the secret masked
    assert (result["status"], result["outcome"]) == ("ok", "digest sent")
    (notice,) = world.notices()
    assert notice["Subject"] == f"[emr-autopilot] Job run log: 0 Count red violations on red-violations ({world.app})"
    assert f"Last lines of {stdout}:" in notice["Message"]
    assert "    fs.s3a.secret.key=[redacted]\n    ValueError: missing required column(s)" in notice["Message"]
    assert "abc123" not in notice["Message"]
    attributes = {key: value["Value"] for key, value in notice["MessageAttributes"].items()}
    assert (attributes["event_type"], attributes["severity"], attributes["job"]) == (
        "JOB_RUN_LOG",
        "ERROR",
        "red-violations",
    )
    # And the run's timeline in the ledger says the log was sent, from where
    (entry,) = world.timeline()
    assert (entry["state"], entry["jobRunId"], entry["log_file"]) == ("LOG_SENT", job_run, stdout)
    # And no further look is scheduled (the first one's schedule is the reaction's)
    assert len(world.schedules()) == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the redelivery emits none: by design
def test_a_follow_up_delivered_twice_sends_one_notice(
    world: World, follow_up_handler: Callable[[dict[str, Any]], Any]
) -> None:
    # Given a failed job run's follow-up request, and its driver's stderr.gz in S3 since (its stdout.gz is empty)
    job_run, request = _late_failure(world)
    world.notices()
    world.driver_log(job_run, "stdout.gz", "")
    world.driver_log(job_run, "stderr.gz", "ERROR SparkContext: job aborted\n")
    # When EventBridge Scheduler delivers the invocation twice (at least once)
    first = follow_up_handler(request)
    again = follow_up_handler(request)
    # Then the second returns the first's result: one notice, from stderr.gz, one timeline entry
    assert first == again == {"status": "ok", "outcome": "digest sent"}
    (notice,) = world.notices()
    assert f"Last lines of {world.uri(job_run, 'stderr.gz')}:" in notice["Message"]
    assert len(world.timeline()) == 1


def test_a_driver_log_that_never_appears_is_looked_for_again_then_reported_missing_once(
    world: World, follow_up_handler: Callable[[dict[str, Any]], Any]
) -> None:
    # Given a failed job run whose driver logs never reach S3
    job_run, request = _late_failure(world)
    world.notices()
    outcomes = []
    # When each look's schedule invokes the follow-up function in turn
    while request is not None:
        outcomes.append(follow_up_handler(request)["outcome"])
        due = [json.loads(s["Target"]["Input"]) for s in world.schedules()]
        request = next((r for r in due if r["attempt"] == request["attempt"] + 1), None)
    # Then it looked four times (LOG_FOLLOW_UP_MAX_ATTEMPTS' default), scheduling each next look, then gave up
    assert outcomes == ["rescheduled"] * 3 + ["gave up"]
    assert sorted(json.loads(s["Target"]["Input"])["attempt"] for s in world.schedules()) == [1, 2, 3, 4]
    # And one WARNING notice says the log never appeared, where it was looked for and for how long
    (notice,) = world.notices()
    assert notice["Subject"] == (
        f"[emr-autopilot] Job run log missing: 0 Count red violations on red-violations ({world.app})"
    )
    assert notice["MessageAttributes"]["severity"]["Value"] == "WARNING"
    assert "(looked 4 times over about 20 minutes)" in notice["Message"]
    assert f"{world.uri(job_run, 'stdout.gz')} or {world.uri(job_run, 'stderr.gz')}" in notice["Message"]
    # And the run's timeline says so, once
    assert [entry["state"] for entry in world.timeline()] == ["LOG_MISSING"]


# -- the request ------------------------------------------------------------------------------------------------
def test_a_steps_follow_up_request_keeps_its_shape_schedule_name_and_idempotency_key() -> None:
    # Given the step follow-up sample (the shape schedules created before job runs had follow-ups carry)
    event = json.loads((EVENTS / "step_log_follow_up.json").read_text(encoding="utf-8"))
    # When it is parsed / Then it is a step's follow-up, named and keyed as before
    follow_up = parse_follow_up(event)
    assert isinstance(follow_up, FollowUp)
    # (the name the step's first look always had: "steplog-" + sha256("<cluster>/<step>/<attempt>")[:40])
    assert follow_up.schedule_name() == "steplog-5032c396593e95830379a42a6876b28ca462057c"
    # And the function's idempotency key gives it the key it always had, so a look in flight is not sent twice
    assert jmespath.search(_follow_up_app().IDEMPOTENCY_KEY, event) == ["j-2AXXXXXXGAPLF", "s-1K4CSPRYG3YH7", 1]


def _follow_up_app() -> Any:
    return import_app("step_log_follow_up")


def test_the_job_run_sample_is_a_job_runs_follow_up_and_a_bad_kind_or_uri_is_refused() -> None:
    # Given the job run follow-up sample
    event = json.loads((EVENTS / "step_log_follow_up_job_run.json").read_text(encoding="utf-8"))
    # When it is parsed / Then it is a job run's follow-up, its driver's stdout.gz first
    follow_up = parse_follow_up(event)
    assert isinstance(follow_up, JobRunFollowUp)
    assert (follow_up.application_id, follow_up.attempt) == ("00fkq2r7a0l6pl09", 1)
    assert [uri.rsplit("/", 1)[1] for uri in follow_up.log_uris] == ["stdout.gz", "stderr.gz"]
    assert follow_up.schedule_name().startswith("jobrunlog-")
    assert jmespath.search(_follow_up_app().IDEMPOTENCY_KEY, event) == ["00fkq2r7a0l6pl09", "00fkq3v8mbtm9g09", 1]
    # And an unknown kind, a log that is not in S3 or a job run id EMR Serverless never gives is invalid input
    for bad in ({"kind": "emr-eks"}, {"log_uris": ["/tmp/stdout.gz"]}, {"job_run_id": "00FK/../x"}):
        with pytest.raises(ValidationError):
            parse_follow_up({**event, **bad})
