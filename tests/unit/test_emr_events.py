"""EMR's EventBridge events: the samples in events/, the odd encodings EMR uses, and what is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUpRequest
from emr_autopilot.emr_events import (
    AutoScalingPolicyStateChangeDetail,
    CapacityEventDetail,
    ClusterStateChangeDetail,
    ConfigurationErrorDetail,
    GenericDetail,
    InstanceFleetStateChangeDetail,
    InstanceGroupStateChangeDetail,
    StepStatusChangeDetail,
    parse_emr_event,
)
from emr_autopilot.errors import InvalidEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLUSTER = "j-2AXXXXXXGAPLF"


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def event_with(detail_type: str, **detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0f6c7a52-2f1e-4c1b-9d3e-7b8a9c0d1e2f",
        "detail-type": detail_type,
        "source": "aws.emr",
        "account": "123456789012",
        "time": "2026-11-21T06:20:47Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"clusterId": CLUSTER, **detail},
    }


SAMPLES = {
    "emr_cluster_state_change_terminated_with_errors.json": ClusterStateChangeDetail,
    "emr_cluster_state_change_running.json": ClusterStateChangeDetail,
    "emr_step_status_change_failed.json": StepStatusChangeDetail,
    "emr_step_status_change_completed.json": StepStatusChangeDetail,
    "emr_auto_scaling_policy_state_change.json": AutoScalingPolicyStateChangeDetail,
    "emr_instance_group_state_change.json": InstanceGroupStateChangeDetail,
    "emr_instance_fleet_state_change.json": InstanceFleetStateChangeDetail,
    "emr_instance_fleet_provisioning_timeout.json": CapacityEventDetail,
    "emr_configuration_error.json": ConfigurationErrorDetail,
    "emr_unknown_detail_type.json": GenericDetail,
}


def test_every_emr_sample_in_events_is_covered_here() -> None:
    # Given the EMR samples shipped in events/
    # EMR on EC2 only: emr_serverless_*.json belong to EmrServerlessEventFunction (test_emr_serverless_events.py),
    # emr_eks_*.json to EmrEksEventFunction (test_emr_eks_events.py).
    shipped = {
        path.name for path in EVENTS.glob("emr_*.json") if not path.name.startswith(("emr_serverless_", "emr_eks_"))
    }
    # Then each one has an expected model below (a new sample without a test fails here)
    assert shipped == set(SAMPLES)


@pytest.mark.parametrize(("name", "model"), sorted(SAMPLES.items()))
def test_each_sample_parses_into_its_model(name: str, model: type) -> None:
    # Given a sample event from events/
    event = load_event(name)
    # When it is parsed
    envelope, detail = parse_emr_event(event)
    # Then the envelope is kept and the detail has the model of its detail-type
    assert type(detail) is model
    assert envelope.id == event["id"]
    assert envelope.detail_type == event["detail-type"]
    assert envelope.cluster_id == CLUSTER
    assert envelope.time.isoformat() == event["time"].replace("Z", "+00:00")
    assert envelope.known is (model is not GenericDetail)


def test_the_bootstrap_failure_sample_has_its_reason_decoded() -> None:
    # Given the TERMINATED_WITH_ERRORS sample, whose stateChangeReason is a JSON-encoded string
    event = load_event("emr_cluster_state_change_terminated_with_errors.json")
    assert isinstance(event["detail"]["stateChangeReason"], str)
    # When it is parsed
    _, detail = parse_emr_event(event)
    # Then the code and message are fields
    assert isinstance(detail, ClusterStateChangeDetail)
    assert detail.state == "TERMINATED_WITH_ERRORS"
    assert detail.severity == "CRITICAL"
    assert detail.stateChangeReason.code == "BOOTSTRAP_FAILURE"
    assert detail.stateChangeReason.message.startswith("On the master instance (i-0f8c4d2b1a3e5f6a7)")


def test_the_instance_group_sample_has_its_counts_as_numbers_and_warn_as_warning() -> None:
    # Given the instance group sample: counts as strings, severity WARN
    event = load_event("emr_instance_group_state_change.json")
    assert event["detail"]["requestedInstanceCount"] == "10"
    assert event["detail"]["severity"] == "WARN"
    # When it is parsed
    _, detail = parse_emr_event(event)
    # Then the counts are ints and the severity is WARNING
    assert isinstance(detail, InstanceGroupStateChangeDetail)
    assert (detail.requestedInstanceCount, detail.runningInstanceCount) == (10, 4)
    assert detail.severity == "WARNING"
    # And fields without a model field are kept
    assert detail.model_extra == {"bidPriceAsPercentageOfOnDemandPrice": "100"}


def test_the_fleet_samples_have_capacities_as_numbers_and_the_timeout_event_code() -> None:
    # Given the fleet state change and provisioning timeout samples
    _, fleet = parse_emr_event(load_event("emr_instance_fleet_state_change.json"))
    _, timeout = parse_emr_event(load_event("emr_instance_fleet_provisioning_timeout.json"))
    # Then the capacities are ints, and the timeout names its code and node type
    assert isinstance(fleet, InstanceFleetStateChangeDetail)
    assert (fleet.targetOnDemandCapacity, fleet.targetSpotCapacity) == (2, 4)
    assert (fleet.provisionedOnDemandCapacity, fleet.provisionedSpotCapacity) == (2, 4)
    assert isinstance(timeout, CapacityEventDetail)
    assert timeout.eventCode == "Spot Provisioning timeout"
    assert timeout.instanceFleetType == "TASK"
    assert timeout.model_extra is not None and timeout.model_extra["timeoutAction"] == "TERMINATE_CLUSTER"


def test_the_step_log_follow_up_sample_is_a_valid_follow_up() -> None:
    # Given the follow-up sample
    request = FollowUpRequest.model_validate(load_event("step_log_follow_up.json"))
    # Then it names the step, its stderr.gz and the first attempt
    follow_up = request.to_follow_up()
    assert (follow_up.cluster_id, follow_up.step_id, follow_up.attempt) == (CLUSTER, "s-1K4CSPRYG3YH7", 1)
    assert follow_up.log_uri.endswith(f"/{CLUSTER}/steps/s-1K4CSPRYG3YH7/stderr.gz")


@pytest.mark.parametrize(
    ("reason", "code", "message"),
    [
        (
            '{"code":"USER_REQUEST","message":"Terminated by user request"}',
            "USER_REQUEST",
            "Terminated by user request",
        ),
        ('{"code":""}', "", ""),
        ("Terminated by user request", "", "Terminated by user request"),
        ("", "", ""),
        ("   ", "", ""),
        ('["not", "an", "object"]', "", '["not", "an", "object"]'),
        ({"code": "STEP_FAILURE", "message": "Shut down as step failed"}, "STEP_FAILURE", "Shut down as step failed"),
    ],
)
def test_state_change_reason_is_decoded_whatever_form_it_takes(reason: Any, code: str, message: str) -> None:
    # Given a cluster state change whose stateChangeReason is JSON text, plain text, empty, or already an object
    event = event_with("EMR Cluster State Change", state="TERMINATED", stateChangeReason=reason)
    # When it is parsed
    _, detail = parse_emr_event(event)
    # Then code and message come out as EMR meant them
    assert isinstance(detail, ClusterStateChangeDetail)
    assert (detail.stateChangeReason.code, detail.stateChangeReason.message) == (code, message)


def test_a_missing_state_change_reason_is_an_empty_reason() -> None:
    # Given a cluster state change without stateChangeReason
    _, detail = parse_emr_event(event_with("EMR Cluster State Change", state="STARTING"))
    # Then the reason is empty, not an error
    assert isinstance(detail, ClusterStateChangeDetail)
    assert (detail.stateChangeReason.code, detail.stateChangeReason.message) == ("", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3", 3), (" 12 ", 12), ("0", 0), (7, 7), ("", None), ("n/a", None), (None, None)],
)
def test_instance_counts_arrive_as_strings_and_become_numbers(raw: Any, expected: int | None) -> None:
    # Given an instance group state change with a count in one of EMR's forms
    event = event_with("EMR Instance Group State Change", state="RESIZING", requestedInstanceCount=raw)
    # When it is parsed
    _, detail = parse_emr_event(event)
    # Then the count is an int, or None when it is not a number
    assert isinstance(detail, InstanceGroupStateChangeDetail)
    assert detail.requestedInstanceCount == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("WARN", "WARNING"), ("warn", "WARNING"), ("WARNING", "WARNING"), (" error ", "ERROR"), ("CRITICAL", "CRITICAL")],
)
def test_warn_and_warning_are_one_severity(raw: str, expected: str) -> None:
    # Given a step event with a severity as EMR spells it
    event = event_with("EMR Step Status Change", stepId="s-1K4CSPRYG3YH7", state="FAILED", severity=raw)
    # When it is parsed
    _, detail = parse_emr_event(event)
    # Then the severity is one of the four the application knows
    assert isinstance(detail, StepStatusChangeDetail)
    assert detail.severity == expected


def test_an_unknown_severity_is_refused() -> None:
    # Given a severity no EMR event has
    event = event_with("EMR Step Status Change", stepId="s-1K4CSPRYG3YH7", state="FAILED", severity="LOUD")
    # When it is parsed / Then it is invalid input naming the field
    with pytest.raises(InvalidEvent, match="severity"):
        parse_emr_event(event)


def test_an_unknown_detail_type_is_accepted_with_its_fields() -> None:
    # Given a detail-type EMR may add one day, with fields of its own
    event = event_with(
        "EMR Serverless Preview Thing",
        state="OPEN",
        severity="WARN",
        nested={"a": [1, 2]},
        count="3",
    )
    # When it is parsed
    envelope, detail = parse_emr_event(event)
    # Then it is a generic detail, marked unknown, with every field kept
    assert type(detail) is GenericDetail
    assert envelope.known is False
    assert (detail.clusterId, detail.state, detail.severity) == (CLUSTER, "OPEN", "WARNING")
    assert detail.model_extra == {"nested": {"a": [1, 2]}, "count": "3"}


def test_an_unknown_detail_type_without_a_cluster_is_accepted() -> None:
    # Given an unknown detail-type that names no cluster
    event = event_with("EMR Account Notice", message="hello")
    del event["detail"]["clusterId"]
    # When it is parsed
    envelope, detail = parse_emr_event(event)
    # Then it has no cluster, and is still accepted
    assert envelope.cluster_id is None
    assert isinstance(detail, GenericDetail) and detail.clusterId is None


def test_extra_fields_are_accepted_on_known_types_and_in_the_envelope() -> None:
    # Given a known event with fields EMR added later, in the detail and in the envelope
    event = event_with("EMR Step Status Change", stepId="s-1K4CSPRYG3YH7", state="COMPLETED", retryCount="2")
    event["replay-name"] = "archive-replay-1"
    # When it is parsed
    envelope, detail = parse_emr_event(event)
    # Then the event is accepted and the extra fields are kept
    assert isinstance(detail, StepStatusChangeDetail)
    assert detail.model_extra == {"retryCount": "2"}
    assert envelope.model_extra == {"replay-name": "archive-replay-1"}


def _drop(event: dict[str, Any], key: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    del changed[key]
    return changed


def _set(event: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed[key] = value
    return changed


def _drop_detail(event: dict[str, Any], key: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    del changed["detail"][key]
    return changed


GOOD = load_event("emr_step_status_change_failed.json")


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (None, "expected a JSON object"),
        ("EMR Step Status Change", "expected a JSON object"),
        ([GOOD], "expected a JSON object"),
        (_drop(GOOD, "id"), "id"),
        (_set(GOOD, "id", ""), "id"),
        (_drop(GOOD, "detail-type"), "detail-type"),
        (_set(GOOD, "source", "aws.s3"), "source"),
        (_drop(GOOD, "source"), "source"),
        (_set(GOOD, "time", "yesterday"), "time"),
        (_drop(GOOD, "time"), "time"),
        (_drop(GOOD, "detail"), "detail"),
        (_set(GOOD, "detail", '{"clusterId": "j-1"}'), "detail"),
        (_drop_detail(GOOD, "clusterId"), "clusterId"),
        (_drop_detail(GOOD, "stepId"), "stepId"),
        (_drop_detail(GOOD, "state"), "state"),
    ],
    ids=[
        "null",
        "a string",
        "a list",
        "no id",
        "empty id",
        "no detail-type",
        "another source",
        "no source",
        "time not a time",
        "no time",
        "no detail",
        "detail a string",
        "no clusterId",
        "no stepId",
        "no state",
    ],
)
def test_malformed_events_are_invalid_input_naming_what_is_wrong(event: Any, words: str) -> None:
    # Given an event that is not a usable EMR event
    # When it is parsed / Then it is refused with a reason that names the problem
    with pytest.raises(InvalidEvent, match=words):
        parse_emr_event(event)
