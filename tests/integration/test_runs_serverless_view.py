"""`emr-autopilot runs`, `runs show`, `runs --json`, `runs --cost` and `runs --html` with an EMR Serverless run
beside a cluster run, on the local runtime: the serverless run's job runs are its steps, and both runs carry the
cost estimate the event reactions recorded. One real PySpark run (the serverless one); the cluster run is a
command step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from emr_autopilot import ledger
from emr_autopilot.catalog import load_catalog
from emr_autopilot.run_costs import serverless_prices, serverless_run_cost
from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, StartOutcome, start_manual_run
from emr_autopilot.runs import StackContext
from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.account import REGION
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import generate_malformed_inspections
from tests.helpers.integration import JOBS_DIR, RuntimeFactory, command_job, local_cli, only

SERVERLESS_JOB = "red-violations-serverless"
NO_SPARK = step_runner.spark_toolchain().missing
pytestmark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")
QUICK = Timings(starting=30, bootstrapping=30, terminating=30)


@pytest.fixture
def stack(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> LocalRuntime:
    """The serverless sample job and a one-command cluster job whose step fails."""
    jobs = jobs_dir(command_job("boom", ["echo 'error: boom' >&2; exit 3"]))
    shutil.copy(JOBS_DIR / f"{SERVERLESS_JOB}.yaml", jobs)
    return local_runtime(jobs, timings=QUICK)


@pytest.fixture
def cli(stack: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`emr-autopilot ... --local` against the stack, as after `local up`."""
    return local_cli(stack, tmp_path, monkeypatch)


def start(stack: LocalRuntime, job: str, key: str, body: bytes) -> StartOutcome:
    stack.seed_object(key, body)
    out = stack.outputs
    return start_manual_run(
        load_catalog(out["ArtifactsBucketName"]),
        ManualRunRequest(job=job, input_uri=f"s3://{out['LandingBucketName']}/{key}"),
        StackContext.from_stack_outputs(out, REGION),
        DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
    )


def the_job_run(stack: LocalRuntime) -> dict[str, Any]:
    client = stack.client("emr-serverless")
    (app,) = client.list_applications()["applications"]
    (summary,) = client.list_job_runs(applicationId=app["id"])["jobRuns"]
    job_run: dict[str, Any] = client.get_job_run(applicationId=app["id"], jobRunId=summary["id"])["jobRun"]
    return job_run


def test_serverless_runs_are_listed_shown_and_costed_beside_cluster_runs(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given a failed serverless run (a renamed column, for real on PySpark) and a failed cluster run, both ended
    serverless = start(stack, SERVERLESS_JOB, "inspections/renamed.csv", generate_malformed_inspections())
    cluster = start(stack, "boom", "boom/input.csv", b"x\n")
    stack.settle(timeout=300)
    job_run = the_job_run(stack)
    app_id, job_run_id = job_run["applicationId"], job_run["jobRunId"]
    # (priced at the application's architecture, as GetApplication answers it)
    architecture = stack.client("emr-serverless").get_application(applicationId=app_id)["application"]["architecture"]
    expected = serverless_run_cost(job_run["billedResourceUtilization"], architecture)
    assert expected.usd is not None and expected.usd > 0

    # When a person lists the runs
    table = cli("runs")

    # Then both are there; the serverless one names its application, counts its job run and shows its cost
    assert table.exit_code == 0, table.output
    header, *rows = table.output.splitlines()
    assert header.split() == ["CREATED", "(UTC)", "JOB", "RUN", "CLUSTER", "STATE", "STATUS", "STEPS", "COST", "REASON"]
    (row,) = [line for line in rows if serverless.execution_name in line]
    for cell in (SERVERLESS_JOB, app_id, "FAILED", "0/1 ok, 1 failed", f"~${expected.usd:.4f}"):
        assert f"  {cell}  " in f"  {row}  ", (cell, row)
    assert any(cluster.execution_name in line for line in rows)

    # When they ask for the serverless run's details
    shown = cli("runs", "show", serverless.execution_name)

    # Then its job run is its step, with the reason, the driver's log and the cost
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"Run {serverless.execution_name}  job {SERVERLESS_JOB}  EMR Serverless application {app_id}"
    assert lines[1] == "Status FAILED; run FAILED"
    assert f"Cost: ~${expected.usd:.4f} (estimate: EMR Serverless us-east-1 list prices as of" in shown.output
    (step,) = [line for line in lines if line.startswith(f"  {job_run_id}  FAILED")]
    assert step.endswith(job_run["name"]) and job_run["name"].startswith(f"{serverless.execution_name}.0 "), step
    assert any(line.startswith("      reason: ") and "violation_type" in line for line in lines), shown.output
    log = f"/applications/{app_id}/jobs/{job_run_id}/SPARK_DRIVER/stderr.gz"
    assert any(line.startswith("      log: s3://") and line.endswith(log) for line in lines), shown.output
    assert lines[lines.index("Timeline:") + 1 :], "the run's events are in its timeline"

    # When they ask for JSON
    listed = {row["run_id"]: row for row in json.loads(cli("runs", "--json").output)}

    # Then each run says where it ran and what it cost (an estimate, labelled)
    mine, theirs = listed[serverless.execution_name], listed[cluster.execution_name]
    assert (mine["compute"], mine["cluster_id"], mine["cost_usd"]) == ("emr-serverless", app_id, expected.usd)
    assert mine["cost_label"] == serverless_prices().label
    assert mine["input_uri"] == f"s3://{stack.outputs['LandingBucketName']}/inspections/renamed.csv"
    assert theirs["compute"] == "emr-ec2"
    assert theirs["cost_label"].startswith("estimate: us-east-1 on-demand list prices as of")
    # (the local runtime's instances have no end time and no NormalizedInstanceHours: unknown, saying why)
    assert theirs["cost_usd"] is None or theirs["cost_usd"] > 0
    assert theirs["cost_usd"] is not None or "NormalizedInstanceHours" in theirs["cost_detail"]

    # When they ask for the cost by job
    costs = cli("runs", "--cost", "--since", "30d")

    # Then each job has its finished runs, the summed estimate and how many are unknown, with the prices' dates
    assert costs.exit_code == 0, costs.output
    cost_rows = {line.split()[0]: line.split() for line in costs.output.splitlines() if line.split()}
    assert cost_rows[SERVERLESS_JOB] == [SERVERLESS_JOB, "emr-serverless", "1", f"~${expected.usd:.4f}", "0"]
    assert cost_rows["boom"][:3] == ["boom", "emr-ec2", "1"]
    assert "ESTIMATES from list prices, not a bill" in costs.output
    assert serverless_prices().label in costs.output

    # When they write the runs page
    page = tmp_path / "runs.html"
    assert cli("runs", "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")

    # Then the serverless run has its own row, its job run as a bar, and its cost line
    section = html.split(f'data-cluster="{app_id}" data-compute="emr-serverless"')[1].split("</section>")[0]
    assert job_run["name"] in section
    assert 'class="bar failed"' in section
    assert f"Cost: ~${expected.usd:.4f}" in section
    # And the ledger's META is the contract the demo reads
    meta = only([m for m in ledger.list_runs(stack.outputs["RunLedgerTableName"]) if m.get("compute")])
    assert float(meta["cost_usd"]) == expected.usd
