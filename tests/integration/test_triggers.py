"""What starts a run: S3 objects (either event shape), job schedules, and what must start nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import expected_red_counts, generate_inspections, parse_result_csv
from tests.helpers.integration import (
    SAMPLE_JOB,
    dead_letters,
    deadline_schedules,
    load_event,
    only,
    read_object,
    run_input,
)


def starter_runs(stack: LocalRuntime) -> list[dict[str, Any]]:
    """Every run outcome the run starter reported, in delivery order."""
    return [run for inv in stack.invocations if inv.function == "RunStarterFunction" for run in inv.result["runs"]]


def assert_counted(stack: LocalRuntime, run: dict[str, Any], csv_text: str) -> None:
    output = read_object(stack, run["output_uri"] + "red_violations.csv").decode("utf-8")
    assert parse_result_csv(output) == expected_red_counts(csv_text)


def test_a_redelivered_s3_event_starts_one_run(stack: LocalRuntime) -> None:
    # Given a CSV landed and its S3 event was delivered: a run started
    stack.put_object("inspections/dup.csv", generate_inspections(rows=100))
    stack.pump()
    # Only the starter's: on a slow machine the cluster's first EMR event can arrive in the same pump.
    first = only([inv for inv in stack.invocations if inv.function == "RunStarterFunction"])
    assert first.result["runs"][0]["status"] == "started"
    event = first.event
    assert only(stack.executions())["status"] == "RUNNING"

    # When EventBridge delivers the same event again while the run is still going (at-least-once delivery)
    while_running = stack.invoke("RunStarterFunction", copy.deepcopy(event))
    stack.settle(timeout=60)
    # ...and once more after it ended
    after_end = stack.invoke("RunStarterFunction", copy.deepcopy(event))

    # Then both repeats are reported as duplicates of the same execution
    execution = only(stack.executions())
    for result in (while_running, after_end):
        assert result["status"] == "ok"
        run = only(result["runs"])
        assert run["status"] == "duplicate"
        assert run["execution_arn"] == execution["executionArn"]

    # And exactly one run happened, once
    assert execution["status"] == "SUCCEEDED"
    assert len([n for n in stack.notifications if "SUCCEEDED" in n.subject]) == 1
    assert only(stack.clusters())["Status"]["State"] == "TERMINATED"
    assert dead_letters(stack) == []


def test_a_new_upload_to_the_same_key_starts_a_new_run(stack: LocalRuntime) -> None:
    # Given a run for inspections/latest.csv finished (the landing bucket is not versioned)
    first_csv, second_csv = generate_inspections(rows=100, seed=1), generate_inspections(rows=100, seed=2)
    stack.put_object("inspections/latest.csv", first_csv)
    stack.settle(timeout=60)

    # When new content is uploaded to the same key
    stack.put_object("inspections/latest.csv", second_csv)
    stack.settle(timeout=60)

    # Then it is a new run, not a duplicate of the first, and each run counted its own content
    first, second = starter_runs(stack)
    assert (first["status"], second["status"]) == ("started", "started")
    assert first["execution_name"] != second["execution_name"]
    executions = stack.executions()
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    assert_counted(stack, run_input(executions[0])["run"], first_csv)
    assert_counted(stack, run_input(executions[1])["run"], second_csv)


def test_keys_with_spaces_plus_equals_percent_and_non_ascii_are_read_as_written(stack: LocalRuntime) -> None:
    # Given a key with a space, '+', '=', '%20' and non-ASCII letters
    key = "inspections/été 2026/a+b=c%20d.csv"
    csv_text = generate_inspections(rows=200)

    # When it lands
    stack.put_object(key, csv_text)
    stack.settle(timeout=60)

    # Then the run's input is exactly that object, and the job read it
    execution = only(stack.executions())
    run = run_input(execution)["run"]
    assert run["input_uri"] == f"s3://{stack.outputs['LandingBucketName']}/{key}"
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert_counted(stack, run, csv_text)


def test_an_s3_notification_records_event_has_its_url_encoded_key_decoded(stack: LocalRuntime) -> None:
    # Given an object whose key has non-ASCII letters, spaces and '+' and '=' (no S3 event for it)
    key = "inspections/café reports/2026-11-21 a+b=c.csv"
    csv_text = generate_inspections(rows=200)
    stack.seed_object(key, csv_text)
    # ...and the classic S3 notification for it, whose key is URL-encoded ('+' for a space)
    event = load_event("run_starter_s3_notification_records.json")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = stack.outputs["LandingBucketName"]
    assert record["object"]["key"] == "inspections/caf%C3%A9+reports/2026-11-21+a%2Bb%3Dc.csv"

    # When the run starter is invoked with it
    result = stack.invoke("RunStarterFunction", event)
    stack.settle(timeout=60)

    # Then the run reads the decoded key
    expected_uri = f"s3://{stack.outputs['LandingBucketName']}/{key}"
    assert only(result["runs"])["input_uri"] == expected_uri
    execution = only(stack.executions())
    run = run_input(execution)["run"]
    assert run["input_uri"] == expected_uri
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert_counted(stack, run, csv_text)


def test_an_object_no_job_wants_starts_nothing(stack: LocalRuntime) -> None:
    # Given no job triggers on other/
    # When an object lands there
    stack.put_object("other/x.csv", "a,b\n")
    stack.settle(timeout=30)

    # Then the run starter handled it without error and reported it as unmatched
    invocation = only(stack.invocations)
    assert invocation.error is None
    assert invocation.result["status"] == "ok"
    assert invocation.result["runs"] == []
    assert invocation.result["unmatched"] == [f"s3://{stack.outputs['LandingBucketName']}/other/x.csv"]

    # And nothing started
    assert stack.executions() == []
    assert stack.clusters() == []
    assert deadline_schedules(stack) == []
    assert dead_letters(stack) == []


def test_malformed_events_are_rejected_and_kept_in_the_dead_letter_queue(stack: LocalRuntime) -> None:
    # Given events the handlers cannot use
    starter_events: list[Any] = [
        {"detail-type": "Object Created", "source": "aws.s3"},
        "inspections/2026-11-21.csv",
        {"Records": []},
        {"job": SAMPLE_JOB, "scheduled_time": "yesterday"},
    ]
    janitor_event = {"detail-type": "Step Functions Execution Status Change", "source": "aws.states", "detail": {}}

    # When they are delivered
    results = [stack.invoke("RunStarterFunction", event) for event in starter_events]
    janitor_result = stack.invoke("ExecutionJanitorFunction", janitor_event)

    # Then each is rejected without raising (a retry would not fix it)
    assert [r["status"] for r in results] == ["rejected"] * len(starter_events)
    assert all(r["reason"] for r in results)
    assert janitor_result["status"] == "rejected"

    # And each one is in the dead-letter queue, as it was delivered
    letters = dead_letters(stack)
    assert sorted((letter["function"], repr(letter["event"])) for letter in letters) == sorted(
        [("run_starter", repr(event)) for event in starter_events] + [("execution_janitor", repr(janitor_event))]
    )

    # And nothing started
    assert stack.executions() == []


def test_a_schedule_tick_starts_one_run_however_often_it_is_delivered(stack: LocalRuntime) -> None:
    # Given the object scheduled runs read (put there without an S3 event)
    csv_text = generate_inspections(rows=300)
    stack.seed_object("inspections/latest.csv", csv_text)
    tick = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)

    # When the job's schedule fires for 06:00, and that tick is delivered again during and after the run
    first = stack.fire_schedule(f"job-{SAMPLE_JOB}", at=tick)
    during = stack.fire_schedule(f"job-{SAMPLE_JOB}", at=tick)
    stack.settle(timeout=60)
    after = stack.fire_schedule(f"job-{SAMPLE_JOB}", at=tick)

    # Then one run started, named for the scheduled time, and the repeats are duplicates
    for invocation in (first, during, after):
        assert invocation.error is None, invocation.error
    started = only(first.result["runs"])
    assert started["status"] == "started"
    assert "sched" in started["execution_name"]
    assert only(during.result["runs"])["status"] == "duplicate"
    assert only(after.result["runs"])["status"] == "duplicate"

    # And the run read the schedule's input and succeeded
    execution = only(stack.executions())
    assert execution["name"] == started["execution_name"] == f"{SAMPLE_JOB}-sched-20261121T0600Z"
    run = run_input(execution)["run"]
    assert run["trigger"] == "schedule"
    assert run["input_uri"] == f"s3://{stack.outputs['LandingBucketName']}/inspections/latest.csv"
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert_counted(stack, run, csv_text)
