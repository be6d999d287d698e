"""EMR Serverless's EventBridge events: the samples in events/, what is refused, and where a job run's log is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import emr_serverless
from emr_autopilot.emr_serverless_events import (
    ApplicationStateChangeDetail,
    GenericServerlessDetail,
    JobResourceUtilizationUpdateDetail,
    JobRunRetryDetail,
    JobRunStateChangeDetail,
    parse_emr_serverless_event,
)
from emr_autopilot.errors import InvalidEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"
APP, JOB_RUN = "00fkq2r7a0l6pl09", "00fkq3v8mbtm9g09"


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


SAMPLES = {
    "emr_serverless_job_run_failed.json": JobRunStateChangeDetail,
    "emr_serverless_job_run_succeeded.json": JobRunStateChangeDetail,
    "emr_serverless_application_state_change.json": ApplicationStateChangeDetail,
    "emr_serverless_job_run_retry.json": JobRunRetryDetail,
    "emr_serverless_job_resource_utilization_update.json": JobResourceUtilizationUpdateDetail,
}


def test_every_emr_serverless_sample_in_events_is_covered_here() -> None:
    # Given the EMR Serverless samples shipped in events/
    shipped = {path.name for path in EVENTS.glob("emr_serverless_*.json")}
    # Then each one has an expected model below (a new sample without a test fails here)
    assert shipped == set(SAMPLES)


@pytest.mark.parametrize(("name", "model"), sorted(SAMPLES.items()))
def test_each_sample_parses_into_its_model(name: str, model: type) -> None:
    # Given a sample event from events/
    event = load_event(name)
    # When it is parsed
    envelope, detail = parse_emr_serverless_event(event)
    # Then the envelope is kept and the detail has the model of its detail-type, with no key left over
    assert type(detail) is model
    assert (envelope.id, envelope.detail_type, envelope.known) == (event["id"], event["detail-type"], True)
    assert envelope.time.isoformat() == event["time"].replace("Z", "+00:00")
    assert detail.model_dump()["applicationId"] == APP
    assert detail.model_extra == {}


def test_the_retry_sample_names_both_attempts() -> None:
    # Given the retry sample / When it is parsed
    _, detail = parse_emr_serverless_event(load_event("emr_serverless_job_run_retry.json"))
    # Then the failed attempt and the new one are there
    assert isinstance(detail, JobRunRetryDetail)
    assert (detail.previousAttempt, detail.previousAttemptState, detail.newAttempt) == (1, "FAILED", 2)
    assert detail.previousAttemptEndedAt is not None and detail.previousAttemptEndedAt.second == 5


def test_the_utilization_sample_has_its_totals_as_numbers() -> None:
    # Given the final utilization sample / When it is parsed
    _, detail = parse_emr_serverless_event(load_event("emr_serverless_job_resource_utilization_update.json"))
    # Then its totals are numbers and it is the final one
    assert isinstance(detail, JobResourceUtilizationUpdateDetail)
    assert detail.resourceUtilizationFinal is True
    assert (detail.totalBilledResourceUtilization.vCPUHour, detail.totalResourceUtilization.storageGBHour) == (
        0.533,
        8.111,
    )


def test_the_application_sample_keeps_the_events_own_auto_stop_names() -> None:
    # Given the application sample (autoStopConfig.idleTimeout, not the API's idleTimeoutMinutes)
    _, detail = parse_emr_serverless_event(load_event("emr_serverless_application_state_change.json"))
    # Then the idle timeout is read
    assert isinstance(detail, ApplicationStateChangeDetail)
    assert detail.autoStopConfig is not None and detail.autoStopConfig.idleTimeout == 15
    assert (detail.state, detail.applicationName) == ("STARTED", "emr-autopilot-red-violations")


def test_the_doc_samples_first_event_has_an_empty_previous_state() -> None:
    # Given a SUBMITTED event (the doc sample's previousState is "") without jobRunName
    event = load_event("emr_serverless_job_run_failed.json")
    event["detail"].update(state="SUBMITTED", previousState="")
    del event["detail"]["jobRunName"]
    # When it is parsed / Then it is accepted
    _, detail = parse_emr_serverless_event(event)
    assert isinstance(detail, JobRunStateChangeDetail)
    assert (detail.state, detail.previousState, detail.jobRunName) == ("SUBMITTED", "", "")


def test_extra_fields_and_unknown_detail_types_are_accepted() -> None:
    # Given a known event with a field added later, and a detail-type EMR Serverless may add one day
    known = load_event("emr_serverless_job_run_succeeded.json")
    known["detail"]["mode"] = "BATCH"
    unknown = load_event("emr_serverless_application_state_change.json")
    unknown["detail-type"] = "EMR Serverless Session State Change"
    # When they are parsed
    _, detail = parse_emr_serverless_event(known)
    envelope, generic = parse_emr_serverless_event(unknown)
    # Then the extra field is kept, and the unknown type is a generic detail marked unknown
    assert detail.model_extra == {"mode": "BATCH"}
    assert type(generic) is GenericServerlessDetail and envelope.known is False
    assert (generic.applicationId, generic.state) == (APP, "STARTED")


def _changed(name: str, path: str, value: Any = ...) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    parent, _, key = path.rpartition(".")
    target = event["detail"] if parent == "detail" else event
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return event


FAILED = "emr_serverless_job_run_failed.json"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (None, "expected a JSON object"),
        ([load_event(FAILED)], "expected a JSON object"),
        (_changed(FAILED, "source", "aws.emr"), "source"),
        (_changed(FAILED, "id", ""), "id"),
        (_changed(FAILED, "time", "yesterday"), "time"),
        (_changed(FAILED, "detail"), "detail"),
        (_changed(FAILED, "detail.jobRunId"), "jobRunId"),
        (_changed(FAILED, "detail.jobRunId", "../../etc"), "jobRunId"),
        (_changed(FAILED, "detail.applicationId", "A" * 65), "applicationId"),
        (_changed(FAILED, "detail.state"), "state"),
        (_changed("emr_serverless_job_run_retry.json", "detail.newAttempt", 0), "newAttempt"),
        (
            _changed("emr_serverless_job_resource_utilization_update.json", "detail.totalResourceUtilization", "lots"),
            "totalResourceUtilization",
        ),
    ],
    ids=[
        "null",
        "a list",
        "another source",
        "empty id",
        "time not a time",
        "no detail",
        "no jobRunId",
        "jobRunId not an id",
        "applicationId too long",
        "no state",
        "attempt 0",
        "utilization not an object",
    ],
)
def test_malformed_events_are_invalid_input_naming_what_is_wrong(event: Any, words: str) -> None:
    # Given an event that is not a usable EMR Serverless event
    # When it is parsed / Then it is refused with a reason that names the problem
    with pytest.raises(InvalidEvent, match=words):
        parse_emr_serverless_event(event)


# -- where a job run's driver log is, and the order of its states -----------------------------------------
def _job_run(**fields: Any) -> dict[str, Any]:
    return {
        "applicationId": APP,
        "jobRunId": JOB_RUN,
        "jobDriver": {"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/count.py"}},
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://logs/serverless/red/"}}
        },
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, f"s3://logs/serverless/red/applications/{APP}/jobs/{JOB_RUN}/SPARK_DRIVER/stderr.gz"),
        (
            {"retryPolicy": {"maxAttempts": 3}, "attempt": 2},
            f"s3://logs/serverless/red/applications/{APP}/jobs/{JOB_RUN}/attempts/2/SPARK_DRIVER/stderr.gz",
        ),
        (
            {"jobDriver": {"hive": {"query": "s3://artifacts/q.sql"}}},
            f"s3://logs/serverless/red/applications/{APP}/jobs/{JOB_RUN}/HIVE_DRIVER/stderr.gz",
        ),
        ({"configurationOverrides": {"monitoringConfiguration": {}}}, None),
        ({"configurationOverrides": None}, None),
    ],
    ids=["no retry policy", "attempt 2 of a retry policy", "hive", "no S3 logs", "no overrides"],
)
def test_the_driver_log_is_under_the_log_uri_by_application_job_run_and_attempt(
    fields: dict[str, Any], expected: str | None
) -> None:
    # Given a job run as GetJobRun returns it / When its driver's stderr is located / Then it is where EMR puts it
    assert emr_serverless.driver_log_uri(_job_run(**fields)) == expected


def test_a_later_attempt_outranks_every_state_of_an_earlier_one() -> None:
    # Given the ranks of states across attempts
    rank = emr_serverless.job_run_rank
    # Then states move forward within an attempt, a new attempt outranks a failed one, unknown is 0
    assert rank("SUBMITTED") < rank("RUNNING") < rank("SUCCESS") < rank("FAILED") < rank("CANCELLED")
    assert rank("FAILED", attempt=1) < rank("SUBMITTED", attempt=2) < rank("SUCCESS", attempt=2)
    assert rank("CANCELLED", attempt=1) < rank("SUBMITTED", attempt=2)
    assert rank("NEW_STATE") == 0
