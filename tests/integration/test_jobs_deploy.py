"""`jobs deploy` cannot wipe jobs by accident: no jobs is an error, the plan comes first, removal needs
--prune, --dry-run changes nothing, and any invalid file stops the whole deploy before an upload.

One local runtime (moto in server mode, the template deployed) serves the module; each test first deploys
the baseline with --prune, so it starts from the same deployed jobs. The CLI runs against it through the
state file `emr-autopilot local up` writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.errors import JobDefinitionError
from emr_autopilot_devkit.deploy_jobs import StackOutputs, deploy_jobs
from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.integration import JOBS_DIR, SAMPLE_JOB, command_job, local_cli

EXTRA = "nightly-extra"  # a second deployed job, with a schedule of its own


@pytest.fixture(scope="module")
def module_stack() -> Iterator[LocalRuntime]:
    stack = LocalRuntime().start()
    yield stack
    stack.stop()


def write_jobs(target: Path, *jobs: dict[str, Any]) -> Path:
    """A jobs directory: the sample job and its files, plus `jobs`."""
    target.mkdir(parents=True)
    shutil.copy(JOBS_DIR / f"{SAMPLE_JOB}.yaml", target)
    shutil.copytree(JOBS_DIR / "red_violations", target / "red_violations")
    for job in jobs:
        (target / f"{job['name']}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return target


def extra_job() -> dict[str, Any]:
    job = command_job(EXTRA, ["echo extra"])
    job["triggers"]["schedule"] = "rate(1 day)"
    return job


@pytest.fixture
def stack(module_stack: LocalRuntime, tmp_path: Path) -> LocalRuntime:
    """The stack with exactly the baseline deployed: the sample job and EXTRA."""
    module_stack.deploy_jobs(write_jobs(tmp_path / "baseline", extra_job()), prune=True)
    return module_stack


def deployed_state(stack: LocalRuntime) -> dict[str, Any]:
    """Everything a deploy may change: the catalog's bytes, the uploaded code, the job schedules."""
    s3, bucket = stack.client("s3"), stack.outputs["ArtifactsBucketName"]
    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    scheduler = stack.client("scheduler")
    schedules = scheduler.list_schedules(GroupName=stack.outputs["ScheduleGroupName"], NamePrefix="job-")
    return {
        "catalog": s3.get_object(Bucket=bucket, Key=CATALOG_KEY)["Body"].read(),
        "objects": {item["Key"]: item["ETag"] for item in objects},
        "schedules": sorted(item["Name"] for item in schedules["Schedules"]),
    }


def catalog_jobs(stack: LocalRuntime) -> list[str]:
    import json

    body = deployed_state(stack)["catalog"]
    return sorted(job["name"] for job in json.loads(body)["jobs"])


@pytest.fixture
def cli(stack: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `emr-autopilot ...` with --local pointing at the stack, as after `local up`."""
    return local_cli(stack, tmp_path / "cwd", monkeypatch, notified_buckets=sorted(stack.notified_buckets()))


# --- no jobs: an error, and nothing changes --------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "reason"), [("empty", "no job files (*.yaml or *.yml)"), ("missing", "does not exist")]
)
def test_deploying_an_empty_or_missing_jobs_dir_fails_and_changes_nothing(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path, make: str, reason: str
) -> None:
    # Given a stack with two jobs live, and a jobs directory that is empty or not there
    before = deployed_state(stack)
    target = tmp_path / "wrong-dir"
    if make == "empty":
        target.mkdir()

    # When `jobs deploy` is pointed at it
    result = cli("jobs", "deploy", "--jobs-dir", str(target))

    # Then it fails, says why and that nothing was deployed
    assert result.exit_code == 1
    assert reason in result.output
    assert "nothing was deployed" in result.output
    # And both jobs, their code and their schedules are still there, unchanged
    assert deployed_state(stack) == before
    assert catalog_jobs(stack) == sorted([EXTRA, SAMPLE_JOB])


# --- removal only with --prune -------------------------------------------------------------------------


def test_a_deploy_without_prune_keeps_deployed_jobs_missing_from_the_dir(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given EXTRA is deployed, and a jobs directory without it
    jobs = write_jobs(tmp_path / "jobs")

    # When it is deployed without --prune
    result = cli("jobs", "deploy", "--jobs-dir", str(jobs))

    # Then the plan says EXTRA is kept, and it is: in the catalog, with its schedule
    assert result.exit_code == 0, result.output
    assert f"  same     {SAMPLE_JOB}" in result.output
    assert f"  keep     {EXTRA} (deployed, not in the jobs directory; --prune removes it)" in result.output
    assert "2 job(s) live" in result.output
    assert catalog_jobs(stack) == sorted([EXTRA, SAMPLE_JOB])
    assert f"job-{EXTRA}" in deployed_state(stack)["schedules"]


def test_a_deploy_with_prune_removes_them_and_says_so(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given EXTRA is deployed, and a jobs directory without it
    jobs = write_jobs(tmp_path / "jobs")

    # When it is deployed with --prune
    result = cli("jobs", "deploy", "--jobs-dir", str(jobs), "--prune")

    # Then the plan names EXTRA as removed, and it is gone with its schedule
    assert result.exit_code == 0, result.output
    assert f"  remove   {EXTRA}" in result.output
    assert f"removed   job {EXTRA}" in result.output
    assert catalog_jobs(stack) == [SAMPLE_JOB]
    assert deployed_state(stack)["schedules"] == [f"job-{SAMPLE_JOB}"]


# --- --dry-run: the plan alone ---------------------------------------------------------------------------


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given a jobs directory that adds a job, changes the sample job's code and definition, and lacks EXTRA
    jobs = write_jobs(tmp_path / "jobs", command_job("brand-new", ["echo new"]))
    script = jobs / "red_violations" / "count_red_violations.py"
    script.write_text(script.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    sample = yaml.safe_load((jobs / f"{SAMPLE_JOB}.yaml").read_text(encoding="utf-8"))
    sample["run_timeout"] = "2h"
    (jobs / f"{SAMPLE_JOB}.yaml").write_text(yaml.safe_dump(sample, sort_keys=False), encoding="utf-8")
    before = deployed_state(stack)

    # When it is deployed with --dry-run --prune
    result = cli("jobs", "deploy", "--jobs-dir", str(jobs), "--dry-run", "--prune")

    # Then the plan lists every change
    assert result.exit_code == 0, result.output
    assert "  add      brand-new" in result.output
    assert f"  change   {SAMPLE_JOB}: definition, code red_violations/count_red_violations.py" in result.output
    assert f"  remove   {EXTRA}" in result.output
    assert "Dry run: nothing was changed; 2 job(s) would be live." in result.output
    assert "uploaded" not in result.output
    # And nothing was changed
    assert deployed_state(stack) == before


# --- any invalid file stops everything ---------------------------------------------------------------------


def test_an_invalid_file_stops_the_whole_deploy_before_any_upload(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given changed code, a new valid job with a schedule, and one file EventBridge Scheduler would refuse
    jobs = write_jobs(
        tmp_path / "jobs", {**command_job("good-new", ["echo ok"]), "triggers": {"schedule": "rate(1 hour)"}}
    )
    script = jobs / "red_violations" / "count_red_violations.py"
    script.write_text(script.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    bad = {**command_job("bad-schedule", ["echo bad"]), "triggers": {"schedule": "rate(1 minutes)"}}
    (jobs / "bad-schedule.yaml").write_text(yaml.safe_dump(bad, sort_keys=False), encoding="utf-8")
    before = deployed_state(stack)

    # When the directory is deployed
    result = cli("jobs", "deploy", "--jobs-dir", str(jobs))

    # Then the bad file is named with what to write, and nothing was deployed
    assert result.exit_code == 1
    assert f"{jobs / 'bad-schedule.yaml'}: triggers.schedule: read 'rate(1 minutes)'" in result.output
    assert "write rate(1 minute)" in result.output
    assert "nothing was deployed" in result.output
    # And neither the code, nor the catalog, nor any schedule changed
    assert deployed_state(stack) == before


# --- trigger buckets, against what the stack really listens on ------------------------------------------------


def test_a_trigger_on_a_bucket_the_stack_does_not_listen_on_stops_the_deploy(
    stack: LocalRuntime, cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Given a job triggered by a bucket that is not the stack's landing bucket (the rule's only bucket)
    job = command_job("partner-feed", ["echo feed"])
    job["triggers"]["s3"][0]["bucket"] = "partner-drop"
    jobs = write_jobs(tmp_path / "jobs", job)
    before = deployed_state(stack)

    # When it is validated and deployed against the stack
    validated = cli("jobs", "validate", "--jobs-dir", str(jobs))
    result = cli("jobs", "deploy", "--jobs-dir", str(jobs))

    # Then both refuse it, naming the bucket the stack does listen on, and nothing changed
    expected = "triggers.s3.0.bucket: read 'partner-drop': the stack does not start runs for new objects"
    for answer in (validated, result):
        assert answer.exit_code == 1
        assert expected in answer.output
        assert f"Allowed: landing ({stack.outputs['LandingBucketName']})" in answer.output
    assert deployed_state(stack) == before


def test_an_extra_trigger_bucket_must_send_its_events_to_eventbridge(stack: LocalRuntime, tmp_path: Path) -> None:
    # Given a stack that also listens on partner-drop (ExtraTriggerBucketNames), a bucket without EventBridge
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="partner-drop")
    outputs = StackOutputs(stack.outputs, notified_buckets=stack.notified_buckets() | {"partner-drop"})
    job = command_job("partner-feed", ["echo feed"])
    job["triggers"]["s3"][0]["bucket"] = "partner-drop"
    jobs = write_jobs(tmp_path / "jobs", job)
    before = deployed_state(stack)

    # When a job triggered by it is deployed
    with pytest.raises(JobDefinitionError) as caught:
        deploy_jobs(jobs, outputs, s3, stack.client("scheduler"))

    # Then it is refused (no object there would reach the stack), with the command that fixes it
    assert "triggers.s3.0.bucket: read 'partner-drop': its EventBridge notifications are off" in str(caught.value)
    assert "put-bucket-notification-configuration --bucket partner-drop" in str(caught.value)
    assert deployed_state(stack) == before

    # And once the bucket sends its events to EventBridge, the same deploy goes through
    s3.put_bucket_notification_configuration(
        Bucket="partner-drop", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    report = deploy_jobs(jobs, outputs, s3, stack.client("scheduler"))
    assert report.plan.added == ["partner-feed"]
    assert "partner-feed" in catalog_jobs(stack)
