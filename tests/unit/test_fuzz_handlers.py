"""Every handler, fed what EventBridge, Scheduler or the state machine could deliver, and worse: its sample
events mutated (fields missing, null, of another type, huge, non-ASCII), unknown detail-types, any JSON.

The handlers run as the local runtime runs them (LocalRuntime.invoke: the template's environment, moto on
127.0.0.1). An asynchronously invoked handler must never raise on bad input (Lambda would retry it for
nothing) and must keep every event it rejects in the dead-letter queue. A state machine task must fail bad
input with a named error of its own (an AutopilotError), never with a bare Python exception."""

from __future__ import annotations

import copy
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emr_autopilot import aws
from emr_autopilot.errors import AutopilotError
from emr_autopilot.livy_pipeline.settings import livy_settings
from emr_autopilot_devkit.local import livy_server
from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.fuzzing import Tally, bad_events, fuzz_settings

EVENTS = Path(__file__).resolve().parents[2] / "events"
TALLY = Tally()
# powertools warns about every invocation that emits no metric: noise here, where most are rejected.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def sample(name: str, **changes: Any) -> Any:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    for path, value in changes.items():
        parent = event
        keys = path.split(".")
        for key in keys[:-1]:
            parent = parent[int(key)] if isinstance(parent, list) else parent[key]
        parent[keys[-1]] = value
    return event


# Samples as delivered, moved off anything that would start a real run (no job matches them).
ASYNC: dict[str, tuple[str, list[Any]]] = {
    "RunStarterFunction": (
        "run_starter",
        [
            sample("run_starter_s3_object_created.json", **{"detail.bucket.name": "fuzz-elsewhere"}),
            sample("run_starter_s3_notification_records.json", **{"Records.0.s3.bucket.name": "fuzz-elsewhere"}),
            sample("run_starter_schedule.json", job="no-such-job"),
        ],
    ),
    "ExecutionJanitorFunction": (
        "execution_janitor",
        [sample(path.name) for path in sorted(EVENTS.glob("execution_janitor_*.json"))],
    ),
    "EmrEventFunction": (
        "emr_event_handler",
        [
            sample(path.name)
            for path in sorted(EVENTS.glob("emr_*.json"))
            if not path.name.startswith(("emr_serverless_", "emr_eks_"))
        ],
    ),
    "EmrServerlessEventFunction": (
        "emr_serverless_event_handler",
        [sample(path.name) for path in sorted(EVENTS.glob("emr_serverless_*.json"))],
    ),
    "EmrEksEventFunction": (
        "emr_eks_event_handler",
        [sample(path.name) for path in sorted(EVENTS.glob("emr_eks_*.json"))],
    ),
    "StepLogFollowUpFunction": (
        "step_log_follow_up",
        [sample("step_log_follow_up.json"), sample("step_log_follow_up_job_run.json")],
    ),
    "IdleReaperFunction": ("idle_reaper", [sample("idle_reaper_scheduled.json")]),
    "LivyJanitorFunction": ("livy_janitor", [sample("livy_janitor_aborted.json")]),
}
# -- events built from the models: every field present, with values of the right type but any content.
ARN = "arn:aws:states:us-east-1:123456789012"
texts = st.text(max_size=120)
ids = st.uuids().map(str)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
)
cluster_ids = st.from_regex(r"\Aj-[A-Z0-9]{13}\Z")
step_ids = st.from_regex(r"\As-[A-Z0-9]{13}\Z")
names = st.from_regex(r"\A[A-Za-z0-9_-]{1,80}\Z")


def _envelope(source: str, detail_type: Any, detail: Any, **extra: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "version": st.just("0"),
            "id": ids,
            "detail-type": detail_type,
            "source": st.just(source),
            "account": st.just("123456789012"),
            "time": times,
            "region": st.just("us-east-1"),
            "resources": st.just([]),
            "detail": detail,
            **extra,
        }
    )


emr_detail = st.fixed_dictionaries(
    {
        "clusterId": cluster_ids,
        "state": st.sampled_from(
            ["STARTING", "RUNNING", "WAITING", "TERMINATED", "TERMINATED_WITH_ERRORS", "PENDING", "COMPLETED", "FAILED"]
        ),
        "severity": st.sampled_from(["INFO", "WARN", "WARNING", "ERROR", "CRITICAL"]),
        "message": texts,
    },
    optional={
        "stepId": step_ids,
        "name": texts,
        "stateChangeReason": st.one_of(texts, st.just('{"code":"BOOTSTRAP_FAILURE","message":"x"}')),
        "actionOnFailure": st.sampled_from(["CONTINUE", "TERMINATE_CLUSTER", "CANCEL_AND_WAIT"]),
        "eventCode": texts,
        "instanceGroupType": st.sampled_from(["MASTER", "CORE", "TASK"]),
        "requestedInstanceCount": st.one_of(st.integers(0, 500).map(str), texts),
        "runningInstanceCount": st.one_of(st.integers(0, 500).map(str), texts),
    },
)
emr_events = _envelope(
    "aws.emr",
    st.sampled_from(
        [
            "EMR Cluster State Change",
            "EMR Step Status Change",
            "EMR Auto Scaling Policy State Change",
            "EMR Instance Group State Change",
            "EMR Instance Fleet State Change",
            "EMR Configuration Error",
            "EMR Instance Fleet Provisioning",
            "EMR Cluster Health Insight",
        ]
    )
    | texts,
    emr_detail,
)

serverless_detail = st.fixed_dictionaries(
    {
        "applicationId": st.from_regex(r"\A[0-9a-z]{16}\Z"),
        "state": st.sampled_from(["SUBMITTED", "RUNNING", "SUCCESS", "FAILED", "CANCELLED", "STARTED", "STOPPED"])
        | texts,
    },
    optional={
        "jobRunId": st.from_regex(r"\A[0-9a-z]{16}\Z") | texts,
        "previousState": texts,
        "arn": texts,
        "releaseLabel": texts,
        "previousAttempt": st.integers(0, 10),
        "newAttempt": st.integers(0, 10),
        "previousAttemptState": st.sampled_from(["FAILED", "CANCELLED"]) | texts,
        "attempt": st.integers(0, 10),
        "resourceUtilizationFinal": st.booleans(),
        "totalResourceUtilization": st.fixed_dictionaries({"vCPUHour": st.floats(0, 1e6)}),
    },
)
emr_serverless_events = _envelope(
    "aws.emr-serverless",
    st.sampled_from(
        [
            "EMR Serverless Job Run State Change",
            "EMR Serverless Application State Change",
            "EMR Serverless Job Run Retry",
            "EMR Serverless Job Resource Utilization Update",
        ]
    )
    | texts,
    serverless_detail,
)


def _execution_events(machine: str, run_input: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    def detail(name: str, status: str, error: str | None, cause: str | None, given_input: str) -> dict[str, Any]:
        return {
            "executionArn": f"{ARN}:execution:emr-autopilot-local-{machine}:{name}",
            "stateMachineArn": f"{ARN}:stateMachine:emr-autopilot-local-{machine}",
            "name": name,
            "status": status,
            "startDate": 1795241551000,
            "stopDate": 1795248842000,
            "input": given_input,
            "error": error,
            "cause": cause,
        }

    details = st.builds(
        detail,
        names,
        st.sampled_from(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RUNNING"]),
        st.none() | texts,
        st.none() | texts,
        run_input,
    )
    return _envelope("aws.states", st.just("Step Functions Execution Status Change"), details)


pipeline_inputs = st.one_of(texts, st.builds(lambda job: json.dumps({"run": {"job_name": job}}), texts))
livy_inputs = st.one_of(
    texts,
    st.builds(
        lambda cluster, batch: json.dumps({"cluster_id": cluster, "batch": {"file": "s3://a/b.py", "name": batch}}),
        cluster_ids,
        texts,
    ),
)
object_created = _envelope(
    "aws.s3",
    st.just("Object Created"),
    st.fixed_dictionaries(
        {
            "bucket": st.fixed_dictionaries({"name": st.from_regex(r"\Afuzz-[a-z0-9-]{3,20}\Z")}),
            "object": st.fixed_dictionaries(
                {"key": st.text(min_size=1, max_size=300)}, optional={"etag": texts, "version-id": texts}
            ),
        }
    ),
)
# Any job name but the deployed ones: a schedule tick for a real job would start a real run.
schedule_ticks = st.fixed_dictionaries(
    {"job": texts.filter(lambda job: not job.startswith("red-violations")), "scheduled_time": times}
)
follow_ups = st.fixed_dictionaries(
    {
        "cluster_id": cluster_ids,
        "step_id": step_ids,
        "step_name": texts,
        "log_uri": st.builds(lambda key: f"s3://emr-autopilot-local-logsbucket/{key}", texts),
        "job": st.none() | texts,
        "attempt": st.integers(min_value=1, max_value=8),
    }
)
serverless_ids = st.from_regex(r"\A[0-9a-z]{16}\Z")
job_run_follow_ups = st.fixed_dictionaries(
    {
        "kind": st.just("emr-serverless"),
        "application_id": serverless_ids,
        "job_run_id": serverless_ids,
        "job_run_name": texts,
        "log_uris": st.lists(
            st.builds(lambda key: f"s3://emr-autopilot-local-logsbucket/serverless/{key}", texts),
            min_size=1,
            max_size=2,
        ),
        "job": st.none() | texts,
        "run_id": st.none() | names,
        "attempt": st.integers(min_value=1, max_value=8),
    }
)
# EMR on EKS's detail is inferred (emr_autopilot.emr_eks_events): any of its keys may be null, absent or odd.
emr_eks_events = _envelope(
    "aws.emr-containers",
    st.sampled_from(
        ["EMR Job Run State Change", "EmrContainers Job Run State Change", "EMR Job Run New Driver Attempt"]
    )
    | texts,
    st.fixed_dictionaries(
        {"id": st.from_regex(r"\A[0-9a-z]{19}\Z") | texts, "virtualClusterId": st.from_regex(r"\A[0-9a-z]{25}\Z")},
        optional={
            "state": st.sampled_from(["PENDING", "SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]) | texts,
            "name": st.none() | texts,
            "failureReason": st.none() | st.sampled_from(["USER_ERROR", "INTERNAL_ERROR"]) | texts,
            "stateDetails": st.none() | texts,
            "createdAt": st.none() | times | texts,
            "finishedAt": st.none() | times | texts,
        },
    ),
)
reaper_ticks = _envelope("aws.events", st.just("Scheduled Event"), st.just({}))
MODELLED: dict[str, st.SearchStrategy[Any]] = {
    "RunStarterFunction": object_created | schedule_ticks,
    "ExecutionJanitorFunction": _execution_events("TransientClusterPipeline", pipeline_inputs),
    "EmrEventFunction": emr_events,
    "EmrServerlessEventFunction": emr_serverless_events,
    "EmrEksEventFunction": emr_eks_events,
    "StepLogFollowUpFunction": follow_ups | job_run_follow_ups,
    "IdleReaperFunction": reaper_ticks,
    "LivyJanitorFunction": _execution_events("LivyBatchPipeline", livy_inputs),
}

# Invoked by LivyBatchPipeline's lambda:invoke tasks; an exception is how they report, by class name.
TASKS: dict[str, list[Any]] = {
    "LivyResolveFunction": [sample("livy_resolve.json")],
    "LivySubmitFunction": [sample("livy_submit.json")],
    "LivyStatusFunction": [sample("livy_status.json")],
    "LivyKillFunction": [sample("livy_kill.json")],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalRuntime]:
    """One local runtime for the module, with the sample jobs; no name outside it resolves."""
    original = livy_server._original_getaddrinfo

    def local_only(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # A fuzzed Livy URL must never become a DNS query: only 127.0.0.1 (the emulator) resolves.
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"fuzz tests resolve no names ({host})")
        return original(host, port, *args, **kwargs)

    livy_server._original_getaddrinfo = local_only
    saved = dict(os.environ)  # the stack points AWS_ENDPOINT_URL and more at itself; later tests must not see it
    os.environ["LIVY_BACKOFF_SECONDS"] = "0"  # the Livy client's retries, without the pauses
    livy_settings.cache_clear()
    local = LocalRuntime().start()
    try:
        local.deploy_jobs()
        yield local
    finally:
        local.stop()
        livy_server._original_getaddrinfo = original
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()
        livy_settings.cache_clear()
        TALLY.write("handlers")


def take_dead_letters(stack: LocalRuntime) -> list[str]:
    """Every message in the dead-letter queue, removed from it."""
    sqs = stack.client("sqs")
    url = stack.outputs["FunctionDeadLetterQueueUrl"]
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def kept(body: str, function: str, event: Any) -> bool:
    """The quarantined letter is this event, whole, or cut at the queue's size limit but for this function."""
    try:
        letter = json.loads(body)
    except ValueError:
        return len(body) == 250_000 and body.startswith(json.dumps({"function": function})[:-1])
    return letter.get("function") == function and letter.get("event") == json.loads(json.dumps(event, default=str))


@pytest.mark.parametrize("function", sorted(ASYNC))
def test_an_async_handler_never_raises_on_bad_input_and_keeps_what_it_rejects(
    stack: LocalRuntime, function: str
) -> None:
    name, samples = ASYNC[function]
    take_dead_letters(stack)

    @fuzz_settings()
    @given(event=st.one_of(MODELLED[function], bad_events(*samples)))
    def delivered(event: Any) -> None:
        # Given an event of any shape, When the handler is invoked with it
        try:
            result = stack.invoke(function, copy.deepcopy(event))
        except Exception:
            TALLY.add(function, "unhandled")  # Lambda would retry it, then dead-letter it
            raise
        # Then it returned, either handling the event or rejecting it
        assert isinstance(result, dict)
        assert result.get("status") in ("ok", "rejected"), result
        letters = take_dead_letters(stack)
        if result["status"] == "ok":
            TALLY.add(function, "handled")
            assert letters == []
            return
        # And a rejected event is in the dead-letter queue, once, as it was delivered
        if len(letters) != 1 or not kept(letters[0], name, event):
            TALLY.add(function, "lost")
        assert len(letters) == 1
        assert kept(letters[0], name, event)
        TALLY.add(function, "rejected")

    delivered()
    # And events were both handled and rejected, so neither branch above went untested
    counts = TALLY.counts[function]
    assert counts["handled"] > 0 and counts["rejected"] > 0, counts
    assert counts["unhandled"] == counts["lost"] == 0


@pytest.mark.parametrize("function", sorted(TASKS))
def test_a_state_machine_task_fails_bad_input_with_a_named_error(stack: LocalRuntime, function: str) -> None:
    @fuzz_settings()
    @given(event=bad_events(*TASKS[function]))
    def invoked(event: Any) -> None:
        # Given a payload of any shape, When the task's handler is invoked with it
        try:
            result = stack.invoke(function, copy.deepcopy(event))
        except AutopilotError:
            # Then it failed with a name the ASL's Retry and Catch can tell apart (InvalidLivyRequest, ...)
            TALLY.add(function, "named error")
            return
        except Exception:
            TALLY.add(function, "unhandled")
            raise
        assert isinstance(result, dict)
        TALLY.add(function, "handled")

    invoked()
    assert TALLY.counts[function]["named error"] > 0
    assert TALLY.counts[function]["unhandled"] == 0
