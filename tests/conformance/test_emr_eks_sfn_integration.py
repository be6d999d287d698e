"""The optimized Step Functions integration for EMR on EKS on the local runtime, against AWS's documentation.

Sources, cited per test:
- connect-emr-eks: Step Functions developer guide, "Create and manage Amazon EMR on EKS clusters with AWS Step
  Functions" (its table of the three APIs, Request Response and .sync; .waitForTaskToken "not supported");
- emr-eks-iam: the IAM policies Step Functions generates (DescribeJobRun and CancelJobRun for startJobRun.sync);
- connect-to-resource: "Service integration patterns", "Run a Job (.sync)" (best-effort cancel of aborted tasks);
- facts §1b (shared/reference/serverless-eks-facts.md): the output shapes and the failure Error are unverified on
  AWS; the local runtime builds them in one place each (sfn_emr_containers_integration), inferred.
One test starts a JVM (the red-violations sample job, run for real by startJobRun.sync).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REPO_ROOT
from tests.helpers.conformance import Runner, held_phase, wait_until

NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")

ARN = "arn:aws:states:::emr-containers:"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/EmrEksJob"
RELEASE = "emr-7.5.0-latest"
BUCKET = "eks-sfn"
SQL = {"SparkSqlJobDriver": {"EntryPoint": "s3://nowhere/query.sql"}}  # cannot run locally: FAILED at once


def task(resource: str, parameters: Any, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": ARN + resource, "Parameters": parameters, "End": True}
    state.update(fields)
    return {"StartAt": "Task", "States": {"Task": state}}


@pytest.fixture(scope="module")
def cluster(runtime: Runner) -> str:
    """A RUNNING virtual cluster on an EKS cluster, created through the APIs."""
    runtime.stack.client("eks").create_cluster(
        name="sfn", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={}
    )
    runtime.stack.client("s3").create_bucket(Bucket=BUCKET)
    cluster_id: str = runtime.stack.client("emr-containers").create_virtual_cluster(
        name="sfn", containerProvider={"type": "EKS", "id": "sfn", "info": {"eksInfo": {"namespace": "jobs"}}}
    )["id"]
    return cluster_id


def job(cluster: str, driver: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "VirtualClusterId": cluster,
        "Name": "sfn",
        "ExecutionRoleArn": ROLE,
        "ReleaseLabel": RELEASE,
        "JobDriver": driver or SQL,
        **extra,
    }


def describe(runtime: Runner, cluster: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = runtime.stack.client("emr-containers").describe_job_run(virtualClusterId=cluster, id=run_id)[
        "jobRun"
    ]
    return run


def only_run(runtime: Runner, cluster: str, name: str) -> str:
    client = runtime.stack.client("emr-containers")
    runs = wait_until(
        lambda: [r for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"] if r["name"] == name], 20
    )
    assert len(runs) == 1
    run_id: str = runs[0]["id"]
    return run_id


def held_runs(runtime: Runner) -> Any:
    """Job runs that stay SUBMITTED until the block ends (they never reach RUNNING)."""
    return held_phase(runtime.stack.eks.timings, "submitted")


# -- create time ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource",
    ["createVirtualCluster", "deleteVirtualCluster", "deleteVirtualCluster.sync", "startJobRun", "startJobRun.sync"],
)
def test_the_documented_resources_are_accepted(runtime: Runner, resource: str) -> None:
    # Given a Task on one of connect-emr-eks's APIs and patterns
    parameters = {
        "createVirtualCluster": {"Name": "vc", "ContainerProvider": {"Type": "EKS", "Id": "eks"}},
        "deleteVirtualCluster": {"Id": "abc"},
        "startJobRun": job("abc"),
    }[resource.removesuffix(".sync")]
    # When the state machine is created
    arn = runtime.create(task(resource, parameters))
    # Then it is stored
    assert arn.startswith("arn:aws:states:")


@pytest.mark.parametrize(
    "resource", ["startJobRun.waitForTaskToken", "createVirtualCluster.sync", "describeJobRun", "cancelJobRun"]
)
def test_other_forms_are_refused_at_create_time(runtime: Runner, resource: str) -> None:
    # Given .waitForTaskToken ("not supported", connect-emr-eks), createVirtualCluster.sync (no .sync in the table)
    # or an API outside the three
    # When the state machine is created
    with pytest.raises(ClientError) as refused:
        runtime.create(task(resource, {"Id": "abc"}))
    # Then CreateStateMachine refuses the definition, naming the resource
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert resource in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ExecutionRoleArn": ROLE, "Bogus": 1}, 'The field "Bogus" is not supported'),
        ({"JobDriver": {"SparkSubmitJobDriver": {"Entrypoint": "s3://b/x.py"}}}, '"Entrypoint" is not supported'),
        ({"RetryPolicyConfiguration": {}}, "The field 'RetryPolicyConfiguration.MaxAttempts' is required"),
    ],
)
def test_parameters_outside_the_api_are_refused_at_create_time(
    runtime: Runner, parameters: dict[str, Any], message: str
) -> None:
    # Given a startJobRun whose Parameters carry a field the API lacks (a misspelled one included) or miss a
    # required one, at any depth (the deploy-time schema check AWS makes of optimized integrations, as for EMR
    # Serverless: asl_validation)
    # When the state machine is created
    with pytest.raises(ClientError) as refused:
        runtime.create(task("startJobRun.sync", {**job("abc"), **parameters}))
    # Then CreateStateMachine refuses it, naming the field
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "SCHEMA_VALIDATION_FAILED" in str(refused.value) and message in str(refused.value)


# -- Request Response -----------------------------------------------------------------------------------------------
def test_start_job_run_converts_pascal_case_and_returns_the_api_response(runtime: Runner, cluster: str) -> None:
    # Given a startJobRun task with PascalCase parameters, including maps whose keys are data (Tags, properties)
    parameters = job(
        cluster,
        Name="pascal",
        Tags={"team": "data", "emr-autopilot:job": "red-violations-eks"},
        ConfigurationOverrides={
            "ApplicationConfiguration": [{"Classification": "spark-defaults", "Properties": {"spark.x": "1"}}],
            "MonitoringConfiguration": {"S3MonitoringConfiguration": {"LogUri": f"s3://{BUCKET}/logs/"}},
        },
        RetryPolicyConfiguration={"MaxAttempts": 1},
    )
    # When it runs (Request Response)
    run = runtime.run(task("startJobRun", parameters))
    # Then the output is StartJobRun's response in PascalCase (connect-emr-eks: "the same as" the API; case inferred)
    assert run.status == "SUCCEEDED", run.execution
    run_id = run.output["Id"]
    assert run.output == {
        "Id": run_id,
        "Name": "pascal",
        "Arn": f"arn:aws:emr-containers:us-east-1:{ACCOUNT_ID}:/virtualclusters/{cluster}/jobruns/{run_id}",
        "VirtualClusterId": cluster,
    }
    # And EMR on EKS received the API's members, map keys unchanged
    job_run = describe(runtime, cluster, run_id)
    assert job_run["tags"] == {"team": "data", "emr-autopilot:job": "red-violations-eks"}
    assert job_run["jobDriver"] == {"sparkSqlJobDriver": {"entryPoint": "s3://nowhere/query.sql"}}
    overrides = job_run["configurationOverrides"]
    assert overrides["applicationConfiguration"][0]["properties"] == {"spark.x": "1"}
    assert overrides["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"] == f"s3://{BUCKET}/logs/"
    assert job_run["retryPolicyConfiguration"] == {"maxAttempts": 1}


@pytest.mark.parametrize(
    ("parameters", "execution_input", "named"),
    [
        ({"Name.$": "$.name"}, {"name": "n" * 65}, "name must have at most 64 characters"),
        (
            {"JobDriver.$": "$.driver"},
            {"driver": {"sparkSubmitJobDriver": {"entryPoint": "s3://b/x.py"}}},
            "did you mean",
        ),
        ({"RetryPolicyConfiguration": {}}, {}, "maxAttempts is required"),
    ],
)
def test_an_invalid_request_fails_the_task_with_a_named_error(
    runtime: Runner, cluster: str, parameters: dict[str, Any], execution_input: dict[str, Any], named: str
) -> None:
    # Given a startJobRun whose request breaks the API's model at run time (a length from the input, the API's
    # camelCase where the integration takes PascalCase, a missing nested member: inferred)
    client = runtime.stack.client("emr-containers")
    before = [r["id"] for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"]]
    # When it runs
    run = runtime.run(task("startJobRun", {**job(cluster), **parameters}), execution_input, unchecked=True)
    # Then the task fails with EMR on EKS's ValidationException, naming the member (Error name inferred)
    assert run.status == "FAILED"
    failed = run.events("TaskFailed")[0]
    assert failed["error"] == "EmrContainers.ValidationException"
    assert named in failed["cause"]
    # And no job run was started
    assert [r["id"] for r in client.list_job_runs(virtualClusterId=cluster)["jobRuns"]] == before


def test_virtual_clusters_are_created_and_deleted_through_the_integration(runtime: Runner, cluster: str) -> None:
    # Given a state machine that creates a virtual cluster, then deletes it with .sync
    states = {
        "Create": {
            "Type": "Task",
            "Resource": ARN + "createVirtualCluster",
            "Parameters": {
                "Name": "through-sfn",
                "ContainerProvider": {"Type": "EKS", "Id": "sfn", "Info": {"EksInfo": {"Namespace": "other"}}},
            },
            "ResultPath": "$.created",
            "Next": "Delete",
        },
        "Delete": {
            "Type": "Task",
            "Resource": ARN + "deleteVirtualCluster.sync",
            "Parameters": {"Id.$": "$.created.Id"},
            "ResultPath": "$.deleted",
            "End": True,
        },
    }
    # When it runs
    run = runtime.run({"StartAt": "Create", "States": states})
    # Then each task returns the API's response in PascalCase and deleteVirtualCluster.sync waited for TERMINATED
    assert run.status == "SUCCEEDED", run.execution
    created = run.output["created"]
    assert set(created) == {"Id", "Name", "Arn"} and created["Name"] == "through-sfn"
    assert run.output["deleted"] == {"Id": created["Id"]}
    described = runtime.stack.client("emr-containers").describe_virtual_cluster(id=created["Id"])
    assert described["virtualCluster"]["state"] == "TERMINATED"


# -- .sync ------------------------------------------------------------------------------------------------------------
@needs_spark
def test_start_job_run_sync_succeeds_when_the_pyspark_job_completes(runtime: Runner, cluster: str) -> None:
    # Given the red-violations sample job and its input in S3
    s3 = runtime.stack.client("s3")
    script = (REPO_ROOT / "jobs" / "red_violations" / "red_violations_spark.py").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="code/red_violations_spark.py", Body=script)
    s3.put_object(Bucket=BUCKET, Key="input/inspections.csv", Body=b"name,violation_type\nCafe A,RED\nDiner B,BLUE\n")
    driver = {
        "SparkSubmitJobDriver": {
            "EntryPoint": f"s3://{BUCKET}/code/red_violations_spark.py",
            "EntryPointArguments": [
                "--input",
                f"s3://{BUCKET}/input/inspections.csv",
                "--output",
                f"s3://{BUCKET}/out/",
            ],
        }
    }
    # When startJobRun.sync runs it
    run = runtime.wait(runtime.start(task("startJobRun.sync", job(cluster, driver, Name="sync-ok"))), timeout=180)
    # Then the task succeeds once the job run COMPLETED, with DescribeJobRun's jobRun in PascalCase (inferred)
    assert run.status == "SUCCEEDED", run.execution
    assert run.output["State"] == "COMPLETED"
    assert run.output["VirtualClusterId"] == cluster and run.output["Name"] == "sync-ok"
    assert run.output["JobDriver"]["SparkSubmitJobDriver"]["EntryPoint"].endswith("red_violations_spark.py")
    assert describe(runtime, cluster, run.output["Id"])["state"] == "COMPLETED"
    # And Spark's output is in S3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]]
    assert any(key.endswith(".csv") for key in keys)


def test_start_job_run_sync_fails_when_the_job_run_fails(runtime: Runner, cluster: str) -> None:
    # Given startJobRun.sync of a job run that FAILS (a SparkSQL driver, which cannot run locally)
    # When it runs
    run = runtime.run(task("startJobRun.sync", job(cluster, Name="sync-failed")))
    # Then the task fails with States.TaskFailed and a JSON Cause holding DescribeJobRun's jobRun (both inferred)
    assert run.status == "FAILED"
    assert run.execution["error"] == "States.TaskFailed"
    cause = json.loads(run.execution["cause"])
    assert cause["state"] == "FAILED"
    assert cause["failureReason"] == "INTERNAL_ERROR"
    assert "cannot run here" in cause["stateDetails"]
    assert cause["virtualClusterId"] == cluster and cause["name"] == "sync-failed"


def test_throttled_polls_do_not_fail_the_sync_task(runtime: Runner, cluster: str) -> None:
    # Given DescribeJobRun throttled three times (the fault matrix's ThrottlingException)
    faults = runtime.stack.eks.faults
    faults.throttle["describe_job_run"] = 3
    try:
        # When startJobRun.sync polls a job run that fails
        run = runtime.run(task("startJobRun.sync", job(cluster, Name="sync-throttled")))
        # Then the throttling was met and retried at the next poll (inferred), and the task fails for the job run's
        # own reason, not the throttling
        assert faults.throttle["describe_job_run"] == 0
    finally:
        faults.throttle.pop("describe_job_run", None)
    assert run.execution["error"] == "States.TaskFailed"
    assert json.loads(run.execution["cause"])["state"] == "FAILED"


def test_a_sync_task_timeout_cancels_the_job_run(runtime: Runner, cluster: str) -> None:
    # Given a startJobRun.sync with TimeoutSeconds, whose job run never ends in time (StartJobRun has no timeout of
    # its own: the task's is the run's)
    with held_runs(runtime):
        run = runtime.run(task("startJobRun.sync", job(cluster, Name="sync-timeout"), TimeoutSeconds=300))
        # When the task times out
        # Then it fails with States.Timeout, and the job run is cancelled, best effort (connect-to-resource)
        assert run.status == "FAILED"
        assert run.execution["error"] == "States.Timeout"
        run_id = only_run(runtime, cluster, "sync-timeout")
        wait_until(lambda: describe(runtime, cluster, run_id)["state"] == "CANCELLED", timeout=20)


def test_stopping_the_execution_cancels_the_job_run(runtime: Runner, cluster: str) -> None:
    # Given a startJobRun.sync waiting for a job run that is SUBMITTED
    with held_runs(runtime):
        execution = runtime.start(task("startJobRun.sync", job(cluster, Name="sync-stopped")))
        run_id = only_run(runtime, cluster, "sync-stopped")
        wait_until(lambda: describe(runtime, cluster, run_id)["state"] == "SUBMITTED", timeout=20)
        # When the execution is stopped
        runtime.sfn.stop_execution(executionArn=execution)
        run = runtime.wait(execution)
        # Then Step Functions cancels the job run, best effort (connect-to-resource, "Run a Job (.sync)")
        assert run.status == "ABORTED"
        wait_until(lambda: describe(runtime, cluster, run_id)["state"] == "CANCELLED", timeout=20)
