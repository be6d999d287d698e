"""EMR on EKS runs end to end on the local runtime: the real run starter, the real EksPipeline ASL
(emr-containers startJobRun.sync), the notices, and the execution janitor after an abort. The job's PySpark entry
point runs for real on local PySpark, so each run here costs one Spark start.

The sample's virtual cluster id is a placeholder: a virtual cluster's id is EMR's to choose, so each test creates
one on the runtime and runs the sample job on it (the job copied with that id, its code deployed by `jobs deploy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emr_autopilot import ledger
from emr_autopilot.jobs import JobCatalog, load_job_file
from emr_autopilot.run_costs import cost_line, eks_prices
from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, StartOutcome, start_manual_run
from emr_autopilot.runs import StackContext
from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.account import ACCOUNT_ID
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime
from emr_autopilot_devkit.sample_data import expected_red_counts, generate_inspections, generate_malformed_inspections
from tests.helpers.integration import (
    JOBS_DIR,
    RuntimeFactory,
    described_execution,
    output_counts,
    sample_jobs,
    wait_until,
)

JOB = "red-violations-eks"
NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")


@pytest.fixture
def stack(local_runtime: RuntimeFactory, tmp_path: Path) -> LocalRuntime:
    """The local runtime with only the EKS sample job (and its code) deployed."""
    return local_runtime(sample_jobs(tmp_path, JOB))


def start_run(
    stack: LocalRuntime, csv: bytes, key: str = "inspections/eks.csv", **eks: Any
) -> tuple[StartOutcome, str]:
    # A virtual cluster registers a namespace of an EKS cluster that exists (CreateVirtualCluster checks it).
    stack.client("eks").create_cluster(
        name="analytics", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={}
    )
    cluster_id: str = stack.client("emr-containers").create_virtual_cluster(
        name="emr-autopilot-demo",
        containerProvider={"type": "EKS", "id": "analytics", "info": {"eksInfo": {"namespace": "emr"}}},
    )["id"]
    sample = load_job_file(JOBS_DIR / f"{JOB}.yaml", JOBS_DIR)
    assert sample.eks is not None
    job = sample.model_copy(update={"eks": sample.eks.model_copy(update={"virtual_cluster_id": cluster_id, **eks})})
    stack.seed_object(key, csv)
    out = stack.outputs
    outcome = start_manual_run(
        JobCatalog(jobs=[job]),
        ManualRunRequest(job=JOB, input_uri=f"s3://{out['LandingBucketName']}/{key}"),
        StackContext.from_stack_outputs(out, REGION),
        DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
    )
    return outcome, cluster_id


def execution(stack: LocalRuntime, outcome: StartOutcome) -> dict[str, Any]:
    return described_execution(stack, outcome.execution_arn)


def job_runs(stack: LocalRuntime, cluster_id: str) -> list[dict[str, Any]]:
    client = stack.client("emr-containers")
    return [
        client.describe_job_run(id=run["id"], virtualClusterId=cluster_id)["jobRun"]
        for run in client.list_job_runs(virtualClusterId=cluster_id)["jobRuns"]
    ]


def pipeline_notices(stack: LocalRuntime) -> list[Any]:
    # The pipeline's own notices (NotifySuccess/NotifyFailure carry a "state" attribute naming the state).
    return [notice for notice in stack.notifications if notice.attributes.get("state") in ("NotifySuccess", "RunJobs")]


@needs_spark
def test_an_eks_run_counts_for_real_and_says_so(stack: LocalRuntime) -> None:
    # Given the EKS sample deployed, a virtual cluster, and good inspection records
    csv = generate_inspections()

    # When a run is started by hand and everything it starts has run
    outcome, cluster_id = start_run(stack, csv)
    stack.settle(timeout=300)

    # Then the execution succeeded on the EKS state machine, and the output is the independent count
    described = execution(stack, outcome)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert ":stateMachine:" not in outcome.execution_arn and "EksPipeline" in outcome.execution_arn
    (job_run,) = job_runs(stack, cluster_id)
    output_uri = job_run["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"][-1]
    assert output_counts(stack, output_uri) == expected_red_counts(csv)
    # And the job run carries the run's tags, name and retry policy, and COMPLETED
    assert job_run["state"] == "COMPLETED"
    assert job_run["tags"]["emr-autopilot:run-id"] == outcome.execution_name
    assert job_run["tags"]["emr-autopilot:execution-arn"] == outcome.execution_arn
    assert job_run["name"] == f"{outcome.execution_name}.0"
    assert job_run["retryPolicyConfiguration"] == {"maxAttempts": 2}
    # And the run's one success notice names the virtual cluster
    (notice,) = pipeline_notices(stack)
    assert notice.subject == f"[emr-autopilot] SUCCEEDED {JOB}"
    assert f"on EMR on EKS. | Virtual cluster: {cluster_id} | Job runs: 1" in notice.message
    # And it ends with the run's cost: an amount labelled an estimate at the dated EMR on EKS price table (the EMR
    # uplift only), the same line the ledger's run holds (its job run's requested vCPU and memory x duration)
    cost = notice.message.split(" | ")[-1]
    assert cost.startswith("Cost: ~$")
    assert f"({eks_prices().label}; 1 job run(s), requested vCPU and memory x duration)" in cost
    (meta,) = [item for item in ledger.list_runs(stack.outputs["RunLedgerTableName"]) if item.get("run_id")]
    assert (meta["pk"], meta["compute"]) == (f"RUN#{outcome.execution_name}", "emr-eks")
    assert meta["cost_usd"] > 0
    assert cost == cost_line(meta)


@needs_spark
def test_a_failing_eks_run_says_why(stack: LocalRuntime) -> None:
    # Given a file whose violation_type column was renamed (and, to spare a second Spark start, no retry policy)
    # When a run is started on it
    outcome, cluster_id = start_run(
        stack, generate_malformed_inspections(), "inspections/renamed.csv", retry_max_attempts=None
    )
    stack.settle(timeout=300)

    # Then the execution failed with the job run's failure, and the job run was not started again
    described = execution(stack, outcome)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed"), described.get("cause")
    (job_run,) = job_runs(stack, cluster_id)
    assert job_run["state"] == "FAILED"
    # And the pipeline's failure notice gives the job run's failure reason, read from the Cause
    (notice,) = [n for n in stack.notifications if n.subject == f"[emr-autopilot] FAILED {JOB} in RunJobs"]
    assert f"| Reason: {job_run['failureReason']}" in notice.message
    assert f"Virtual cluster: {cluster_id}" in notice.message


@needs_spark
def test_an_aborted_eks_run_leaves_no_job_run_running(stack: LocalRuntime) -> None:
    # Given a run whose job run is RUNNING
    outcome, cluster_id = start_run(stack, generate_inspections())
    wait_until(lambda: [run for run in job_runs(stack, cluster_id) if run["state"] == "RUNNING"], timeout=120)

    # When its execution is stopped (as the run deadline does) and everything has settled
    stack.client("stepfunctions").stop_execution(executionArn=outcome.execution_arn, error="Stopped", cause="test")
    stack.settle(timeout=300)

    # Then the job run was cancelled (by Step Functions' best-effort cancel or the execution janitor), and the
    # run's end was notified by the janitor
    assert execution(stack, outcome)["status"] == "ABORTED"
    (job_run,) = job_runs(stack, cluster_id)
    assert job_run["state"] == "CANCELLED"
    assert any(f"ABORTED {outcome.execution_name}" in notice.subject for notice in stack.notifications)
