"""The optimized Step Functions integration for EMR Serverless on the local runtime, against AWS's documentation.

Sources, cited per test:
- connect-emr-serverless: Step Functions developer guide, "Create and manage Amazon EMR Serverless applications
  with Step Functions" (its table of the six integration APIs, their differences and .sync targets);
- connect-to-resource: "Service integration patterns", "Run a Job (.sync)" (best-effort cancel of aborted tasks);
- facts §1a (shared/reference/serverless-eks-facts.md): the output shapes and the failure Error are unverified on
  AWS; the local runtime builds them in one place each (sfn_emr_serverless_integration), inferred.
No Spark runs here (Hive drivers fail at once; held runs never reach RUNNING).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot_devkit.local.runtime import ACCOUNT_ID
from tests.helpers.conformance import Runner, held_phase, wait_until

ARN = "arn:aws:states:::emr-serverless:"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/EmrServerlessJob"
HIVE = {"Hive": {"Query": "s3://nowhere/query.sql"}}
APIS = ["createApplication", "startApplication", "stopApplication", "deleteApplication", "startJobRun", "cancelJobRun"]


def task(resource: str, parameters: Any, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": ARN + resource, "Parameters": parameters, "End": True}
    state.update(fields)
    return {"StartAt": "Task", "States": {"Task": state}}


def new_app(runtime: Runner, **extra: Any) -> str:
    client = runtime.stack.client("emr-serverless")
    app_id: str = client.create_application(name="sfn", releaseLabel="emr-7.1.0", type="SPARK", **extra)[
        "applicationId"
    ]
    wait_until(lambda: client.get_application(applicationId=app_id)["application"]["state"] != "CREATING", timeout=20)
    return app_id


def get_run(runtime: Runner, app_id: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = runtime.stack.client("emr-serverless").get_job_run(applicationId=app_id, jobRunId=run_id)[
        "jobRun"
    ]
    return run


# A request each API accepts (connect-emr-serverless's examples), so that only the resource form is at stake.
VALID: dict[str, dict[str, Any]] = {
    "createApplication": {"Name": "app", "ReleaseLabel": "emr-7.1.0", "Type": "SPARK"},
    "startApplication": {"ApplicationId": "any"},
    "stopApplication": {"ApplicationId": "any"},
    "deleteApplication": {"ApplicationId": "any"},
    "startJobRun": {"ApplicationId": "any", "ExecutionRoleArn": ROLE, "JobDriver": HIVE},
    "cancelJobRun": {"ApplicationId": "any", "JobRunId": "any"},
}


@pytest.mark.parametrize("resource", APIS + [f"{api}.sync" for api in APIS])
def test_the_documented_resources_are_accepted(runtime: Runner, resource: str) -> None:
    # Given a Task on one of the six APIs, Request Response or .sync (connect-emr-serverless)
    # When the state machine is created
    arn = runtime.create(task(resource, VALID[resource.removesuffix(".sync")]))
    # Then it is stored
    assert arn.startswith("arn:aws:states:")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"JobDriver": HIVE}, "The field 'ExecutionRoleArn' is required but was missing"),
        ({"ExecutionRoleArn": ROLE, "JobDriver": HIVE, "Bogus": 1}, 'The field "Bogus" is not supported'),
        (
            {"ExecutionRoleArn": ROLE, "JobDriver": {"SparkSubmit": {"Entry": "s3://b/x.py"}}},
            '"Entry" is not supported',
        ),
    ],
)
def test_parameters_outside_the_api_are_refused_at_create_time(
    runtime: Runner, parameters: dict[str, Any], message: str
) -> None:
    # Given a startJobRun whose Parameters miss a required member or carry one the API lacks, at any depth (the
    # deploy-time schema check AWS makes of optimized integrations, as for EMR: asl_validation)
    # When the state machine is created
    with pytest.raises(ClientError) as refused:
        runtime.create(task("startJobRun", {"ApplicationId": "any", **parameters}))
    # Then CreateStateMachine refuses it, naming the field
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "SCHEMA_VALIDATION_FAILED" in str(refused.value) and message in str(refused.value)


def test_dynamic_parameters_and_map_keys_are_accepted_at_create_time(runtime: Runner) -> None:
    # Given Parameters from paths ("Key.$"), and Tags and Spark properties whose keys are data, not members
    parameters = {
        "ApplicationId.$": "$.app",
        "ExecutionRoleArn.$": "$.role",
        "JobDriver": {"SparkSubmit": {"EntryPoint.$": "$.entry"}},
        "ConfigurationOverrides": {
            "ApplicationConfiguration": [{"Classification": "spark-defaults", "Properties": {"spark.x": "1"}}]
        },
        "Tags": {"anything": "goes"},
    }
    # When the state machine is created
    arn = runtime.create(task("startJobRun.sync", parameters))
    # Then it is stored
    assert arn.startswith("arn:aws:states:")


@pytest.mark.parametrize(
    "resource", ["startJobRun.waitForTaskToken", "createApplication.waitForTaskToken", "getJobRun", "updateApplication"]
)
def test_other_forms_are_refused_at_create_time(runtime: Runner, resource: str) -> None:
    # Given .waitForTaskToken ("not supported", connect-emr-serverless) or an API outside the six
    # When the state machine is created
    with pytest.raises(ClientError) as refused:
        runtime.create(task(resource, {"ApplicationId": "any"}))
    # Then CreateStateMachine refuses the definition
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert resource in refused.value.response["Error"]["Message"]


def test_application_apis_return_the_documented_outputs(runtime: Runner) -> None:
    # Given a state machine that creates, starts, stops and deletes an application, each with .sync
    states = {
        "Create": {
            "Type": "Task",
            "Resource": ARN + "createApplication.sync",
            "Parameters": {"Name": "through-sfn", "ReleaseLabel": "emr-7.1.0", "Type": "SPARK"},
            "ResultPath": "$.created",
            "Next": "Start",
        },
        "Start": {
            "Type": "Task",
            "Resource": ARN + "startApplication.sync",
            "Parameters": {"ApplicationId.$": "$.created.ApplicationId"},
            "ResultPath": "$.started",
            "Next": "Stop",
        },
        "Stop": {
            "Type": "Task",
            "Resource": ARN + "stopApplication.sync",
            "Parameters": {"ApplicationId.$": "$.created.ApplicationId"},
            "ResultPath": "$.stopped",
            "Next": "Delete",
        },
        "Delete": {
            "Type": "Task",
            "Resource": ARN + "deleteApplication.sync",
            "Parameters": {"ApplicationId.$": "$.created.ApplicationId"},
            "ResultPath": "$.deleted",
            "End": True,
        },
    }
    # When it runs
    run = runtime.run({"StartAt": "Create", "States": states})
    # Then each task returns what connect-emr-serverless documents and each .sync waited for its state
    assert run.status == "SUCCEEDED", run.execution
    out = run.output
    app_id = out["created"]["ApplicationId"]
    assert out["created"] == {
        "ApplicationId": app_id,
        "Name": "through-sfn",
        "Arn": f"arn:aws:emr-serverless:us-east-1:{ACCOUNT_ID}:/applications/{app_id}",
    }
    assert out["started"] == out["stopped"] == out["deleted"] == {"ApplicationId": app_id}
    client = runtime.stack.client("emr-serverless")
    assert client.get_application(applicationId=app_id)["application"]["state"] == "TERMINATED"


def test_start_job_run_converts_pascal_case_and_returns_the_api_response(runtime: Runner) -> None:
    # Given an application and a startJobRun task with PascalCase parameters, including a map whose keys are data
    app_id = new_app(runtime)
    parameters = {
        "ApplicationId": app_id,
        "ExecutionRoleArn": ROLE,
        "Name": "pascal",
        "JobDriver": HIVE,
        "Tags": {"team": "data", "CostCenter": "42"},
        "ExecutionTimeoutMinutes": 30,
    }
    # When it runs (Request Response)
    run = runtime.run(task("startJobRun", parameters))
    # Then the output is StartJobRun's response ("no differences"), in PascalCase (inferred)
    assert run.status == "SUCCEEDED", run.execution
    run_id = run.output["JobRunId"]
    assert run.output == {
        "ApplicationId": app_id,
        "JobRunId": run_id,
        "Arn": f"arn:aws:emr-serverless:us-east-1:{ACCOUNT_ID}:/applications/{app_id}/jobruns/{run_id}",
    }
    # And EMR Serverless received the API's members, the tag keys unchanged
    job = get_run(runtime, app_id, run_id)
    assert job["name"] == "pascal"
    assert job["tags"] == {"team": "data", "CostCenter": "42"}
    assert job["executionTimeoutMinutes"] == 30
    assert job["jobDriver"] == {"hive": {"query": "s3://nowhere/query.sql"}}


@pytest.mark.parametrize(
    ("parameters", "execution_input", "named"),
    [
        (
            {"ExecutionRoleArn": ROLE, "JobDriver": HIVE, "ExecutionTimeoutMinutes": 10**7},
            {},
            "executionTimeoutMinutes must be at most 1000000",
        ),
        (
            {"ExecutionRoleArn": ROLE, "JobDriver": HIVE, "Name.$": "$.name"},
            {"name": "n" * 300},
            "name must have at most 256 characters",
        ),
        ({"JobDriver": HIVE}, {}, "executionRoleArn is required"),
        (
            {"ExecutionRoleArn": ROLE, "JobDriver.$": "$.driver"},
            {"driver": {"sparkSubmit": {"entryPoint": "s3://b/x.py"}}},
            "JobDriver.sparkSubmit is not a JobDriver field (did you mean 'SparkSubmit'?)",
        ),
    ],
)
def test_an_invalid_request_fails_the_task_with_a_named_error(
    runtime: Runner, parameters: dict[str, Any], execution_input: dict[str, Any], named: str
) -> None:
    # Given a startJobRun whose request breaks the API's model at run time (a range, a value from the input, a
    # missing member stored past the create-time check, or the API's camelCase where the integration takes
    # PascalCase: inferred)
    app_id = new_app(runtime)
    # When it runs
    run = runtime.run(task("startJobRun", {"ApplicationId": app_id, **parameters}), execution_input, unchecked=True)
    # Then the task fails with EMR Serverless's ValidationException, naming the member (Error name inferred)
    assert run.status == "FAILED"
    failed = run.events("TaskFailed")[0]
    assert failed["error"] == "EmrServerless.ValidationException"
    assert named in failed["cause"]
    # And no job run was started
    assert runtime.stack.client("emr-serverless").list_job_runs(applicationId=app_id)["jobRuns"] == []


def test_a_failed_job_run_fails_the_sync_task_with_its_state_details(runtime: Runner) -> None:
    # Given startJobRun.sync of a job that fails (a Hive driver, which cannot run locally)
    app_id = new_app(runtime)
    # When it runs
    run = runtime.run(task("startJobRun.sync", {"ApplicationId": app_id, "ExecutionRoleArn": ROLE, "JobDriver": HIVE}))
    # Then the task fails with States.TaskFailed and a JSON Cause holding GetJobRun's jobRun (both inferred)
    assert run.status == "FAILED"
    assert run.execution["error"] == "States.TaskFailed"
    cause = json.loads(run.execution["cause"])
    assert cause["state"] == "FAILED"
    assert "cannot run" in cause["stateDetails"]
    assert cause["applicationId"] == app_id and cause["jobRunId"]


def test_a_repeated_client_token_starts_one_job_run(runtime: Runner) -> None:
    # Given two startJobRun tasks with the same ClientToken (an idempotency token: API_StartJobRun)
    app_id = new_app(runtime)
    parameters = {"ApplicationId": app_id, "ExecutionRoleArn": ROLE, "JobDriver": HIVE, "ClientToken": "run-1"}
    definition = {
        "StartAt": "First",
        "States": {
            "First": {
                "Type": "Task",
                "Resource": ARN + "startJobRun",
                "Parameters": parameters,
                "ResultPath": "$.a",
                "Next": "Again",
            },
            "Again": {
                "Type": "Task",
                "Resource": ARN + "startJobRun",
                "Parameters": parameters,
                "ResultPath": "$.b",
                "End": True,
            },
        },
    }
    # When they run
    run = runtime.run(definition)
    # Then both return the same job run, and only one exists
    assert run.status == "SUCCEEDED", run.execution
    assert run.output["a"] == run.output["b"]
    listed = runtime.stack.client("emr-serverless").list_job_runs(applicationId=app_id)["jobRuns"]
    assert [item["id"] for item in listed] == [run.output["a"]["JobRunId"]]


def held_runs(runtime: Runner) -> Any:
    """Job runs that stay SCHEDULED until the block ends (they never reach RUNNING)."""
    return held_phase(runtime.stack.serverless.timings, "scheduled")


def only_run(runtime: Runner, app_id: str) -> str:
    client = runtime.stack.client("emr-serverless")
    runs = wait_until(lambda: client.list_job_runs(applicationId=app_id)["jobRuns"], timeout=20)
    assert len(runs) == 1
    run_id: str = runs[0]["id"]
    return run_id


def test_stopping_the_execution_cancels_the_job_run(runtime: Runner) -> None:
    # Given a startJobRun.sync waiting for a job run that is SCHEDULED
    app_id = new_app(runtime)
    with held_runs(runtime):
        execution = runtime.start(
            task("startJobRun.sync", {"ApplicationId": app_id, "ExecutionRoleArn": ROLE, "JobDriver": HIVE})
        )
        run_id = only_run(runtime, app_id)
        wait_until(lambda: get_run(runtime, app_id, run_id)["state"] == "SCHEDULED", timeout=20)
        # When the execution is stopped
        runtime.sfn.stop_execution(executionArn=execution)
        run = runtime.wait(execution)
        # Then Step Functions cancels the job run, best effort (connect-to-resource, "Run a Job (.sync)")
        assert run.status == "ABORTED"
        wait_until(lambda: get_run(runtime, app_id, run_id)["state"] == "CANCELLED", timeout=20)


def test_a_sync_task_timeout_cancels_the_job_run(runtime: Runner) -> None:
    # Given a startJobRun.sync with TimeoutSeconds, whose job run never ends in time
    app_id = new_app(runtime)
    with held_runs(runtime):
        run = runtime.run(
            task(
                "startJobRun.sync",
                {"ApplicationId": app_id, "ExecutionRoleArn": ROLE, "JobDriver": HIVE},
                TimeoutSeconds=300,
            )
        )
        # When the task times out
        # Then it fails with States.Timeout, and the job run is cancelled (connect-to-resource)
        assert run.status == "FAILED"
        assert run.execution["error"] == "States.Timeout"
        run_id = only_run(runtime, app_id)
        wait_until(lambda: get_run(runtime, app_id, run_id)["state"] == "CANCELLED", timeout=20)


def test_cancel_job_run_sync_waits_for_cancelled(runtime: Runner) -> None:
    # Given a SCHEDULED job run
    app_id = new_app(runtime)
    client = runtime.stack.client("emr-serverless")
    with held_runs(runtime):
        run_id = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver={"hive": {"query": "q"}})[
            "jobRunId"
        ]
        wait_until(lambda: get_run(runtime, app_id, run_id)["state"] == "SCHEDULED", timeout=20)
        # When cancelJobRun.sync runs
        run = runtime.run(task("cancelJobRun.sync", {"ApplicationId": app_id, "JobRunId": run_id}))
    # Then it returns the API's response once the run is CANCELLED (connect-emr-serverless)
    assert run.status == "SUCCEEDED", run.execution
    assert run.output == {"ApplicationId": app_id, "JobRunId": run_id}
    assert get_run(runtime, app_id, run_id)["state"] == "CANCELLED"
