"""The Livy path's input: a job's spark-submit step as a Livy batch, and the pipeline input's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.errors import InvalidLivyRequest
from emr_autopilot.jobs import JobDefinition, load_jobs
from emr_autopilot.livy_pipeline.run_input import MAX_POLLS, LivyRunInput, LivyRunOptions
from emr_autopilot.livy_runs import batch_from_spark_submit, build_livy_run_input
from emr_autopilot.runs import TAG_EXECUTION_ARN, TAG_MANAGED, StackContext, Trigger
from tests.helpers.stack_contexts import stack_context

LIVY_SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:emr-autopilot-LivyBatchPipeline"
INPUT = "s3://acme-landing/inspections/2026-03-14.csv"


@pytest.fixture
def spark_job(repo_root: Path) -> JobDefinition:
    return load_jobs(repo_root / "jobs").get("red-violations-spark")


@pytest.fixture
def context() -> StackContext:
    return stack_context(LIVY_SM)


def manual(input_uri: str = INPUT) -> Trigger:
    return Trigger(kind="manual", time=datetime(2026, 3, 14, 9, 0, tzinfo=UTC), input_uri=input_uri)


def test_spark_submit_options_become_livy_fields() -> None:
    # Given a spark-submit command line with the options Livy has fields for
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--class",
        "com.acme.Sessionize",
        "--jars=s3://b/a.jar,s3://b/b.jar",
        "--conf",
        "spark.sql.shuffle.partitions=64",
        "--executor-memory",
        "4g",
        "--num-executors",
        "8",
        "--queue",
        "etl",
        "--packages",
        "org.apache.hadoop:hadoop-aws:3.3.4",
        "s3://b/app.jar",
        "--date",
        "2026-03-14",
    ]
    # When it is read as a Livy batch
    batch = batch_from_spark_submit(args)
    # Then each option has its field, deploy mode is left to Livy, and the rest are the app's args
    assert batch.body() == {
        "file": "s3://b/app.jar",
        "className": "com.acme.Sessionize",
        "args": ["--date", "2026-03-14"],
        "jars": ["s3://b/a.jar", "s3://b/b.jar"],
        "executorMemory": "4g",
        "numExecutors": 8,
        "queue": "etl",
        "conf": {"spark.sql.shuffle.partitions": "64", "spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.3.4"},
    }


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["spark-submit", "--supervise", "s3://b/app.py"], "--supervise has no Livy batch equivalent"),
        (["spark-submit", "--keytab", "/etc/x.keytab", "s3://b/app.py"], "--keytab has no Livy batch equivalent"),
        (["spark-submit", "--conf", "no-equals-sign", "s3://b/app.py"], "is not key=value"),
        (["spark-submit", "--verbose", "--class", "A"], "name no application file"),
        (["spark-submit", "--num-executors", "many", "s3://b/app.py"], "numExecutors"),
    ],
)
def test_spark_submit_that_livy_cannot_run_is_rejected(args: list[str], problem: str) -> None:
    # Given a command line Livy has no equivalent for
    # When it is read as a Livy batch
    # Then the error says what is wrong
    with pytest.raises(InvalidLivyRequest, match=problem):
        batch_from_spark_submit(args)


def test_a_job_runs_on_a_running_cluster(spark_job: JobDefinition, context: StackContext) -> None:
    # Given the PySpark sample job and a long-running cluster
    # When its Livy input is built
    document = build_livy_run_input(spark_job, manual(), context, "red-violations-spark-livy-1", cluster_id="j-ABC")

    # Then the batch is the rendered spark-submit step, named after the run
    batch = document["batch"]
    assert batch["file"] == "s3://acme-artifacts/jobs/red_violations/red_violations_spark.py"
    assert batch["args"][:2] == ["--input", INPUT]
    assert batch["args"][2] == "--output"
    assert batch["args"][3].startswith("s3://acme-curated/red-violations-spark/2026-03-14/red-violations-spark-livy-1/")
    assert batch["name"] == "red-violations-spark-livy-1"
    # And the cluster is used as it is: no cluster to create, nothing to terminate
    assert document["cluster_id"] == "j-ABC"
    assert "cluster_request" not in document
    assert document["run"]["transient"] is False
    # And the batch may run as long as the job's run_timeout
    assert document["run"]["max_wait_seconds"] == 3600


def test_a_job_runs_on_a_transient_cluster_with_livy(spark_job: JobDefinition, context: StackContext) -> None:
    # Given the PySpark sample job, whose cluster has Hadoop and Spark only
    # When its Livy input is built without a cluster id
    document = build_livy_run_input(spark_job, manual(), context, "red-violations-spark-livy-2")

    # Then the pipeline creates the job's cluster with Livy added
    request: dict[str, Any] = document["cluster_request"]
    assert [app["Name"] for app in request["Applications"]] == ["Hadoop", "Spark", "Livy"]
    # And tagged with the Livy pipeline's execution, so the janitor can find it and may terminate it
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags[TAG_EXECUTION_ARN] == (
        "arn:aws:states:eu-west-1:123456789012:execution:emr-autopilot-LivyBatchPipeline:red-violations-spark-livy-2"
    )
    assert tags[TAG_MANAGED] == "true"
    assert "cluster_id" not in document


def test_a_job_without_a_spark_submit_step_cannot_go_through_livy(repo_root: Path, context: StackContext) -> None:
    # Given the script-step sample job
    job = load_jobs(repo_root / "jobs").get("red-violations")
    # When its Livy input is built
    # Then it is refused, naming the job
    with pytest.raises(InvalidLivyRequest, match="red-violations needs exactly one spark-submit step"):
        build_livy_run_input(job, manual(), context, "x", cluster_id="j-ABC")


def test_polling_is_bounded_by_the_execution_history_limit() -> None:
    # Given a wait far longer than the history of one execution can poll for
    # When the run options are validated
    # Then they are refused with the way out
    with pytest.raises(ValueError, match="raise poll_interval_seconds"):
        LivyRunOptions(poll_interval_seconds=5, max_wait_seconds=5 * (MAX_POLLS + 1))
    assert LivyRunOptions(poll_interval_seconds=60, max_wait_seconds=3600).max_polls == 60


def test_an_input_needs_a_cluster_to_run_on() -> None:
    # Given a batch without cluster_id or cluster_request
    # When the input is validated
    # Then it is refused
    with pytest.raises(ValueError, match="give cluster_id"):
        LivyRunInput.model_validate({"batch": {"file": "s3://b/app.py"}})
    # And numbers in conf become the strings Spark reads
    parsed = LivyRunInput.model_validate({"cluster_id": "j-1", "batch": {"file": "f", "conf": {"a": 2, "b": True}}})
    assert parsed.batch.conf == {"a": "2", "b": "true"}
