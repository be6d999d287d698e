"""A slice of the fault matrix (emr_autopilot_devkit.reliability): the three state machines, a fault at a state,
on a fresh local runtime each. `make reliability` runs every cell; this runs the ones marked in_slice."""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import emr_serverless, execution_janitor, idempotency
from emr_autopilot_devkit import reliability
from emr_autopilot_devkit.local.moto_patches import sfn_emr_containers_integration, sfn_emr_serverless_integration
from emr_autopilot_devkit.reliability import (
    CELLS,
    EKS,
    LIVY,
    PIPELINE,
    SERVERLESS,
    SLICE,
    TERMINAL_EVENT_TYPES,
    run_cell,
)

ROOT = Path(__file__).resolve().parents[2]
# Faults the matrix must cover on each state machine (the Livy path calls a failed step a failed batch; a
# serverless run has a job run, an application to start and stop, and a ClientToken).
REQUIRED = {
    PIPELINE: {
        "service_error", "throttle_then_success", "throttle_never_ends", "internal_error_then_success", "step_fails",
        "bootstrap_fails", "spot_capacity_timeout", "aborted", "timed_out", "lambda_raises", "event_twice",
    },
    LIVY: {
        "service_error", "throttle_then_success", "throttle_never_ends", "internal_error_then_success", "batch_fails",
        "bootstrap_fails", "spot_capacity_timeout", "aborted", "timed_out", "lambda_raises", "event_twice",
    },
    SERVERLESS: {
        "service_error", "throttled", "internal_error", "internal_error_then_success", "internal_error_never_ends",
        "throttle_then_success", "job_run_fails", "job_run_timed_out", "aborted", "timed_out", "event_twice",
        "start_repeated",
    },
    # EMR on EKS has no application: its job run, its task timeout (no job run timeout of its own) and its
    # event handler.
    EKS: {
        "service_error", "throttled", "internal_error", "internal_error_never_ends", "job_run_fails",
        "task_timed_out", "aborted", "timed_out", "lambda_raises", "event_twice", "start_repeated",
    },
}  # fmt: skip
ASL = {
    PIPELINE: ROOT / "statemachines" / "transient_cluster_pipeline.asl.json",
    LIVY: ROOT / "statemachines" / "livy_batch.asl.json",
    SERVERLESS: ROOT / "statemachines" / "serverless_pipeline.asl.json",
    EKS: ROOT / "statemachines" / "eks_pipeline.asl.json",
}


def _states(machine: str) -> set[str]:
    """Every state name, those inside a Map's ItemProcessor included."""

    def names(states: dict[str, Any]) -> set[str]:
        found = set(states)
        for state in states.values():
            found |= names(state.get("ItemProcessor", {}).get("States", {}))
        return found

    return names(json.loads(ASL[machine].read_text(encoding="utf-8"))["States"])


@pytest.mark.parametrize("cell_id", SLICE)
def test_a_fault_at_a_state_leaves_nothing_running_and_ends_with_one_notice(cell_id: str) -> None:
    # Given one cell of the matrix: a run of one state machine with a fault injected at one state
    cell = CELLS[cell_id]

    # When it runs on a fresh local runtime until nothing moves
    result = run_cell(cell_id)

    # Then every invariant held: nothing left running, one terminal notice, the ledger true, the fault fired
    assert result.problems == [], result.problems
    assert result.passed
    assert (result.clusters_left_running, result.batches_left_running) == (0, 0)
    assert (result.job_runs_left_running, result.applications_left_started) == (0, 0)
    assert result.terminal_notifications == 1
    assert result.outcome == cell.expect
    assert result.fired > 0 or cell.fault == "none"


def test_the_matrix_fails_a_janitor_that_notifies_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the janitors without idempotency, as they were before: each delivery does the whole job again
    monkeypatch.setattr(idempotency, "once", lambda function, *args, **kwargs: function)

    # When the execution-ended event of a stopped run is delivered twice
    result = run_cell("pipeline:event_twice:ExecutionJanitorFunction")

    # Then the matrix catches it: two terminal notices for one run
    assert not result.passed
    assert result.terminal_notifications == 2
    assert any("2 terminal notifications" in problem for problem in result.problems)


def test_the_matrix_fails_a_serverless_run_whose_job_run_nobody_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given neither Step Functions' best-effort cancel of an abandoned startJobRun.sync nor the execution janitor
    # cancels a job run
    monkeypatch.setattr(
        sfn_emr_serverless_integration.StateTaskServiceEmrServerless, "_cancel_abandoned_run", lambda *args: None
    )
    monkeypatch.setattr(emr_serverless, "cancel_job_run", lambda *args: None)

    # When a serverless run is stopped while its job run runs
    result = run_cell("serverless:aborted:RunJobs")

    # Then the matrix catches the job run left running
    assert not result.passed
    assert result.job_runs_left_running == 1
    assert any(problem.endswith("left RUNNING") for problem in result.problems), result.problems


def test_the_matrix_fails_an_eks_run_whose_job_run_nobody_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given neither Step Functions' best-effort cancel of an abandoned emr-containers startJobRun.sync nor the
    # execution janitor cancels a job run
    monkeypatch.setattr(
        sfn_emr_containers_integration.StateTaskServiceEmrContainers, "_cancel_abandoned_run", lambda *args: None
    )
    monkeypatch.setattr(execution_janitor, "eks_job_runs_tagged", lambda *args: [])

    # When an EKS run is stopped while its job run runs
    result = run_cell("eks:aborted:RunJobs")

    # Then the matrix catches the job run left running
    assert not result.passed
    assert result.job_runs_left_running == 1
    assert any(problem.endswith("left RUNNING") for problem in result.problems), result.problems


def test_the_matrix_fails_a_serverless_run_that_leaves_its_application_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a serverless job that starts its application first and does not ask for it to be stopped after the run
    cell_id = "serverless:internal_error_never_ends:StartJobRun"
    job = {"start_first": True, "stop_after": False}
    monkeypatch.setitem(CELLS, cell_id, dataclasses.replace(CELLS[cell_id], job=job))

    # When its StartJobRun fails for good and the run ends
    result = run_cell(cell_id)

    # Then the matrix catches the application left started
    assert not result.passed
    assert result.applications_left_started == 1
    assert any("left STARTED when the run ended" in problem for problem in result.problems), result.problems


def test_the_matrix_fails_a_pipeline_that_retries_every_emr_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the pipeline as it was before: any EMR.AmazonElasticMapReduceException is retried, whatever EMR's
    # code in the Cause (on AWS that is also the name of a validation error)
    root = tmp_path / "repo"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "statemachines":
            (root / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "statemachines", root / "statemachines")
    definition = json.loads(ASL[PIPELINE].read_text(encoding="utf-8"))
    rule = definition["States"]["EmrCallFailed"]["Choices"][0]
    rule["Condition"] = (
        "{% $states.input.caught.Error = 'EMR.AmazonElasticMapReduceException' and "
        "($states.input.emr_retry.call = $states.input.emr_call ? $states.input.emr_retry.attempt : 0) < 6 %}"
    )
    (root / "statemachines" / ASL[PIPELINE].name).write_text(json.dumps(definition), encoding="utf-8")
    monkeypatch.setattr(reliability, "LocalRuntime", functools.partial(reliability.LocalRuntime, repo_root=root))

    # When EMR refuses RunJobFlow once with a ValidationException
    result = run_cell("pipeline:service_error:CreateCluster")

    # Then the matrix catches it: the refused request was sent again, and the run succeeded
    assert not result.passed
    assert result.outcome == "SUCCEEDED"
    assert "execution SUCCEEDED, expected FAILED" in result.problems


def test_the_matrix_covers_every_fault_on_each_state_machine_at_states_that_exist() -> None:
    # Given the full matrix
    cells = list(CELLS.values())

    # When its cells are grouped by state machine
    faults = {machine: {cell.fault for cell in cells if cell.machine == machine} for machine in REQUIRED}

    # Then each required fault is there for each, every state a cell names is in the ASL or is a
    # function that reacts to the run, and the slice is a real subset with serverless cells in it
    missing = {machine: REQUIRED[machine] - found for machine, found in faults.items()}
    assert missing == {PIPELINE: set(), LIVY: set(), SERVERLESS: set(), EKS: set()}
    functions = {
        "RunStarterFunction", "ExecutionJanitorFunction", "EmrEventFunction", "LivyJanitorFunction",
        "EmrEksEventFunction",
    }  # fmt: skip
    for cell in cells:
        assert cell.state in _states(cell.machine) | functions | {"-"}, cell.id
    assert set(SLICE) < set(CELLS)
    assert 0 < sum(CELLS[cell_id].machine == SERVERLESS for cell_id in SLICE) <= 3
    assert 0 < sum(CELLS[cell_id].machine == EKS for cell_id in SLICE) <= 2
    # And at least five states of each machine have a fault injected
    states = Counter(cell.machine for cell in cells if cell.state in _states(cell.machine))
    assert min(states.values()) >= 5


def test_the_report_has_one_entry_per_cell_with_the_agreed_fields(tmp_path: Path) -> None:
    # Given two results, one passed and one failed (made up: this checks the report, not a run)
    good = reliability.CellResult(
        "pipeline:none:-", PIPELINE, "none", "-", "", "SUCCEEDED", "SUCCEEDED", "", 0, 0, 1,
        ["RUN_SUCCEEDED"], "SUCCEEDED", 0, 0, True, [], 1.0,
    )  # fmt: skip
    bad = reliability.CellResult(
        "livy:aborted:WaitForBatch", LIVY, "aborted", "WaitForBatch", "", "ABORTED", "ABORTED", "Operator", 1, 1, 0,
        [], "RUNNING", 0, 1, False, ["cluster j-1 left WAITING"], 2.0, job_runs_left_running=2,
        applications_left_started=1,
    )  # fmt: skip

    # When the matrix is summarised, formatted and written as the report
    totals = reliability.summary([good, bad], 3.0)
    text = reliability.format_matrix([good, bad])
    document = json.loads(json.dumps(reliability.report_document([good, bad], totals)))

    # Then the totals count the failure and what was left running, and the table names the problem
    assert (totals["cells"], totals["passed"], totals["failed"]) == (2, 1, 1)
    assert (totals["clusters_left_running"], totals["batches_left_running"]) == (1, 1)
    assert (totals["job_runs_left_running"], totals["applications_left_started"]) == (2, 1)
    assert totals["terminal_event_types"][LIVY] == sorted(TERMINAL_EVENT_TYPES[LIVY])
    assert "FAIL" in text and "PASS" in text
    assert "livy:aborted:WaitForBatch: cluster j-1 left WAITING" in text
    # And the report has one entry per cell, starting with the fields the issue asks for
    agreed = ["fault", "state", "outcome", "clusters_left_running", "notifications", "passed"]
    assert [list(entry)[:6] for entry in document["cells"]] == [agreed, agreed]
    assert [entry["passed"] for entry in document["cells"]] == [True, False]
    assert document["summary"]["failed"] == 1
