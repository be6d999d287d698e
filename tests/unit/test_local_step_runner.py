"""The local runtime's step runner, without a stack: what it reads from a failed step's stderr, and the
spark-submit command line it runs for a Livy batch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from emr_autopilot.errors import InvalidLivyRequest
from emr_autopilot.jobs import load_jobs
from emr_autopilot.livy_runs import batch_from_spark_submit, build_livy_run_input
from emr_autopilot.runs import Trigger
from emr_autopilot_devkit.local.livy_server import spark_submit_args
from emr_autopilot_devkit.local.step_runner import failure_reason
from tests.helpers.stack_contexts import stack_context


def test_the_failure_reason_is_the_applications_error_not_sparks_own_logging() -> None:
    # Given a PySpark application's stderr: Spark's INFO lines after the Python error
    stderr = "\n".join(
        [
            "26/12/07 05:41:30 INFO SparkContext: Running Spark version 3.5.2",
            "Traceback (most recent call last):",
            '  File "/tmp/app.py", line 3, in <module>',
            "SystemExit: missing required column(s): violation_type",
            "26/12/07 05:41:36 INFO ShutdownHookManager: Shutdown hook called",
            "26/12/07 05:41:36 INFO ShutdownHookManager: Deleting directory /tmp/spark-1",
            "",
        ]
    )

    # When the step's FailureDetails.Reason is read from it
    reason = failure_reason(stderr)

    # Then it is the application's error
    assert reason == "SystemExit: missing required column(s): violation_type"
    # And a stderr with nothing but Spark's logging gives EMR's generic reason
    assert failure_reason("26/12/07 05:41:36 INFO ShutdownHookManager: Shutdown hook called\n") == "Unknown Error."


def test_a_livy_batch_runs_as_the_spark_submit_it_came_from() -> None:
    # Given a spark-submit command line as a job renders it, turned into a Livy batch request
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--conf",
        "spark.sql.shuffle.partitions=64",
        "--py-files",
        "s3://b/lib.zip",
        "s3://b/app.py",
        "--input",
        "s3://b/in.csv",
    ]
    body = batch_from_spark_submit(args).model_copy(update={"name": "run-1"}).body()

    # When the local Livy server turns the request back into a command line
    command = spark_submit_args(body)

    # Then it runs the same application, with the same arguments, conf and files
    assert command[0] == "spark-submit"
    assert command[-3:] == ["s3://b/app.py", "--input", "s3://b/in.csv"]
    assert command[command.index("--conf") : command.index("--conf") + 2] == [
        "--conf",
        "spark.sql.shuffle.partitions=64",
    ]
    assert command[command.index("--py-files") + 1] == "s3://b/lib.zip"
    assert command[command.index("--name") + 1] == "run-1"
    # And the deploy mode is left to the local runtime
    assert "cluster" not in command


def test_a_step_marked_simulate_cannot_go_through_livy(repo_root: Path) -> None:
    # Given the PySpark sample job with its spark-submit step marked simulate: true
    job = load_jobs(repo_root / "jobs").get("red-violations-spark")
    job = job.model_copy(update={"steps": [job.steps[0].model_copy(update={"simulate": True})]})
    trigger = Trigger(kind="manual", time=datetime(2026, 3, 14, 9, 0, tzinfo=UTC), input_uri="s3://acme/in.csv")

    # When it is rendered for the Livy pipeline, Then it is refused: a Livy batch always runs
    context = stack_context("arn:aws:states:eu-west-1:123456789012:stateMachine:emr-autopilot-LivyBatchPipeline")
    with pytest.raises(InvalidLivyRequest, match="marked simulate: true; a Livy batch always runs"):
        build_livy_run_input(job, trigger, context, "run-1", cluster_id="j-ABC")
