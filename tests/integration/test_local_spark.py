"""Steps on the local runtime run for real or fail saying why; simulation only where a job asks for it.

Two tests start a JVM (a spark-submit step, a Livy batch): each costs tens of seconds of wall time.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from emr_autopilot import ledger
from emr_autopilot.catalog import load_catalog
from emr_autopilot.livy_runs import build_livy_run_input, start_livy_run
from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
from emr_autopilot.runs import StackContext, Trigger
from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.livy_samples import create_livy_cluster
from emr_autopilot_devkit.local.livy_server import primary_dns
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime
from emr_autopilot_devkit.runs_view import ended_line, format_timeline, list_runs
from emr_autopilot_devkit.sample_data import expected_red_counts, generate_inspections
from tests.helpers.integration import (
    JOBS_DIR,
    SIMULATED_COMMAND,
    RuntimeFactory,
    command_job,
    only,
    output_counts,
    run_input,
)

QUICK = Timings(starting=30, bootstrapping=30, terminating=30)
SPARK_JOB = "red-violations-spark"
NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")


def waiting_cluster(stack: LocalRuntime) -> str:
    """A cluster started through the EMR API, with a LogUri, once it is WAITING."""
    emr = stack.client("emr")
    cluster_id: str = emr.run_job_flow(
        Name="steps-by-hand",
        ReleaseLabel="emr-7.5.0",
        Applications=[{"Name": "Hadoop"}, {"Name": "Spark"}],
        LogUri=f"s3://{stack.outputs['LogsBucketName']}/emr-logs/",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    stack.settle(timeout=30)
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "WAITING"
    return cluster_id


def add_steps(stack: LocalRuntime, cluster_id: str, steps: dict[str, tuple[str, list[str]]]) -> dict[str, Any]:
    """Add {name: (jar, args)} as CONTINUE steps, let them end, return {name: DescribeStep's Step}."""
    emr = stack.client("emr")
    ids = emr.add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[
            {"Name": name, "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": jar, "Args": args}}
            for name, (jar, args) in steps.items()
        ],
    )["StepIds"]
    stack.settle(timeout=60)
    return {
        name: emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        for name, step_id in zip(steps, ids, strict=True)
    }


def stderr_of(stack: LocalRuntime, log_file: str) -> str:
    bucket, _, key = log_file.removeprefix("s3://").partition("/")
    body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return gzip.decompress(body).decode("utf-8")


def test_steps_the_runtime_cannot_run_fail_naming_what_is_missing(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a waiting cluster, and (for the spark-submit step) a machine without Java
    stack = local_runtime(jobs_dir(), timings=QUICK)
    cluster_id = waiting_cluster(stack)
    monkeypatch.setattr(step_runner, "find_java", lambda: None)
    missing_script = f"s3://{stack.outputs['ArtifactsBucketName']}/jobs/nowhere/run.sh"

    # When steps this machine cannot run are added: EMR software it does not have, AWS's "Manage an EMR
    # job" sample step as written, a script that is not in S3, spark-submit without Java
    steps = add_steps(
        stack,
        cluster_id,
        {
            "hive": ("command-runner.jar", ["hive", "-f", "s3://acme/queries/daily.q"]),
            "aws sample": ("command-runner.jar", ["<COMMAND_ARGUMENTS>"]),
            "missing script": (
                f"s3://{REGION}.elasticmapreduce/libs/script-runner/script-runner.jar",
                [missing_script],
            ),
            "spark": ("command-runner.jar", ["spark-submit", "s3://acme/jobs/app.py"]),
        },
    )

    # Then every one FAILED (none is reported COMPLETED), and its FailureDetails say what is missing
    assert {name: step["Status"]["State"] for name, step in steps.items()} == dict.fromkeys(steps, "FAILED")
    reasons = {name: step["Status"]["FailureDetails"]["Reason"] for name, step in steps.items()}
    assert "command 'hive' is not available in the local runtime" in reasons["hive"]
    assert "command '<COMMAND_ARGUMENTS>' is not available" in reasons["aws sample"]
    assert reasons["missing script"] == f"script {missing_script} does not exist in S3"
    assert "Java is not installed" in reasons["spark"]
    assert "apt-get install openjdk-17-jre-headless" in reasons["spark"]
    # And each names its stderr.gz, which was written and says the same
    for name, step in steps.items():
        log_file = step["Status"]["FailureDetails"]["LogFile"]
        assert log_file.endswith(f"/{cluster_id}/steps/{step['Id']}/stderr.gz"), name
        assert reasons[name] in stderr_of(stack, log_file)
    assert 'Cannot run program "hive"' in stderr_of(stack, steps["hive"]["Status"]["FailureDetails"]["LogFile"])
    # And nothing was recorded as simulated
    assert stack.simulator.simulated_steps == {}


def test_a_step_the_job_marks_simulate_is_not_run_and_the_run_says_simulated(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a job whose one step (a hadoop jar this machine does not have) is marked simulate: true
    stack = local_runtime(jobs_dir(command_job("pi-estimate", [SIMULATED_COMMAND])), timings=QUICK)

    # When its trigger fires and the run ends
    stack.put_object("pi-estimate/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then EMR was given an echo standing for the step, named as simulated, and it completed
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED"
    cluster = only(stack.clusters())
    step = only(stack.steps(cluster["Id"]))
    assert step["Name"] == "step 1 [SIMULATED]"
    assert step["Config"]["Args"][:3] == ["echo", "emr-autopilot: SIMULATED, not run:", "hadoop"]
    assert step["Status"]["State"] == "COMPLETED"
    assert stack.simulator.simulated_steps == {step["Id"]: "simulate: true in the job"}
    # And what `run --wait` prints says SIMULATED
    assert ended_line(execution["status"], execution["input"]) == (
        "SUCCEEDED, SIMULATED: 1 of 1 step(s) not run (simulate: true): 'step 1'"
    )
    # And the run's notification subject says SIMULATED, not SUCCEEDED
    note = only([n for n in stack.notifications if n.attributes.get("event_type") == "RUN_SUCCEEDED"])
    assert note.subject == "[emr-autopilot] SIMULATED pi-estimate"
    assert "SIMULATED: 1 of 1 step(s) not run" in note.message
    # And the ledger marks the step, and `runs` / `runs show` show the run SIMULATED
    table = stack.outputs["RunLedgerTableName"]
    items = ledger.cluster_items(table, cluster["Id"])
    assert [item.get("simulated") for item in items if str(item["sk"]).startswith("STEP#")] == [True]
    row = only(list_runs(table))
    assert (row.status, row.steps) == ("SIMULATED", "0/1 ok, 1 simulated (not run)")
    timeline = format_timeline(table, cluster["Id"])
    assert "Status SIMULATED" in timeline
    assert "SIMULATED   step 1 [SIMULATED]" in timeline


def test_a_run_without_simulate_is_not_marked(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> None:
    # Given a job whose step runs for real
    stack = local_runtime(jobs_dir(command_job("real-echo", ["echo hello"])), timings=QUICK)

    # When it runs
    stack.put_object("real-echo/input.csv", "x\n")
    stack.settle(timeout=60)

    # Then nothing says SIMULATED: the status, the notification, the ledger
    execution = only(stack.executions())
    assert ended_line(execution["status"], execution["input"]) == "SUCCEEDED"
    assert run_input(execution)["run"]["simulated_steps"] == []
    note = only([n for n in stack.notifications if n.attributes.get("event_type") == "RUN_SUCCEEDED"])
    assert note.subject == "[emr-autopilot] SUCCEEDED real-echo"
    assert only(list_runs(stack.outputs["RunLedgerTableName"])).status == "SUCCEEDED"


def spark_job() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((JOBS_DIR / f"{SPARK_JOB}.yaml").read_text(encoding="utf-8"))
    return loaded


@needs_spark
def test_a_spark_submit_step_runs_the_pyspark_job_for_real(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given the PySpark sample job deployed, and an inspections file in the landing bucket
    stack = local_runtime(jobs_dir(spark_job()), timings=QUICK)
    inspections = generate_inspections(rows=400, seed=11)
    stack.put_object("adhoc/inspections.csv", inspections)  # not under inspections/: no trigger fires
    input_uri = f"s3://{stack.outputs['LandingBucketName']}/adhoc/inspections.csv"

    # When it is run by hand (what `emr-autopilot run red-violations-spark --input ...` does)
    start_manual_run(
        load_catalog(stack.outputs["ArtifactsBucketName"]),
        ManualRunRequest(job=SPARK_JOB, input_uri=input_uri),
        StackContext.from_stack_outputs(stack.outputs, REGION),
        DeadlineScheduler(stack.outputs["ScheduleGroupName"], stack.outputs["SchedulerRoleArn"]),
    )
    stack.settle(timeout=300)

    # Then the run SUCCEEDED for real: its step ran spark-submit, and it was not simulated
    execution = only(stack.executions())
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    assert ended_line(execution["status"], execution["input"]) == "SUCCEEDED"
    step = only(stack.steps(only(stack.clusters())["Id"]))
    assert step["Config"]["Args"][0] == "spark-submit"
    assert stack.simulator.simulated_steps == {}
    # And the output it wrote to S3 is the independent count of the input
    assert output_counts(stack, run_input(execution)["run"]["output_uri"]) == expected_red_counts(inspections)


@needs_spark
def test_a_livy_batch_runs_the_pyspark_job_for_real(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given a long-running cluster with Livy, the PySpark sample job, and an inspections file
    stack = local_runtime(jobs_dir(spark_job()), timings=QUICK)
    cluster_id = create_livy_cluster(stack)
    inspections = generate_inspections(rows=300, seed=5)
    stack.put_object("adhoc/livy.csv", inspections)
    job = load_catalog(stack.outputs["ArtifactsBucketName"]).get(SPARK_JOB)
    context = StackContext.from_stack_outputs(
        {**stack.outputs, "StateMachineArn": stack.outputs["LivyStateMachineArn"]}, REGION
    )
    trigger = Trigger(
        kind="manual", time=stack.clock.now(), input_uri=f"s3://{stack.outputs['LandingBucketName']}/adhoc/livy.csv"
    )
    document = build_livy_run_input(job, trigger, context, "spark-livy-real", cluster_id=cluster_id)

    # When the job's spark-submit step is submitted as a Livy batch
    arn = start_livy_run(stack.outputs["LivyStateMachineArn"], "spark-livy-real", document)
    stack.settle(timeout=300)

    # Then the batch ran on local Spark and ended success, and the run SUCCEEDED
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    batch = only(stack.livy.batches(primary_dns(cluster_id)))
    assert batch["state"] == "success"
    assert not any("SIMULATED" in line for line in batch["log"])
    # And its output is the independent count of the input
    assert output_counts(stack, document["run"]["output_uri"]) == expected_red_counts(inspections)
