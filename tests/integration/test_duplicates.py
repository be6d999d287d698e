"""At-least-once delivery, all of it at once: every event of a run delivered three times, and a run's EMR
events delivered newest first. test_triggers.py and test_emr_events.py cover one trigger or one event at
a time; here the whole run is repeated, including the execution-ended event the janitors react to."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emr_autopilot import ledger
from emr_autopilot.livy_runs import start_livy_run
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.livy_samples import create_livy_cluster
from emr_autopilot_devkit.local.livy_server import primary_dns
from emr_autopilot_devkit.local.runtime import Invocation, LocalRuntime
from tests.helpers.integration import RuntimeFactory, command_job, dead_letters, only, wait_until

QUICK = Timings(starting=30, bootstrapping=30, terminating=30)


def deliver_every_event(stack: LocalRuntime, times: int) -> None:
    """EventBridge delivers each event `times` times: same id, same time, same detail."""
    original = stack.enqueue

    def enqueue(function_logical_id: str, event: dict[str, Any]) -> None:
        for _ in range(times):
            original(function_logical_id, copy.deepcopy(event))

    stack.enqueue = enqueue  # type: ignore[method-assign]


def invocations_of(stack: LocalRuntime, function: str) -> list[Invocation]:
    return [inv for inv in stack.invocations if inv.function == function]


def test_a_failed_run_whose_every_event_arrives_three_times_happens_once(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a two-step job whose second step fails for real, and EventBridge delivering everything three times
    stack = local_runtime(jobs_dir(command_job("thrice", ["echo one", "echo 'error: no such table' >&2; exit 3"])))
    deliver_every_event(stack, 3)

    # When its input lands and the run plays out
    stack.put_object("thrice/input.csv", "a,b\n1,2\n")
    stack.settle(timeout=60)

    # Then the trigger started one run; its repeats were reported as duplicates
    starts = [run["status"] for inv in invocations_of(stack, "RunStarterFunction") for run in inv.result["runs"]]
    assert sorted(starts) == ["duplicate", "duplicate", "started"]
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    cluster = only(stack.clusters())
    assert cluster["Status"]["State"] == "TERMINATED"

    # And every EMR event was handled three times but recorded once: one timeline entry per event id
    handled = invocations_of(stack, "EmrEventFunction")
    event_ids = Counter(inv.event["id"] for inv in handled)
    assert set(event_ids.values()) == {3}
    items = ledger.cluster_items(stack.outputs["RunLedgerTableName"], cluster["Id"])
    assert sorted(item["event_id"] for item in items if item["sk"].startswith("EVENT#")) == sorted(event_ids)
    # And the ledger has the true end: the cluster terminated, one step completed, one failed
    meta = ledger.get_cluster(stack.outputs["RunLedgerTableName"], cluster["Id"])
    assert meta is not None and meta["state"] == "TERMINATED"
    steps = sorted(item["state"] for item in items if item["sk"].startswith("STEP#"))
    assert steps == ["COMPLETED", "FAILED"]

    # And the execution-ended event reached the janitor three times, which cleaned up once and gave one answer
    janitor = invocations_of(stack, "ExecutionJanitorFunction")
    assert len(janitor) == 3
    assert all(inv.error is None for inv in janitor)
    assert janitor[0].result == janitor[1].result == janitor[2].result

    # And one notice ended the run, one said why the step failed, and nothing was sent twice
    kinds = Counter(notice.attributes["event_type"] for notice in stack.notifications)
    assert (kinds["RUN_FAILED"], kinds["STEP_FAILED"]) == (1, 1)
    assert sum(kinds.values()) == 2
    assert dead_letters(stack) == []


def test_a_runs_emr_events_delivered_newest_first_leave_the_true_end_in_the_ledger(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a one-step job, and EMR's events held back until the run has ended
    stack = local_runtime(jobs_dir(command_job("backwards", ["echo done"])))
    original, held = stack.enqueue, []

    def hold(function_logical_id: str, event: dict[str, Any]) -> None:
        if event.get("source") == "aws.emr":
            held.append((function_logical_id, event))
        else:
            original(function_logical_id, event)

    stack.enqueue = hold  # type: ignore[method-assign]
    stack.put_object("backwards/input.csv", "x\n")
    stack.settle(timeout=60)
    assert only(stack.executions())["status"] == "SUCCEEDED"
    states = [event["detail"].get("state") for _, event in held if event["detail-type"] == "EMR Cluster State Change"]
    assert states[-1] == "TERMINATED" and states[0] == "STARTING"

    # When they are delivered newest first: TERMINATED before RUNNING, the step's COMPLETED before its RUNNING
    for function, event in reversed(held):
        original(function, event)
    stack.settle(timeout=30)

    # Then the ledger holds the true end, and every event in the timeline
    cluster = only(stack.clusters())
    table = stack.outputs["RunLedgerTableName"]
    items = ledger.cluster_items(table, cluster["Id"])
    meta = ledger.get_cluster(table, cluster["Id"])
    assert meta is not None and meta["state"] == "TERMINATED"
    assert [item["state"] for item in items if item["sk"].startswith("STEP#")] == ["COMPLETED"]
    assert len([item for item in items if item["sk"].startswith("EVENT#")]) == len(held)
    # And the late, stale events raised no notice: the run's own SUCCEEDED is the only one
    assert [notice.attributes["event_type"] for notice in stack.notifications] == ["RUN_SUCCEEDED"]


def test_a_stopped_livy_run_whose_end_arrives_three_times_is_cleaned_up_and_reported_once(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a Livy run whose batch would run for days, and EventBridge delivering everything three times
    stack = local_runtime(jobs_dir(), timings=QUICK)
    cluster_id = create_livy_cluster(stack)
    stack.livy.faults.run_seconds = {"forever": 10**6}
    deliver_every_event(stack, 3)
    arn = start_livy_run(
        stack.outputs["LivyStateMachineArn"],
        "thrice-livy",
        {"cluster_id": cluster_id, "batch": {"file": "s3://acme/jobs/forever.py"}},
    )
    wait_until(lambda: [batch for batch in stack.livy.batches() if batch["state"] == "running"])

    # When someone stops it
    stack.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="wrong date")
    stack.settle(timeout=60)

    # Then the Livy janitor ran three times, deleted the batch once and answered the same each time
    janitor = invocations_of(stack, "LivyJanitorFunction")
    assert len(janitor) == 3
    assert janitor[0].result == janitor[1].result == janitor[2].result
    assert stack.livy.deleted == [(primary_dns(cluster_id), 0, "running")]
    # And one notice says the run was stopped; the team's cluster keeps running
    assert [notice.attributes["event_type"] for notice in stack.notifications] == ["LIVY_RUN_ABORTED"]
    state = stack.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
    assert state == "WAITING"
