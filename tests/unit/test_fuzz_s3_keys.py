"""S3 keys, fuzzed through the run starter's parsing and naming: any key S3 allows (1 to 1,024 bytes of
UTF-8), in both event shapes. The key must arrive as written, the run must be named within Step
Functions' rules, the same object must always get the same name and two objects never one name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from emr_autopilot.jobs import load_jobs
from emr_autopilot.run_starter import parse_object_event
from emr_autopilot.runs import StackContext, Trigger, build_run_input, execution_name, matching_jobs
from tests.helpers.fuzzing import Tally, fuzz_settings

JOBS = Path(__file__).resolve().parents[2] / "jobs"
CATALOG = load_jobs(JOBS)
JOB = CATALOG.get("red-violations")
STACK = StackContext.from_stack_outputs(
    {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:emr-autopilot-TransientClusterPipeline",
        "LandingBucketName": "landing-bucket",
        "CuratedBucketName": "curated-bucket",
        "ArtifactsBucketName": "artifacts-bucket",
        "LogsBucketName": "logs-bucket",
        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:emr-autopilot-topic",
        "EmrServiceRoleName": "EMR_DefaultRole",
        "EmrInstanceRoleName": "EMR_EC2_DefaultRole",
    },
    "us-east-1",
)
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards, control characters.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
SFN_INPUT_MAX = 256 * 1024
TALLY = Tally()

keys = st.text(min_size=1, max_size=1024).filter(lambda key: len(key.encode("utf-8")) <= 1024)
etags = st.from_regex(r"\A[0-9a-f]{32}(-[0-9]{1,4})?\Z")


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    TALLY.write("s3_keys")


def eventbridge(key: str, etag: str) -> dict[str, object]:
    return {
        "version": "0",
        "id": "d9f3a1c0-0000-4000-8000-000000000000",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-21T06:12:31Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"bucket": {"name": "landing-bucket"}, "object": {"key": key, "etag": etag}},
    }


def records(key: str, etag: str) -> dict[str, object]:
    # The classic shape URL-encodes the key, '+' for a space.
    return {
        "Records": [
            {
                "eventTime": "2026-11-21T06:12:31.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "landing-bucket"}, "object": {"key": quote_plus(key), "eTag": etag}},
            }
        ]
    }


@fuzz_settings()
@given(key=keys, etag=etags)
def test_any_key_arrives_as_written_and_names_its_run_within_the_rules(key: str, etag: str) -> None:
    # Given an object created under any key, announced in either event shape
    parsed = [parse_object_event(eventbridge(key, etag))[1], parse_object_event(records(key, etag))[1]]

    # When the starter reads it
    objects = [found[0] for found in parsed]

    # Then both shapes give the object exactly as written, with the same identity
    assert [obj.key for obj in objects] == [key, key]
    assert objects[0].identity == objects[1].identity
    # And the run the object starts is named within Step Functions' rules, the same way every time
    trigger = Trigger(kind="s3", time=objects[0].time, input_uri=objects[0].uri, identity=objects[0].identity)
    name = execution_name(JOB, trigger)
    assert EXECUTION_NAME.fullmatch(name), name
    assert execution_name(JOB, trigger) == name
    # And the run reads that object, with an input Step Functions accepts
    run_input = build_run_input(JOB, trigger, STACK, name)
    assert run_input["run"]["input_uri"] == f"s3://landing-bucket/{key}"
    assert len(json.dumps(run_input, sort_keys=True).encode("utf-8")) < SFN_INPUT_MAX
    # And a job is started for it exactly when its trigger's prefix and suffix say so
    wanted = key.startswith("inspections/") and key.endswith(".csv")
    assert [job.name for job in matching_jobs(CATALOG, "landing-bucket", key, "landing-bucket")] == (
        ["red-violations"] if wanted else []
    )
    TALLY.add("s3_keys", "named")


@fuzz_settings()
@given(first=keys, second=keys, etag=etags, other_etag=etags)
def test_two_objects_never_share_a_run_name(first: str, second: str, etag: str, other_etag: str) -> None:
    # Given two different keys (or one key re-uploaded with other content)
    assume(first != second and etag != other_etag)
    at = datetime(2026, 11, 21, 6, 12, tzinfo=UTC)

    # When each is named
    names = {
        execution_name(JOB, Trigger(kind="s3", time=at, input_uri=f"s3://b/{key}", identity=f"b/{key}#{etag}"))
        for key in (first, second)
    }
    reuploaded = execution_name(JOB, Trigger(kind="s3", time=at, identity=f"b/{first}#{other_etag}"))

    # Then no two are the same: one run per object, and a new upload is a new run
    assert len(names) == 2
    assert reuploaded not in names
