"""Reactions to EMR on EKS events against moto in-process: the run ledger, the failure notice, the cost, the handler.

moto 5.2.5 keeps a job run RUNNING with no failureReason or finishedAt; where a test needs another state, a reason
or an end, its Given step sets them on moto's backend object, as DescribeJobRun would then answer (shared
reference serverless-eks-facts.md §3, "Driving states in tests")."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from moto import mock_aws

from emr_autopilot import aws, ledger
from tests.helpers.eks_world import EXECUTION, LOGS, RUN_ID, EksWorld
from tests.helpers.handlers import (
    ACCOUNT,
    ROOT,
    TABLE,
    LambdaContext,
    aws_env,
    dead_letters,
    handler_environment,
    lambda_app,
)

FAILED, COMPLETED, RUNNING, NEW_DRIVER = (
    "emr_eks_job_run_failed.json",
    "emr_eks_job_run_completed.json",
    "emr_eks_job_run_running.json",
    "emr_eks_job_run_new_driver_attempt.json",
)
DETAILS = "Jobrun failed. Main Spark container terminated with errors."
CREATED = datetime(2026, 11, 21, 6, 20, 47, tzinfo=UTC)
FINISHED = datetime(2026, 11, 21, 6, 24, 47, tzinfo=UTC)  # 240 s later


@pytest.fixture(scope="module", autouse=True)
def _module_clients() -> Iterator[None]:
    aws.reset_clients()
    yield
    aws.reset_clients()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[EksWorld]:
    aws_env(monkeypatch)
    with mock_aws():
        yield EksWorld()


def _ended(world: EksWorld, state: str, **more: Any) -> str:
    """A tagged job run that ran 240 s and ended in `state` (DescribeJobRun's answer)."""
    return world.eks_job_run(state=state, created_at=CREATED, finished_at=FINISHED, **more)


# -- a failed job run ---------------------------------------------------------------------------------------
def test_a_failed_job_run_is_recorded_and_notified_with_its_reason_details_redacted_log_and_cost(
    world: EksWorld,
) -> None:
    # Given a job run that FAILED with USER_ERROR, its driver's stdout in S3 with a secret in it
    job_run = _ended(world, "FAILED", failure_reason="USER_ERROR", state_details=DETAILS)
    stdout = world.driver_log(
        job_run, "INFO start\nfs.s3a.secret.key=abc123\nValueError: no column 'grade'\n", "stdout.gz"
    )
    # When its FAILED event arrives
    reaction = world.react_eks(world.eks_event(FAILED, job_run))
    # Then the job run is in the run's ledger with its reason, details, log and cost, and the run is FAILED
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    stderr = f"{LOGS}{world.virtual_cluster}/jobs/{job_run}/containers/spark-{job_run}/spark-{job_run}-driver/stderr.gz"
    assert (item["state"], item["failure_reason"], item["state_details"]) == ("FAILED", "USER_ERROR", DETAILS)
    assert (item["log_file"], item["duration_seconds"], item["virtual_cluster_id"]) == (
        stderr,
        240,
        world.virtual_cluster,
    )
    assert item["cost_usd"] > 0 and item["cost_label"].startswith("estimate: EMR on EKS us-east-1")
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert (meta["state"], meta["compute"], meta["job"], meta["execution_arn"]) == (
        "FAILED",
        "emr-eks",
        "red-violations-eks",
        EXECUTION,
    )
    assert (meta["virtual_cluster_id"], meta["cost_usd"]) == (world.virtual_cluster, item["cost_usd"])
    assert [run["pk"] for run in ledger.list_runs(TABLE)] == [f"RUN#{RUN_ID}"]
    # And one ERROR notice says why, with the PySpark driver's stdout redacted and the cost estimate
    (notice,) = world.notices()
    assert (
        notice["Subject"]
        == f"[emr-autopilot] Job run failed: 0 on red-violations-eks (virtual cluster {world.virtual_cluster})"
    )
    assert notice["MessageAttributes"]["severity"]["Value"] == "ERROR"
    message = notice["Message"]
    assert "Reason: USER_ERROR" in message and f"Details: {DETAILS}" in message
    assert f"Last lines of {stdout}:" in message and "ValueError: no column 'grade'" in message
    assert "abc123" not in message
    assert f"Cost: ~${float(item['cost_usd']):.4f} (estimate: EMR on EKS" in message
    assert "the EKS nodes (EC2 or Fargate) are billed separately" in message
    assert (reaction.category, reaction.run_id, reaction.ignored) == ("JOB_RUN_FAILED", RUN_ID, None)


def test_a_failed_job_run_whose_log_is_not_there_yet_says_where_it_will_be(world: EksWorld) -> None:
    # Given a failed JVM job run (stderr only) whose driver log is not in S3 yet
    job_run = _ended(world, "FAILED", failure_reason="CLUSTER_UNAVAILABLE", entry_point="s3://artifacts/count.jar")
    # When its FAILED event arrives
    world.react_eks(world.eks_event(FAILED, job_run))
    # Then the notice names the reason and where the driver's stderr will be
    (notice,) = world.notices()
    stderr = f"{LOGS}{world.virtual_cluster}/jobs/{job_run}/containers/spark-{job_run}/spark-{job_run}-driver/stderr.gz"
    assert "Reason: CLUSTER_UNAVAILABLE" in notice["Message"]
    assert (
        f"The driver's log is not in S3 yet (EMR on EKS uploads it as the job runs); it will be at {stderr}"
        in (notice["Message"])
    )


def test_the_event_gives_the_reason_when_describe_job_run_has_none_yet(world: EksWorld) -> None:
    # Given a job run DescribeJobRun still shows without a failureReason
    job_run = _ended(world, "FAILED")
    # When the FAILED event (which carries USER_ERROR and stateDetails) arrives
    world.react_eks(world.eks_event(FAILED, job_run))
    # Then the event's reason and details are recorded and sent
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert item["failure_reason"] == "USER_ERROR" and item["state_details"].startswith("Jobrun failed.")
    (notice,) = world.notices()
    assert "Reason: USER_ERROR" in notice["Message"]


# -- every state change goes to the ledger -------------------------------------------------------------------
def test_each_state_is_recorded_forward_only_and_a_completed_run_keeps_its_cost_without_a_notice(
    world: EksWorld,
) -> None:
    # Given a job run, running
    job_run = world.eks_job_run(state="RUNNING")
    # When its RUNNING event arrives
    world.react_eks(world.eks_event(RUNNING, job_run, "e-running", at=datetime(2026, 11, 21, 6, 21, 30, tzinfo=UTC)))
    # Then the job run and the run are RUNNING, with no cost yet
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert (item["state"], item["started_at"]) == ("RUNNING", "2026-11-21T06:21:30.000000Z")
    assert "cost_usd" not in item and world.item(f"RUN#{RUN_ID}", "META")["state"] == "RUNNING"
    # When it completes (DescribeJobRun: COMPLETED after 240 s) and its COMPLETED event arrives
    world.set_eks(job_run, state="COMPLETED", created_at=CREATED, finished_at=FINISHED)
    world.react_eks(
        world.eks_event(COMPLETED, job_run, "e-completed", at=datetime(2026, 11, 21, 6, 24, 51, tzinfo=UTC))
    )
    # Then the job run is COMPLETED with its cost estimate, the run SUCCESS with the same cost, and nobody is told
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert (item["state"], item["duration_seconds"], item["ended_at"]) == (
        "COMPLETED",
        240,
        "2026-11-21T06:24:51.000000Z",
    )
    assert "EKS nodes (EC2 or Fargate) are billed separately" in item["cost_label"]
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert (meta["state"], meta["cost_usd"]) == ("SUCCESS", item["cost_usd"])
    assert world.notices() == []
    # When a late RUNNING event arrives after that
    world.react_eks(world.eks_event(RUNNING, job_run, "e-late", at=datetime(2026, 11, 21, 6, 25, tzinfo=UTC)))
    # Then the job run stays COMPLETED, and the timeline holds all three events
    assert world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")["state"] == "COMPLETED"
    timeline = [i for i in ledger.partition_items(TABLE, f"RUN#{RUN_ID}") if str(i["sk"]).startswith("EVENT#")]
    assert sorted(i["event_id"] for i in timeline) == ["e-completed", "e-late", "e-running"]


# -- a new driver attempt --------------------------------------------------------------------------------------
def test_a_new_driver_attempt_is_on_the_runs_timeline_and_warned_with_the_attempt(world: EksWorld) -> None:
    # Given a RUNNING job run whose retry policy (3 attempts) has started its second driver (DescribeJobRun's word)
    job_run = world.eks_job_run(
        retry_policy_configuration={"maxAttempts": 3}, retry_policy_execution={"currentAttemptCount": 2}
    )
    # When the new driver attempt event arrives (the sample, its detail inferred)
    reaction = world.react_eks(world.eks_event(NEW_DRIVER, job_run, event_id="e-driver"))
    # Then the run's timeline holds it
    timeline = [i for i in ledger.partition_items(TABLE, f"RUN#{RUN_ID}") if str(i["sk"]).startswith("EVENT#")]
    assert [(i["event_id"], i["detail_type"]) for i in timeline] == [("e-driver", "EMR Job Run New Driver Attempt")]
    # And one WARNING notice says which attempt of how many started, and that the run goes on
    (notice,) = world.notices()
    assert notice["Subject"].startswith("[emr-autopilot] Job run retried: 0 on red-violations-eks (virtual cluster ")
    assert notice["MessageAttributes"]["severity"]["Value"] == "WARNING"
    assert (
        f"({job_run}) on EMR on EKS virtual cluster {world.virtual_cluster} started a new driver (attempt 2 of 3)"
        in (notice["Message"])
    )
    assert (reaction.category, ("JobRunRetries", "Count", 1) in reaction.metrics) == ("JOB_RUN_RETRY", True)


# -- job runs that are not ours -------------------------------------------------------------------------------
def test_a_job_run_without_our_tags_is_ignored(world: EksWorld) -> None:
    # Given a job run another tool started (no emr-autopilot tags) that failed
    job_run = world.eks_job_run(tagged=False, state="FAILED", failure_reason="USER_ERROR")
    # When its FAILED event arrives
    reaction = world.react_eks(world.eks_event(FAILED, job_run))
    # Then nothing is recorded or sent, and the reaction says why
    assert reaction.ignored == "the job run has no emr-autopilot:run-id tag: not started by emr-autopilot"
    assert not reaction.recorded and reaction.notified == []
    assert list(ledger.list_runs(TABLE)) == [] and world.notices() == []


def test_a_job_run_emr_on_eks_does_not_know_is_ignored(world: EksWorld) -> None:
    # Given a FAILED event about a job run DescribeJobRun does not find
    event = world.eks_event(FAILED, "00000003a7kq2bv0f1d")
    # When it arrives
    reaction = world.react_eks(event)
    # Then it is ignored with DescribeJobRun's answer, nothing recorded or sent
    assert reaction.ignored is not None
    assert reaction.ignored.startswith("EMR on EKS does not know the job run (DescribeJobRun ResourceNotFoundException")
    assert list(ledger.list_runs(TABLE)) == [] and world.notices() == []


# -- the handler ----------------------------------------------------------------------------------------------
_Context = partial(LambdaContext, "EmrEksEventFunction")


@pytest.fixture
def handler(world: EksWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """The function's handler, imported as Lambda would with the template's environment."""
    from emr_autopilot.emr_eks_reactions.settings import eks_event_settings

    environment = handler_environment(world.topic)
    with lambda_app(monkeypatch, "emr_eks_event_handler", environment, eks_event_settings) as app:
        yield app.handler


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the redelivery emits none: by design
def test_a_redelivered_failure_is_recorded_and_notified_once(world: EksWorld, handler: Callable[..., Any]) -> None:
    # Given a failed job run and its FAILED event
    job_run = _ended(world, "FAILED", failure_reason="USER_ERROR")
    event = world.eks_event(FAILED, job_run)
    # When EventBridge delivers the event twice
    first = handler(event, _Context())
    again = handler(copy.deepcopy(event), _Context())
    # Then the second delivery returns the first result: one notice, one timeline entry
    assert first["status"] == again["status"] == "ok"
    assert again["notified"] == first["notified"] and len(first["notified"]) == 1
    assert len(world.notices()) == 1
    events = [i for i in ledger.partition_items(TABLE, f"RUN#{RUN_ID}") if str(i["sk"]).startswith("EVENT#")]
    assert len(events) == 1


def test_the_handler_answers_ok_for_a_job_run_it_ignores(world: EksWorld, handler: Callable[..., Any]) -> None:
    # Given the shipped FAILED sample, about a job run this account does not have
    event = json.loads((ROOT / "events" / FAILED).read_text(encoding="utf-8"))
    # When it is delivered
    result = handler(event, _Context())
    # Then the handler is done with it (ok, not retried), saying why it was ignored
    assert result["status"] == "ok" and result["ignored"].startswith("EMR on EKS does not know the job run")
    assert world.notices() == []


def test_the_handler_quarantines_an_event_it_cannot_read(world: EksWorld, handler: Callable[..., Any]) -> None:
    # Given an event whose job run id is not an EMR on EKS id
    event = world.eks_event(FAILED, "not/an/id", "bad-event")
    # When it arrives
    result = handler(event, _Context())
    # Then it is rejected into the dead-letter queue, nothing recorded or notified
    assert (result["status"], result["event_id"]) == ("rejected", "bad-event")
    assert "id" in result["reason"]
    (message,) = dead_letters()
    assert message["function"] == "emr_eks_event_handler"
    assert world.notices() == [] and list(ledger.list_runs(TABLE)) == []


# -- `runs`: EMR on EKS runs beside the others -----------------------------------------------------------------
def test_runs_lists_shows_and_draws_an_eks_run_with_its_target_reason_and_cost(world: EksWorld) -> None:
    from emr_autopilot_devkit.runs_page import load_runs, render_page
    from emr_autopilot_devkit.runs_view import format_serverless_run, list_runs

    # Given a run whose job run failed with USER_ERROR, recorded by the reaction
    job_run = _ended(world, "FAILED", failure_reason="USER_ERROR", state_details=DETAILS)
    world.react_eks(world.eks_event(FAILED, job_run))
    # When `runs` lists it
    (row,) = list_runs(TABLE)
    # Then it is an emr-eks run on its virtual cluster, FAILED for USER_ERROR, with its cost estimate
    assert (row.compute, row.cluster_id, row.status, row.reason) == (
        "emr-eks",
        world.virtual_cluster,
        "FAILED",
        "USER_ERROR",
    )
    assert (row.steps, row.cost_usd) == ("0/1 ok, 1 failed", float(world.item(f"RUN#{RUN_ID}", "META")["cost_usd"]))
    # And `runs show` names the virtual cluster, the job run's reason and the FAILED event
    shown = format_serverless_run(TABLE, RUN_ID)
    assert f"EMR on EKS virtual cluster {world.virtual_cluster}" in shown
    assert "reason: USER_ERROR" in shown and f"EMR Job Run State Change: {RUN_ID}.0 FAILED USER_ERROR" in shown
    # And the runs page draws it as an emr-eks run
    page = render_page(load_runs(TABLE))
    assert 'data-compute="emr-eks"' in page and "EMR on EKS virtual cluster" in page


def test_an_eks_runs_log_folder_is_its_virtual_clusters_jobs_folder(world: EksWorld) -> None:
    from emr_autopilot_devkit.runs_view import serverless_locations

    # Given an EKS pipeline execution whose input names the job runs' logUri (eks_runs.build_eks_run_input)
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="emr-autopilot-eks",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    overrides = {"MonitoringConfiguration": {"S3MonitoringConfiguration": {"LogUri": LOGS}}}
    run_input = {
        "run": {"input_uri": "s3://landing/in.csv", "output_uri": "s3://curated/out/"},
        "job_runs": [{"Request": {"ConfigurationOverrides": overrides}}],
    }
    execution = sfn.start_execution(stateMachineArn=machine, name=RUN_ID, input=json.dumps(run_input))["executionArn"]
    # When `runs` locates the run
    where = serverless_locations(execution, world.virtual_cluster, "emr-eks")
    # Then its logs are under <logUri>/<virtual cluster>/jobs/, where EMR on EKS writes each job run's folder
    assert (where.input_uri, where.output_uri) == ("s3://landing/in.csv", "s3://curated/out/")
    assert where.logs == f"{LOGS}{world.virtual_cluster}/jobs/"
