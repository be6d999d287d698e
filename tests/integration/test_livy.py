"""The Livy path through the local runtime: the real LivyBatchPipeline ASL, the real Livy handlers
(lambda:invoke served in-process), the local Livy server on the emulated clusters' primary nodes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.jobs import load_jobs
from emr_autopilot.livy_pipeline.settings import livy_settings
from emr_autopilot.livy_runs import build_livy_run_input, start_livy_run
from emr_autopilot.runs import StackContext, Trigger
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.livy_samples import create_livy_cluster, seed_livy_event
from emr_autopilot_devkit.local.livy_server import primary_dns
from emr_autopilot_devkit.local.runtime import Invocation, LocalRuntime, Notification
from tests.helpers.integration import (
    EVENTS_DIR,
    JOBS_DIR,
    RuntimeFactory,
    dead_letters,
    load_event,
    only,
    wait_until,
)

# Clusters up in a minute of virtual time: these tests are about Livy, not cluster start-up.
QUICK = Timings(starting=30, bootstrapping=30, terminating=30)


@pytest.fixture
def livy_stack(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> LocalRuntime:
    stack = local_runtime(jobs_dir(), timings=QUICK)
    # These tests are about Livy's protocol and the pipeline: batches are simulated, not run on Spark
    # (test_local_spark.py runs one for real).
    stack.livy.simulate_batches = True
    return stack


def run_batch(stack: LocalRuntime, name: str, cluster_id: str, batch: dict[str, Any], **run: Any) -> dict[str, Any]:
    """Start LivyBatchPipeline on a running cluster, let everything settle, return the execution."""
    document = {"cluster_id": cluster_id, "batch": batch, "run": {"job_name": "sessionize", **run}}
    arn = start_livy_run(stack.outputs["LivyStateMachineArn"], name, document)
    stack.settle(timeout=60)
    execution: dict[str, Any] = stack.client("stepfunctions").describe_execution(executionArn=arn)
    return execution


def livy_notifications(stack: LocalRuntime) -> list[Notification]:
    return [n for n in stack.notifications if n.attributes.get("event_type", "").startswith("LIVY_")]


def janitor_invocations(stack: LocalRuntime) -> list[Invocation]:
    return [inv for inv in stack.invocations if inv.function == "LivyJanitorFunction"]


def test_a_batch_on_a_running_cluster_succeeds_and_is_reported(livy_stack: LocalRuntime) -> None:
    # Given a long-running cluster with Livy
    cluster_id = create_livy_cluster(livy_stack)

    # When a batch is submitted through the Livy pipeline
    execution = run_batch(livy_stack, "sessionize-ok", cluster_id, {"file": "s3://acme/jobs/sessionize.py"})

    # Then the execution succeeded and Livy ran exactly one batch, named after the execution, to success
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    batch = only(livy_stack.livy.batches(primary_dns(cluster_id)))
    assert (batch["name"], batch["state"]) == ("sessionize-ok", "success")
    # And every call to Livy carried the CSRF header
    assert all(r.headers.get("X-Requested-By") == "emr-autopilot" for r in livy_stack.livy.requests)
    # And the notification has the YARN verdict and the batch's log tail
    note = only(livy_notifications(livy_stack))
    assert note.subject == "[emr-autopilot] Livy SUCCEEDED sessionize"
    assert (note.attributes["severity"], note.attributes["cluster_id"]) == ("INFO", cluster_id)
    assert "YARN agrees: SUCCEEDED" in note.message
    assert "final status: SUCCEEDED" in note.message
    # And a cluster the run did not create is left running
    assert livy_stack.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "WAITING"
    assert janitor_invocations(livy_stack) == []


def test_a_lambda_task_that_starts_late_is_not_timed_out_by_the_fast_clock(livy_stack: LocalRuntime) -> None:
    # Given a running Livy cluster, and every handler kept waiting for 0.5 s of wall time (a busy machine):
    # 300 s of the fast clock, more than the tasks' 90-second TimeoutSeconds
    cluster_id = create_livy_cluster(livy_stack)
    document = {"cluster_id": cluster_id, "batch": {"file": "s3://acme/jobs/sessionize.py"}, "run": {"job_name": "x"}}
    with livy_stack._invoke_lock:
        arn = start_livy_run(livy_stack.outputs["LivyStateMachineArn"], "sessionize-late", document)
        time.sleep(0.5)

    # When the handlers can run again
    livy_stack.settle(timeout=60)

    # Then the task timeouts counted real time, as in Lambda, and the run succeeded
    execution = livy_stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))


def test_a_dead_batch_fails_the_run_with_its_log_tail(livy_stack: LocalRuntime) -> None:
    # Given a cluster with Livy whose application dies on a missing input
    cluster_id = create_livy_cluster(livy_stack)
    livy_stack.livy.faults.dead = {"bad-input": "java.io.FileNotFoundException: s3://acme-landing/missing.csv"}

    # When the batch is submitted
    execution = run_batch(livy_stack, "sessionize-dead", cluster_id, {"file": "s3://acme/jobs/bad-input.py"})

    # Then the run FAILED with the pipeline's named error
    assert execution["status"] == "FAILED"
    assert execution["error"] == "LivyBatchFailed"
    assert "ended dead" in execution["cause"]
    # And the one failure notification carries the reason from the batch's log tail
    note = only(livy_notifications(livy_stack))
    assert note.subject == "[emr-autopilot] Livy FAILED sessionize in CheckBatch"
    assert note.attributes["severity"] == "ERROR"
    assert "FileNotFoundException: s3://acme-landing/missing.csv" in note.message
    assert "final status: FAILED" in note.message
    # And the janitor found nothing left running (the batch is dead), so it stayed quiet
    assert only(janitor_invocations(livy_stack)).result["notified"] is False
    assert livy_stack.livy.deleted == []


def test_a_batch_past_its_max_wait_is_deleted(livy_stack: LocalRuntime) -> None:
    # Given a batch that would run for days, and a run allowed two minutes (4 polls of 30 s)
    cluster_id = create_livy_cluster(livy_stack)
    livy_stack.livy.faults.run_seconds = {"forever": 10**6}

    # When it is submitted
    execution = run_batch(
        livy_stack,
        "sessionize-slow",
        cluster_id,
        {"file": "s3://acme/jobs/forever.py"},
        poll_interval_seconds=30,
        max_wait_seconds=120,
    )

    # Then the pipeline deleted the batch while it was still running, and failed the run
    assert livy_stack.livy.deleted == [(primary_dns(cluster_id), 0, "running")]
    assert execution["status"] == "FAILED"
    assert execution["error"] == "LivyBatchTimedOut"
    assert "deleted=true" in execution["cause"]
    checks = [e for e in livy_stack.history(execution["executionArn"]) if e["type"] == "TaskStateEntered"]
    assert [e["stateEnteredEventDetails"]["name"] for e in checks].count("CheckBatch") == 4
    # And it said so once; the janitor had nothing more to delete
    note = only(livy_notifications(livy_stack))
    assert "LivyBatchTimedOut" in note.message
    assert only(janitor_invocations(livy_stack)).result["deleted"] == []


def test_an_aborted_run_has_its_batch_deleted_by_the_janitor(livy_stack: LocalRuntime) -> None:
    # Given a run whose batch is running
    cluster_id = create_livy_cluster(livy_stack)
    livy_stack.livy.faults.run_seconds = {"forever": 10**6}
    arn = start_livy_run(
        livy_stack.outputs["LivyStateMachineArn"],
        "sessionize-stopped",
        {"cluster_id": cluster_id, "batch": {"file": "s3://acme/jobs/forever.py"}},
    )
    wait_until(lambda: [b for b in livy_stack.livy.batches() if b["state"] == "running"])

    # When someone stops the execution (no Catch runs)
    livy_stack.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="wrong date")
    livy_stack.settle(timeout=60)

    # Then the janitor deleted the batch, found through the execution's history
    assert livy_stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert livy_stack.livy.deleted == [(primary_dns(cluster_id), 0, "running")]
    janitor = only(janitor_invocations(livy_stack))
    assert janitor.error is None
    assert janitor.result["deleted"] == [f"{cluster_id}/0"]
    # And said so, with the operator's reason
    note = only(livy_notifications(livy_stack))
    assert note.subject == "[emr-autopilot] Livy run ABORTED sessionize-stopped"
    assert "Deleted the Livy batch it left running" in note.message
    assert "wrong date" in note.message
    # And the long-running cluster was not touched
    assert janitor.result["terminated"] == []


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Livy functions' settings (read once per process) without the client's backoff pauses."""
    monkeypatch.setenv("LIVY_BACKOFF_SECONDS", "0")
    livy_settings.cache_clear()
    yield
    livy_settings.cache_clear()


@pytest.mark.usefixtures("no_backoff")
def test_livy_unreachable_fails_the_run_after_retries(livy_stack: LocalRuntime) -> None:
    # Given a cluster whose Livy refuses connections (the service is down)
    cluster_id = create_livy_cluster(livy_stack)
    livy_stack.livy.faults.refuse_connections = True

    # When a batch is submitted
    execution = run_batch(livy_stack, "sessionize-unreachable", cluster_id, {"file": "s3://acme/jobs/x.py"})

    # Then SubmitBatch was retried by the state machine, then the run FAILED as LivyUnavailable
    assert execution["status"] == "FAILED"
    assert execution["error"] == "LivyUnavailable"
    assert "cannot connect" in execution["cause"]
    history = livy_stack.history(execution["executionArn"])
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["LivyUnavailable"] * 4  # the first attempt and the ASL's 3 retries
    # And the notice names the state and the error; no batch exists anywhere
    note = only(livy_notifications(livy_stack))
    assert note.subject == "[emr-autopilot] Livy FAILED sessionize in SubmitBatch"
    assert "LivyUnavailable" in note.message
    assert livy_stack.livy.batches() == []
    # And the janitor, unable to make sure no batch runs, kept the event in the dead-letter queue
    janitor = only(janitor_invocations(livy_stack))
    assert (janitor.dead_lettered, janitor.attempts) == (True, 3)
    assert only(dead_letters(livy_stack))["responseContext"]["functionError"].startswith("LivyUnavailable")


def test_a_cluster_without_livy_fails_clearly(livy_stack: LocalRuntime) -> None:
    # Given a running cluster created without the Livy application
    cluster_id = create_livy_cluster(livy_stack, name="spark-only", applications=("Hadoop", "Spark"))

    # When a batch is submitted to it
    execution = run_batch(livy_stack, "sessionize-nolivy", cluster_id, {"file": "s3://acme/jobs/x.py"})

    # Then ResolveCluster's exception reached the state machine by its class name, and failed the run
    assert execution["status"] == "FAILED"
    assert execution["error"] == "LivyNotInstalled"
    assert "but not Livy" in execution["cause"]
    # And nobody tried to talk to Livy
    assert livy_stack.livy.requests == []
    note = only(livy_notifications(livy_stack))
    assert note.subject == "[emr-autopilot] Livy FAILED sessionize in ResolveCluster"


def test_a_job_definition_runs_on_a_transient_cluster_with_livy(livy_stack: LocalRuntime) -> None:
    # Given the PySpark sample job, rendered for the Livy pipeline without a cluster id
    job = load_jobs(JOBS_DIR).get("red-violations-spark")
    context = StackContext.from_stack_outputs(
        {**livy_stack.outputs, "StateMachineArn": livy_stack.outputs["LivyStateMachineArn"]}, "us-east-1"
    )
    trigger = Trigger(kind="manual", time=datetime(2026, 11, 21, 8, 0, tzinfo=UTC), input_uri="s3://in/x.csv")
    name = "red-violations-spark-livy"
    document = build_livy_run_input(job, trigger, context, name)

    # When it runs
    arn = start_livy_run(livy_stack.outputs["LivyStateMachineArn"], name, document)
    livy_stack.settle(timeout=60)

    # Then the pipeline created the job's cluster with Livy, ran the batch there, and terminated it
    assert livy_stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    cluster = only(livy_stack.clusters())
    assert cluster["Name"] == name
    assert "Livy" in [app["Name"] for app in cluster["Applications"]]
    assert cluster["Status"]["State"] == "TERMINATED"
    batch = only(livy_stack.livy.batches(primary_dns(cluster["Id"])))
    assert batch["state"] == "success"
    assert only(livy_notifications(livy_stack)).subject == "[emr-autopilot] Livy SUCCEEDED red-violations-spark"


def test_sample_events_work_with_local_invoke(livy_stack: LocalRuntime) -> None:
    # Given each Livy sample event, seeded the way `emr-autopilot local invoke` seeds it
    checks: dict[str, tuple[str, Callable[[Any], bool]]] = {
        "livy_resolve.json": ("LivyResolveFunction", lambda r: r["livy"]["url"].endswith(":8998")),
        "livy_submit.json": ("LivySubmitFunction", lambda r: r["state"] == "starting"),
        "livy_status.json": ("LivyStatusFunction", lambda r: r["outcome"] == "running"),
        "livy_kill.json": ("LivyKillFunction", lambda r: r["deleted"] is True),
        "livy_janitor_aborted.json": ("LivyJanitorFunction", lambda r: len(r["deleted"]) == 1 and r["notified"]),
    }
    assert sorted(checks) == sorted(path.name for path in EVENTS_DIR.glob("livy_*.json"))
    for event_file, (function, expected) in checks.items():
        event, notes = seed_livy_event(livy_stack, load_event(event_file))
        assert notes, f"{event_file} names the sample cluster, which must be created"

        # When its function is invoked with it
        result = livy_stack.invoke(function, event)

        # Then it did its job on the seeded cluster
        assert expected(result), f"{event_file}: {json.dumps(result, default=str)}"
