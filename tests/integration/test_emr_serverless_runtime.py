"""EMR Serverless on the local runtime, for real: a state machine creates an application and runs a PySpark job
through `emr-serverless:startJobRun.sync`; Spark runs on this machine, its output and driver logs land in S3,
and EMR Serverless's events reach EventBridge. Two tests start a JVM (a few seconds of wall time each).

Sources: connect-emr-serverless (Step Functions developer guide); EMR Serverless User Guide, job-states and the
getting-started "Review output" step (driver logs at <logUri>/applications/<app>/jobs/<run>/SPARK_DRIVER/);
events-ref-emr-serverless (EventBridge events reference). What the local runtime infers is marked so in
sfn_emr_serverless_integration and emr_serverless_simulator.
"""

from __future__ import annotations

import gzip
import json
import textwrap
from typing import Any

import pytest

from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, LocalRuntime
from tests.helpers.conformance import Runner

NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")

ARN = "arn:aws:states:::emr-serverless:"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/EmrServerlessJob"
BUCKET = "serverless-integration"

COUNT_WORDS = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession

    source, target = sys.argv[1], sys.argv[2]
    spark = SparkSession.builder.appName("count-words").getOrCreate()
    words = spark.read.text(source).selectExpr("explode(split(value, ' ')) AS word")
    counts = words.groupBy("word").count().orderBy("word")
    counts.coalesce(1).write.mode("overwrite").csv(target)
    print("counted", counts.count(), "words")
    spark.stop()
    """
)

FAILING = textwrap.dedent(
    """
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("failing").getOrCreate()
    raise ValueError("input has no header row")
    """
)


def pipeline(entry_point: str, arguments: list[str]) -> dict[str, Any]:
    """Create an application, then run one job on it and wait (the form the product's pipeline uses)."""
    return {
        "StartAt": "CreateApplication",
        "States": {
            "CreateApplication": {
                "Type": "Task",
                "Resource": ARN + "createApplication.sync",
                "Parameters": {"Name": "integration", "ReleaseLabel": "emr-7.1.0", "Type": "SPARK"},
                "ResultPath": "$.application",
                "Next": "RunJob",
            },
            "RunJob": {
                "Type": "Task",
                "Resource": ARN + "startJobRun.sync",
                "Parameters": {
                    "ApplicationId.$": "$.application.ApplicationId",
                    "ExecutionRoleArn": ROLE,
                    "Name": "count-words",
                    "JobDriver": {
                        "SparkSubmit": {
                            "EntryPoint": entry_point,
                            "EntryPointArguments": arguments,
                            "SparkSubmitParameters": "--conf spark.executor.instances=1 --conf spark.executor.cores=2",
                        }
                    },
                    "ConfigurationOverrides": {
                        "MonitoringConfiguration": {"S3MonitoringConfiguration": {"LogUri": f"s3://{BUCKET}/logs/"}}
                    },
                },
                "End": True,
            },
        },
    }


def record_events(stack: LocalRuntime) -> list[dict[str, Any]]:
    """Every service event the runtime puts on its default bus from now on (LocalRuntime.emit), in order."""
    seen: list[dict[str, Any]] = []
    original = stack.emit

    def emit(detail_type: str, resource: str, detail: dict[str, Any], source: str = "aws.emr") -> None:
        seen.append({"detail-type": detail_type, "source": source, "detail": dict(detail)})
        original(detail_type, resource, detail, source)

    stack.emit = emit  # type: ignore[method-assign]
    return seen


def read_gz(stack: LocalRuntime, key: str) -> str:
    body = stack.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return gzip.decompress(body).decode("utf-8")


@needs_spark
def test_a_pyspark_job_runs_for_real_through_start_job_run_sync(stack: LocalRuntime) -> None:
    # Given the local runtime, a PySpark entry point and its input in S3, and a rule sending EMR Serverless's
    # events recorded as the runtime puts them on EventBridge
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/count_words.py", Body=COUNT_WORDS.encode())
    s3.put_object(Bucket=BUCKET, Key="input/words.txt", Body=b"b a c\na b a\n")
    events = record_events(stack)
    runner = Runner(stack)
    # When the state machine creates an application and runs the job with startJobRun.sync
    run = runner.wait(
        runner.start(
            pipeline(f"s3://{BUCKET}/code/count_words.py", [f"s3://{BUCKET}/input/words.txt", f"s3://{BUCKET}/out/"])
        ),
        timeout=180,
    )
    # Then the execution succeeds with StartJobRun's response as the task's output (connect-emr-serverless)
    assert run.status == "SUCCEEDED", run.execution
    app_id, run_id = run.output["ApplicationId"], run.output["JobRunId"]
    assert set(run.output) == {"ApplicationId", "JobRunId", "Arn"}
    # And Spark really ran: its CSV output is in S3
    parts = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"] if o["Key"].endswith(".csv")
    ]
    rows = s3.get_object(Bucket=BUCKET, Key=parts[0])["Body"].read().decode().split()
    assert rows == ["a,3", "b,2", "c,1"]
    # And the driver's stdout is where EMR Serverless writes it
    stdout = read_gz(stack, f"logs/applications/{app_id}/jobs/{run_id}/SPARK_DRIVER/stdout.gz")
    assert "counted 3 words" in stdout
    # And GetJobRun shows a finished run with its times and utilization
    job = stack.client("emr-serverless").get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]
    assert job["state"] == "SUCCESS"
    assert job["createdAt"] <= job["startedAt"] <= job["endedAt"]
    assert job["totalResourceUtilization"]["vCPUHour"] > 0
    assert job["billedResourceUtilization"]["vCPUHour"] >= job["totalResourceUtilization"]["vCPUHour"]
    # And the events reached EventBridge in order: one per job run transition, then the final utilization
    stack.settle(timeout=30)
    events = [e for e in events if e["source"] == "aws.emr-serverless"]
    job_states = [
        (e["detail"]["previousState"], e["detail"]["state"])
        for e in events
        if e["detail-type"] == "EMR Serverless Job Run State Change"
    ]
    assert job_states == [
        ("", "SUBMITTED"),
        ("SUBMITTED", "PENDING"),
        ("PENDING", "SCHEDULED"),
        ("SCHEDULED", "RUNNING"),
        ("RUNNING", "SUCCESS"),
    ]
    app_states = [e["detail"]["state"] for e in events if e["detail-type"] == "EMR Serverless Application State Change"]
    assert app_states == ["CREATING", "CREATED", "STARTING", "STARTED"]
    assert events[-1]["detail-type"] == "EMR Serverless Job Resource Utilization Update"
    assert events[-1]["detail"]["resourceUtilizationFinal"] is True
    assert {e["source"] for e in events} == {"aws.emr-serverless"}


@needs_spark
def test_a_failing_pyspark_job_fails_the_task_with_the_reason(stack: LocalRuntime) -> None:
    # Given a PySpark entry point that raises
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/failing.py", Body=FAILING.encode())
    runner = Runner(stack)
    # When startJobRun.sync runs it
    run = runner.wait(runner.start(pipeline(f"s3://{BUCKET}/code/failing.py", [])), timeout=180)
    # Then the task fails with States.TaskFailed and GetJobRun's state and stateDetails in the Cause (inferred)
    assert run.status == "FAILED"
    assert run.execution["error"] == "States.TaskFailed"
    cause = json.loads(run.execution["cause"])
    assert cause["state"] == "FAILED"
    assert "ValueError: input has no header row" in cause["stateDetails"]
    # And the driver's logs are in S3: the Python traceback in stdout (spark-submit's PythonRunner merges the Python
    # driver's stderr into its stdout), Spark's own logging in stderr
    prefix = f"logs/applications/{cause['applicationId']}/jobs/{cause['jobRunId']}/SPARK_DRIVER/"
    assert "ValueError: input has no header row" in read_gz(stack, prefix + "stdout.gz")
    assert "SparkContext" in read_gz(stack, prefix + "stderr.gz")
