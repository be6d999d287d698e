"""EMR Serverless on the local runtime, against AWS's documentation: application and job run life cycles, the API's
refusals, idempotent client tokens, EventBridge events, utilization. No Spark runs here (Hive drivers and
entry points that are never reached keep these tests fast); tests/integration/test_emr_serverless_runtime.py runs
Spark for real.

Sources, cited per test:
- application-states: EMR Serverless User Guide, "Application states";
- job-states: EMR Serverless User Guide, "Job run states";
- the API reference / botocore's emr-serverless model (StopApplication, DeleteApplication, StartJobRun, GetJobRun);
- events-ref-emr-serverless: EventBridge events reference, "Amazon EMR Serverless events".
"inferred" marks what the local runtime decides where no AWS page says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot_devkit.local.emr_serverless_simulator import utilization
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REPO_ROOT
from tests.helpers.conformance import Runner, recorded_events, wait_until

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/EmrServerlessJob"
HIVE = {"hive": {"query": "s3://nowhere/query.sql"}}
ENDED = {"SUCCESS", "FAILED", "CANCELLED"}


@pytest.fixture
def events(runtime: Runner) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The EMR Serverless events the simulator emits, in order (still delivered to EventBridge)."""
    with recorded_events(runtime.stack.serverless) as seen:
        yield seen


@pytest.fixture
def client(runtime: Runner) -> Any:
    return runtime.stack.client("emr-serverless")


def app_state(client: Any, app_id: str) -> str:
    state: str = client.get_application(applicationId=app_id)["application"]["state"]
    return state


def wait_app(client: Any, app_id: str, state: str) -> None:
    wait_until(lambda: app_state(client, app_id) == state, timeout=20)


def wait_run(client: Any, app_id: str, run_id: str, states: set[str]) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]
        return run if run["state"] in states else None

    result: dict[str, Any] = wait_until(found, timeout=20)
    return result


def create_app(client: Any, **extra: Any) -> str:
    app_id: str = client.create_application(name="lifecycle", releaseLabel="emr-7.1.0", type="SPARK", **extra)[
        "applicationId"
    ]
    return app_id


def app_states(events: list[tuple[str, dict[str, Any]]], app_id: str) -> list[str]:
    return [
        d["state"]
        for kind, d in events
        if kind == "EMR Serverless Application State Change" and d["applicationId"] == app_id
    ]


def run_transitions(events: list[tuple[str, dict[str, Any]]], run_id: str) -> list[tuple[str, str]]:
    return [
        (d["previousState"], d["state"])
        for kind, d in events
        if kind == "EMR Serverless Job Run State Change" and d["jobRunId"] == run_id
    ]


def test_application_life_cycle_follows_the_documented_states(runtime: Runner, client: Any, events: list) -> None:
    # Given a new application (application-states: it "enters the CREATING state")
    app_id = create_app(client)
    wait_app(client, app_id, "CREATED")
    # When it is started, stopped and deleted
    client.start_application(applicationId=app_id)
    wait_app(client, app_id, "STARTED")
    client.stop_application(applicationId=app_id)
    wait_app(client, app_id, "STOPPED")
    client.delete_application(applicationId=app_id)
    # Then it passed through every documented state, each with an "Application State Change" event
    assert app_state(client, app_id) == "TERMINATED"
    assert app_states(events, app_id) == [
        "CREATING",
        "CREATED",
        "STARTING",
        "STARTED",
        "STOPPING",
        "STOPPED",
        "TERMINATED",
    ]
    # And the event carries the documented detail keys (events-ref-emr-serverless sample), with the event's own
    # names for auto-stop and auto-start
    detail = next(d for kind, d in events if kind == "EMR Serverless Application State Change")
    assert set(detail) == {
        "applicationId",
        "applicationName",
        "arn",
        "releaseLabel",
        "state",
        "type",
        "createdAt",
        "updatedAt",
        "autoStopConfig",
        "autoStartConfig",
    }
    assert detail["autoStopConfig"] == {"enabled": True, "idleTimeout": 15}
    assert detail["type"] == "SPARK"


def test_delete_of_a_started_application_is_refused(runtime: Runner, client: Any) -> None:
    # Given a STARTED application
    app_id = create_app(client)
    wait_app(client, app_id, "CREATED")
    client.start_application(applicationId=app_id)
    wait_app(client, app_id, "STARTED")
    # When it is deleted
    with pytest.raises(ClientError) as refused:
        client.delete_application(applicationId=app_id)
    # Then EMR Serverless refuses: "An application has to be in a stopped or created state in order to be deleted"
    # (DeleteApplication); sleeper#2909 quotes AWS's "must be in [CREATED, STOPPED]. Current status: STARTED"
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "STARTED" in refused.value.response["Error"]["Message"]
    assert app_state(client, app_id) == "STARTED"


def test_a_job_auto_starts_its_application_and_stop_waits_for_it(runtime: Runner, client: Any, events: list) -> None:
    # Given a CREATED application (autoStartConfiguration enabled by default) and a job run held in SCHEDULED
    timings = runtime.stack.serverless.timings
    held, timings.scheduled = timings.scheduled, 10**7
    try:
        app_id = create_app(client)
        wait_app(client, app_id, "CREATED")
        # When a job run is submitted
        run_id = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE)["jobRunId"]
        # Then the application starts on its own, and the run waits for it before it is scheduled
        wait_run(client, app_id, run_id, {"SCHEDULED"})
        assert app_state(client, app_id) == "STARTED"
        # And StopApplication is refused while the run is active ("All scheduled and running jobs must be completed
        # or cancelled before stopping an application", StopApplication)
        with pytest.raises(ClientError) as refused:
            client.stop_application(applicationId=app_id)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert run_id in refused.value.response["Error"]["Message"]
    finally:
        timings.scheduled = held
    # When the run is cancelled (job-states, Cancelling: "The CancelJobRun API has requested job run cancellation")
    client.cancel_job_run(applicationId=app_id, jobRunId=run_id)
    run = wait_run(client, app_id, run_id, ENDED)
    # Then it went CANCELLING -> CANCELLED, and never ran: nothing used or billed (inferred)
    assert run["state"] == "CANCELLED"
    assert run_transitions(events, run_id) == [
        ("", "SUBMITTED"),
        ("SUBMITTED", "PENDING"),
        ("PENDING", "SCHEDULED"),
        ("SCHEDULED", "CANCELLING"),
        ("CANCELLING", "CANCELLED"),
    ]
    assert run["billedResourceUtilization"] == {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0}
    assert "startedAt" not in run and run["endedAt"]
    # And cancelling an ended run is refused (inferred; moto would set it CANCELLED again)
    with pytest.raises(ClientError) as again:
        client.cancel_job_run(applicationId=app_id, jobRunId=run_id)
    assert again.value.response["Error"]["Code"] == "ValidationException"


def test_an_idle_application_stops_after_its_idle_timeout(runtime: Runner, client: Any) -> None:
    # Given a STARTED application with a 1-minute idle timeout (autoStopConfiguration.idleTimeoutMinutes)
    app_id = create_app(client, autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 1})
    wait_app(client, app_id, "CREATED")
    client.start_application(applicationId=app_id)
    wait_app(client, app_id, "STARTED")
    # When it stays idle for longer than that
    runtime.stack.clock.advance(120)
    # Then it stops by itself
    wait_app(client, app_id, "STOPPED")


def test_a_job_on_a_stopped_application_without_auto_start_fails(runtime: Runner, client: Any) -> None:
    # Given a CREATED application whose auto-start is disabled
    app_id = create_app(client, autoStartConfiguration={"enabled": False})
    wait_app(client, app_id, "CREATED")
    # When a job run is submitted
    run_id = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE)["jobRunId"]
    run = wait_run(client, app_id, run_id, ENDED)
    # Then it fails with stateDetails saying why (job-states, Failed: "EMR Serverless failed to submit the job run to
    # the application"; application-states, Started: it "only accepts jobs when it's in this state")
    assert run["state"] == "FAILED"
    assert "autoStartConfiguration is disabled" in run["stateDetails"]
    assert app_state(client, app_id) == "CREATED"


def test_a_hive_job_fails_saying_it_cannot_run_locally(runtime: Runner, client: Any, events: list) -> None:
    # Given a started application
    app_id = create_app(client)
    # When a Hive job run is submitted (with its logs going to S3)
    runtime.stack.client("s3").create_bucket(Bucket="serverless-hive-logs")
    run_id = client.start_job_run(
        applicationId=app_id,
        executionRoleArn=ROLE,
        jobDriver=HIVE,
        configurationOverrides={
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://serverless-hive-logs/logs"}}
        },
    )["jobRunId"]
    run = wait_run(client, app_id, run_id, ENDED)
    # Then it FAILS with a reason (never a fake success), through RUNNING (job-states' normal order)
    assert run["state"] == "FAILED"
    assert "Hive job driver cannot run" in run["stateDetails"]
    assert [state for _, state in run_transitions(events, run_id)] == [
        "SUBMITTED",
        "PENDING",
        "SCHEDULED",
        "RUNNING",
        "FAILED",
    ]
    # And each job run event has the keys of the sample in events/ (events-ref-emr-serverless)
    sample = json.loads((REPO_ROOT / "events" / "emr_serverless_job_run_failed.json").read_text(encoding="utf-8"))
    failed = [d for kind, d in events if kind == "EMR Serverless Job Run State Change" and d["jobRunId"] == run_id][-1]
    assert set(failed) == set(sample["detail"])
    # And the GetJobRun fields of a terminal run are set (GetJobRun: totalExecutionDurationSeconds "only available
    # for job runs in a COMPLETED, FAILED, or CANCELLED state")
    assert run["startedAt"] <= run["endedAt"]
    assert run["totalExecutionDurationSeconds"] > 0
    assert run["mode"] == "BATCH" and run["attempt"] == 1
    # And the final Resource Utilization Update event closes the run (events-ref-emr-serverless)
    final = [
        d for kind, d in events if kind == "EMR Serverless Job Resource Utilization Update" and d["jobRunId"] == run_id
    ]
    assert len(final) == 1 and final[0]["resourceUtilizationFinal"] is True
    assert set(final[0]) >= {
        "applicationId",
        "jobRunId",
        "attempt",
        "mode",
        "createdAt",
        "calculatedFrom",
        "calculatedTo",
        "resourceUtilizationForInterval",
        "billedResourceUtilizationForInterval",
        "totalResourceUtilization",
        "totalBilledResourceUtilization",
    }
    # And its driver's stderr is where EMR Serverless writes logs (inferred HIVE_DRIVER by analogy)
    key = f"logs/applications/{app_id}/jobs/{run_id}/HIVE_DRIVER/stderr.gz"
    runtime.stack.client("s3").head_object(Bucket="serverless-hive-logs", Key=key)


def test_a_run_past_its_execution_timeout_is_cancelled(runtime: Runner, client: Any) -> None:
    # Given a job run held in SCHEDULED with executionTimeoutMinutes 5
    timings = runtime.stack.serverless.timings
    held, timings.scheduled = timings.scheduled, 10**7
    try:
        app_id = create_app(client)
        run_id = client.start_job_run(
            applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE, executionTimeoutMinutes=5
        )["jobRunId"]
        wait_run(client, app_id, run_id, {"SCHEDULED"})
        # When more than 5 minutes pass
        runtime.stack.clock.advance(6 * 60)
        run = wait_run(client, app_id, run_id, ENDED)
    finally:
        timings.scheduled = held
    # Then it is cancelled (job-states, Cancelling: "... or the job run has timed out"), saying so
    assert run["state"] == "CANCELLED"
    assert "timed out" in run["stateDetails"]


def test_a_repeated_client_token_returns_the_same_job_run(runtime: Runner, client: Any) -> None:
    # Given an application
    app_id = create_app(client)
    # When StartJobRun is called twice with one clientToken (API_StartJobRun: "The client idempotency token")
    first = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE, clientToken="once")
    second = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE, clientToken="once")
    # Then one job run exists
    assert first["jobRunId"] == second["jobRunId"]
    assert [run["id"] for run in client.list_job_runs(applicationId=app_id)["jobRuns"]] == [first["jobRunId"]]


def test_requests_are_checked_against_the_model(runtime: Runner, client: Any) -> None:
    # Given the emr-serverless endpoint of the local runtime
    app_id = create_app(client)
    # When a request breaks the model's constraints (botocore's client checks types, not lengths or ranges)
    with pytest.raises(ClientError) as too_long:
        client.create_application(name="n" * 65, releaseLabel="emr-7.1.0", type="SPARK")
    with pytest.raises(ClientError) as too_large:
        client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE, executionTimeoutMinutes=10**7)
    # Then EMR Serverless refuses it with AWS's validation wording, naming the member
    assert too_long.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'name' failed to satisfy constraint: Member must have length less than or equal to 64" in str(
        too_long.value
    )
    assert too_large.value.response["Error"]["Code"] == "ValidationException"
    assert "'executionTimeoutMinutes'" in str(too_large.value)
    # And an application with no job runs lists none (moto answered ResourceNotFoundException)
    assert client.list_job_runs(applicationId=create_app(client))["jobRuns"] == []


def test_query_string_members_are_validated_as_sent(runtime: Runner, client: Any) -> None:
    # Given an application with one job run
    app_id = create_app(client)
    run_id = client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, jobDriver=HIVE)["jobRunId"]
    # When the list calls send their optional query-string members, or none (REST-JSON: all text on the wire;
    # ListApplications' states and ListJobRuns' createdAtAfter, maxResults and states, API reference)
    unfiltered = client.list_applications()["applications"]
    since = client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]["createdAt"] - timedelta(minutes=1)
    listed = client.list_job_runs(applicationId=app_id, createdAtAfter=since, maxResults=5)["jobRuns"]
    # Then AWS's model accepts them: an omitted list is not an empty one, a timestamp is ISO 8601 text
    assert app_id in [app["id"] for app in unfiltered]
    assert [run["id"] for run in listed] == [run_id]


def test_get_application_answers_the_architecture_it_was_created_with(runtime: Runner, client: Any) -> None:
    # Given applications created with and without an architecture (CreateApplication's architecture member)
    arm = client.create_application(name="arm", releaseLabel="emr-7.5.0", type="SPARK", architecture="ARM64")
    default = client.create_application(name="x86", releaseLabel="emr-7.5.0", type="SPARK")
    # When each is read back
    answers = [client.get_application(applicationId=app["applicationId"])["application"] for app in (arm, default)]
    # Then GetApplication gives it, X86_64 when none was asked for (API reference, Application.architecture)
    assert [app["architecture"] for app in answers] == ["ARM64", "X86_64"]


def test_utilization_formula() -> None:
    # Given a run of one driver and 2 executors of 2 vCPU / 4g, RUNNING 30 seconds (formula inferred, see module)
    driver = {
        "sparkSubmit": {
            "sparkSubmitParameters": "--conf spark.executor.instances=2 "
            "--conf spark.executor.cores=2 --conf spark.executor.memory=4g"
        }
    }
    # When its utilization is computed
    total, billed = utilization(driver, 30)
    # Then it counts 4 + 2*2 vCPU for 30 s, and bills the 1-minute minimum with no storage under 20 GB per worker
    assert total["vCPUHour"] == round(8 * 30 / 3600, 3)
    assert billed["vCPUHour"] == round(8 * 60 / 3600, 3)
    assert total["memoryGBHour"] == round((16 + 2 * 5) * 30 / 3600, 3)
    assert billed["storageGBHour"] == 0.0
