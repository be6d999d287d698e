"""The transient-cluster pipeline: the real ASL, run by the local runtime against simulated EMR."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import ledger
from emr_autopilot.pricing import price_table
from emr_autopilot.run_costs import cost_line
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import (
    expected_red_counts,
    generate_inspections,
    generate_malformed_inspections,
    parse_result_csv,
)
from tests.helpers.integration import (
    SAMPLE_JOB,
    SIMULATED_COMMAND,
    RuntimeFactory,
    command_job,
    history_of,
    only,
    read_object,
    run_input,
    states_entered,
    task_failures,
    task_scheduled,
)

ACTIVE = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"}


def tags_of(cluster: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}


def cluster_of(stack: LocalRuntime, execution: dict[str, Any]) -> dict[str, Any]:
    """The one cluster tagged with this execution."""
    return only(
        [c for c in stack.clusters() if tags_of(c).get("emr-autopilot:execution-arn") == execution["executionArn"]]
    )


def run_notices(stack: LocalRuntime) -> list[Any]:
    """The pipeline's own notices (event_type RUN_*), not the EMR event handler's (STEP_FAILED, ...)."""
    return [n for n in stack.notifications if n.attributes.get("event_type", "").startswith("RUN_")]


def test_happy_path_runs_the_job_terminates_the_cluster_and_notifies(stack: LocalRuntime) -> None:
    # Given the sample job deployed and an inspections CSV
    csv_text = generate_inspections()

    # When the CSV lands in the landing bucket
    stack.put_object("inspections/2026-11-21.csv", csv_text)
    stack.settle(timeout=60)

    # Then exactly one execution ran, and it succeeded
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = run_input(execution)["run"]
    assert run["input_uri"] == f"s3://{stack.outputs['LandingBucketName']}/inspections/2026-11-21.csv"

    # And its cluster ran the one step and is gone
    cluster = cluster_of(stack, execution)
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "USER_REQUEST"
    step = only(stack.steps(cluster["Id"]))
    assert step["Status"]["State"] == "COMPLETED"

    # And the output is what an independent count of the input says
    output = read_object(stack, run["output_uri"] + "red_violations.csv").decode("utf-8")
    assert parse_result_csv(output) == expected_red_counts(csv_text)

    # And one SUCCEEDED notification went out, with attributes a subscription can filter on
    notification = only(stack.notifications)
    assert notification.subject == f"[emr-autopilot] SUCCEEDED {SAMPLE_JOB}"
    assert notification.attributes["severity"] == "INFO"
    assert notification.attributes["job"] == SAMPLE_JOB
    assert notification.attributes["cluster_id"] == cluster["Id"]
    assert execution["executionArn"] in notification.message

    # And it ends with the run's cost, read after the cluster ended: an amount labelled an estimate at the dated
    # price table, the same line the ledger holds (the event reaction's lookups, from the same instance lifetimes)
    meta = ledger.get_cluster(stack.outputs["RunLedgerTableName"], cluster["Id"]) or {}
    cost = notification.message.split(" | ")[-1]
    assert cost.startswith("Cost: ~$")
    assert f"(estimate: us-east-1 on-demand list prices as of {price_table().as_of}; " in cost
    assert meta["cost_usd"] > 0
    assert cost == cost_line(meta)

    # And the cluster carries the pipeline's tags, pointing back at this execution
    tags = tags_of(cluster)
    assert tags["emr-autopilot:job"] == SAMPLE_JOB
    assert tags["emr-autopilot:run-id"] == execution["name"] == cluster["Name"]
    assert tags["emr-autopilot:execution-arn"] == execution["executionArn"]

    # And it was created to wait for steps (createCluster.sync returns only once it is WAITING)
    created = only(task_scheduled(history_of(stack, execution), "createCluster.sync"))
    request = json.loads(created["parameters"])
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert request["AutoTerminationPolicy"]["IdleTimeout"] == 1800
    assert cluster["AutoTerminate"] is False


def test_a_cost_estimate_that_fails_still_sends_the_success_notice(
    stack: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the run cost function fails whenever the pipeline invokes it (a crash, as Lambda reports one)
    invoke = stack.invoke

    class CostLookupCrashed(Exception):
        pass

    def failing_cost(function: str, event: Any) -> Any:
        if function == "RunCostFunction":
            raise CostLookupCrashed("injected: the cost lookup crashed")
        return invoke(function, event)

    monkeypatch.setattr(stack, "invoke", failing_cost)

    # When a CSV lands and the run ends
    stack.put_object("inspections/cost-fails.csv", generate_inspections(rows=50))
    stack.settle(timeout=60)

    # Then the run still succeeded and its cluster is gone
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert cluster_of(stack, execution)["Status"]["State"] == "TERMINATED"
    # And its one notice is the success notice, saying the cost is not available and why
    notification = only(run_notices(stack))
    assert notification.attributes["event_type"] == "RUN_SUCCEEDED"
    assert notification.message.split(" | ")[-1] == "Cost: not available (CostLookupCrashed)"
    assert "CostNotAvailable" in states_entered(history_of(stack, execution))


def test_create_failure_fails_the_run_in_create_cluster(stack: LocalRuntime) -> None:
    # Given EMR rejects RunJobFlow for the sample job's runs
    stack.simulator.faults.create_failure.append(SAMPLE_JOB)

    # When a CSV lands
    stack.put_object("inspections/create-fails.csv", generate_inspections(rows=50))
    stack.settle(timeout=60)

    # Then the execution failed with EMR's error, as Step Functions names it (EMR's code is in the Cause)
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "EMR.AmazonElasticMapReduceException"
    assert "RunJobFlow rejected" in execution["cause"]
    assert "Error Code: ValidationException;" in execution["cause"]

    # And the failure notification names the state and the error
    notification = only(stack.notifications)
    assert notification.subject == f"[emr-autopilot] FAILED {SAMPLE_JOB} in CreateCluster"
    assert notification.attributes["state"] == "CreateCluster"
    assert notification.attributes["severity"] == "ERROR"
    assert "EMR.AmazonElasticMapReduceException" in notification.message
    assert "RunJobFlow rejected" in notification.message

    # And no cluster is left running
    assert not [c for c in stack.clusters() if c["Status"]["State"] in ACTIVE]


def test_a_failed_step_stops_the_run_and_later_steps_never_start(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a three-step job whose second step fails on the cluster
    stack = local_runtime(jobs_dir(command_job("three-steps", ["echo step 1", "echo step 2", "echo step 3"])))
    stack.simulator.faults.failing_steps["step 2"] = "Injected: no space left on device"

    # When a run starts
    stack.put_object("three-steps/input.csv", "a,b\n1,2\n")
    stack.settle(timeout=60)

    # Then the execution failed with the step's failure
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.TaskFailed"
    assert "no space left on device" in execution["cause"]

    # And step 3 was never added; step 1 completed, step 2 failed
    cluster = cluster_of(stack, execution)
    steps = stack.steps(cluster["Id"])
    assert [(s["Name"], s["Status"]["State"]) for s in steps] == [("step 1", "COMPLETED"), ("step 2", "FAILED")]

    # And the cluster was terminated by the run itself
    assert cluster["Status"]["State"] == "TERMINATED"

    # And one FAILED notification names RunSteps and the failure (the EMR event handler sends its own)
    notification = only(run_notices(stack))
    assert notification.subject == "[emr-autopilot] FAILED three-steps in RunSteps"
    assert notification.attributes["state"] == "RunSteps"
    assert notification.attributes["cluster_id"] == cluster["Id"]
    assert "no space left on device" in notification.message


def test_malformed_input_fails_the_step_for_real_and_its_stderr_is_in_the_logs(stack: LocalRuntime) -> None:
    # Given an inspections CSV without the violation_type column
    # When it lands and the job's script runs on it
    stack.put_object("inspections/malformed.csv", generate_malformed_inspections(rows=100))
    stack.settle(timeout=60)

    # Then the run failed in RunSteps because of the missing column
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    assert "missing required column(s): violation_type" in execution["cause"]
    notification = only(run_notices(stack))
    assert notification.attributes["state"] == "RunSteps"
    assert "missing required column(s): violation_type" in notification.message

    # And the step's stderr was written under the cluster's LogUri, with the message in it
    cluster = cluster_of(stack, execution)
    assert cluster["Status"]["State"] == "TERMINATED"
    step = only(stack.steps(cluster["Id"]))
    assert step["Status"]["State"] == "FAILED"
    stderr_uri = f"{cluster['LogUri'].rstrip('/')}/{cluster['Id']}/steps/{step['Id']}/stderr.gz"
    assert step["Status"]["FailureDetails"]["LogFile"] == stderr_uri
    stderr = gzip.decompress(read_object(stack, stderr_uri)).decode("utf-8")
    assert "missing required column(s): violation_type" in stderr


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        ("bootstrap_failure", "BOOTSTRAP_FAILURE", "bootstrap action 1 returned a non-zero return code"),
        ("spot_capacity_timeout", "INSTANCE_FLEET_TIMEOUT", "Spot capacity was not available"),
    ],
)
def test_a_cluster_that_never_starts_fails_the_run(stack: LocalRuntime, fault: str, code: str, words: str) -> None:
    # Given the sample job's clusters fail while starting
    getattr(stack.simulator.faults, fault).append(SAMPLE_JOB)

    # When a CSV lands
    stack.put_object("inspections/never-starts.csv", generate_inspections(rows=50))
    stack.settle(timeout=60)

    # Then the run failed in CreateCluster
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    assert code in execution["cause"]

    # And the cluster ended with errors, for that reason, without running a step
    cluster = cluster_of(stack, execution)
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    assert cluster["Status"]["StateChangeReason"]["Code"] == code
    assert stack.steps(cluster["Id"]) == []

    # And the run's notification says why (the EMR event handler sends its own, too)
    notification = only(run_notices(stack))
    assert notification.attributes["state"] == "CreateCluster"
    assert code in notification.message
    assert words in notification.message


def test_throttled_create_and_terminate_are_retried(stack: LocalRuntime) -> None:
    # Given EMR throttles the first RunJobFlow and the first two TerminateJobFlows
    stack.simulator.faults.throttle.update({"run_job_flow": 1, "terminate_job_flows": 2})

    # When a CSV lands
    stack.put_object("inspections/throttled.csv", generate_inspections(rows=50))
    stack.settle(timeout=60)

    # Then the run still succeeded
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    history = history_of(stack, execution)

    # And CreateCluster failed once with the throttle and was retried, creating one cluster only
    create_failures = task_failures(history, "createCluster.sync")
    assert [f["error"] for f in create_failures] == ["EMR.AmazonElasticMapReduceException"]
    assert "Error Code: ThrottlingException;" in create_failures[0]["cause"]
    assert len(task_scheduled(history, "createCluster.sync")) == 2
    cluster = only(stack.clusters())

    # And TerminateCluster failed twice with the throttle, then terminated the cluster
    terminate_failures = task_failures(history, "terminateCluster.sync")
    assert [f["error"] for f in terminate_failures] == ["EMR.AmazonElasticMapReduceException"] * 2
    assert len(task_scheduled(history, "terminateCluster.sync")) == 3
    assert cluster["Status"]["State"] == "TERMINATED"
    assert stack.simulator.faults.throttle == {"run_job_flow": 0, "terminate_job_flows": 0}


@pytest.mark.parametrize(
    ("mode", "tasks"),
    [("events", ("addStep", "invoke.waitForTaskToken")), ("polling", ("addStep.sync",))],
)
def test_a_failed_step_is_never_added_again(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path], mode: str, tasks: tuple[str, ...]
) -> None:
    # Given a three-step job whose first step fails, and EMR throttles the first AddJobFlowSteps
    stack = local_runtime(jobs_dir(command_job("fails-first", ["echo 1", "echo 2", "echo 3"], step_completion=mode)))
    stack.simulator.faults.failing_steps["step 1"] = "Injected: executor lost"
    stack.simulator.faults.throttle["add_job_flow_steps"] = 1

    # When a run starts
    stack.put_object("fails-first/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then the throttled AddStep was retried, but the failed step was not: it is on the cluster once
    execution = only(stack.executions())
    assert execution["status"] == "FAILED"
    cluster = cluster_of(stack, execution)
    steps = stack.steps(cluster["Id"])
    assert [(s["Name"], s["Status"]["State"]) for s in steps] == [("step 1", "FAILED")]
    history = history_of(stack, execution)
    assert [f["error"] for task in tasks for f in task_failures(history, task)] == [
        "EMR.AmazonElasticMapReduceException",
        "States.TaskFailed",
    ]
    assert len(task_scheduled(history, tasks[0])) == 2


def test_step_concurrency_one_runs_steps_in_order_and_three_runs_them_together(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a job of three steps with step_concurrency 1, and one of three 1-second steps with step_concurrency 3
    stack = local_runtime(
        jobs_dir(
            command_job("one-at-a-time", ["echo step 1", "echo step 2", "echo step 3"], step_concurrency=1),
            command_job("all-at-once", ["sleep 1; echo step 1"] * 3, step_concurrency=3),
        )
    )

    # When both run
    stack.put_object("one-at-a-time/input.csv", "x\n")
    stack.put_object("all-at-once/input.csv", "x\n")
    stack.settle(timeout=60)
    executions = {run_input(e)["run"]["job_name"]: e for e in stack.executions()}
    assert {name: e["status"] for name, e in executions.items()} == {
        "one-at-a-time": "SUCCEEDED",
        "all-at-once": "SUCCEEDED",
    }, [(name, e.get("error"), (e.get("cause") or "")[:900]) for name, e in executions.items()]

    # Then with step_concurrency 1, each step was added and started only after the previous one ended
    sequential = stack.steps(cluster_of(stack, executions["one-at-a-time"])["Id"])
    assert [s["Name"] for s in sequential] == ["step 1", "step 2", "step 3"]
    for previous, step in itertools.pairwise(sequential):
        assert step["Status"]["Timeline"]["CreationDateTime"] >= previous["Status"]["Timeline"]["EndDateTime"]
        assert step["Status"]["Timeline"]["StartDateTime"] >= previous["Status"]["Timeline"]["EndDateTime"]

    # And with step_concurrency 3, all three were added and running before the first one ended
    parallel_cluster = cluster_of(stack, executions["all-at-once"])
    assert parallel_cluster["StepConcurrencyLevel"] == 3
    parallel = stack.steps(parallel_cluster["Id"])
    assert sorted(s["Name"] for s in parallel) == ["step 1", "step 2", "step 3"]
    first_end = min(s["Status"]["Timeline"]["EndDateTime"] for s in parallel)
    assert max(s["Status"]["Timeline"]["CreationDateTime"] for s in parallel) < first_end
    assert max(s["Status"]["Timeline"]["StartDateTime"] for s in parallel) < first_end


def test_polling_state_transitions_do_not_grow_with_step_duration(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given polling (addStep.sync) one-step jobs, one whose step is quick and one whose step runs 10 virtual
    # minutes (40 .sync polls). (step_completion: events adds two states per 240 s wait: bench section 3.)
    stack = local_runtime(
        jobs_dir(
            command_job("quick-step", ["echo quick"], step_completion="polling"),
            command_job("slow-step", [SIMULATED_COMMAND], step_completion="polling"),
        ),
        timings=Timings(simulated_step=600),
    )

    # When both run
    stack.put_object("quick-step/input.csv", "x\n")
    stack.put_object("slow-step/input.csv", "x\n")
    stack.settle(timeout=60)
    executions = {run_input(e)["run"]["job_name"]: e for e in stack.executions()}
    assert [e["status"] for e in executions.values()] == ["SUCCEEDED", "SUCCEEDED"]
    quick = history_of(stack, executions["quick-step"])
    slow = history_of(stack, executions["slow-step"])
    slow_step = only(stack.steps(cluster_of(stack, executions["slow-step"])["Id"]))
    timeline = slow_step["Status"]["Timeline"]
    assert (timeline["EndDateTime"] - timeline["StartDateTime"]).total_seconds() >= 600

    # Then a one-step run enters a handful of states, whatever the step's duration
    assert states_entered(quick) == [
        "PrepareRun",
        "CreateCluster",
        "RunSteps",
        "StepCompletionMode",  # polling
        "AddStep",
        "TerminateCluster",
        "EstimateCost",
        "NotifySuccess",
    ]
    assert len(states_entered(quick)) <= 10
    assert states_entered(slow) == states_entered(quick)

    # And waiting on EMR adds no history events (polling happens inside the .sync integration)
    assert len(slow) == len(quick)
