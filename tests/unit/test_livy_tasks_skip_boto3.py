"""The Livy tasks that talk only to Livy (submit, status, kill) never load boto3 on a normal call, so
their cold starts skip the SDK. Each call runs in a fresh interpreter, as a cold Lambda does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.livy import LivyClient, LivyOptions
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.livy_server import LivyServer, LivyTimings
from tests.helpers.fresh_interpreter import fresh_interpreter

# Each script runs in a fresh interpreter with the function's code and the layer's package on sys.path,
# and ends by printing what it found, with the AWS SDK modules that got loaded.
_IMPORT = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app

def sdk():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "s3transfer") or m.startswith("botocore."))
"""
# The handler called once, as a cold Lambda's first invocation.
_COLD_CALL = (
    _IMPORT
    + """
class Context:
    function_name = "livy-task"
    memory_limit_in_mb = 256
    aws_request_id = "0d6c9c2e-1f6a-4c7e-9a51-3a1e0f8f2b10"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:livy-task"

result = app.handler(json.load(sys.stdin), Context())
print(json.dumps({"result": result, "sdk": sdk()}))
"""
)
# The handler module imported only: Lambda's init phase.
_COLD_IMPORT = _IMPORT + 'print(json.dumps({"sdk": sdk()}))\n'


@pytest.fixture
def livy() -> Iterator[LivyServer]:
    server = LivyServer(FastClock(1.0), timings=LivyTimings(starting=3600, running=3600)).start()
    server.simulate_batches = True  # the handlers' calls are under test, not Spark: no application runs
    yield server
    server.stop()


def cold_call(logical_id: str, event: dict[str, Any], repo_root: Path) -> dict[str, Any]:
    return fresh_interpreter(logical_id, _COLD_CALL, repo_root, json.dumps(event))


def sample_event(repo_root: Path, name: str, livy: LivyServer) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((repo_root / "events" / f"{name}.json").read_text())
    event["livy"] = {"url": livy.url, "yarn_url": None}
    return event


def test_a_submit_loads_no_aws_sdk(livy: LivyServer, repo_root: Path) -> None:
    # Given the sample SubmitBatch event, pointed at a Livy on 127.0.0.1
    event = sample_event(repo_root, "livy_submit", livy)
    # When the submit function runs it in a fresh interpreter
    answer = cold_call("LivySubmitFunction", event, repo_root)
    # Then Livy has the batch, and no module of boto3 or botocore's clients was loaded
    assert answer["result"]["state"] == "starting"
    assert [r.method for r in livy.requests] == ["POST"]
    assert answer["sdk"] == []


@pytest.mark.parametrize(
    ("logical_id", "sample", "expected"),
    [
        ("LivyStatusFunction", "livy_status", {"outcome": "running", "state": "starting"}),
        ("LivyKillFunction", "livy_kill", {"deleted": True, "state_before": "starting"}),
    ],
)
def test_a_status_check_or_kill_loads_no_aws_sdk(
    livy: LivyServer, repo_root: Path, logical_id: str, sample: str, expected: dict[str, Any]
) -> None:
    # Given a batch Livy runs, and the sample event for it
    batch = LivyClient(livy.url, LivyOptions()).submit({"file": "s3://b/app.py", "name": "run-1"})
    event = {**sample_event(repo_root, sample, livy), "batch_id": batch.id}
    # When the function runs it in a fresh interpreter
    answer = cold_call(logical_id, event, repo_root)
    # Then it answered from Livy without loading boto3 or botocore's clients
    assert {key: answer["result"][key] for key in expected} == expected
    assert answer["sdk"] == []


def test_resolve_loads_the_sdk_at_init(repo_root: Path) -> None:
    # Given the ResolveCluster function, whose every call asks EMR for the cluster
    # When its handler module is imported in a fresh interpreter
    answer = fresh_interpreter("LivyResolveFunction", _COLD_IMPORT, repo_root)
    # Then boto3 is loaded at init, where Lambda advises SDK clients to be set up
    assert "boto3" in answer["sdk"]
