"""After a run: the execution janitor and the per-run deadline make sure no cluster outlives its run."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.run_starter import deadline_schedule_name
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import Invocation, LocalRuntime
from emr_autopilot_devkit.sample_data import generate_inspections
from tests.helpers.integration import (
    SIMULATED_COMMAND,
    RuntimeFactory,
    command_job,
    dead_letters,
    deadline_schedules,
    only,
    wait_until,
)


def janitor_invocations(stack: LocalRuntime) -> list[Invocation]:
    return [inv for inv in stack.invocations if inv.function == "ExecutionJanitorFunction"]


def started_execution_arn(stack: LocalRuntime) -> str:
    """Deliver the pending S3 event and return the execution the run starter started."""
    stack.pump()
    # Only the starter's: on a slow machine the cluster's first EMR event can arrive in the same pump.
    starter = only([inv for inv in stack.invocations if inv.function == "RunStarterFunction"])
    run = only(starter.result["runs"])
    assert run["status"] == "started"
    arn: str = run["execution_arn"]
    return arn


def running_step(stack: LocalRuntime) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(cluster, step) once a step is RUNNING on a cluster."""
    for cluster in stack.clusters():
        for step in stack.steps(cluster["Id"]):
            if step["Status"]["State"] == "RUNNING":
                return cluster, step
    return None


# How a running step ends when its run is stopped: polling's addStep.sync task cancels it as the execution stops
# (best effort, Step Functions guide, connect-to-resource, "Run a Job (.sync)"); in events mode nothing waits on a
# .sync task, and the step is INTERRUPTED when the janitor terminates its cluster (emr_simulator, cluster end).
STEP_OF_A_STOPPED_RUN = [("polling", "CANCELLED"), ("events", "INTERRUPTED")]


@pytest.mark.parametrize(("mode", "step_state"), STEP_OF_A_STOPPED_RUN)
def test_an_aborted_run_has_its_cluster_terminated_by_the_janitor(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path], mode: str, step_state: str
) -> None:
    # Given a run whose step takes an hour is running on its cluster
    stack = local_runtime(
        jobs_dir(command_job("long-step", [SIMULATED_COMMAND], step_completion=mode)),
        timings=Timings(simulated_step=3600),
    )
    stack.put_object("long-step/input.csv", "x\n")
    execution_arn = started_execution_arn(stack)
    cluster, _ = wait_until(lambda: running_step(stack))

    # When someone stops the execution (no Catch runs for an aborted execution)
    stack.client("stepfunctions").stop_execution(executionArn=execution_arn)
    stack.settle(timeout=60)

    # Then the execution is ABORTED and the janitor terminated the cluster it left behind
    execution = only(stack.executions())
    assert execution["status"] == "ABORTED"
    janitor = only(janitor_invocations(stack))
    assert janitor.error is None
    assert janitor.result["terminated"] == [cluster["Id"]]
    cluster = only(stack.clusters())
    assert cluster["Status"]["State"] == "TERMINATED"
    assert only(stack.steps(cluster["Id"]))["Status"]["State"] == step_state

    # And exactly one notification says so, naming the cluster
    notification = only(stack.notifications)
    assert notification.subject == f"[emr-autopilot] ABORTED {execution['name']}"
    assert notification.attributes["event_type"] == "RUN_ABORTED"
    assert notification.attributes["severity"] == "ERROR"
    assert notification.attributes["job"] == "long-step"
    assert notification.attributes["cluster_id"] == cluster["Id"]
    assert cluster["Id"] in notification.message

    # And the run's deadline is gone with it
    assert deadline_schedules(stack) == []


@pytest.mark.parametrize(("mode", "step_state"), STEP_OF_A_STOPPED_RUN)
def test_a_run_past_its_run_timeout_is_stopped_and_cleaned_up(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path], mode: str, step_state: str
) -> None:
    # Given a job with a 30-minute run_timeout whose step takes an hour (the cluster is up in 2 minutes; a
    # 5-minute timeout left ~0.3 s of wall time to add the step, and a loaded CI machine missed it)
    stack = local_runtime(
        jobs_dir(command_job("slow-job", [SIMULATED_COMMAND], run_timeout="30m", step_completion=mode)),
        timings=Timings(starting=60, bootstrapping=60, simulated_step=3600),
    )

    # When it runs
    stack.put_object("slow-job/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then the deadline stopped the execution once its 30 minutes were up, long before the step would end
    execution = only(stack.executions())
    assert execution["status"] == "ABORTED"
    assert execution["error"] == "RunTimedOut"
    assert "exceeded its run_timeout of 1800s" in execution["cause"]
    ran_for = (execution["stopDate"] - execution["startDate"]).total_seconds()
    assert 1800 <= ran_for < 3600

    # And the janitor terminated the cluster while its step was still running
    cluster = only(stack.clusters())
    assert only(janitor_invocations(stack)).result["terminated"] == [cluster["Id"]]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert only(stack.steps(cluster["Id"]))["Status"]["State"] == step_state

    # And one notification says the run timed out
    notification = only(stack.notifications)
    assert notification.subject == f"[emr-autopilot] TIMED OUT (job run_timeout) {execution['name']}"
    assert "RunTimedOut" in notification.message
    assert cluster["Id"] in notification.message

    # And the one-time deadline schedule deleted itself when it fired
    assert deadline_schedules(stack) == []


def test_a_successful_run_deletes_its_deadline(stack: LocalRuntime) -> None:
    # Given the local runtime has been up for two (virtual) hours, longer than the job's 1h run_timeout
    stack.clock.advance(2 * 3600)

    # When a run starts, its deadline is scheduled run_timeout after the execution started
    stack.put_object("inspections/on-time.csv", generate_inspections(rows=100))
    execution_arn = started_execution_arn(stack)
    assert deadline_schedules(stack) == [deadline_schedule_name(execution_arn)]
    schedule = stack.client("scheduler").get_schedule(
        Name=deadline_schedule_name(execution_arn), GroupName=stack.outputs["ScheduleGroupName"]
    )
    started = only(stack.executions())["startDate"]
    match = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
    assert match is not None
    due = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    assert abs((due - started).total_seconds() - 3600) < 1

    # And when the run finishes in time
    stack.settle(timeout=60)

    # Then it succeeded, and the janitor deleted the deadline, so it can never stop anything
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    janitor = only(janitor_invocations(stack))
    assert janitor.result["status"] == "ok"
    assert janitor.result["terminated"] == []
    assert deadline_schedules(stack) == []
    assert only(stack.notifications).attributes["event_type"] == "RUN_SUCCEEDED"


def test_a_janitor_that_keeps_failing_is_retried_then_dead_lettered(stack: LocalRuntime) -> None:
    # Given the notification topic has been deleted, so every publish fails
    stack.client("sns").delete_topic(TopicArn=stack.outputs["NotificationTopicArn"])
    # ...and a run whose cluster is starting
    stack.put_object("inspections/orphan.csv", generate_inspections(rows=50))
    execution_arn = started_execution_arn(stack)
    cluster_id = wait_until(lambda: [c["Id"] for c in stack.clusters()])[0]

    # When the execution is stopped and the janitor cannot send its notice
    stack.client("stepfunctions").stop_execution(executionArn=execution_arn)
    stack.settle(timeout=60)

    # Then the janitor was invoked as often as the function's retry configuration allows, then dead-lettered
    janitor = only(janitor_invocations(stack))
    max_retries = stack.functions["ExecutionJanitorFunction"].max_retries
    assert max_retries == 2
    assert janitor.attempts == max_retries + 1
    assert janitor.dead_lettered
    assert janitor.error is not None and "NotFound" in janitor.error

    # And the event is in the dead-letter queue, as Lambda's OnFailure destination records it
    letter = only(dead_letters(stack))
    assert letter["requestContext"]["condition"] == "RetriesExhausted"
    assert letter["requestPayload"] == janitor.event
    assert letter["requestPayload"]["detail"]["executionArn"] == execution_arn
    assert letter["requestPayload"]["detail"]["status"] == "ABORTED"

    # And the cluster was still terminated: cleanup comes before the notice
    assert only(stack.clusters())["Id"] == cluster_id
    assert only(stack.clusters())["Status"]["State"] == "TERMINATED"
    assert stack.notifications == []
