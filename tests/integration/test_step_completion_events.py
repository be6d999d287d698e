"""step_completion: events: the real pipeline ASL waits for EMR's Step Status Change instead of polling."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot import ledger
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.integration import (
    SIMULATED_COMMAND,
    RuntimeFactory,
    command_job,
    history_of,
    only,
    run_input,
    states_entered,
)

ACTIVE = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"}


def run_notices(stack: LocalRuntime) -> list[Any]:
    return [n for n in stack.notifications if n.attributes.get("event_type", "").startswith("RUN_")]


def resources(history: list[dict[str, Any]]) -> list[str]:
    return [e["taskScheduledEventDetails"]["resource"] for e in history if e["type"] == "TaskScheduled"]


def test_an_events_run_adds_each_step_once_waits_for_its_event_and_terminates(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a three-step job that leaves step_completion at its default
    stack = local_runtime(jobs_dir(command_job("by-events", ["echo step 1", "echo step 2", "echo step 3"])))

    # When a run starts
    stack.put_object("by-events/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then it succeeded, steps one after another, and its cluster is gone
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert {s["StepCompletion"] for s in run_input(execution)["steps"]} == {"events"}  # the default
    assert {s["WaitSeconds"] for s in run_input(execution)["steps"]} == {240}  # the 1h timeout allows 240 s
    cluster = only(stack.clusters())
    assert cluster["Status"]["State"] == "TERMINATED"
    steps = stack.steps(cluster["Id"])
    assert [(s["Name"], s["Status"]["State"]) for s in steps] == [
        ("step 1", "COMPLETED"),
        ("step 2", "COMPLETED"),
        ("step 3", "COMPLETED"),
    ]
    for previous, step in itertools.pairwise(steps):
        assert step["Status"]["Timeline"]["CreationDateTime"] >= previous["Status"]["Timeline"]["EndDateTime"]

    # And no step was polled: each was added by the request-response addStep and awaited through a task token
    scheduled = resources(history_of(stack, execution))
    assert not [r for r in scheduled if r.startswith("addStep") and r.endswith(".sync")]
    assert scheduled.count("addStep") == 3
    assert scheduled.count("invoke.waitForTaskToken") == 3

    # And exactly one run notice went out
    assert [n.attributes["event_type"] for n in run_notices(stack)] == ["RUN_SUCCEEDED"]


def test_an_events_run_fails_as_a_polling_run_does(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given the same three-step job in both modes, whose second step fails
    stack = local_runtime(
        jobs_dir(
            command_job("fails-events", ["echo step 1", "echo step 2", "echo step 3"], step_completion="events"),
            command_job("fails-polling", ["echo step 1", "echo step 2", "echo step 3"], step_completion="polling"),
        )
    )
    stack.simulator.faults.failing_steps["step 2"] = "Injected: no space left on device"

    # When both run
    stack.put_object("fails-events/input.csv", "x\n")
    stack.put_object("fails-polling/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then both failed in RunSteps with the same error, and a cause naming the step's failure
    executions = {run_input(e)["run"]["job_name"]: e for e in stack.executions()}
    events, polling = executions["fails-events"], executions["fails-polling"]
    assert events["status"] == polling["status"] == "FAILED"
    assert events["error"] == polling["error"] == "States.TaskFailed"
    assert "no space left on device" in events["cause"]
    # (the Cause is the failed step as DescribeStep gives it, in both modes)
    failed = [json.loads(e["cause"]) for e in (events, polling)]
    assert [f["Name"] for f in failed] == ["step 2", "step 2"]
    reasons = [{k: f["Status"]["FailureDetails"][k] for k in ("Reason", "Message")} for f in failed]
    assert reasons[0] == reasons[1]
    assert failed[0].keys() == failed[1].keys()

    # And each run's one notice names RunSteps and the failure; step 3 never started; no cluster is left
    notices = {n.attributes["job"]: n for n in run_notices(stack)}
    assert sorted(notices) == ["fails-events", "fails-polling"]
    for job in notices:
        assert notices[job].subject == f"[emr-autopilot] FAILED {job} in RunSteps"
        assert "no space left on device" in notices[job].message
    for cluster in stack.clusters():
        assert [s["Name"] for s in stack.steps(cluster["Id"])] == ["step 1", "step 2"]
    assert not [c for c in stack.clusters() if c["Status"]["State"] in ACTIVE]


def test_a_step_timeout_fails_with_states_timeout_in_both_modes(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given an hour-long step with a 10-minute timeout, in both modes
    step = [SIMULATED_COMMAND]
    stack = local_runtime(
        jobs_dir(
            command_job("slow-events", step, step_timeout="10m", step_completion="events"),
            command_job("slow-polling", step, step_timeout="10m", step_completion="polling"),
        ),
        timings=Timings(simulated_step=3600),
    )

    # When both run
    stack.put_object("slow-events/input.csv", "x\n")
    stack.put_object("slow-polling/input.csv", "x\n")
    stack.settle(timeout=90)

    # Then both failed in RunSteps with the task's own States.Timeout, and each said so once
    executions = {run_input(e)["run"]["job_name"]: e for e in stack.executions()}
    assert {job: (e["status"], e["error"]) for job, e in executions.items()} == {
        "slow-events": ("FAILED", "States.Timeout"),
        "slow-polling": ("FAILED", "States.Timeout"),
    }
    notices = {n.attributes["job"]: n.subject for n in run_notices(stack)}
    assert notices == {job: f"[emr-autopilot] FAILED {job} in RunSteps" for job in executions}
    assert not [c for c in stack.clusters() if c["Status"]["State"] in ACTIVE]

    # And the events run waited 240 s, 240 s, then the 120 s left of the step's 600 s
    events_input = run_input(executions["slow-events"])
    assert [s["WaitSeconds"] for s in events_input["steps"]] == [240]
    entered = states_entered(history_of(stack, executions["slow-events"]))
    assert entered.count("WaitForStepEnd") == 3
    assert entered.count("StepEndRecheck") == 3
    assert "StepEndTimedOut" in entered


def test_a_token_whose_task_has_ended_is_answered_task_timed_out(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given an events run that has ended, and the token its step's wait used (from the ledger)
    stack = local_runtime(jobs_dir(command_job("closed-token", ["echo step 1"], step_completion="events")))
    stack.put_object("closed-token/input.csv", "x\n")
    stack.settle(timeout=60)
    assert only(stack.executions())["status"] == "SUCCEEDED"
    cluster_id = only(stack.clusters())["Id"]
    step_id = only(stack.steps(cluster_id))["Id"]
    token = ledger.step_token(stack.outputs["RunLedgerTableName"], cluster_id, step_id)
    assert token

    # When a late SendTaskSuccess and SendTaskFailure use it, and an unknown token is used
    sfn = stack.client("stepfunctions")
    codes = []
    for call in (
        lambda: sfn.send_task_success(taskToken=token, output="{}"),
        lambda: sfn.send_task_failure(taskToken=token, error="X", cause="late"),
        lambda: sfn.send_task_success(taskToken="not-a-token", output="{}"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        codes.append(raised.value.response["Error"]["Code"])

    # Then the closed task's token is TaskTimedOut (the API's error for a closed task), the unknown one InvalidToken
    assert codes == ["TaskTimedOut", "TaskTimedOut", "InvalidToken"]
