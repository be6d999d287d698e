"""EMR on EKS on the local runtime, against AWS's documentation: the API's refusals, idempotent client tokens, the
job run life cycle and its EventBridge events, a PySpark job run for real (the red-violations sample), a failing
one, cancellation, and virtual clusters. Two tests start a JVM (a few seconds of wall time each).

Sources, cited per test:
- emr-eks-jobs-states: EMR on EKS Development Guide, "Job run states";
- the API reference / botocore's emr-containers model (StartJobRun, DescribeJobRun, CancelJobRun, JobRun,
  CreateVirtualCluster);
- eks-contract: the issue-20 contract (/work/helpers/eks-contract.md), for the inferred event detail and the driver
  log path (emr_autopilot.emr_eks.driver_log_uri, after EMR on EKS best practices "where to look for Spark logs").
"inferred" marks what the local runtime decides where no AWS page says.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot.emr_eks import driver_log_uri
from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REPO_ROOT
from tests.helpers.conformance import Runner, recorded_events, wait_until

NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/EmrEksJob"
RELEASE = "emr-7.5.0-latest"
BUCKET = "eks-lifecycle"
SPARK_JOB = REPO_ROOT / "jobs" / "red_violations" / "red_violations_spark.py"
INSPECTIONS = "name,violation_type\nCafe A,RED\nCafe A,RED\nDiner B,RED\nDiner B,BLUE\n"
ENDED = {"COMPLETED", "FAILED", "CANCELLED"}
SQL = {"sparkSqlJobDriver": {"entryPoint": "s3://nowhere/query.sql"}}  # cannot run locally: fails at once


@pytest.fixture(scope="module")
def client(runtime: Runner) -> Any:
    return runtime.stack.client("emr-containers")


@pytest.fixture(scope="module")
def cluster(runtime: Runner, client: Any) -> str:
    """A virtual cluster on an EKS cluster, created through the APIs (CreateVirtualCluster needs the EKS cluster)."""
    runtime.stack.client("eks").create_cluster(
        name="lifecycle", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={}
    )
    runtime.stack.client("s3").create_bucket(Bucket=BUCKET)
    cluster_id: str = client.create_virtual_cluster(name="lifecycle", containerProvider=provider("lifecycle", "jobs"))[
        "id"
    ]
    return cluster_id


@pytest.fixture
def events(runtime: Runner) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The EMR on EKS events the simulator emits, in order (still delivered to EventBridge)."""
    with recorded_events(runtime.stack.eks) as seen:
        yield seen


def provider(eks_cluster: str, namespace: str) -> dict[str, Any]:
    return {"type": "EKS", "id": eks_cluster, "info": {"eksInfo": {"namespace": namespace}}}


def start(client: Any, cluster: str, driver: dict[str, Any], **extra: Any) -> str:
    run_id: str = client.start_job_run(
        virtualClusterId=cluster,
        name="lifecycle",
        executionRoleArn=ROLE,
        releaseLabel=RELEASE,
        jobDriver=driver,
        **extra,
    )["id"]
    return run_id


def wait_run(client: Any, cluster: str, run_id: str, states: set[str], timeout: float = 20) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        run: dict[str, Any] = client.describe_job_run(virtualClusterId=cluster, id=run_id)["jobRun"]
        return run if run["state"] in states else None

    result: dict[str, Any] = wait_until(found, timeout=timeout)
    return result


def states_of(events: list[tuple[str, dict[str, Any]]], run_id: str) -> list[str]:
    return [d["state"] for kind, d in events if kind == "EMR Job Run State Change" and d["id"] == run_id]


def spark_driver(runtime: Runner, csv: str, output: str) -> dict[str, Any]:
    """The red-violations sample job (jobs/red_violations) and its input, in S3."""
    s3 = runtime.stack.client("s3")
    s3.put_object(Bucket=BUCKET, Key="code/red_violations_spark.py", Body=SPARK_JOB.read_bytes())
    s3.put_object(Bucket=BUCKET, Key=f"input/{output}.csv", Body=csv.encode())
    return {
        "sparkSubmitJobDriver": {
            "entryPoint": f"s3://{BUCKET}/code/red_violations_spark.py",
            "entryPointArguments": [
                "--input",
                f"s3://{BUCKET}/input/{output}.csv",
                "--output",
                f"s3://{BUCKET}/{output}/",
            ],
            "sparkSubmitParameters": "--conf spark.executor.instances=1",
        }
    }


def logs(log_uri: str) -> dict[str, Any]:
    return {"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}}


def read_log(runtime: Runner, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = runtime.stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return gzip.decompress(body).decode("utf-8")


# -- requests ----------------------------------------------------------------------------------------------------
def test_requests_are_checked_against_the_model(runtime: Runner, client: Any, cluster: str) -> None:
    # Given the emr-containers endpoint of the local runtime and a RUNNING virtual cluster
    before = [r["id"] for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"]]
    # When requests break the model (a 65-character name; botocore's client checks types, not lengths) or omit
    # what a job run needs when no job template supplies it (moto 5.2.5 answered an HTML 500)
    with pytest.raises(ClientError) as too_long:
        client.start_job_run(
            virtualClusterId=cluster, name="n" * 65, executionRoleArn=ROLE, releaseLabel=RELEASE, jobDriver=SQL
        )
    with pytest.raises(ClientError) as missing:
        client.start_job_run(virtualClusterId=cluster, name="bare")
    with pytest.raises(ClientError) as templated:
        client.start_job_run(virtualClusterId=cluster, name="templated", jobTemplateId="abc123")
    # Then EMR on EKS refuses each with AWS's JSON error shape and validation wording, naming the member
    assert too_long.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'name' failed to satisfy constraint: Member must have length less than or equal to 64" in str(
        too_long.value
    )
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    assert "Value null at 'releaseLabel'" in str(missing.value)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # And a job template cannot exist here (moto has no job templates): ResourceNotFoundException (inferred)
    assert templated.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # And no job run was started by any of them
    assert [r["id"] for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"]] == before


def test_unknown_ids_and_query_strings_are_answered_as_the_model_says(client: Any, cluster: str) -> None:
    # Given a virtual cluster with one job run
    run_id = start(client, cluster, SQL)
    # When an unknown job run is described or cancelled (moto answered "Invalid job run short id" for any id that is
    # not 19 characters; the model's id is [0-9a-z]{1,64})
    with pytest.raises(ClientError) as described:
        client.describe_job_run(virtualClusterId=cluster, id="unknown1")
    with pytest.raises(ClientError) as cancelled:
        client.cancel_job_run(virtualClusterId=cluster, id="unknown1")
    # Then DescribeJobRun says it does not exist, and CancelJobRun (no ResourceNotFoundException in its model) refuses
    assert described.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert cancelled.value.response["Error"]["Code"] == "ValidationException"
    # And ListJobRuns' query-string members are read as sent (createdAfter as ISO 8601 text, states, maxResults)
    since = client.describe_job_run(virtualClusterId=cluster, id=run_id)["jobRun"]["createdAt"] - timedelta(minutes=1)
    listed = client.list_job_runs(virtualClusterId=cluster, createdAfter=since, maxResults=50)["jobRuns"]
    assert run_id in [run["id"] for run in listed]
    wait_run(client, cluster, run_id, ENDED)
    assert run_id not in [
        r["id"] for r in client.list_job_runs(virtualClusterId=cluster, states=["RUNNING"])["jobRuns"]
    ]


def test_a_repeated_client_token_returns_the_same_job_run(client: Any, cluster: str) -> None:
    # Given a StartJobRun with a clientToken (an idempotencyToken in the model)
    first = start(client, cluster, SQL, clientToken="token-1")
    # When the same request is sent again with the same token, and a different request with it
    again = start(client, cluster, SQL, clientToken="token-1")
    with pytest.raises(ClientError) as different:
        start(client, cluster, {"sparkSqlJobDriver": {"entryPoint": "s3://nowhere/other.sql"}}, clientToken="token-1")
    # Then the first answer comes back and no second run exists; the changed request is refused (inferred)
    assert again == first
    tokens = [r["clientToken"] for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"]]
    assert tokens.count("token-1") == 1
    assert different.value.response["Error"]["Code"] == "ValidationException"


def test_a_virtual_cluster_needs_its_eks_cluster(client: Any, cluster: str) -> None:
    # Given no EKS cluster named "missing"
    # When a virtual cluster is created on it
    with pytest.raises(ClientError) as refused:
        client.create_virtual_cluster(name="orphan", containerProvider=provider("missing", "ns"))
    # Then EMR on EKS refuses (a virtual cluster registers an EKS cluster's namespace; wording inferred)
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "missing" in refused.value.response["Error"]["Message"]
    # And a second virtual cluster with the name of one that exists is refused ("Each virtual cluster must have a
    # unique name across all the EKS clusters", setting-up-registration; code inferred)
    with pytest.raises(ClientError) as same_name:
        client.create_virtual_cluster(name="lifecycle", containerProvider=provider("lifecycle", "another"))
    assert same_name.value.response["Error"]["Code"] == "ValidationException"


# -- the life cycle -----------------------------------------------------------------------------------------------
def test_a_job_that_cannot_run_here_fails_with_a_reason_after_the_documented_states(
    runtime: Runner, client: Any, cluster: str, events: list
) -> None:
    # Given a SparkSQL job driver (only sparkSubmitJobDriver runs on local PySpark), and an EventBridge rule on the
    # default bus sending EMR on EKS's job run events to a queue
    sqs, bus = runtime.stack.client("sqs"), runtime.stack.client("events")
    queue_url = sqs.create_queue(QueueName="eks-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.emr-containers"], "detail-type": ["EMR Job Run State Change"]}
    bus.put_rule(Name="eks-job-runs", EventPattern=json.dumps(pattern))
    bus.put_targets(Rule="eks-job-runs", Targets=[{"Id": "queue", "Arn": queue_arn}])
    # When it is started
    run_id = start(client, cluster, SQL)
    run = wait_run(client, cluster, run_id, ENDED)
    # Then it went PENDING -> SUBMITTED -> RUNNING -> FAILED (emr-eks-jobs-states), one event per state
    assert states_of(events, run_id) == ["PENDING", "SUBMITTED", "RUNNING", "FAILED"]
    # And the events reached EventBridge's default bus, where a rule on the contract's pattern matched them
    delivered = [
        json.loads(message["Body"])
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert [e["detail"]["state"] for e in delivered if e["detail"]["id"] == run_id] == [
        "PENDING",
        "SUBMITTED",
        "RUNNING",
        "FAILED",
    ]
    # And it FAILED saying why, never a fake success (failureReason from the model's enum)
    assert run["state"] == "FAILED"
    assert run["failureReason"] == "INTERNAL_ERROR"
    assert "sparkSqlJobDriver cannot run here" in run["stateDetails"]
    assert run["createdAt"] <= run["finishedAt"]
    # And each event has the contract's detail keys (inferred: AWS publishes no sample)
    failed = [d for kind, d in events if kind == "EMR Job Run State Change" and d["id"] == run_id][-1]
    assert set(failed) == {
        "id",
        "name",
        "virtualClusterId",
        "state",
        "stateDetails",
        "failureReason",
        "arn",
        "releaseLabel",
        "executionRoleArn",
        "createdAt",
        "finishedAt",
    }
    assert failed["failureReason"] == "INTERNAL_ERROR" and failed["virtualClusterId"] == cluster


def test_cancel_kills_the_driver_and_ends_cancelled(runtime: Runner, client: Any, cluster: str, events: list) -> None:
    # Given a job run whose driver is a real process (a Python entry point that would sleep for minutes)
    s3 = runtime.stack.client("s3")
    s3.put_object(Bucket=BUCKET, Key="code/sleep.py", Body=b"import time\ntime.sleep(600)\n")
    run_id = start(client, cluster, {"sparkSubmitJobDriver": {"entryPoint": f"s3://{BUCKET}/code/sleep.py"}})
    wait_run(client, cluster, run_id, {"RUNNING"})
    process = wait_until(lambda: runtime.stack.eks.runner.processes.get(run_id), timeout=30)
    # When it is cancelled (emr-eks-jobs-states, CANCEL_PENDING: "requested for cancellation")
    client.cancel_job_run(virtualClusterId=cluster, id=run_id)
    run = wait_run(client, cluster, run_id, ENDED)
    # Then it went CANCEL_PENDING -> CANCELLED and its real process is gone
    assert run["state"] == "CANCELLED"
    assert states_of(events, run_id)[-2:] == ["CANCEL_PENDING", "CANCELLED"]
    assert process.poll() is not None
    assert "failureReason" not in run
    # And cancelling it again is refused (moto's rule for an ended run, kept)
    with pytest.raises(ClientError) as again:
        client.cancel_job_run(virtualClusterId=cluster, id=run_id)
    assert again.value.response["Error"]["Code"] == "ValidationException"
    assert "not in a cancellable state" in again.value.response["Error"]["Message"]


def test_a_retry_policy_runs_the_driver_again_before_the_run_fails(runtime: Runner, client: Any, cluster: str) -> None:
    # Given a job run whose driver fails at once (spark-submit refuses an unknown option) with maxAttempts 2
    s3 = runtime.stack.client("s3")
    s3.put_object(Bucket=BUCKET, Key="code/noop.py", Body=b"print('never reached')\n")
    driver = {
        "sparkSubmitJobDriver": {
            "entryPoint": f"s3://{BUCKET}/code/noop.py",
            "sparkSubmitParameters": "--no-such-option value",
        }
    }
    # When it runs
    run_id = start(client, cluster, driver, retryPolicyConfiguration={"maxAttempts": 2})
    run = wait_run(client, cluster, run_id, ENDED, timeout=120)
    # Then the driver ran twice ("The maximum number of attempts on the job's driver", retryPolicyConfiguration)
    # before the run FAILED with USER_ERROR (a non-zero exit)
    assert run["retryPolicyExecution"] == {"currentAttemptCount": 2}
    assert run["state"] == "FAILED" and run["failureReason"] == "USER_ERROR"


def test_deleting_a_virtual_cluster_cancels_its_runs_and_refuses_new_ones(runtime: Runner, client: Any) -> None:
    # Given a second virtual cluster with a job run held in SUBMITTED
    timings = runtime.stack.eks.timings
    held, timings.submitted = timings.submitted, 10**7
    try:
        cluster = client.create_virtual_cluster(name="doomed", containerProvider=provider("lifecycle", "doomed"))["id"]
        run_id = start(client, cluster, SQL)
        wait_run(client, cluster, run_id, {"SUBMITTED"})
        # When the virtual cluster is deleted
        client.delete_virtual_cluster(id=cluster)
        run = wait_run(client, cluster, run_id, ENDED)
    finally:
        timings.submitted = held
    # Then its job run is cancelled, saying why (inferred), and the cluster ends TERMINATED (VirtualClusterState)
    assert run["state"] == "CANCELLED"
    assert "deleted" in run["stateDetails"]
    wait_until(lambda: client.describe_virtual_cluster(id=cluster)["virtualCluster"]["state"] == "TERMINATED", 20)
    # And no job run starts on it any more (inferred)
    with pytest.raises(ClientError) as refused:
        start(client, cluster, SQL)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


# -- real Spark ------------------------------------------------------------------------------------------------------
@needs_spark
def test_a_pyspark_job_runs_for_real_and_completes(runtime: Runner, client: Any, cluster: str, events: list) -> None:
    # Given the red-violations sample job and its input in S3, with S3 logs
    driver = spark_driver(runtime, INSPECTIONS, "counted")
    # When it is started on the virtual cluster
    run_id = start(client, cluster, driver, configurationOverrides=logs(f"s3://{BUCKET}/logs/"))
    run = wait_run(client, cluster, run_id, ENDED, timeout=180)
    # Then it COMPLETED after the documented states (emr-eks-jobs-states: it "succeeds (exits with code 0)")
    assert run["state"] == "COMPLETED", run.get("stateDetails")
    assert states_of(events, run_id) == ["PENDING", "SUBMITTED", "RUNNING", "COMPLETED"]
    assert "failureReason" not in run
    # And Spark really ran: its CSV output is in S3
    s3 = runtime.stack.client("s3")
    parts = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="counted/")["Contents"] if o["Key"].endswith(".csv")
    ]
    rows = s3.get_object(Bucket=BUCKET, Key=parts[0])["Body"].read().decode().splitlines()
    assert rows == ["name,total_red_violations", "Cafe A,2", "Diner B,1"]
    # And the driver's stdout is where EMR on EKS writes it (driver_log_uri)
    stdout = read_log(runtime, driver_log_uri(f"s3://{BUCKET}/logs/", cluster, run_id, name="stdout.gz"))
    assert "wrote 2 restaurants" in stdout


@needs_spark
def test_a_failing_pyspark_job_fails_with_user_error_and_its_driver_log(
    runtime: Runner, client: Any, cluster: str
) -> None:
    # Given the red-violations job on an input without its required columns (it exits non-zero)
    driver = spark_driver(runtime, "restaurant,grade\nCafe A,RED\n", "bad-input")
    # When it runs
    run_id = start(client, cluster, driver, configurationOverrides=logs(f"s3://{BUCKET}/logs"))
    run = wait_run(client, cluster, run_id, ENDED, timeout=180)
    # Then it FAILED with failureReason USER_ERROR (a non-zero exit: emr-eks-jobs-states) and stateDetails naming
    # the job's own error (wording inferred)
    assert run["state"] == "FAILED"
    assert run["failureReason"] == "USER_ERROR"
    assert "missing required column(s)" in run["stateDetails"]
    # And the driver's logs are where the contract puts them, with the job's error in them
    uri = driver_log_uri(f"s3://{BUCKET}/logs", cluster, run_id, name="stdout.gz")
    stderr = read_log(runtime, uri.replace("stdout.gz", "stderr.gz"))
    assert "missing required column(s)" in read_log(runtime, uri) + stderr
