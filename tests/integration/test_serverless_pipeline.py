"""EMR Serverless runs end to end on the local runtime: the real run starter, the real ServerlessPipeline ASL
(startJobRun.sync), the EMR Serverless events reaching EmrServerlessEventFunction, the ledger and the notices.
The job's PySpark entry point runs for real on local PySpark, so each run here costs one Spark start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import emr_serverless, ledger
from emr_autopilot.catalog import load_catalog
from emr_autopilot.run_costs import cost_line, serverless_prices
from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, StartOutcome, start_manual_run
from emr_autopilot.runs import StackContext
from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime
from emr_autopilot_devkit.sample_data import (
    expected_red_counts,
    generate_inspections,
    generate_malformed_inspections,
)
from tests.helpers.integration import (
    RuntimeFactory,
    described_execution,
    output_counts,
    sample_jobs,
    wait_until,
)

JOB = "red-violations-serverless"
NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")


@pytest.fixture
def stack(local_runtime: RuntimeFactory, tmp_path: Path) -> LocalRuntime:
    """The local runtime with only the serverless sample job (and its code) deployed."""
    return local_runtime(sample_jobs(tmp_path, JOB))


def start_run(stack: LocalRuntime, csv: bytes, key: str = "inspections/serverless.csv") -> StartOutcome:
    stack.seed_object(key, csv)
    out = stack.outputs
    return start_manual_run(
        load_catalog(out["ArtifactsBucketName"]),
        ManualRunRequest(job=JOB, input_uri=f"s3://{out['LandingBucketName']}/{key}"),
        StackContext.from_stack_outputs(out, REGION),
        DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
    )


def execution(stack: LocalRuntime, outcome: StartOutcome) -> dict[str, Any]:
    return described_execution(stack, outcome.execution_arn)


def job_runs(stack: LocalRuntime, application_id: str) -> list[dict[str, Any]]:
    client = stack.client("emr-serverless")
    return [
        client.get_job_run(applicationId=application_id, jobRunId=run["id"])["jobRun"]
        for run in client.list_job_runs(applicationId=application_id)["jobRuns"]
    ]


def application_of(stack: LocalRuntime) -> dict[str, Any]:
    client = stack.client("emr-serverless")
    (summary,) = [app for app in client.list_applications()["applications"] if app["name"] == f"emr-autopilot-{JOB}"]
    application: dict[str, Any] = client.get_application(applicationId=summary["id"])["application"]
    return application


def subjects(stack: LocalRuntime) -> list[str]:
    return [notice.subject for notice in stack.notifications]


@needs_spark
def test_a_serverless_run_counts_for_real_and_stops_its_application(stack: LocalRuntime) -> None:
    # Given the serverless sample job deployed (its managed application created) and good inspection records
    csv = generate_inspections()

    # When a run is started by hand and everything it starts has run
    outcome = start_run(stack, csv)
    stack.settle(timeout=300)

    # Then the execution succeeded, and the output is the independent count
    assert execution(stack, outcome)["status"] == "SUCCEEDED"
    app = application_of(stack)
    (job_run,) = job_runs(stack, app["applicationId"])
    output_uri = job_run["jobDriver"]["sparkSubmit"]["entryPointArguments"][-1]
    assert output_counts(stack, output_uri) == expected_red_counts(csv)
    # And the job run carries the run's tags and ended SUCCESS with billed utilization; the job asked for the
    # application to be stopped after the run
    assert job_run["state"] == "SUCCESS"
    assert job_run["tags"]["emr-autopilot:run-id"] == outcome.execution_name
    assert job_run["billedResourceUtilization"]["vCPUHour"] > 0
    assert app["state"] == "STOPPED"
    # And the ledger has the run beside cluster runs, SUCCESS, with its job run
    (meta,) = [item for item in ledger.list_runs(stack.outputs["RunLedgerTableName"]) if item.get("run_id")]
    expected_meta = (f"RUN#{outcome.execution_name}", "SUCCESS", "emr-serverless")
    assert (meta["pk"], meta["state"], meta["compute"]) == expected_meta
    # And one success notice says so, ending with the run's cost: an amount labelled an estimate at the dated
    # EMR Serverless price table, the same line the ledger's run holds (its job run's billedResourceUtilization)
    assert subjects(stack) == [f"[emr-autopilot] SUCCEEDED {JOB}"]
    cost = stack.notifications[0].message.split(" | ")[-1]
    assert cost.startswith("Cost: ~$")
    assert f"({serverless_prices().label}; 1 job run(s): " in cost
    assert meta["cost_usd"] > 0
    assert cost == cost_line(meta)


@needs_spark
def test_a_failing_serverless_run_says_why_and_leaves_nothing_running(stack: LocalRuntime) -> None:
    # Given a file whose violation_type column was renamed
    # When a run is started on it
    outcome = start_run(stack, generate_malformed_inspections(), "inspections/renamed.csv")
    stack.settle(timeout=300)

    # Then the execution failed in RunJobs with the job run's failure
    described = execution(stack, outcome)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    assert "missing required column(s): violation_type" in described["cause"]
    # And the job run's failure notice gives the reason and the traceback from the driver's stdout.gz
    (failure,) = [n for n in stack.notifications if "Job run failed" in n.subject]
    assert "missing required column(s): violation_type" in failure.message
    assert "SPARK_DRIVER/stdout.gz" in failure.message
    assert f"[emr-autopilot] FAILED {JOB} in RunJobs" in subjects(stack)
    # And no job run is active, and the application was stopped as on success
    app = application_of(stack)
    assert list(emr_serverless.active_job_runs(app["applicationId"])) == []
    assert app["state"] == "STOPPED"
    # And the ledger says FAILED with the reason on the job run
    table = stack.outputs["RunLedgerTableName"]
    (meta,) = [item for item in ledger.list_runs(table) if item.get("run_id") == outcome.execution_name]
    assert meta["state"] == "FAILED"


@needs_spark
def test_an_aborted_serverless_run_leaves_no_job_run_running(stack: LocalRuntime) -> None:
    # Given a run whose job run is RUNNING
    outcome = start_run(stack, generate_inspections())
    client = stack.client("emr-serverless")

    def running() -> list[dict[str, Any]]:
        stack.pump()
        apps = client.list_applications()["applications"]
        return [run for app in apps for run in job_runs(stack, app["id"]) if run["state"] == "RUNNING"]

    (job_run,) = wait_until(running, timeout=120, interval=0.05)

    # When the execution is stopped (a person, or the run's deadline)
    stack.client("stepfunctions").stop_execution(executionArn=outcome.execution_arn, error="Stopped", cause="test")
    stack.settle(timeout=300)

    # Then the job run was cancelled, by Step Functions' best-effort cancel or the execution janitor
    ended = client.get_job_run(applicationId=job_run["applicationId"], jobRunId=job_run["jobRunId"])["jobRun"]
    assert ended["state"] == "CANCELLED"
    assert list(emr_serverless.active_job_runs(job_run["applicationId"])) == []
    # And the janitor's notice says the run was aborted
    assert any(subject.startswith("[emr-autopilot] ABORTED") for subject in subjects(stack)), subjects(stack)
