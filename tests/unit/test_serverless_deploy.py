"""`jobs deploy` and managed EMR Serverless applications (real moto): created once and recorded in the catalog,
updated only when the configuration changed (and only when EMR Serverless allows it), shown in the plan and the dry
run, and stopped and deleted when their job leaves (with --prune) or stops managing one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobCatalog
from emr_autopilot_devkit.deploy_jobs import Plan, StackOutputs, deploy_jobs
from tests.helpers.deploy_outputs import ACCOUNT, BUCKET, REGION, stack_outputs

REPO_JOBS = Path(__file__).resolve().parents[2] / "jobs"
SAMPLE = "red-violations-serverless"
APP_NAME = "emr-autopilot-red-violations-serverless"
OUTPUTS = stack_outputs(
    ServerlessPipelineStateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:emr-autopilot-Serverless",
    ServerlessExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-ServerlessExecutionRole",
)


class Aws:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        self.serverless = boto3.client("emr-serverless", region_name=REGION)
        self.outputs = StackOutputs(dict(OUTPUTS), notified_buckets=frozenset([OUTPUTS["LandingBucketName"]]))
        self.plans: list[list[str]] = []
        self.sleeps: list[float] = []

    def deploy(self, jobs_dir: Path, **options: Any) -> Any:
        def keep(plan: Plan) -> None:
            self.plans.append(plan.lines())

        return deploy_jobs(
            jobs_dir,
            self.outputs,
            self.s3,
            self.scheduler,
            serverless=self.serverless,
            on_plan=keep,
            sleep=self.sleeps.append,
            **options,
        )

    def catalog(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.s3.get_object(Bucket=BUCKET, Key=CATALOG_KEY)["Body"].read())
        return loaded

    def applications(self) -> list[tuple[str, str]]:
        states = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED", "TERMINATED"]
        found = self.serverless.list_applications(states=states)["applications"]
        return sorted((app["name"], app["state"]) for app in found)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # a local runtime's, if one was left running
    with mock_aws():
        world = Aws()
        world.s3.create_bucket(Bucket=BUCKET)
        world.scheduler.create_schedule_group(Name=OUTPUTS["ScheduleGroupName"])
        yield world


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_JOBS / f"{SAMPLE}.yaml").read_text(encoding="utf-8"))
    return loaded


def jobs_dir(tmp_path: Path, *jobs: dict[str, Any], name: str = "jobs") -> Path:
    target = tmp_path / name
    target.mkdir()
    shutil.copytree(REPO_JOBS / "red_violations", target / "red_violations")
    shutil.copy(REPO_JOBS / "red-violations-spark.yaml", target)
    for job in jobs:
        (target / f"{job['name']}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return target


def test_the_first_deploy_creates_the_application_and_records_it(aws: Aws, tmp_path: Path) -> None:
    # Given a jobs directory with the serverless sample and no application yet
    directory = jobs_dir(tmp_path, sample())

    # When it is deployed
    report = aws.deploy(directory)

    # Then one application named for the job exists, tagged as the pipeline's, with the file's settings
    assert [name for name, _ in aws.applications()] == [APP_NAME]
    app_id = report.applications[0].application_id
    app = aws.serverless.get_application(applicationId=app_id)["application"]
    assert app["tags"]["emr-autopilot:job"] == SAMPLE
    assert app["tags"]["emr-autopilot:managed"] == "true"
    assert app["releaseLabel"] == "emr-7.5.0"
    assert app["initialCapacity"]["EXECUTOR"]["workerCount"] == 2
    # and the plan said so, and the catalog tells the run starter which application to use
    assert f"  app create   {APP_NAME}" in aws.plans[0]
    assert aws.catalog()["applications"][SAMPLE]["application_id"] == app_id
    catalog = JobCatalog.model_validate(aws.catalog())
    assert catalog.application_id(catalog.get(SAMPLE)) == app_id


def test_a_second_deploy_of_the_same_job_changes_nothing(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed once
    directory = jobs_dir(tmp_path, sample())
    first = aws.deploy(directory)
    app_id = first.applications[0].application_id

    # When the same directory is deployed again
    second = aws.deploy(directory)

    # Then no application is created or updated, and the plan says it is the same
    assert second.applications == []
    assert aws.applications() == [(APP_NAME, "STARTED")]
    assert f"  app same     {APP_NAME} ({app_id})" in aws.plans[1]


def test_a_changed_configuration_updates_the_stopped_application_in_place(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed, then its application stopped (as auto-stop would)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    aws.serverless.stop_application(applicationId=app_id)
    changed = sample()
    changed["serverless"]["application"]["initial_capacity"]["executor"]["count"] = 4

    # When the job with more pre-initialised executors is deployed
    report = aws.deploy(jobs_dir(tmp_path, changed, name="jobs2"))

    # Then the same application is updated, and the catalog records the new configuration
    assert [(c.action, c.application_id) for c in report.applications] == [("update", app_id)]
    app = aws.serverless.get_application(applicationId=app_id)["application"]
    assert app["initialCapacity"]["EXECUTOR"]["workerCount"] == 4
    assert f"  app update   {APP_NAME} ({app_id}): configuration changed" in aws.plans[1]
    assert aws.catalog()["applications"][SAMPLE]["config"] == report.applications[0].digest
    assert len(aws.applications()) == 1


def test_a_started_application_is_not_updated_and_nothing_changes(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed, its application STARTED (moto creates it started)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    before = aws.catalog()
    changed = sample()
    changed["serverless"]["application"]["initial_capacity"]["executor"]["count"] = 4

    # When a changed configuration is deployed
    with pytest.raises(JobDefinitionError) as caught:
        aws.deploy(jobs_dir(tmp_path, changed, name="jobs2"))

    # Then the deploy stops before any change, saying why and what to do
    assert caught.value.problems == [
        f"{SAMPLE}: the application {APP_NAME} ({app_id}) is STARTED, and EMR Serverless updates only a CREATED "
        "or STOPPED application. Allowed: wait until it stops (auto-stop), or stop it with `aws emr-serverless "
        f"stop-application --application-id {app_id}`, then deploy again"
    ]
    assert aws.catalog() == before
    app = aws.serverless.get_application(applicationId=app_id)["application"]
    assert app["initialCapacity"]["EXECUTOR"]["workerCount"] == 2


def test_a_dry_run_shows_the_application_and_creates_nothing(aws: Aws, tmp_path: Path) -> None:
    # Given the serverless sample, never deployed
    # When a dry run is made
    report = aws.deploy(jobs_dir(tmp_path, sample()), dry_run=True)

    # Then the plan shows the application to create, and none exists
    assert aws.plans[0] == [f"  add      {SAMPLE}", "  add      red-violations-spark", f"  app create   {APP_NAME}"]
    assert report.applications == []
    assert aws.applications() == []


def test_prune_stops_and_deletes_the_application_of_a_removed_job(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed (its application STARTED)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    without = jobs_dir(tmp_path, name="jobs2")

    # When the job is gone from the directory: first without --prune, then with it
    kept = aws.deploy(without)
    kept_apps = aws.applications()
    pruned = aws.deploy(without, prune=True)

    # Then without --prune the job and its application are kept
    assert kept_apps == [(APP_NAME, "STARTED")]
    assert SAMPLE in kept.jobs and SAMPLE in aws.plans[1][1]
    # and with --prune the application is stopped, then deleted, and leaves the catalog
    assert [(c.action, c.application_id) for c in pruned.applications] == [("delete", app_id)]
    assert f"  app delete   {APP_NAME} ({app_id}): job removed (--prune)" in aws.plans[2]
    assert aws.applications() == [(APP_NAME, "TERMINATED")]
    assert "applications" not in aws.catalog()


def test_a_job_moved_to_an_existing_application_loses_its_managed_one(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed with its managed application, stopped
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    aws.serverless.stop_application(applicationId=app_id)
    moved = sample()
    moved["serverless"] = {"application_id": "00fshared0example"}

    # When the job is deployed naming an existing application instead
    report = aws.deploy(jobs_dir(tmp_path, moved, name="jobs2"))

    # Then the managed application is deleted without --prune, and the job runs on the named one
    assert [(c.action, c.why) for c in report.applications] == [("delete", "the job no longer manages an application")]
    assert aws.applications() == [(APP_NAME, "TERMINATED")]
    catalog = JobCatalog.model_validate(aws.catalog())
    assert catalog.application_id(catalog.get(SAMPLE)) == "00fshared0example"


def test_an_application_missing_from_the_catalog_is_found_by_name_not_created_twice(aws: Aws, tmp_path: Path) -> None:
    # Given an application the tool created whose catalog write was lost (an EC2-only catalog deployed after it)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    aws.serverless.stop_application(applicationId=app_id)
    aws.deploy(jobs_dir(tmp_path, name="ec2-only"))  # keeps the job, so rewrite the catalog without it:
    catalog = aws.catalog()
    catalog.pop("applications", None)
    aws.s3.put_object(Bucket=BUCKET, Key=CATALOG_KEY, Body=json.dumps(catalog).encode())

    # When the serverless job is deployed again
    report = aws.deploy(jobs_dir(tmp_path, sample(), name="jobs3"))

    # Then the existing application is adopted (updated, since its configuration is unknown), not duplicated
    assert [(c.action, c.application_id, c.why) for c in report.applications] == [
        ("update", app_id, "found by name, not in the catalog")
    ]
    assert aws.applications() == [(APP_NAME, "STOPPED")]
    assert aws.catalog()["applications"][SAMPLE]["application_id"] == app_id


def test_a_deploy_to_a_stack_without_serverless_outputs_refuses_a_serverless_job(aws: Aws, tmp_path: Path) -> None:
    # Given a stack deployed from a template before serverless runs
    for key in ("ServerlessPipelineStateMachineArn", "ServerlessExecutionRoleArn"):
        aws.outputs.values.pop(key)

    # When the serverless sample is deployed to it
    with pytest.raises(JobDefinitionError) as caught:
        aws.deploy(jobs_dir(tmp_path, sample()))

    # Then nothing is created, and the error names the missing output
    assert len(caught.value.problems) == 1
    assert "stack output ServerlessPipelineStateMachineArn is missing" in caught.value.problems[0]
    assert aws.applications() == []
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.s3.get_object(Bucket=BUCKET, Key=CATALOG_KEY)


def _backend_application(app_id: str) -> Any:
    from moto.emrserverless.models import emrserverless_backends

    return emrserverless_backends[ACCOUNT][REGION].applications[app_id]


def test_prune_waits_for_a_stopping_application_before_deleting_it(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed, its application STOPPING (moto stops at once; EMR Serverless takes a while)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    _backend_application(app_id).state = "STOPPING"

    def stopped_after_two_polls(seconds: float) -> None:
        aws.sleeps.append(seconds)
        if len(aws.sleeps) == 2:
            _backend_application(app_id).state = "STOPPED"

    # When the job is pruned, with a sleep that lets the application stop on the second poll
    deploy_jobs(
        jobs_dir(tmp_path, name="jobs2"),
        aws.outputs,
        aws.s3,
        aws.scheduler,
        serverless=aws.serverless,
        prune=True,
        sleep=stopped_after_two_polls,
    )

    # Then it polled until STOPPED, and only then deleted it
    assert aws.sleeps == [5.0, 5.0]
    assert aws.applications() == [(APP_NAME, "TERMINATED")]


def test_prune_gives_up_on_an_application_that_never_stops_and_says_so(aws: Aws, tmp_path: Path) -> None:
    # Given the sample deployed, its application stuck STOPPING (e.g. job runs that do not end)
    first = aws.deploy(jobs_dir(tmp_path, sample()))
    app_id = first.applications[0].application_id
    _backend_application(app_id).state = "STOPPING"

    # When the job is pruned
    with pytest.raises(JobDefinitionError) as caught:
        aws.deploy(jobs_dir(tmp_path, name="jobs2"), prune=True)

    # Then the deploy stops after its bounded wait, naming the application, which is not deleted
    assert str(caught.value) == (
        f"{APP_NAME}: (application {app_id}): still STOPPING after 600s, so it was not deleted. "
        "Allowed: cancel its job runs, then deploy --prune again"
    )
    assert len(aws.sleeps) == 120
    assert aws.applications() == [(APP_NAME, "STOPPING")]
