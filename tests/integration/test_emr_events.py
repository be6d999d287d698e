"""EMR's own events through the local runtime: the bus, the template's rule, EmrEventFunction, the run
ledger, SNS, the step-log follow-up schedules, the dead-letter queue. Faults are injected with botocore
event hooks on the application's own clients (the only use of mocks here)."""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.events.models import events_backends

from emr_autopilot import aws, ledger
from emr_autopilot.runs import TAG_JOB, TAG_MANAGED, TAG_RUN_ID
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REGION, Invocation, LocalRuntime, Notification
from emr_autopilot_devkit.sample_data import generate_malformed_inspections
from tests.helpers.integration import RuntimeFactory, dead_letters, load_event, only, wait_until

FUNCTION = "EmrEventFunction"
SAMPLE_CLUSTER = "j-2AXXXXXXGAPLF"
SAMPLE_STEP = "s-1K4CSPRYG3YH7"


# -- helpers ----------------------------------------------------------------------------------
def handler_invocations(stack: LocalRuntime, since: int = 0) -> list[Invocation]:
    return [inv for inv in stack.invocations[since:] if inv.function == FUNCTION]


def follow_ups(stack: LocalRuntime) -> list[Invocation]:
    return [inv for inv in stack.invocations if inv.function == "StepLogFollowUpFunction"]


def timeline(stack: LocalRuntime, cluster_id: str) -> list[dict[str, Any]]:
    items = ledger.cluster_items(stack.outputs["RunLedgerTableName"], cluster_id)
    return [item for item in items if item["sk"].startswith("EVENT#")]


def meta(stack: LocalRuntime, cluster_id: str) -> dict[str, Any] | None:
    return ledger.get_cluster(stack.outputs["RunLedgerTableName"], cluster_id)


def step_item(stack: LocalRuntime, cluster_id: str, step_id: str) -> dict[str, Any]:
    items = ledger.cluster_items(stack.outputs["RunLedgerTableName"], cluster_id)
    return only([item for item in items if item["sk"] == f"STEP#{step_id}"])


def subjects(notices: list[Notification], prefix: str) -> list[Notification]:
    return [notice for notice in notices if notice.subject.startswith(prefix)]


def deliver(stack: LocalRuntime, event: dict[str, Any]) -> None:
    """Put a whole event (its own id and time) on the default bus, as EventBridge (re)delivers it.

    `stack.emit` stamps a fresh id and the current time; a re-delivery keeps both."""
    backend = events_backends[ACCOUNT_ID][REGION]
    for bus in list(backend.event_buses.values()):
        for rule in list(bus.rules.values()):
            rule.send_to_targets(copy.deepcopy(event), transform_input=False)  # type: ignore[arg-type]


def create_cluster(stack: LocalRuntime, job: str = "events-sample") -> str:
    """A cluster created through the EMR API, tagged as the pipeline tags its clusters."""
    emr = stack.client("emr")
    cluster_id: str = emr.run_job_flow(
        Name=f"{job}-manual-1",
        ReleaseLabel="emr-7.5.0",
        LogUri=f"s3://{stack.outputs['LogsBucketName']}/emr-logs/",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[
            {"Key": TAG_JOB, "Value": job},
            {"Key": TAG_RUN_ID, "Value": f"{job}-manual-1"},
            {"Key": TAG_MANAGED, "Value": "true"},
        ],
    )["JobFlowId"]
    return cluster_id


@contextlib.contextmanager
def throttled(client: Any, event_name: str, times: int | None) -> Iterator[list[str]]:
    """Fault injection: `client` answers ThrottlingException to the next `times` calls (None: every call).

    On `before-call` the answer comes as if the SDK's own retries were exhausted: the caller gets the
    error. On `before-send` it is one HTTP response, which the SDK's retry handling sees and retries."""
    calls: list[str] = []

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    def fault(**kwargs: Any) -> Any:
        calls.append(event_name)
        if times is not None and len(calls) > times:
            return None
        if event_name.startswith("before-send"):
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>local</RequestId></ErrorResponse>"
            )
            return AWSResponse(kwargs["request"].url, 400, {}, _Raw(body))
        response = AWSResponse("", 400, {}, None)
        return response, {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    client.meta.events.register(event_name, fault)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event_name, fault)


def failed_step(stack: LocalRuntime) -> tuple[str, str]:
    """(cluster id, step id) of the pipeline's failed step."""
    for cluster in stack.clusters():
        for step in stack.steps(cluster["Id"]):
            if step["Status"]["State"] == "FAILED":
                return cluster["Id"], step["Id"]
    raise AssertionError("no failed step")


# -- every sample -----------------------------------------------------------------------------
# (sample, subject of the one notice it should cause, or None for no notice); delivered in this order.
SAMPLES: list[tuple[str, str | None]] = [
    ("emr_cluster_state_change_running.json", None),
    ("emr_step_status_change_completed.json", None),
    ("emr_step_status_change_failed.json", "[emr-autopilot] Step failed: Count red violations on events-sample"),
    ("emr_instance_group_state_change.json", None),
    ("emr_instance_fleet_state_change.json", None),
    ("emr_instance_fleet_provisioning_timeout.json", "[emr-autopilot] Capacity: Spot Provisioning timeout"),
    ("emr_auto_scaling_policy_state_change.json", "[emr-autopilot] Auto-scaling policy failed on events-sample"),
    ("emr_configuration_error.json", "[emr-autopilot] Configuration error on events-sample"),
    ("emr_unknown_detail_type.json", None),
    ("emr_cluster_state_change_terminated_with_errors.json", "[emr-autopilot] Cluster failed: BOOTSTRAP_FAILURE"),
]


def test_every_sample_reaches_the_handler_lands_in_the_ledger_and_notifies_only_when_it_should(
    stack: LocalRuntime,
) -> None:
    # Given a cluster created through the EMR API, tagged with its job, whose one step failed for real
    cluster_id = create_cluster(stack)
    step_id = stack.client("emr").add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[
            {
                "Name": "failing step",
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": [
                        "bash",
                        "-c",
                        "echo 'jdbc password=hunter2' >&2; echo 'error: table not found' >&2; exit 3",
                    ],
                },
            }
        ],
    )["StepIds"][0]
    stack.settle(timeout=30)
    assert stack.steps(cluster_id)[0]["Status"]["State"] == "FAILED"
    notices_before = len(stack.notifications)
    invocations_before = len(stack.invocations)

    # When each sample is put on the bus as EMR would, naming that cluster (and the failed step)
    for name, _ in SAMPLES:
        event = load_event(name)
        detail = dict(event["detail"], clusterId=cluster_id)
        if name == "emr_step_status_change_failed.json":
            detail["stepId"] = step_id
        stack.emit(event["detail-type"], cluster_id, detail)
    stack.settle(timeout=30)

    # Then the rule routed each one, in order, to EmrEventFunction, which handled it on the first attempt
    invocations = handler_invocations(stack, since=invocations_before)
    assert [inv.event["detail-type"] for inv in invocations] == [load_event(name)["detail-type"] for name, _ in SAMPLES]
    timeline_ids = {item["event_id"]: item for item in timeline(stack, cluster_id)}
    for (name, subject), invocation in zip(SAMPLES, invocations, strict=True):
        assert invocation.error is None, f"{name}: {invocation.error}"
        assert invocation.attempts == 1
        assert invocation.result["status"] == "ok"
        assert invocation.result["recorded"] is True
        # And it is in the cluster's timeline in the ledger, under its event id
        assert timeline_ids[invocation.event["id"]]["detail_type"] == invocation.event["detail-type"]
        # And it notified exactly when it should
        notified = invocation.result["notified"]
        if subject is None:
            assert notified == [], f"{name} notified: {notified}"
        else:
            assert len(notified) == 1 and notified[0].startswith(subject), f"{name}: {notified}"

    # And exactly those notices reached SNS, once each, with the job from the cluster's tags
    new = stack.notifications[notices_before:]
    expected = [subject for _, subject in SAMPLES if subject is not None]
    assert len(new) == len(expected)
    for subject in expected:
        notice = only(subjects(new, subject))
        assert notice.attributes["job"] == "events-sample"
        assert notice.attributes["cluster_id"] == cluster_id

    # And the cluster's lifetime is measured from the first event the ledger saw of it (its STARTING)
    lifetime = [value for metric, _, value in invocations[-1].result["metrics"] if metric == "ClusterLifetimeSeconds"]
    assert len(lifetime) == 1 and lifetime[0] > 0

    # And the ledger holds what the events said: the cluster's end and reason, the failed step's details
    cluster = meta(stack, cluster_id)
    assert cluster is not None
    assert (cluster["state"], cluster["reason_code"]) == ("TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE")
    assert cluster["job"] == "events-sample"
    step = step_item(stack, cluster_id, step_id)
    assert step["state"] == "FAILED"
    assert step["failure_reason"] == "error: table not found"
    assert step["log_file"].endswith(f"/{cluster_id}/steps/{step_id}/stderr.gz")
    assert step_item(stack, cluster_id, SAMPLE_STEP)["state"] == "COMPLETED"

    # And the step-failure notice has the reason and the redacted tail of stderr
    step_notice = only(subjects(stack.notifications, "[emr-autopilot] Step failed: Count red violations"))
    assert "Reason: error: table not found" in step_notice.message
    assert "jdbc password=[redacted]" in step_notice.message
    assert "hunter2" not in step_notice.message

    # And the unknown detail-type was recorded with its facts, and counted
    unknown = [item for item in timeline(stack, cluster_id) if item["detail_type"] == "EMR Cluster Health Insight"]
    assert only(unknown)["severity"] == "WARNING"
    assert '"UnknownEventTypes":[1.0]' in stack.log_buffer.getvalue()


# -- at-least-once delivery, and clusters EMR no longer knows ------------------------------------
def test_an_event_for_a_cluster_emr_no_longer_knows_delivered_three_times_is_handled_once(
    stack: LocalRuntime,
) -> None:
    # Given the step-failed sample as it is: its cluster and step are unknown to this account's EMR
    # (as for a cluster older than two months), so DescribeCluster and DescribeStep answer InvalidRequest
    event = load_event("emr_step_status_change_failed.json")

    # When EventBridge delivers it three times, the last after the first two were handled
    deliver(stack, event)
    deliver(stack, event)
    stack.settle(timeout=30)
    deliver(stack, event)
    stack.settle(timeout=30)

    # Then each delivery succeeded on its first attempt (no retries into the dead-letter queue),
    # and the repeats returned the first result
    invocations = handler_invocations(stack)
    assert len(invocations) == 3
    for invocation in invocations:
        assert invocation.error is None, invocation.error
        assert (invocation.attempts, invocation.dead_lettered) == (1, False)
    first = json.loads(json.dumps(invocations[0].result))
    assert invocations[1].result == invocations[2].result == first
    assert dead_letters(stack) == []

    # And the ledger has the failed step and one timeline entry
    assert step_item(stack, SAMPLE_CLUSTER, SAMPLE_STEP)["state"] == "FAILED"
    assert len(timeline(stack, SAMPLE_CLUSTER)) == 1

    # And one notice went out, saying the step's details and log are not available
    notice = only(stack.notifications)
    assert notice.subject == f"[emr-autopilot] Step failed: Count red violations on {SAMPLE_CLUSTER}"
    assert f"step details unavailable (DescribeStep: Cluster id '{SAMPLE_CLUSTER}' is not valid.)" in notice.message
    assert "The step's log cannot be located" in notice.message
    assert (notice.attributes["job"], notice.attributes["event_type"]) == ("-", "STEP_FAILED")


# -- order ------------------------------------------------------------------------------------
def test_a_late_running_event_never_moves_a_terminated_cluster_back(stack: LocalRuntime) -> None:
    # Given a cluster's TERMINATED event, and its earlier STARTING and RUNNING events arriving after it
    def cluster_event(state: str, time: str, reason: str = '{"code":""}') -> dict[str, Any]:
        event = load_event("emr_cluster_state_change_running.json")
        event["id"] = str(uuid.uuid4())
        event["time"] = time
        event["detail"].update(state=state, stateChangeReason=reason)
        return event

    terminated = cluster_event(
        "TERMINATED", "2026-11-21T06:40:00Z", '{"code":"USER_REQUEST","message":"Terminated by user request"}'
    )
    running = cluster_event("RUNNING", "2026-11-21T06:19:02Z")
    starting = cluster_event("STARTING", "2026-11-21T06:12:40Z")

    # When they are delivered in that order
    for event in (terminated, running, starting):
        deliver(stack, event)
        stack.settle(timeout=30)

    # Then the ledger still says TERMINATED, ended at the TERMINATED event's time
    cluster = meta(stack, SAMPLE_CLUSTER)
    assert cluster is not None
    assert cluster["state"] == "TERMINATED"
    assert cluster["ended_at"].startswith("2026-11-21T06:40:00")
    assert cluster["reason_code"] == "USER_REQUEST"
    # And all three are in the timeline, the late ones marked stale; nothing was notified
    assert sorted(item["state"] for item in timeline(stack, SAMPLE_CLUSTER)) == ["RUNNING", "STARTING", "TERMINATED"]
    assert [inv.result["stale"] for inv in handler_invocations(stack)] == [False, True, True]
    # And no lifetime is claimed for a cluster first seen at its end
    assert [metric for metric, _, _ in handler_invocations(stack)[0].result["metrics"]] == []
    assert stack.notifications == []


# -- late and missing step logs ---------------------------------------------------------------
@pytest.fixture
def quick_stack(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> LocalRuntime:
    """The sample job's stack, with clusters that start in a minute and a half (virtual) instead of six."""
    return local_runtime(jobs_dir(), timings=Timings(starting=60, bootstrapping=30, terminating=30))


def test_a_step_log_that_arrives_late_is_sent_by_the_follow_up(quick_stack: LocalRuntime) -> None:
    stack = quick_stack
    # Given EMR uploads step logs 15 minutes after a step ends
    stack.simulator.faults.log_delay_seconds = 900
    # When a run of the sample job fails for real on an inspections file without violation_type
    stack.put_object("inspections/late-log.csv", generate_malformed_inspections(rows=100))
    stack.settle(timeout=60)
    cluster_id, step_id = failed_step(stack)

    # Then the step-failure notice gives the reason and says the log is not there yet
    notice = only(subjects(stack.notifications, "[emr-autopilot] Step failed:"))
    assert "missing required column(s): violation_type" in notice.message
    assert "The step's log is not in S3 yet" in notice.message
    assert f"{cluster_id}/steps/{step_id}/stderr.gz" in notice.message
    assert notice.attributes["job"] == "red-violations"

    # And once the log is there, a follow-up sends its last lines
    def digest() -> list[Notification]:
        stack.pump()
        return subjects(stack.notifications, "[emr-autopilot] Step log:")

    sent = only(wait_until(digest, timeout=15))
    assert "missing required column(s): violation_type" in sent.message
    assert sent.attributes["event_type"] == "STEP_LOG"
    assert stack.notifications.index(notice) < stack.notifications.index(sent)

    # And nothing more comes, however long we wait: one digest, no "missing" notice
    stack.clock.advance(3 * 3600)
    stack.settle(timeout=30)
    assert len(subjects(stack.notifications, "[emr-autopilot] Step log")) == 1
    outcomes = [inv.result["outcome"] for inv in follow_ups(stack)]
    assert outcomes[-1] == "digest sent"
    assert set(outcomes[:-1]) <= {"rescheduled"}


def test_a_step_log_that_never_arrives_is_reported_missing_once(quick_stack: LocalRuntime) -> None:
    stack = quick_stack
    # Given EMR never uploads the step's logs
    stack.simulator.faults.logs_never_written = True
    # When a run of the sample job fails for real
    stack.put_object("inspections/no-log.csv", generate_malformed_inspections(rows=100))
    stack.settle(timeout=60)
    notice = only(subjects(stack.notifications, "[emr-autopilot] Step failed:"))
    assert "The step's log is not in S3 yet" in notice.message

    # And the follow-ups come due one after another
    def missing() -> list[Notification]:
        stack.clock.advance(300)
        stack.pump()
        return subjects(stack.notifications, "[emr-autopilot] Step log missing:")

    gone = only(wait_until(missing, timeout=15))

    # Then after the bounded number of looks, one notice says the log never appeared
    max_attempts = 4  # LOG_FOLLOW_UP_MAX_ATTEMPTS' default
    assert [inv.result["outcome"] for inv in follow_ups(stack)] == ["rescheduled"] * (max_attempts - 1) + ["gave up"]
    assert f"looked {max_attempts} times" in gone.message
    assert gone.attributes["severity"] == "WARNING"
    # And no more looks or notices follow
    stack.clock.advance(3 * 3600)
    stack.settle(timeout=30)
    assert len(follow_ups(stack)) == max_attempts
    assert len(subjects(stack.notifications, "[emr-autopilot] Step log")) == 1


# -- malformed events -------------------------------------------------------------------------
def test_malformed_events_are_rejected_into_the_dead_letter_queue_without_retries(stack: LocalRuntime) -> None:
    # Given EMR events the handler cannot use: a step event without a step id, a severity nobody sends,
    # and envelopes without an id, with a time that is not one, with a detail that is not an object
    stack.emit("EMR Step Status Change", SAMPLE_CLUSTER, {"clusterId": SAMPLE_CLUSTER, "state": "FAILED"})
    stack.emit(
        "EMR Cluster State Change",
        SAMPLE_CLUSTER,
        {"clusterId": SAMPLE_CLUSTER, "state": "RUNNING", "severity": "LOUD"},
    )
    good = load_event("emr_cluster_state_change_terminated_with_errors.json")
    no_id = {key: value for key, value in good.items() if key != "id"}
    bad_time = dict(good, id="bad-time-1", time="yesterday")
    bad_detail = dict(good, id="bad-detail-1", detail=json.dumps(good["detail"]))
    for event in (no_id, bad_time, bad_detail):
        stack.enqueue(FUNCTION, copy.deepcopy(event))

    # When they are delivered
    stack.settle(timeout=30)

    # Then each was rejected on its first attempt: retrying cannot fix the input
    invocations = handler_invocations(stack)
    assert len(invocations) == 5
    for invocation in invocations:
        assert invocation.error is None, invocation.error
        assert invocation.result["status"] == "rejected"
        assert invocation.result["reason"]
        assert (invocation.attempts, invocation.dead_lettered) == (1, False)

    # And each is kept in the dead-letter queue, as delivered, with the reason
    letters = dead_letters(stack)
    assert sorted(json.dumps(letter["event"], sort_keys=True) for letter in letters) == sorted(
        json.dumps(inv.event, sort_keys=True) for inv in invocations
    )
    assert {letter["function"] for letter in letters} == {"emr_event_handler"}
    assert any("stepId" in letter["reason"] for letter in letters)

    # And the rejections are logged with the event id and counted
    logs = stack.log_buffer.getvalue()
    assert logs.count('"message":"event rejected"') == 5
    assert '"event_id":"bad-time-1"' in logs
    assert logs.count('"RejectedEvents":[1.0]') == 5

    # And nothing was recorded or notified
    assert ledger.cluster_items(stack.outputs["RunLedgerTableName"], SAMPLE_CLUSTER) == []
    assert stack.notifications == []


# -- throttling -------------------------------------------------------------------------------
def test_a_throttled_publish_is_retried_by_the_sdk_and_sent_once(stack: LocalRuntime) -> None:
    # Given SNS throttles the next Publish once
    event = load_event("emr_cluster_state_change_terminated_with_errors.json")
    with throttled(aws.client("sns"), "before-send.sns.Publish", times=1) as calls:
        # When the cluster failure arrives
        deliver(stack, event)
        stack.settle(timeout=30)

    # Then the SDK retried the publish, within one invocation, and one notice went out
    assert len(calls) == 2
    invocation = only(handler_invocations(stack))
    assert (invocation.error, invocation.attempts) == (None, 1)
    assert only(stack.notifications).subject.startswith("[emr-autopilot] Cluster failed: BOOTSTRAP_FAILURE")


def test_a_ledger_write_still_throttled_after_sdk_retries_is_retried_by_lambda_and_notifies_once(
    stack: LocalRuntime,
) -> None:
    # Given DynamoDB still throttles the next timeline write after the SDK's retries
    event = load_event("emr_cluster_state_change_terminated_with_errors.json")
    with throttled(aws.resource("dynamodb").meta.client, "before-call.dynamodb.PutItem", times=1):
        # When the cluster failure arrives
        deliver(stack, event)
        stack.settle(timeout=30)

    # Then Lambda's retry handled it on the second attempt
    invocation = only(handler_invocations(stack))
    assert invocation.error is None, invocation.error
    assert (invocation.attempts, invocation.dead_lettered) == (2, False)
    # And it is recorded once, and notified once: the notice is the last thing a reaction does
    assert len(timeline(stack, SAMPLE_CLUSTER)) == 1
    assert (meta(stack, SAMPLE_CLUSTER) or {}).get("state") == "TERMINATED_WITH_ERRORS"
    assert len(stack.notifications) == 1
    assert dead_letters(stack) == []


def test_a_ledger_that_keeps_failing_sends_the_event_to_the_dead_letter_queue_and_nothing_is_lost(
    stack: LocalRuntime,
) -> None:
    # Given every ledger state write keeps failing
    event = load_event("emr_cluster_state_change_terminated_with_errors.json")
    with throttled(aws.resource("dynamodb").meta.client, "before-call.dynamodb.UpdateItem", times=None) as calls:
        # When the cluster failure arrives
        deliver(stack, event)
        stack.settle(timeout=30)

    # Then Lambda tried as often as its retry configuration allows, then dead-lettered the event
    invocation = only(handler_invocations(stack))
    max_retries = stack.functions[FUNCTION].max_retries
    assert max_retries == 2
    assert invocation.attempts == len(calls) == max_retries + 1
    assert invocation.dead_lettered
    assert invocation.error is not None and "ThrottlingException" in invocation.error
    letter = only(dead_letters(stack))
    assert letter["requestContext"]["condition"] == "RetriesExhausted"
    assert letter["requestPayload"] == event
    # And no one was told half a story
    assert stack.notifications == []

    # When the event is redriven from the dead-letter queue once DynamoDB is back
    stack.enqueue(FUNCTION, letter["requestPayload"])
    stack.settle(timeout=30)

    # Then it is handled in full: recorded and notified, once
    redriven = handler_invocations(stack)[-1]
    assert (redriven.error, redriven.attempts, redriven.result["status"]) == (None, 1, "ok")
    assert (meta(stack, SAMPLE_CLUSTER) or {}).get("state") == "TERMINATED_WITH_ERRORS"
    assert len(timeline(stack, SAMPLE_CLUSTER)) == 1
    assert only(stack.notifications).subject.startswith("[emr-autopilot] Cluster failed: BOOTSTRAP_FAILURE")
