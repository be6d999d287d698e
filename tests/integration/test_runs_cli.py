"""`emr-autopilot run --wait`, `runs --json` and `runs show` against the local runtime: what a person
on call reads first (the failed state, the reason, the logs; or the output)."""

from __future__ import annotations

import importlib
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result

from emr_autopilot import ledger
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.run_summary import summarize
from tests.helpers.integration import (
    SIMULATED_COMMAND,
    RuntimeFactory,
    command_job,
    history_of,
    local_cli,
    only,
    run_input,
)

# The module, not the `runs` command the package exports under the same name.
runs_cli = importlib.import_module("emr_autopilot_devkit.cli.runs")
QUICK = Timings(starting=30, bootstrapping=30, terminating=30)
# The step's last stderr line is EMR's FailureDetails.Reason: longer than the table's 80 characters.
LONG_REASON = "error: column violation_type is missing in s3://landing/boom/input.csv; " + "x" * 60
FAILING = f"echo {LONG_REASON!r} >&2; exit 3"


@pytest.fixture
def stack(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> LocalRuntime:
    return local_runtime(
        jobs_dir(
            command_job("boom", [FAILING]),
            command_job("good", ["echo hello"]),
            command_job("slow", [SIMULATED_COMMAND], run_timeout="5m"),
        ),
        timings=QUICK,
    )


@pytest.fixture
def cli(stack: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `emr-autopilot ... --local` against the stack, as after `local up`."""
    return local_cli(stack, tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def aws_while_the_cli_waits(stack: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each poll of `run --wait` delivers events and fires due schedules, as AWS does meanwhile (and `local up`).
    In the CLI's thread: handlers swap sys.stdout, which would race CliRunner's capture from another thread."""

    def pump_instead_of_sleeping(_seconds: float) -> None:
        stack.pump()
        time.sleep(0.02)

    monkeypatch.setattr(runs_cli, "time", SimpleNamespace(sleep=pump_instead_of_sleeping))


def open_states(history: list[dict[str, Any]]) -> set[str]:
    """States entered and never exited."""
    entered = Counter(e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered"))
    exited = Counter(e["stateExitedEventDetails"]["name"] for e in history if e["type"].endswith("StateExited"))
    return set(entered - exited)


def landing(stack: LocalRuntime, key: str) -> str:
    stack.seed_object(key, "x\n")
    return f"s3://{stack.outputs['LandingBucketName']}/{key}"


def test_run_wait_on_a_failed_run_names_the_failed_state_the_reason_and_the_logs(
    stack: LocalRuntime, cli: Callable[..., Result]
) -> None:
    # Given a job whose one step exits 3 after writing a reason to stderr
    input_uri = landing(stack, "boom/input.csv")

    # When a person starts it with `run --wait`
    result = cli("run", "boom", "--input", input_uri, "--wait")

    # Then it exits 1, and the summary names the failed state, EMR's reason and the step's log folder
    assert result.exit_code == 1, result.output
    execution = only(stack.executions())
    cluster = only(stack.clusters())
    step = only(stack.steps(cluster["Id"]))
    logs = f"s3://{stack.outputs['LogsBucketName']}/emr-logs/{cluster['Id']}/steps/{step['Id']}/"
    lines = result.output.splitlines()
    assert lines[1] == "FAILED"
    assert "  failed in:  RunSteps (task WaitForStepEnd)" in lines  # step_completion: events, the default
    assert "  error:      States.TaskFailed" in lines
    assert f"  cluster:    {cluster['Id']}" in lines
    assert f"  step:       {step['Id']} (step 1)" in lines
    assert f"  reason:     {LONG_REASON} | Command exited with status 3" in lines
    assert f"  logs:       {logs}" in lines
    assert f"  input:      {input_uri}" in lines
    assert f"  execution:  {execution['executionArn']}" in lines

    # And with a Cause that does not describe the step (AWS documents no shape for it), the ledger's
    # record of the step's failure (the EMR event reactions') gives the same step, reason and logs
    stack.settle(timeout=60)
    described = stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    summary = summarize(
        {**described, "cause": "Step s-... failed"},
        history_of(stack, execution),
        ledger.cluster_items(stack.outputs["RunLedgerTableName"], cluster["Id"]),
    )
    assert (summary.step, summary.logs) == (f"{step['Id']} (step 1)", logs)
    assert summary.reason == f"{LONG_REASON} | Command exited with status 3"


def test_run_wait_on_a_cluster_that_never_starts_names_create_cluster_and_emrs_reason(
    stack: LocalRuntime, cli: Callable[..., Result]
) -> None:
    # Given the job's clusters fail in their bootstrap action
    stack.simulator.faults.bootstrap_failure.append("good")
    input_uri = landing(stack, "good/input.csv")

    # When a person starts it with `run --wait`
    result = cli("run", "good", "--input", input_uri, "--wait")

    # Then it exits 1 and names CreateCluster, the cluster and EMR's reason for ending it
    assert result.exit_code == 1, result.output
    cluster = only(stack.clusters())
    reason = cluster["Status"]["StateChangeReason"]
    assert reason["Code"] == "BOOTSTRAP_FAILURE"
    lines = result.output.splitlines()
    assert lines[1] == "FAILED"
    assert "  failed in:  CreateCluster" in lines
    assert f"  cluster:    {cluster['Id']}" in lines
    assert f"  reason:     BOOTSTRAP_FAILURE | {reason['Message']}" in lines, result.output
    assert f"  logs:       s3://{stack.outputs['LogsBucketName']}/emr-logs/{cluster['Id']}/" in lines


def test_run_wait_on_a_good_run_names_the_output_and_the_logs(stack: LocalRuntime, cli: Callable[..., Result]) -> None:
    # Given a job whose one step succeeds
    input_uri = landing(stack, "good/input.csv")

    # When a person starts it with `run --wait`
    result = cli("run", "good", "--input", input_uri, "--wait")

    # Then it exits 0 and names the cluster, where the output is and where the logs are
    assert result.exit_code == 0, result.output
    execution = only(stack.executions())
    cluster = only(stack.clusters())
    output_uri = run_input(execution)["run"]["output_uri"]
    assert output_uri.startswith(f"s3://{stack.outputs['CuratedBucketName']}/good/")
    assert result.output.splitlines()[1:] == [
        "SUCCEEDED",
        f"  run:        {execution['name']}",
        f"  cluster:    {cluster['Id']}",
        f"  output:     {output_uri}",
        f"  logs:       s3://{stack.outputs['LogsBucketName']}/emr-logs/{cluster['Id']}/",
        f"  execution:  {execution['executionArn']}",
    ]


def test_run_wait_on_a_run_stopped_at_its_run_timeout_says_aborted_and_where(
    stack: LocalRuntime, cli: Callable[..., Result]
) -> None:
    # Given a job with a 5-minute run_timeout whose (simulated) step takes an hour
    stack.simulator.timings.simulated_step = 3600
    input_uri = landing(stack, "slow/input.csv")

    # When a person starts it with `run --wait` and the deadline stops it
    result = cli("run", "slow", "--input", input_uri, "--wait")

    # Then it exits 1, says ABORTED, the state the run was in and the deadline's reason
    assert result.exit_code == 1, result.output
    execution = only(stack.executions())
    lines = result.output.splitlines()
    assert lines[1] == "ABORTED"
    # (CreateCluster, or RunSteps waiting for the step's end: where a 5-minute deadline catches it depends on the
    # machine's load)
    stopped_in = only([line for line in lines if line.startswith("  stopped in: ")]).removeprefix("  stopped in: ")
    assert stopped_in in ("CreateCluster", "RunSteps (task WaitForStepEnd)")
    assert set(stopped_in.replace("(task ", "").rstrip(")").split()) <= open_states(history_of(stack, execution))
    assert "  error:      RunTimedOut" in lines
    assert any(line.startswith("  reason:     ") and "exceeded its run_timeout of 300s" in line for line in lines)


def test_runs_json_keeps_the_whole_reason_and_runs_show_lists_input_and_output(
    stack: LocalRuntime, cli: Callable[..., Result]
) -> None:
    # Given a failed run whose reason is longer than 80 characters, settled into the ledger
    input_uri = landing(stack, "boom/input.csv")
    cli("run", "boom", "--input", input_uri)
    stack.settle(timeout=60)
    execution = only(stack.executions())
    output_uri = run_input(execution)["run"]["output_uri"]
    cluster = only(stack.clusters())

    # When `runs --json`, `runs` and `runs show <run id>` run
    listed = cli("runs", "--json")
    table = cli("runs")
    shown = cli("runs", "show", execution["name"])

    # Then the JSON has the whole reason and the run's input, output and logs
    assert listed.exit_code == 0, listed.output
    row = only(json.loads(listed.output))
    assert row["reason"] == LONG_REASON
    assert (row["input_uri"], row["output_uri"]) == (input_uri, output_uri)
    assert row["logs"] == f"s3://{stack.outputs['LogsBucketName']}/emr-logs/{cluster['Id']}/"
    # And the table still cuts it at 80 characters
    assert LONG_REASON[:80] in table.output
    assert LONG_REASON[:81] not in table.output
    # And `runs show` lists the input, the output and the logs
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert f"Input  {input_uri}" in lines
    assert f"Output {output_uri}" in lines
    assert f"Logs   s3://{stack.outputs['LogsBucketName']}/emr-logs/{cluster['Id']}/" in lines
