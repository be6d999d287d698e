"""The serverless state machine's input (the contract with statemachines/ and the ASL): its keys, each job run's
Request in the optimized integration's PascalCase, the deterministic ClientToken, and the run starter choosing the
state machine by the job's compute target."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from emr_autopilot.emr_requests import check_request
from emr_autopilot.jobs import JobCatalog, JobDefinition, load_job_file
from emr_autopilot.run_starter import ManualRunRequest, S3Object, start_manual_run, start_run, start_runs_for_objects
from emr_autopilot.runs import StackContext, Trigger, build_run_input, execution_name
from emr_autopilot.serverless_runs import (
    ServerlessNotDeployed,
    api_params,
    build_serverless_run_input,
    client_token,
    create_application_request,
    start_job_run_params,
)
from tests.helpers.job_files import REPO_JOBS, repo_job, repo_sample
from tests.helpers.stack_contexts import (
    ACCOUNT,
    EC2_MACHINE,
    WHEN,
    machine_arn,
    s3_trigger,
    stack_context,
    state_machines,
)

SAMPLE = "red-violations-serverless"
SERVERLESS_MACHINE = machine_arn("ServerlessPipeline")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-ServerlessExecutionRole"
APP = "00fexample0abcd"
NAME = "red-violations-serverless-s3-0123456789abcdef01234567"
# botocore's model, StartJobRun clientToken: 1 to 64 of [A-Za-z0-9._-]
CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The keys build_run_input puts in "run" today (tests/unit/test_run_rendering.py pins their values for EC2 runs).
EC2_RUN_KEYS = {
    "job_name",
    "run_id",
    "run_date",
    "trigger",
    "input_uri",
    "output_uri",
    "notification_topic_arn",
    "run_timeout_seconds",
    "step_concurrency",
    "step_count",
    "outcome",
    "outcome_detail",
    "simulated_steps",
}


def context(**overrides: Any) -> StackContext:
    base = stack_context(EC2_MACHINE).model_copy(
        update={"serverless_state_machine_arn": SERVERLESS_MACHINE, "serverless_execution_role_arn": ROLE}
    )
    return base.model_copy(update=overrides)


def sample() -> dict[str, Any]:
    return repo_sample(SAMPLE)


@pytest.fixture
def job() -> JobDefinition:
    return repo_job(SAMPLE)


def test_the_sample_renders_the_input_the_serverless_state_machine_takes(job: JobDefinition) -> None:
    # Given the serverless sample and an S3 trigger
    # When its run input is built
    run_input = build_serverless_run_input(job, s3_trigger(), context(), NAME, APP)

    # Then it has exactly the contract's keys
    assert set(run_input) == {"run", "application", "job_runs"}
    assert set(run_input["run"]) == EC2_RUN_KEYS | {"compute", "application_id"}
    assert (run_input["run"]["compute"], run_input["run"]["application_id"]) == ("emr-serverless", APP)
    assert run_input["run"]["step_concurrency"] == 1
    assert run_input["run"]["run_timeout_seconds"] == 3600
    # and the application: started by auto-start, stopped after the run (the sample asks)
    assert run_input["application"] == {"ApplicationId": APP, "start_first": False, "stop_after": True}
    # and one job run, in the optimized integration's PascalCase, with the step rendered
    output = f"s3://acme-curated/red-violations-serverless/2026-01-31/{NAME}/"
    assert run_input["job_runs"] == [
        {
            "Request": {
                "ApplicationId": APP,
                "ExecutionRoleArn": ROLE,
                "Name": f"{NAME}.0 Count red violations (Spark)",
                "ClientToken": client_token(NAME, 0),
                "JobDriver": {
                    "SparkSubmit": {
                        "EntryPoint": "s3://acme-artifacts/jobs/red_violations/red_violations_spark.py",
                        "EntryPointArguments": [
                            "--input",
                            "s3://acme-landing/inspections/2026-01-31.csv",
                            "--output",
                            output,
                        ],
                        "SparkSubmitParameters": "--conf spark.sql.adaptive.enabled=true",
                    }
                },
                "ConfigurationOverrides": {
                    "MonitoringConfiguration": {
                        "S3MonitoringConfiguration": {"LogUri": "s3://acme-logs/serverless/red-violations-serverless/"}
                    }
                },
                "ExecutionTimeoutMinutes": 30,
                "Tags": {
                    "emr-autopilot:execution-arn": SERVERLESS_MACHINE.replace(":stateMachine:", ":execution:")
                    + f":{NAME}",
                    "emr-autopilot:job": "red-violations-serverless",
                    "emr-autopilot:managed": "true",
                    "emr-autopilot:run-id": NAME,
                },
            }
        }
    ]


def test_each_request_passes_start_job_run_in_the_apis_own_form(job: JobDefinition) -> None:
    # Given the sample's run input
    request = build_serverless_run_input(job, s3_trigger(), context(), NAME, APP)["job_runs"][0]["Request"]

    # When the request is turned into the API's form by the service model
    params = start_job_run_params(request)

    # Then its members are the model's camelCase ones, map keys (tags) are kept as written, and the model takes it
    assert sorted(params) == [
        "applicationId",
        "clientToken",
        "configurationOverrides",
        "executionRoleArn",
        "executionTimeoutMinutes",
        "jobDriver",
        "name",
        "tags",
    ]
    assert params["jobDriver"]["sparkSubmit"]["entryPointArguments"][0] == "--input"
    assert params["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    assert "emr-autopilot:run-id" in params["tags"]
    assert check_request("StartJobRun", params, service="emr-serverless") == []


def test_the_conversion_keeps_unknown_members_so_the_model_check_names_them() -> None:
    # Given a request with a member StartJobRun does not have, and a map whose keys look like members
    request = {"ApplicationId": APP, "Bogus": 1, "Tags": {"Name": "x"}, "JobDriver": {"Hive": {"Query": "s3://b/q"}}}

    # When it is converted
    params = api_params("StartJobRun", request)

    # Then the known members are converted, the map's keys are not, and the unknown member stays to be refused
    assert params == {
        "applicationId": APP,
        "Bogus": 1,
        "tags": {"Name": "x"},
        "jobDriver": {"hive": {"query": "s3://b/q"}},
    }
    problems = check_request("StartJobRun", params, service="emr-serverless")
    assert [p.path for p in problems] == ["clientToken", "executionRoleArn", "Bogus"]


def test_the_client_token_is_the_same_for_a_redelivery_and_fits_the_api() -> None:
    # Given the longest execution name a run can have (80 characters)
    long_name = "a" * 80

    # When tokens are made for the same run twice, for another step, and for another run
    first, again = client_token(long_name, 0), client_token(long_name, 0)
    other_step, other_run = client_token(long_name, 1), client_token(long_name[:-1] + "b", 0)

    # Then a redelivery gets the same token, other steps and runs do not, and each fits the API's pattern
    assert first == again
    assert len({first, other_step, other_run}) == 3
    for token in (first, other_step, other_run, client_token(long_name, 255)):
        assert CLIENT_TOKEN.match(token), token


def test_the_same_trigger_renders_the_same_input_twice(job: JobDefinition) -> None:
    # Given the same S3 trigger delivered twice
    first_name, second_name = execution_name(job, s3_trigger()), execution_name(job, s3_trigger())

    # When the input is built for each
    first = build_serverless_run_input(job, s3_trigger(), context(), first_name, APP)
    second = build_serverless_run_input(job, s3_trigger(), context(), second_name, APP)

    # Then they are identical, so Step Functions and StartJobRun both see a repeat
    assert first == second


def test_timeouts_hive_steps_cloudwatch_logs_and_defaults() -> None:
    # Given a hive job on an existing application, with no step timeout, CloudWatch logs and the stack's defaults
    data = {
        **sample(),
        "run_timeout": "90s",
        "serverless": {
            "application_id": APP,
            "start_application_first": True,
            "concurrency": 3,
            "logs": {"s3": False, "cloudwatch_log_group": "/emr-autopilot/jobs", "cloudwatch_stream_prefix": "rv"},
            "tags": {"team": "data"},
        },
        "steps": [
            {
                "name": "Load",
                "type": "hive",
                "query": "s3://my-bucket/q.sql",
                "init_file": "my_job/init.sql",
                "parameters": ["--hiveconf", "hive.exec.scratchdir=s3://{curated_bucket}/scratch/{run_id}"],
            }
        ],
    }
    data["run_timeout"] = "5m"
    data["steps"][0]["timeout"] = "61s"
    job = JobDefinition.model_validate(data)

    # When its run input is built
    run_input = build_serverless_run_input(job, s3_trigger(), context(), NAME, APP)
    request = run_input["job_runs"][0]["Request"]

    # Then the step's timeout is rounded up to whole minutes (61s runs for 2 minutes, never less)
    assert request["ExecutionTimeoutMinutes"] == 2
    # and the hive driver names the query, the uploaded init file and the rendered parameters
    assert request["JobDriver"] == {
        "Hive": {
            "Query": "s3://my-bucket/q.sql",
            "InitQueryFile": "s3://acme-artifacts/jobs/my_job/init.sql",
            "Parameters": f"--hiveconf hive.exec.scratchdir=s3://acme-curated/scratch/{NAME}",
        }
    }
    # and logs go to CloudWatch only
    assert request["ConfigurationOverrides"] == {
        "MonitoringConfiguration": {
            "CloudWatchLoggingConfiguration": {
                "Enabled": True,
                "LogGroupName": "/emr-autopilot/jobs",
                "LogStreamNamePrefix": "rv",
            }
        }
    }
    assert request["Tags"]["team"] == "data"
    assert run_input["application"] == {"ApplicationId": APP, "start_first": True, "stop_after": False}
    assert run_input["run"]["step_concurrency"] == 3
    assert check_request("StartJobRun", start_job_run_params(request), service="emr-serverless") == []


def test_a_job_without_a_step_timeout_gets_the_run_timeout(job: JobDefinition) -> None:
    # Given the sample with no step timeout and a run timeout of 1h
    data = sample()
    del data["steps"][0]["timeout"]
    job = JobDefinition.model_validate(data)

    # When its input is built
    request = build_serverless_run_input(job, s3_trigger(), context(), NAME, APP)["job_runs"][0]["Request"]

    # Then each job run may take the whole run's time
    assert request["ExecutionTimeoutMinutes"] == 60


def test_the_execution_role_is_the_jobs_own_or_else_the_stacks(job: JobDefinition) -> None:
    # Given the sample with an execution role of its own, and a stack without a default role
    data = sample()
    data["serverless"]["execution_role"] = f"arn:aws:iam::{ACCOUNT}:role/my-job-role"
    own = JobDefinition.model_validate(data)
    no_default = context(serverless_execution_role_arn=None)

    # When each is rendered
    request = build_serverless_run_input(own, s3_trigger(), no_default, NAME, APP)["job_runs"][0]["Request"]

    # Then the job's role is used, and a job without one on such a stack is refused, naming the output
    assert request["ExecutionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/my-job-role"
    with pytest.raises(ServerlessNotDeployed, match="stack output ServerlessExecutionRoleArn is missing"):
        build_serverless_run_input(job, s3_trigger(), no_default, NAME, APP)


def test_the_managed_application_request_passes_create_application(job: JobDefinition) -> None:
    # Given the sample's managed application
    # When its CreateApplication request is built
    request = create_application_request(job)

    # Then it is named and tagged for the job, sized as the file says, and the model takes it
    assert request == {
        "name": "emr-autopilot-red-violations-serverless",
        "releaseLabel": "emr-7.5.0",
        "type": "SPARK",
        "architecture": "ARM64",
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": 15},
        "tags": {
            "team": "data-platform",
            "cost-center": "analytics",
            "emr-autopilot:job": "red-violations-serverless",
            "emr-autopilot:managed": "true",
        },
        "initialCapacity": {
            "DRIVER": {"workerCount": 1, "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB"}},
            "EXECUTOR": {"workerCount": 2, "workerConfiguration": {"cpu": "4 vCPU", "memory": "8 GB"}},
        },
        "maximumCapacity": {"cpu": "32 vCPU", "memory": "128 GB", "disk": "400 GB"},
    }
    assert check_request("CreateApplication", {**request, "clientToken": "t"}, service="emr-serverless") == []


def test_an_ec2_job_has_no_serverless_input_and_its_input_is_unchanged() -> None:
    # Given the EC2 sample
    ec2 = load_job_file(REPO_JOBS / "red-violations-spark.yaml", REPO_JOBS)

    # When its input is built, and a serverless input is asked of it
    run_input = build_run_input(ec2, s3_trigger(), context(), NAME)

    # Then its input has today's keys and tags the EC2 state machine's execution
    assert set(run_input) == {"run", "cluster_request", "steps"}
    assert set(run_input["run"]) == EC2_RUN_KEYS
    tags = {tag["Key"]: tag["Value"] for tag in run_input["cluster_request"]["Tags"]}
    assert tags["emr-autopilot:execution-arn"].startswith(EC2_MACHINE.replace(":stateMachine:", ":execution:"))
    with pytest.raises(ValueError, match="runs on a cluster"):
        build_serverless_run_input(ec2, s3_trigger(), context(), NAME, APP)


# -- the run starter picks the state machine ---------------------------------------------------------------


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with state_machines(monkeypatch, EC2_MACHINE, SERVERLESS_MACHINE) as client:
        yield client


def catalog_with(job: JobDefinition) -> JobCatalog:
    ec2 = load_job_file(REPO_JOBS / "red-violations-spark.yaml", REPO_JOBS)
    return JobCatalog.model_validate(
        {
            "jobs": [job.model_dump(mode="json"), ec2.model_dump(mode="json")],
            "applications": {job.name: {"application_id": APP, "config": "digest"}},
        }
    )


def test_a_serverless_job_starts_the_serverless_state_machine_with_its_input(sfn: Any, job: JobDefinition) -> None:
    # Given a catalog with the serverless sample (its managed application deployed) and a manual run request
    catalog = catalog_with(job)
    request = ManualRunRequest(job=SAMPLE, input_uri="s3://acme-landing/in.csv")

    # When the run starter starts it
    outcome = start_manual_run(catalog, request, context(), deadline=None)

    # Then the execution is on the serverless state machine, with the serverless input on the deployed application
    assert outcome.status == "started"
    assert outcome.execution_arn.startswith(SERVERLESS_MACHINE.replace(":stateMachine:", ":execution:"))
    described = sfn.describe_execution(executionArn=outcome.execution_arn)
    run_input = json.loads(described["input"])
    assert run_input["run"]["application_id"] == APP
    assert run_input["job_runs"][0]["Request"]["ApplicationId"] == APP
    assert run_input["run"]["input_uri"] == "s3://acme-landing/in.csv"


def test_a_redelivered_trigger_starts_nothing_new(sfn: Any, job: JobDefinition) -> None:
    # Given a serverless job watching the landing bucket, in a deployed catalog
    data = {**sample(), "triggers": {"s3": [{"bucket": "landing", "prefix": "in/"}]}}
    watching = JobDefinition.model_validate(data)
    catalog = catalog_with(watching)
    obj = S3Object(bucket="acme-landing", key="in/a.csv", etag="e1", time=WHEN)

    # When the same object's event arrives twice
    first, _ = start_runs_for_objects(catalog, [obj], context(), deadline=None)
    second, _ = start_runs_for_objects(catalog, [obj], context(), deadline=None)

    # Then both name the same execution (Step Functions returns the open one for the same name and input), and
    # only one exists; its job runs carry the ClientToken of that run
    assert first[0].execution_arn == second[0].execution_arn
    executions = sfn.list_executions(stateMachineArn=SERVERLESS_MACHINE)["executions"]
    assert len(executions) == 1
    run_input = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert run_input["job_runs"][0]["Request"]["ClientToken"] == client_token(first[0].execution_name, 0)
    assert sfn.list_executions(stateMachineArn=EC2_MACHINE)["executions"] == []


def test_an_ec2_job_still_starts_the_ec2_state_machine(sfn: Any, job: JobDefinition) -> None:
    # Given the same catalog and the EC2 job
    catalog = catalog_with(job)

    # When the EC2 job is started by hand
    outcome = start_manual_run(catalog, ManualRunRequest(job="red-violations-spark"), context(), deadline=None)

    # Then it runs on the EC2 state machine, with the EC2 input
    assert outcome.execution_arn.startswith(EC2_MACHINE.replace(":stateMachine:", ":execution:"))
    run_input = json.loads(sfn.describe_execution(executionArn=outcome.execution_arn)["input"])
    assert "cluster_request" in run_input


def test_a_stack_without_the_serverless_state_machine_fails_a_serverless_run_naming_the_output(
    sfn: Any, job: JobDefinition
) -> None:
    # Given a stack deployed before serverless runs existed
    old_stack = context(serverless_state_machine_arn=None, serverless_execution_role_arn=None)
    trigger = Trigger(kind="manual", time=WHEN + timedelta(minutes=1))

    # When a serverless run is started on it
    with pytest.raises(ServerlessNotDeployed) as caught:
        start_run(job, trigger, old_stack, application_id=APP)

    # Then it fails with the missing output named, and nothing was started
    assert "stack output ServerlessPipelineStateMachineArn is missing" in str(caught.value)
    assert sfn.list_executions(stateMachineArn=SERVERLESS_MACHINE)["executions"] == []
