"""The EMR on EKS state machine's input (the contract with statemachines/eks_pipeline.asl.json): its keys, each job
run's Request in the optimized integration's PascalCase, the deterministic ClientToken, tags and TimeoutSeconds;
the run starter choosing the EKS state machine; and the execution janitor cancelling an ended run's job runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emr_autopilot.eks_runs import (
    EksNotDeployed,
    build_eks_run_input,
    job_run_name,
    start_job_run_params,
)
from emr_autopilot.emr_requests import check_request
from emr_autopilot.execution_janitor import ExecutionStatusChange, handle_execution_end
from emr_autopilot.jobs import JobCatalog, JobDefinition
from emr_autopilot.run_starter import ManualRunRequest, start_manual_run, start_run
from emr_autopilot.runs import StackContext, Trigger
from emr_autopilot.serverless_runs import client_token
from emr_autopilot.tags import TAG_EXECUTION_ARN
from tests.helpers.job_files import repo_job, repo_sample
from tests.helpers.stack_contexts import (
    ACCOUNT,
    EC2_MACHINE,
    REGION,
    WHEN,
    machine_arn,
    s3_trigger,
    stack_context,
    state_machines,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE = "red-violations-eks"
EKS_MACHINE = machine_arn("EksPipeline")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-eks-jobs"
CLUSTER = "emrautopilotdemo0eks000001"
NAME = "red-violations-eks-s3-0123456789abcdef01234567"
# botocore emr-containers model: StartJobRun name 1 to 64 of [.-_/#A-Za-z0-9]; clientToken 1 to 64.
JOB_RUN_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,64}$")


def context(**overrides: Any) -> StackContext:
    base = stack_context(EC2_MACHINE).model_copy(update={"eks_state_machine_arn": EKS_MACHINE})
    return base.model_copy(update=overrides)


def sample() -> dict[str, Any]:
    return repo_sample(SAMPLE)


@pytest.fixture
def job() -> JobDefinition:
    return repo_job(SAMPLE)


def test_the_sample_renders_the_input_the_eks_state_machine_takes(job: JobDefinition) -> None:
    # Given the EKS sample and an S3 trigger
    # When its run input is built
    run_input = build_eks_run_input(job, s3_trigger(), context(), NAME)

    # Then it has the contract's keys: the run (on its virtual cluster), the virtual cluster, the job runs
    assert set(run_input) == {"run", "virtual_cluster", "job_runs"}
    assert (run_input["run"]["compute"], run_input["run"]["virtual_cluster_id"]) == ("emr-eks", CLUSTER)
    assert run_input["run"]["step_concurrency"] == 1
    assert run_input["run"]["run_timeout_seconds"] == 3600
    assert run_input["virtual_cluster"] == {"VirtualClusterId": CLUSTER}
    # and one job run in the optimized integration's PascalCase, every member present (null when unset), with the
    # step rendered and its 30m timeout as the task's TimeoutSeconds
    output = f"s3://acme-curated/red-violations-eks/2026-01-31/{NAME}/"
    assert run_input["job_runs"] == [
        {
            "Request": {
                "VirtualClusterId": CLUSTER,
                "Name": f"{NAME}.0",
                "ClientToken": client_token(NAME, 0),
                "ExecutionRoleArn": ROLE,
                "ReleaseLabel": "emr-7.5.0-latest",
                "JobDriver": {
                    "SparkSubmitJobDriver": {
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
                        "S3MonitoringConfiguration": {"LogUri": "s3://acme-logs/eks/red-violations-eks/"}
                    },
                    "ApplicationConfiguration": [
                        {
                            "Classification": "spark-defaults",
                            "Properties": {
                                "spark.executor.cores": "2",
                                "spark.executor.instances": "2",
                                "spark.executor.memory": "4g",
                            },
                        }
                    ],
                },
                "JobTemplateId": None,
                "JobTemplateParameters": None,
                "RetryPolicyConfiguration": {"MaxAttempts": 2},
                "Tags": {
                    "cost-center": "analytics",
                    "emr-autopilot:execution-arn": EKS_MACHINE.replace(":stateMachine:", ":execution:") + f":{NAME}",
                    "emr-autopilot:job": "red-violations-eks",
                    "emr-autopilot:managed": "true",
                    "emr-autopilot:run-id": NAME,
                    "team": "data-platform",
                },
            },
            "TimeoutSeconds": 1800,
        }
    ]


def test_each_request_is_start_job_run_in_the_apis_form_and_moto_starts_it(
    job: JobDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        # Given a virtual cluster, and the sample's request on it
        containers = boto3.client("emr-containers", region_name=REGION)
        cluster_id = containers.create_virtual_cluster(
            name="demo", containerProvider={"type": "EKS", "id": "eks-demo", "info": {"eksInfo": {"namespace": "x"}}}
        )["id"]
        request = build_eks_run_input(job, s3_trigger(), context(), NAME)["job_runs"][0]["Request"]
        request = {**request, "VirtualClusterId": cluster_id}

        # When it is turned into the API's form by the service model
        params = start_job_run_params(request)

        # Then its members are the model's camelCase ones, without the unset ones; tags keep their keys; the model
        # takes it, and EMR on EKS (moto) starts the job run with its tags
        assert sorted(params) == [
            "clientToken",
            "configurationOverrides",
            "executionRoleArn",
            "jobDriver",
            "name",
            "releaseLabel",
            "retryPolicyConfiguration",
            "tags",
            "virtualClusterId",
        ]
        assert params["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"][0] == "--input"
        assert params["retryPolicyConfiguration"] == {"maxAttempts": 2}
        assert check_request("StartJobRun", params, service="emr-containers") == []
        started = containers.start_job_run(**params)
        described = containers.describe_job_run(id=started["id"], virtualClusterId=cluster_id)["jobRun"]
        assert described["tags"][TAG_EXECUTION_ARN].endswith(f":execution:emr-autopilot-EksPipeline:{NAME}")


def test_the_client_token_and_name_are_the_same_for_a_redelivery_and_fit_the_api(job: JobDefinition) -> None:
    # Given the same trigger rendered twice, and a second step
    two_steps = JobDefinition.model_validate({**sample(), "steps": sample()["steps"] * 2})

    # When the inputs are built
    first = build_eks_run_input(two_steps, s3_trigger(), context(), NAME)
    second = build_eks_run_input(two_steps, s3_trigger(), context(), NAME)

    # Then they are equal (a redelivery starts no second job run), and each step has its own token
    assert first == second
    tokens = [job_run["Request"]["ClientToken"] for job_run in first["job_runs"]]
    assert tokens == [client_token(NAME, 0), client_token(NAME, 1)]
    assert len(set(tokens)) == 2 and all(1 <= len(token) <= 64 for token in tokens)
    names = [job_run["Request"]["Name"] for job_run in first["job_runs"]]
    assert names == [f"{NAME}.0", f"{NAME}.1"]


def test_a_long_run_id_still_names_a_job_run_the_api_takes() -> None:
    # Given a run id of 80 characters (execution names reach that)
    run_id = "a-forty-character-job-name-for-the-test-manual-20260131T060000Z-0a1b2c-xxxxxxxxxx"[:80]

    # When its job runs are named
    names = [job_run_name(run_id, index) for index in (0, 12)]

    # Then each fits the API's name (64 characters of its set) and keeps the step's index
    assert all(JOB_RUN_NAME.match(name) for name in names), names
    assert [name.rsplit(".", 1)[1] for name in names] == ["0", "12"]


def test_timeouts_templates_cloudwatch_and_defaults() -> None:
    # Given an EKS job on a job template, with CloudWatch logs and no S3 logs, two steps (one without a timeout)
    data = sample()
    data["eks"] = {
        "virtual_cluster_id": CLUSTER,
        "job_template_id": "0abcdef123456789",
        "job_template_parameters": {"Day": "{run_date}"},
        "logs": {"s3": False, "cloudwatch_log_group": "/emr-autopilot/jobs", "cloudwatch_stream_prefix": "red"},
        "persistent_app_ui": False,
        "concurrency": 2,
    }
    data["run_timeout"] = "2h"
    data["steps"] = [data["steps"][0], {**data["steps"][0], "timeout": None, "spark_args": []}]
    job = JobDefinition.model_validate(data)

    # When its input is built
    run_input = build_eks_run_input(job, s3_trigger(), context(), NAME)

    # Then the template and its rendered parameters are passed, the role and release are left to it (null), logs go
    # to CloudWatch only, the step without a timeout gets the run's, and the concurrency is the Map's
    first, second = (job_run["Request"] for job_run in run_input["job_runs"])
    assert (first["JobTemplateId"], first["JobTemplateParameters"]) == ("0abcdef123456789", {"Day": "2026-01-31"})
    assert (first["ExecutionRoleArn"], first["ReleaseLabel"], first["RetryPolicyConfiguration"]) == (None, None, None)
    assert first["ConfigurationOverrides"] == {
        "MonitoringConfiguration": {
            "CloudWatchMonitoringConfiguration": {"LogGroupName": "/emr-autopilot/jobs", "LogStreamNamePrefix": "red"},
            "PersistentAppUI": "DISABLED",
        }
    }
    assert [job_run["TimeoutSeconds"] for job_run in run_input["job_runs"]] == [1800, 7200]
    assert "SparkSubmitParameters" not in second["JobDriver"]["SparkSubmitJobDriver"]
    assert run_input["run"]["step_concurrency"] == 2
    assert check_request("StartJobRun", start_job_run_params(first), service="emr-containers") == []


# -- the run starter picks the state machine ---------------------------------------------------------------


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with state_machines(monkeypatch, EC2_MACHINE, EKS_MACHINE) as client:
        yield client


def test_an_eks_job_starts_the_eks_state_machine_with_its_input(sfn: Any, job: JobDefinition) -> None:
    # Given a catalog with the EKS sample and an EC2 job, and a manual run request
    ec2 = repo_job("red-violations-spark")
    catalog = JobCatalog.model_validate({"jobs": [job.model_dump(mode="json"), ec2.model_dump(mode="json")]})
    request = ManualRunRequest(job=SAMPLE, input_uri="s3://acme-landing/in.csv")

    # When the run starter starts it
    outcome = start_manual_run(catalog, request, context(), deadline=None)

    # Then the execution is on the EKS state machine, with the EKS input
    assert outcome.status == "started"
    assert outcome.execution_arn.startswith(EKS_MACHINE.replace(":stateMachine:", ":execution:"))
    run_input = json.loads(sfn.describe_execution(executionArn=outcome.execution_arn)["input"])
    assert run_input["virtual_cluster"] == {"VirtualClusterId": CLUSTER}
    assert run_input["job_runs"][0]["Request"]["Tags"][TAG_EXECUTION_ARN] == outcome.execution_arn
    assert sfn.list_executions(stateMachineArn=EC2_MACHINE)["executions"] == []


def test_a_stack_without_the_eks_state_machine_fails_an_eks_run_naming_the_output(sfn: Any, job: JobDefinition) -> None:
    # Given a stack deployed before EKS runs existed
    old_stack = context(eks_state_machine_arn=None)

    # When an EKS run is started on it
    with pytest.raises(EksNotDeployed) as caught:
        start_run(job, Trigger(kind="manual", time=WHEN + timedelta(minutes=1)), old_stack)

    # Then it fails with the missing output named, and nothing was started
    assert "stack output EksPipelineStateMachineArn is missing" in str(caught.value)
    assert sfn.list_executions(stateMachineArn=EKS_MACHINE)["executions"] == []
    assert sfn.list_executions(stateMachineArn=EC2_MACHINE)["executions"] == []


# -- the execution janitor -----------------------------------------------------------------------------------


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from emr_autopilot import aws

        aws.reset_clients()
        containers = boto3.client("emr-containers", region_name="us-east-1")
        cluster_id = containers.create_virtual_cluster(
            name="demo", containerProvider={"type": "EKS", "id": "eks-demo", "info": {"eksInfo": {"namespace": "x"}}}
        )["id"]
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:inbox")
        boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="group")
        yield {"containers": containers, "cluster_id": cluster_id, "topic": topic, "sqs": sqs, "inbox": inbox}
        aws.reset_clients()


def _eks_event(status: str, cluster_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "execution_janitor_aborted.json").read_text(encoding="utf-8"))
    event["detail"]["status"] = status
    event["detail"]["input"] = json.dumps(
        {"run": {"job_name": SAMPLE, "compute": "emr-eks"}, "virtual_cluster": {"VirtualClusterId": cluster_id}}
    )
    return event


def _job_run(world: dict[str, Any], execution_arn: str) -> str:
    # moto's job runs stay RUNNING until cancelled (facts §3).
    started: str = world["containers"].start_job_run(
        virtualClusterId=world["cluster_id"],
        clientToken=execution_arn[-20:],
        executionRoleArn=ROLE,
        releaseLabel="emr-7.5.0-latest",
        jobDriver={"sparkSubmitJobDriver": {"entryPoint": "s3://code/count.py"}},
        tags={TAG_EXECUTION_ARN: execution_arn},
    )["id"]
    return started


def _state(world: dict[str, Any], job_run_id: str) -> str:
    described = world["containers"].describe_job_run(id=job_run_id, virtualClusterId=world["cluster_id"])
    state: str = described["jobRun"]["state"]
    return state


def _notices(world: dict[str, Any]) -> list[str]:
    messages = world["sqs"].receive_message(QueueUrl=world["inbox"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"])["Message"] for message in messages]


def test_the_janitor_cancels_the_job_runs_of_an_aborted_eks_run(world: dict[str, Any]) -> None:
    # Given an aborted EKS run whose job run is still RUNNING, and another run's job run on the same virtual cluster
    event = _eks_event("ABORTED", world["cluster_id"])
    arn = event["detail"]["executionArn"]
    ours, theirs = _job_run(world, arn), _job_run(world, arn + "-other")

    # When the janitor handles the execution's end
    report = handle_execution_end(ExecutionStatusChange.model_validate(event), world["topic"], "group")

    # Then only this run's job run is cancelled, no cluster is looked for, and the run's end is notified
    assert report.cancelled_job_runs == [ours]
    assert report.terminated == [] and report.protected == []
    assert _state(world, ours) == "CANCELLED"
    assert _state(world, theirs) == "RUNNING"
    assert report.notified and report.notice == "end"
    (notice,) = _notices(world)
    assert f"Cancelled EMR on EKS job run(s) it left running: {ours}" in notice


def test_the_janitor_leaves_the_job_runs_of_a_succeeded_eks_run(world: dict[str, Any]) -> None:
    # Given a succeeded EKS run whose job run, oddly, still runs
    event = _eks_event("SUCCEEDED", world["cluster_id"])
    running = _job_run(world, event["detail"]["executionArn"])

    # When the janitor handles it
    report = handle_execution_end(ExecutionStatusChange.model_validate(event), world["topic"], "group")

    # Then it cancels nothing and sends nothing
    assert report.cancelled_job_runs == []
    assert not report.notified
    assert _notices(world) == []
    assert _state(world, running) == "RUNNING"


def test_the_janitor_says_when_no_job_run_of_a_failed_eks_run_was_left(world: dict[str, Any]) -> None:
    # Given a FAILED EKS run that could not send its own notice, with no job run left
    event = _eks_event("FAILED", world["cluster_id"])

    # When the janitor handles it
    report = handle_execution_end(ExecutionStatusChange.model_validate(event), world["topic"], "group")

    # Then it cancels nothing, and its notice says no job run (not cluster) was still running
    assert report.cancelled_job_runs == []
    (notice,) = _notices(world)
    assert "No job run of this run was still running." in notice
