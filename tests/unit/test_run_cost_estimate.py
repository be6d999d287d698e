"""The cost line of a finished run's success notice (emr_autopilot.run_cost_estimate, RunCostFunction's work), for
the three compute targets, against moto in-process; the payloads are the samples in events/.

moto 5.2.5 leaves an EMR instance's Status.Timeline.EndDateTime empty and NormalizedInstanceHours at 0 after its
cluster ends, and returns no architecture from GetApplication. Where a test needs what AWS would answer, its Given
step sets it on moto's backend object (as tests/unit/test_run_cost_recording.py does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.emr.models import emr_backends
from moto.emrserverless.models import emrserverless_backends

from emr_autopilot import aws, emr, emr_eks
from emr_autopilot.errors import InvalidEvent
from emr_autopilot.pricing import price_table
from emr_autopilot.run_cost_estimate import parse_request, run_cost
from emr_autopilot.run_costs import eks_prices, serverless_prices
from emr_autopilot.tags import TAG_MANAGED
from emr_autopilot_devkit.local.moto_patches import emr_backend
from tests.helpers.eks_world import EksWorld

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
BILLED = {"vCPUHour": 0.5, "memoryGBHour": 2.0, "storageGBHour": 10.0}


@pytest.fixture(autouse=True)
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set by the local runtime when it ran in this process
    monkeypatch.setenv("AWS_REGION", REGION)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    emr_backend.install()  # the local runtime's fixes to moto: a cluster EMR does not know is InvalidRequestException
    aws.reset_clients()
    with mock_aws():
        yield
    aws.reset_clients()


def payload(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return {**event, **changes}


# -- EMR on EC2 ------------------------------------------------------------------------------------------
def ended_cluster(core: int = 2, lifetimes: dict[str, timedelta] | None = None, hours: int = 0) -> str:
    """A managed cluster of one m5.xlarge primary and `core` m5.xlarge core instances, terminated; with
    `lifetimes`, its instances were created at T0 and ended after their group's lifetime."""
    cluster_id: str = aws.client("emr").run_job_flow(
        Name="red-violations-run",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": core},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": TAG_MANAGED, "Value": "true"}],
    )["JobFlowId"]
    aws.client("emr").terminate_job_flows(JobFlowIds=[cluster_id])
    cluster = emr_backends[ACCOUNT][REGION].clusters[cluster_id]
    cluster.normalized_instance_hours = hours
    for group in cluster.instance_groups if lifetimes else ():
        group.creation_date_time, group.end_date_time = T0, T0 + lifetimes[group.role]
        group.state = "TERMINATED"
    return cluster_id


def test_a_terminated_cluster_is_priced_by_each_instances_lifetime() -> None:
    # Given a terminated cluster whose primary lived 30 minutes and whose two core instances lived 20 minutes
    cluster_id = ended_cluster(lifetimes={"MASTER": timedelta(minutes=30), "CORE": timedelta(minutes=20)})

    # When the pipeline asks for its cost with the EC2 sample payload, moved onto it
    cost = run_cost(parse_request(payload("run_cost_cluster.json", cluster_id=cluster_id)))

    # Then it is 70 instance-minutes at the table's m5.xlarge price, labelled an estimate with the table's date
    table = price_table()
    expected = round(table.hourly["m5.xlarge"] * 70 / 60, 4)
    assert (cost["compute"], cost["usd"]) == ("emr-ec2", expected)
    label = f"estimate: us-east-1 on-demand list prices as of {table.as_of}"
    assert cost["line"] == f"Cost: ~${expected:.4f} ({label}; 1.17 instance-hours)"


def test_without_instance_end_times_a_cluster_is_priced_by_its_normalized_instance_hours() -> None:
    # Given a terminated cluster whose instances have no end time (moto's answer), with 24 NormalizedInstanceHours
    cluster_id = ended_cluster(core=1, hours=24)

    # When its cost is asked for
    cost = run_cost(parse_request({"cluster_id": cluster_id}))

    # Then it is the normalized hours at the table's rate, said to be an upper bound
    assert cost["usd"] == round(24 * price_table().normalized_instance_hour_usd, 4)
    assert cost["detail"] == "24 normalized instance-hours (whole hours: an upper bound)"


def test_a_cluster_emr_does_not_know_has_an_unknown_cost_that_says_why() -> None:
    # Given the EC2 sample's cluster, which this account's EMR does not know
    # When its cost is asked for
    cost = run_cost(parse_request(payload("run_cost_cluster.json")))

    # Then there is no amount (never a $0), and the line names the call EMR refused
    assert cost["usd"] is None
    assert cost["line"] == "Cost: unknown (EMR did not say (ListInstances: InvalidRequestException))"


@pytest.mark.parametrize(
    ("target", "call", "operation", "request_payload"),
    [
        pytest.param(emr, "list_instances", "ListInstances", lambda: {"cluster_id": ended_cluster(core=1)}, id="ec2"),
        pytest.param(emr_eks, "describe_job_run", "DescribeJobRun", lambda: payload("run_cost_eks.json"), id="eks"),
    ],
)
def test_throttling_that_outlasts_the_sdks_retries_is_raised_for_the_not_available_path(
    monkeypatch: pytest.MonkeyPatch, target: Any, call: str, operation: str, request_payload: Any
) -> None:
    # Given the call the estimate makes keeps throttling (injected: moto does not throttle)
    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

    monkeypatch.setattr(target, call, throttled)

    # When the cost is asked for / Then the error is raised, not turned into an unknown cost (the ASL's Catch
    # then sends the success notice with "Cost: not available")
    with pytest.raises(ClientError, match="ThrottlingException"):
        run_cost(parse_request(request_payload()))


# -- EMR Serverless ----------------------------------------------------------------------------------------
def application(architecture: str | None) -> str:
    app: str = aws.client("emr-serverless").create_application(
        name="emr-autopilot-red-violations", releaseLabel="emr-7.5.0", type="SPARK", clientToken="app"
    )["applicationId"]
    emrserverless_backends[ACCOUNT][REGION].applications[app].architecture = architecture  # GetApplication's
    return app


def succeeded_job_run(app: str, index: int, billed: dict[str, float] | None) -> str:
    """A job run that ended SUCCESS with this billedResourceUtilization (set on moto's object)."""
    job_run_id: str = aws.client("emr-serverless").start_job_run(
        applicationId=app,
        clientToken=f"token-{index}",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-serverless-job",
        name=f"run.{index}",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/count.py"}},
    )["jobRunId"]
    run = emrserverless_backends[ACCOUNT][REGION].get_job_run(app, job_run_id)
    run.state, run.billed_resource_utilization = "SUCCESS", billed
    return job_run_id


def serverless_payload(app: str, *job_run_ids: str) -> dict[str, Any]:
    return payload("run_cost_serverless.json", application_id=app, job_runs=[{"JobRunId": i} for i in job_run_ids])


def test_a_serverless_run_costs_the_sum_of_its_job_runs_at_its_applications_architecture() -> None:
    # Given an ARM64 application and a run of two job runs that ended with billed utilization
    app = application("ARM64")
    other = {"vCPUHour": 1.0, "memoryGBHour": 4.0, "storageGBHour": 0.0}
    runs = succeeded_job_run(app, 0, BILLED), succeeded_job_run(app, 1, other)

    # When the pipeline asks for the run's cost with the serverless sample payload, moved onto them
    cost = run_cost(parse_request(serverless_payload(app, *runs)))

    # Then it is the sum of both at the ARM64 rates, labelled with the EMR Serverless price table's date
    rate = serverless_prices().rates["ARM64"]

    def priced(billed: dict[str, float]) -> float:
        vcpu, memory, storage = billed["vCPUHour"], billed["memoryGBHour"], billed["storageGBHour"]
        return round(vcpu * rate["vcpu_hour"] + memory * rate["memory_gb_hour"] + storage * rate["storage_gb_hour"], 4)

    assert cost["compute"] == "emr-serverless"
    assert cost["usd"] == pytest.approx(priced(BILLED) + priced(other), abs=1e-4)
    detail = "2 job run(s): 1.5 vCPU-h, 6 GB-h memory, 10 GB-h storage, ARM64"
    assert cost["line"] == f"Cost: ~${cost['usd']:.4f} ({serverless_prices().label}; {detail})"


def test_an_application_without_an_architecture_is_priced_as_x86_and_says_it_was_assumed() -> None:
    # Given an application GetApplication gives no architecture for, and one job run
    app = application(None)
    job_run = succeeded_job_run(app, 0, BILLED)

    # When the run's cost is asked for
    cost = run_cost(parse_request(serverless_payload(app, job_run)))

    # Then it is priced at the X86_64 rates, and the line says the architecture was assumed
    rate = serverless_prices().rates["X86_64"]
    expected = 0.5 * rate["vcpu_hour"] + 2 * rate["memory_gb_hour"] + 10 * rate["storage_gb_hour"]
    assert cost["usd"] == round(expected, 4)
    assert cost["detail"].endswith("X86_64 (assumed: the application's architecture is unknown)")


def test_a_job_run_without_billed_utilization_is_named_not_priced_at_zero() -> None:
    # Given a run of one job run that ended without billedResourceUtilization
    app = application("X86_64")
    job_run = succeeded_job_run(app, 0, None)

    # When the run's cost is asked for
    cost = run_cost(parse_request(serverless_payload(app, job_run)))

    # Then there is no amount, and the line says why
    assert cost["usd"] is None
    assert cost["line"] == "Cost: unknown (1 job run(s) without billedResourceUtilization)"


def test_an_application_emr_serverless_does_not_know_has_an_unknown_cost_that_says_why() -> None:
    # Given the serverless sample's application, which this account does not have
    # When its run's cost is asked for
    cost = run_cost(parse_request(payload("run_cost_serverless.json")))

    # Then there is no amount, and the line names the call that was refused
    assert cost["usd"] is None
    assert cost["line"] == "Cost: unknown (EMR Serverless did not say (GetApplication: ResourceNotFoundException))"


# -- EMR on EKS --------------------------------------------------------------------------------------------
def eks_payload(world: EksWorld, *job_run_ids: str) -> dict[str, Any]:
    """The EKS sample payload moved onto the world's virtual cluster and these job runs (each item as the
    startJobRun.sync task outputs it: Id with the rest of the job run, which the function ignores)."""
    sample = payload("run_cost_eks.json")
    items = [{**sample["job_runs"][0], "Id": job_run_id} for job_run_id in job_run_ids]
    return {**sample, "virtual_cluster_id": world.virtual_cluster, "job_runs": items}


def test_an_eks_run_costs_the_sum_of_its_job_runs_requested_vcpu_and_memory_for_their_durations() -> None:
    # Given two job runs that COMPLETED after 240 s and 30 s, each a driver and 2 executors at Spark's defaults
    # (1 core and 1g each, plus the 384 MiB memory overhead: 3 vCPU and 3 x 1408 MiB)
    world = EksWorld()
    runs = [
        world.eks_job_run(state="COMPLETED", created_at=T0, finished_at=T0 + timedelta(seconds=seconds))
        for seconds in (240, 30)
    ]

    # When the pipeline asks for the run's cost with the EKS sample payload, moved onto them
    cost = run_cost(parse_request(eks_payload(world, *runs)))

    # Then it is 240 s plus the 1-minute minimum of those requests, at the dated EMR on EKS prices, labelled as
    # the EMR uplift only
    prices = eks_prices()
    hourly = 3 * prices.vcpu_hour + 3 * 1408 / 1024 * prices.memory_gb_hour
    assert cost["compute"] == "emr-eks"
    assert cost["usd"] == pytest.approx(hourly * (240 + 60) / 3600, abs=2e-4)
    assert (
        cost["line"]
        == f"Cost: ~${cost['usd']:.4f} ({prices.label}; 2 job run(s), requested vCPU and memory x duration)"
    )
    assert "the EKS nodes (EC2 or Fargate) are billed separately" in cost["line"]


def test_an_eks_job_run_that_has_not_ended_is_named_not_priced_at_zero() -> None:
    # Given a run of one job run that ended 240 s after it started and one still RUNNING (no finishedAt)
    world = EksWorld()
    ended = world.eks_job_run(state="COMPLETED", created_at=T0, finished_at=T0 + timedelta(seconds=240))
    running = world.eks_job_run(state="RUNNING", created_at=T0, finished_at=None)

    # When the run's cost is asked for
    cost = run_cost(parse_request(eks_payload(world, ended, running)))

    # Then the amount is the ended job run's alone, said to be a lower bound
    alone = run_cost(parse_request(eks_payload(world, ended)))
    assert cost["usd"] == alone["usd"] and cost["usd"] > 0
    assert cost["detail"].endswith("; a lower bound: 1 job run(s) with an unknown cost")


def test_a_virtual_cluster_emr_on_eks_does_not_know_has_an_unknown_cost_that_says_why() -> None:
    # Given the EKS sample's virtual cluster and job run, which this account does not have
    # When its run's cost is asked for
    cost = run_cost(parse_request(payload("run_cost_eks.json")))

    # Then there is no amount, and the line names the call that was refused
    assert cost["usd"] is None
    assert cost["line"] == "Cost: unknown (EMR on EKS did not say (DescribeJobRun: ResourceNotFoundException))"


# -- the payload -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"cluster_id": "j-1", "application_id": "00f1"},
        {"cluster_id": "j-1", "job_runs": [{"JobRunId": "00f2"}]},
        {"cluster_id": "j-1; rm -rf"},
        {"application_id": "00f1", "job_runs": [{}]},
        {"cluster_id": "j-1", "extra": True},
        {"application_id": "00f1", "virtual_cluster_id": "abc"},
        {"virtual_cluster_id": "abc", "job_runs": [{"Name": "no id"}]},
    ],
)
def test_a_payload_that_names_no_single_run_is_refused_with_a_name_the_asl_reports(event: dict[str, Any]) -> None:
    # Given a payload with neither target, both, a malformed id or an unknown field
    # When it is parsed / Then it fails as InvalidEvent (the state machine's Catch puts the name in the notice)
    with pytest.raises(InvalidEvent, match="RunCostRequest payload is invalid"):
        parse_request(event)
