"""EMR on EKS's EventBridge events (shape inferred: emr_eks_events): the samples in events/, unknown fields and
detail-types, what is refused, and where a job run's driver log is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import emr_eks
from emr_autopilot.emr_eks_events import (
    GenericEksDetail,
    JobRunStateChangeDetail,
    NewDriverAttemptDetail,
    parse_emr_eks_event,
)
from emr_autopilot.errors import InvalidEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = ("emr_eks_job_run_completed.json", "emr_eks_job_run_failed.json", "emr_eks_job_run_running.json")
NEW_DRIVER = "emr_eks_job_run_new_driver_attempt.json"


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def test_every_emr_eks_sample_in_events_is_covered_here() -> None:
    # Given the EMR on EKS samples shipped in events/ / Then each one is parsed below
    assert sorted(path.name for path in EVENTS.glob("emr_eks_*.json")) == sorted([*SAMPLES, NEW_DRIVER])


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_parses_into_a_job_run_state_change(name: str) -> None:
    # Given a sample / When it is parsed
    event = load_event(name)
    envelope, detail = parse_emr_eks_event(event)
    # Then it is a known job run state change with the sample's job run and state
    assert isinstance(detail, JobRunStateChangeDetail) and envelope.known
    assert (detail.id, detail.virtualClusterId, detail.state) == (
        event["detail"]["id"],
        event["detail"]["virtualClusterId"],
        event["detail"]["state"],
    )


def test_the_failed_sample_carries_its_failure_reason_and_times() -> None:
    # Given the FAILED sample / When it is parsed
    _, detail = parse_emr_eks_event(load_event("emr_eks_job_run_failed.json"))
    # Then failureReason, stateDetails and both times are read
    assert isinstance(detail, JobRunStateChangeDetail)
    assert detail.failureReason == "USER_ERROR" and (detail.stateDetails or "").startswith("Jobrun failed.")
    assert detail.createdAt is not None and detail.finishedAt is not None
    assert (detail.finishedAt - detail.createdAt).total_seconds() == pytest.approx(243.713091)


def test_unknown_fields_nulls_and_the_other_detail_type_name_are_accepted() -> None:
    # Given a sample under the other documented detail-type, with fields we do not know, nulls, and jobRunId for id
    event = load_event("emr_eks_job_run_running.json")
    event["detail-type"] = "EmrContainers Job Run State Change"
    job_run_id = event["detail"].pop("id")
    event["detail"].update(jobRunId=job_run_id, retryPolicyExecution={"currentAttemptCount": 2}, name=None)
    # When it is parsed
    envelope, detail = parse_emr_eks_event(event)
    # Then it is the same model, the unknown field kept
    assert isinstance(detail, JobRunStateChangeDetail) and envelope.known
    assert detail.id == job_run_id and detail.name is None
    assert (detail.model_extra or {})["retryPolicyExecution"] == {"currentAttemptCount": 2}


def test_an_unknown_detail_type_is_read_generically() -> None:
    # Given an event of a detail-type we have no model for
    event = load_event("emr_eks_job_run_running.json")
    event["detail-type"] = "EMR Job Run Something New"
    # When it is parsed
    envelope, detail = parse_emr_eks_event(event)
    # Then it is not known, and its job run is still named
    assert not envelope.known and isinstance(detail, GenericEksDetail)
    assert detail.id == event["detail"]["id"]


def test_a_new_driver_attempt_is_known_and_read_even_without_the_keys_we_guessed() -> None:
    # Given the new driver attempt sample (its detail inferred), and the same event with only its job run named
    event = load_event(NEW_DRIVER)
    bare = copy.deepcopy(event)
    bare["detail"] = {"id": event["detail"]["id"]}
    # When both are parsed
    (envelope, detail), (_, bare_detail) = parse_emr_eks_event(event), parse_emr_eks_event(bare)
    # Then both are the new driver attempt model, the sample's job run and virtual cluster named
    assert (
        envelope.known
        and isinstance(detail, NewDriverAttemptDetail)
        and isinstance(bare_detail, NewDriverAttemptDetail)
    )
    assert (detail.id, detail.virtualClusterId) == ("00000003a7kq2bv0f1d", "emrautopilotdemo0eks000001")
    assert bare_detail.virtualClusterId is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"source": "aws.emr-serverless"}, "source"),
        ({"detail.id": "../../etc"}, "id"),
        ({"detail.virtualClusterId": "VC-UPPER"}, "virtualClusterId"),
        ({"detail.state": ""}, "state"),
    ],
)
def test_what_cannot_be_a_job_run_event_is_refused(change: dict[str, str], complaint: str) -> None:
    # Given a sample with one field made impossible
    event = copy.deepcopy(load_event("emr_eks_job_run_failed.json"))
    ((path, value),) = change.items()
    target = event["detail"] if path.startswith("detail.") else event
    target[path.removeprefix("detail.")] = value
    # When it is parsed / Then it is refused, naming the field
    with pytest.raises(InvalidEvent, match=complaint):
        parse_emr_eks_event(event)


def test_the_driver_log_is_where_the_emr_on_eks_guide_puts_it() -> None:
    # Given a job run's logUri, virtual cluster and id / When its driver log is located
    uri = emr_eks.driver_log_uri("s3://logs/eks/", "vc0123", "jr0456", name="stdout.gz")
    # Then it is <logUri>/<vc>/jobs/<id>/containers/spark-<id>/spark-<id>-driver/<name>
    assert uri == "s3://logs/eks/vc0123/jobs/jr0456/containers/spark-jr0456/spark-jr0456-driver/stdout.gz"
