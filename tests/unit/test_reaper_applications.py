"""The idle reaper and EMR Serverless applications: STARTED with no job run for longer than the threshold
is stopped, under the cluster rules (scope, opt-out, grace, cap, dry run), against moto in-process.

moto's EMR Serverless stamps every time at midnight and ends every job run at once, so these tests
set an application's times, and a job run's state, on moto's backend objects (the Given steps say so).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.emrserverless.models import emrserverless_backends

from emr_autopilot import aws
from emr_autopilot.reaper import ReaperConfig, reap
from emr_autopilot.reaper.notice import body
from emr_autopilot_devkit.local.moto_patches import emr_serverless_backend

ACCOUNT, REGION = "123456789012", "us-east-1"
NOW = datetime(2026, 12, 7, 21, 15, tzinfo=UTC)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-job"


class Applications:
    def __init__(self) -> None:
        self.client = boto3.client("emr-serverless", region_name=REGION)
        self.backend = emrserverless_backends[ACCOUNT][REGION]

    def started(
        self, name: str, idle_for: timedelta, tags: dict[str, str] | None = None, auto_stop: bool = True
    ) -> str:
        """A STARTED application created a day ago whose last change (start) was `idle_for` ago."""
        app_id = self.client.create_application(
            name=name,
            releaseLabel="emr-7.5.0",
            type="SPARK",
            tags=tags or {},
            autoStopConfiguration={"enabled": auto_stop, "idleTimeoutMinutes": 15},
        )["applicationId"]
        app = self.backend.applications[app_id]
        app.state, app.created_at, app.updated_at = "STARTED", NOW - timedelta(days=1), NOW - idle_for
        return app_id

    def job_run(self, app_id: str, state: str, updated_ago: timedelta) -> None:
        run_id = self.client.start_job_run(
            applicationId=app_id,
            executionRoleArn=ROLE,
            jobDriver={"sparkSubmit": {"entryPoint": "s3://acme-artifacts/jobs/count.py"}},
        )["jobRunId"]
        run = next(run for run in self.backend.job_runs[app_id] if run.id == run_id)
        run.state, run.created_at, run.updated_at = state, NOW - timedelta(hours=3), NOW - updated_ago

    def state(self, app_id: str) -> str:
        return str(self.client.get_application(applicationId=app_id)["application"]["state"])


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Applications]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    emr_serverless_backend.install()  # the local runtime's fixes to moto (ListJobRuns of a new application)
    with mock_aws():
        aws.reset_clients()
        yield Applications()
    aws.reset_clients()


def decision_of(report: Any, app_id: str) -> Any:
    return next(d for d in report.applications if d.application_id == app_id)


def test_an_application_started_with_no_job_run_past_the_threshold_is_stopped(apps: Applications) -> None:
    # Given a STARTED application with no job run for 90 minutes, and a threshold of 60
    app_id = apps.started("nightly", idle_for=timedelta(minutes=90))

    # When the reaper runs live
    report = reap(ReaperConfig(dry_run=False), NOW)

    # Then the application is stopped, and its decision says why
    decision = decision_of(report, app_id)
    assert (decision.action, decision.code) == ("stopped", "idle")
    assert decision.reason == "STARTED, no job run for 90 min >= 60 min"
    assert apps.state(app_id) in ("STOPPING", "STOPPED")


def test_a_dry_run_only_says_it_would_stop_the_application(apps: Applications) -> None:
    # Given an idle STARTED application
    app_id = apps.started("nightly", idle_for=timedelta(hours=2))

    # When the reaper runs as a dry run
    report = reap(ReaperConfig(dry_run=True), NOW)

    # Then it would stop it, and it is still STARTED
    assert decision_of(report, app_id).action == "would stop"
    assert apps.state(app_id) == "STARTED"
    assert "applications: would stop 1" in report.summary_line()


def test_a_job_run_that_ended_recently_keeps_the_application_started(apps: Applications) -> None:
    # Given an application started hours ago whose last job run ended 10 minutes ago
    app_id = apps.started("hourly", idle_for=timedelta(hours=5))
    apps.job_run(app_id, "SUCCESS", updated_ago=timedelta(minutes=10))

    # When the reaper runs live
    report = reap(ReaperConfig(dry_run=False), NOW)

    # Then it is not idle long enough
    decision = decision_of(report, app_id)
    assert (decision.action, decision.code) == ("skipped", "idle-too-short")
    assert decision.idle_minutes == 10.0
    assert apps.state(app_id) == "STARTED"


def test_a_running_job_run_keeps_the_application_started(apps: Applications) -> None:
    # Given an application with a job run still RUNNING (set on moto's object: moto ends runs at once)
    app_id = apps.started("busy", idle_for=timedelta(hours=5))
    apps.job_run(app_id, "RUNNING", updated_ago=timedelta(hours=2))

    # When the reaper runs live
    report = reap(ReaperConfig(dry_run=False), NOW)

    # Then it is busy
    assert (decision_of(report, app_id).code, apps.state(app_id)) == ("busy", "STARTED")


def test_opt_out_scope_and_cap_apply_to_applications_as_to_clusters(apps: Applications) -> None:
    # Given three idle applications in scope, one of them opted out, one out of scope, and a cap of 1
    scope = {"team": "data"}
    opted_out = apps.started("kept", timedelta(hours=3), {**scope, "emr-autopilot:reaper": "skip"})
    other_team = apps.started("theirs", timedelta(hours=3), {"team": "web"})
    longest = apps.started("longest", timedelta(hours=4), scope)
    second = apps.started("second", timedelta(hours=3), scope)

    # When the reaper runs live with a scope tag and a cap of one
    report = reap(ReaperConfig(dry_run=False, scope="team=data", max_terminations=1), NOW)

    # Then only the longest idle in-scope application is stopped, and each other decision says why
    codes = {app: decision_of(report, app).code for app in (opted_out, other_team, longest, second)}
    assert codes == {opted_out: "opted-out", other_team: "out-of-scope", longest: "idle", second: "cap-reached"}
    assert [apps.state(app) for app in (opted_out, other_team, second)] == ["STARTED"] * 3


def test_the_notice_lists_applications_whose_auto_stop_is_off(apps: Applications) -> None:
    # Given a STARTED application with auto-stop off, idle past the threshold
    app_id = apps.started("forever", idle_for=timedelta(hours=2), auto_stop=False)

    # When the reaper runs as a dry run
    report = reap(ReaperConfig(dry_run=True), NOW)

    # Then the report and the notice name it as one that bills until stopped
    assert [d.application_id for d in report.auto_stop_off] == [app_id]
    assert f"auto-stop OFF (they bill until stopped):\n  {app_id} forever" in body(report)
    assert report.as_dict()["applications_auto_stop_off"] == [app_id]
