"""The run starter's event parsing and the janitor's cluster selection, against moto in-process."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.emrserverless.models import emrserverless_backends

from emr_autopilot import aws
from emr_autopilot.errors import InvalidEvent
from emr_autopilot.execution_janitor import ExecutionStatusChange, clusters_of_execution, handle_execution_end
from emr_autopilot.run_starter import deadline_schedule_name, parse_object_event
from emr_autopilot.runs import TAG_EXECUTION_ARN
from emr_autopilot_devkit.local.moto_patches import emr_serverless_backend

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_eventbridge_object_created_keeps_the_key_as_written():
    # Given the sample EventBridge "Object Created" event
    event = load_event("run_starter_s3_object_created.json")
    # When it is parsed
    event_id, objects = parse_object_event(event)
    # Then the key, version and id are taken as they are
    assert event_id == event["id"]
    assert [obj.key for obj in objects] == ["inspections/2026-11-21/inspections.csv"]
    assert objects[0].identity.endswith("#3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")


def test_s3_notification_records_keys_are_url_decoded():
    # Given a classic S3 notification whose key is URL-encoded ('+' for space, %2B for '+')
    event = load_event("run_starter_s3_notification_records.json")
    # When it is parsed
    _, objects = parse_object_event(event)
    # Then the key is the object's real key
    assert objects[0].key == "inspections/café reports/2026-11-21 a+b=c.csv"
    assert objects[0].uri == "s3://emr-autopilot-local-landingbucket/inspections/café reports/2026-11-21 a+b=c.csv"


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "Object Created", "source": "aws.s3"},
        {"Records": []},
        {"id": "x", "detail-type": "Object Created", "source": "aws.s3", "time": "not a time", "detail": {}},
    ],
)
def test_malformed_object_events_are_invalid_input(event):
    # Given an event missing what the starter needs
    # When it is parsed / Then it is refused as invalid input, not a crash of another kind
    with pytest.raises(InvalidEvent):
        parse_object_event(event)


def test_deadline_schedule_names_fit_schedulers_limit():
    # Given the longest execution ARN a run can have (80-character execution name)
    arn = "arn:aws:states:us-east-1:123456789012:execution:" + "m" * 80 + ":" + "n" * 80
    # When its deadline schedule is named / Then the name fits EventBridge Scheduler's 64 characters
    name = deadline_schedule_name(arn)
    assert len(name) <= 64
    assert name != deadline_schedule_name(arn + "x")


@pytest.fixture
def emr():
    with mock_aws():
        aws.reset_clients()
        yield boto3.client("emr", region_name="us-east-1")
    aws.reset_clients()


def _cluster(emr, name: str, execution_arn: str | None) -> str:
    tags = [{"Key": TAG_EXECUTION_ARN, "Value": execution_arn}] if execution_arn else []
    return emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.5.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=tags,
    )["JobFlowId"]


def test_janitor_selects_only_clusters_tagged_with_the_execution(emr, monkeypatch):
    # Given a run's cluster, a same-named cluster of another execution, and an untagged one
    arn = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"
    mine = _cluster(emr, "run-1", arn)
    _cluster(emr, "run-1", arn + "-other")
    _cluster(emr, "run-1", None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # When the janitor looks for the execution's clusters
    found = clusters_of_execution(arn, "run-1")
    # Then only the tagged one is found
    assert [cluster["Id"] for cluster in found] == [mine]


def test_janitor_terminates_after_abort_but_never_removes_protection(emr, monkeypatch):
    # Given an aborted execution with two clusters, one termination-protected
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    event = load_event("execution_janitor_aborted.json")
    arn, name = event["detail"]["executionArn"], event["detail"]["name"]
    free = _cluster(emr, name, arn)
    protected = _cluster(emr, name, arn)
    emr.set_termination_protection(JobFlowIds=[protected], TerminationProtected=True)
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    scheduler.create_schedule_group(Name="group")
    # When the janitor handles the event
    report = handle_execution_end(ExecutionStatusChange.model_validate(event), topic, "group")
    # Then the free cluster is terminated, the protected one is left and reported
    assert report.terminated == [free]
    assert report.protected == [protected]
    assert report.notified
    states = {c: emr.describe_cluster(ClusterId=c)["Cluster"]["Status"]["State"] for c in (free, protected)}
    assert states[free] == "TERMINATED"
    assert states[protected] == "WAITING"
    assert emr.describe_cluster(ClusterId=protected)["Cluster"]["TerminationProtected"] is True


def test_janitor_does_nothing_after_success(emr, monkeypatch):
    # Given a succeeded execution whose cluster, oddly, still runs
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    event = load_event("execution_janitor_succeeded.json")
    cluster = _cluster(emr, event["detail"]["name"], event["detail"]["executionArn"])
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="group")
    # When the janitor handles it
    report = handle_execution_end(
        ExecutionStatusChange.model_validate(event), "arn:aws:sns:us-east-1:123456789012:x", "group"
    )
    # Then it leaves clusters alone (a succeeded run terminated its own) and sends nothing
    assert report.terminated == []
    assert not report.notified
    assert emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"]["State"] == "WAITING"


def test_janitor_cancels_the_job_runs_of_an_aborted_serverless_run(emr, monkeypatch):
    # Given an aborted serverless run whose job run is still RUNNING (set on moto's object: moto ends runs at
    # once), and another run's job run on the same application
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    emr_serverless_backend.install()  # the local runtime's fixes to moto (ListJobRuns filters)
    event = load_event("execution_janitor_aborted.json")
    arn = event["detail"]["executionArn"]
    client = boto3.client("emr-serverless", region_name="us-east-1")
    app_id = client.create_application(name="emr-autopilot-nightly", releaseLabel="emr-7.5.0", type="SPARK")[
        "applicationId"
    ]
    backend = emrserverless_backends["123456789012"]["us-east-1"]

    def job_run(execution_arn: str) -> str:
        run_id = client.start_job_run(
            applicationId=app_id,
            executionRoleArn="arn:aws:iam::123456789012:role/job",
            jobDriver={"sparkSubmit": {"entryPoint": "s3://code/count.py"}},
            tags={TAG_EXECUTION_ARN: execution_arn},
        )["jobRunId"]
        next(run for run in backend.job_runs[app_id] if run.id == run_id).state = "RUNNING"
        return run_id

    ours, theirs = job_run(arn), job_run(arn + "-other")
    event["detail"]["input"] = json.dumps(
        {"run": {"job_name": "nightly", "compute": "emr-serverless"}, "application": {"ApplicationId": app_id}}
    )
    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="alerts")["TopicArn"]
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="group")

    # When the janitor handles the execution's end
    report = handle_execution_end(ExecutionStatusChange.model_validate(event), topic, "group")

    # Then only this run's job run is cancelled, and the notice says so
    assert report.cancelled_job_runs == [ours]
    states = {
        run_id: client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]["state"]
        for run_id in (ours, theirs)
    }
    assert states[theirs] == "RUNNING"
    assert states[ours] in ("CANCELLING", "CANCELLED")
    assert report.notified
