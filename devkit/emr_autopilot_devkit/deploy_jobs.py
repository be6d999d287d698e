"""`emr-autopilot jobs deploy`: validate jobs/, upload their code and the catalog, sync schedules.

EMR reads step scripts and bootstrap actions from S3, so job code is uploaded whatever else
happens; the catalog and the schedules go with it so one command makes the jobs live.

Nothing changes until every job file is valid, as a job and against the stack (its EMR requests, its
trigger buckets). The plan (added, changed, removed) is printed first; a deployed job that is not in
jobs/ is kept unless `--prune` says to remove it, so a wrong directory cannot empty a stack.

A serverless job with `serverless.application` gets an EMR Serverless application of its own, named
emr-autopilot-<job>: the deploy creates it, updates it when its configuration changed, and records its id in
the catalog, where the run starter finds it. An application whose job no longer manages one is deleted; one
whose job left jobs/ only with --prune.

A job with a `package:` section (a Python project) gets its modules as a zip and its dependencies as a packed
virtual environment (emr_autopilot_devkit.packaging), under content-addressed keys in the artifacts bucket
(packages/<job>/<sha256>/...): what the bucket already has is neither built nor uploaded again, and the catalog
records the keys, so a run uses exactly what this deploy recorded. To the local runtime the environment is built
for this machine's Python (the local runtime runs the job on local Spark with it); to AWS, for the job's target.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import DeployedApplication, JobCatalog, JobDefinition, describe_errors, load_jobs
from emr_autopilot.serverless_jobs import managed_application_name

SCHEDULE_PREFIX = "job-"
# Every output a deploy reads, checked before anything changes.
REQUIRED_OUTPUTS = (
    "ArtifactsBucketName",
    "ScheduleGroupName",
    "RunStarterFunctionArn",
    "SchedulerRoleArn",
    "StateMachineArn",
    "LandingBucketName",
    "CuratedBucketName",
    "LogsBucketName",
    "NotificationTopicArn",
    "EmrServiceRoleName",
    "EmrInstanceRoleName",
)


@dataclass
class StackOutputs:
    """The deployed stack's outputs the CLI needs (CloudFormation, or the local runtime)."""

    values: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    # Buckets whose new objects reach the run starter, when known from the rule itself (the local runtime).
    notified_buckets: frozenset[str] | None = None

    def __getitem__(self, key: str) -> str:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"stack output {key!r} is missing; is the stack deployed from this template?") from None

    @property
    def trigger_buckets(self) -> frozenset[str]:
        """Buckets the stack starts runs for: template.yaml's RunStarterFunction ObjectCreated rule matches
        detail.bucket.name in [LandingBucket, *ExtraTriggerBucketNames] (tests/static pin that wiring)."""
        if self.notified_buckets is not None:
            return self.notified_buckets
        extra = self.parameters.get("ExtraTriggerBucketNames", "")
        return frozenset([self["LandingBucketName"], *(name.strip() for name in extra.split(",") if name.strip())])


def buckets_in_pattern(pattern: Mapping[str, Any]) -> frozenset[str]:
    """The bucket names an EventBridge pattern for S3 "Object Created" events matches (detail.bucket.name)."""
    if "aws.s3" not in pattern.get("source", []) or "Object Created" not in pattern.get("detail-type", []):
        return frozenset()
    names = pattern.get("detail", {}).get("bucket", {}).get("name", [])
    return frozenset(name for name in names if isinstance(name, str))


@dataclass
class ApplicationChange:
    """What a deploy does to one job's managed EMR Serverless application."""

    action: str  # create, update, same, delete
    job: str
    application_id: str | None = None  # None until created
    why: str = ""
    request: dict[str, Any] = field(default_factory=dict)  # CreateApplication (create, update)
    digest: str = ""

    @property
    def name(self) -> str:
        return managed_application_name(self.job)

    def line(self) -> str:
        where = f" ({self.application_id})" if self.application_id else ""
        return f"  app {self.action:<8} {self.name}{where}{': ' + self.why if self.why else ''}"


@dataclass
class Plan:
    """What a deploy changes in the deployed catalog."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # job -> what changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # deployed, not in jobs/, and --prune
    kept: list[str] = field(default_factory=list)  # deployed, not in jobs/, no --prune
    applications: list[ApplicationChange] = field(default_factory=list)

    def lines(self) -> list[str]:
        rows = [f"  add      {name}" for name in self.added]
        rows += [f"  change   {name}: {', '.join(why)}" for name, why in self.changed.items()]
        rows += [f"  same     {name}" for name in self.unchanged]
        rows += [f"  remove   {name}" for name in self.removed]
        rows += [f"  keep     {name} (deployed, not in the jobs directory; --prune removes it)" for name in self.kept]
        rows += [change.line() for change in self.applications]
        return rows


@dataclass
class DeployReport:
    jobs: list[str]  # the jobs live after the deploy (or that would be, for a dry run)
    plan: Plan = field(default_factory=Plan)
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    # The packaged jobs' artifacts uploaded by this deploy (also in `uploaded`); empty when none changed.
    package_uploads: list[str] = field(default_factory=list)
    packages: list[Any] = field(default_factory=list)  # emr_autopilot_devkit.packaging.PreparedPackage
    schedules_upserted: list[str] = field(default_factory=list)
    schedules_deleted: list[str] = field(default_factory=list)
    applications: list[ApplicationChange] = field(default_factory=list)  # created, updated and deleted, as done


def job_file(jobs_dir: Path, name: str) -> Path:
    yaml_path = jobs_dir / f"{name}.yaml"
    return yaml_path if yaml_path.exists() else jobs_dir / f"{name}.yml"


def check_against_stack(
    catalog: JobCatalog, jobs_dir: Path, outputs: StackOutputs | None, s3: Any, region: str, package_host: bool = False
) -> list[JobDefinitionError]:
    """Each job's EMR requests (rendered for the stack, or an example stack) and trigger buckets, one error
    per job file with problems. Without a stack, trigger buckets other than landing are not checked. A packaged
    job is rendered with the artifact keys a deploy would record (planned from their inputs; nothing is built)."""
    from emr_autopilot.job_checks import example_context, request_problems, trigger_bucket_problems
    from emr_autopilot.runs import StackContext

    context = StackContext.from_stack_outputs(outputs.values, region) if outputs else example_context(region)
    errors: list[JobDefinitionError] = []
    catalog = _planned_packages(catalog, jobs_dir, context.artifacts_bucket, package_host, errors)
    sends_events: dict[str, str | None] = {}
    for job in catalog.jobs:
        problems = request_problems(job, context)
        if outputs is not None:
            problems += trigger_bucket_problems(job, outputs.trigger_buckets, context)
            problems += _eventbridge_problems(job, outputs.trigger_buckets, context.landing_bucket, s3, sends_events)
        if problems:
            errors.append(JobDefinitionError(str(job_file(jobs_dir, job.name)), problems))
    return errors


def _planned_packages(
    catalog: JobCatalog, jobs_dir: Path, bucket: str, host: bool, errors: list[JobDefinitionError]
) -> JobCatalog:
    from emr_autopilot_devkit.packaging import default_build_dir, package_target, plan_package, with_artifacts

    planned = {}
    for job in catalog.jobs:
        if job.package is None or job.package.artifacts is not None:
            continue
        try:
            target = package_target(job, host)
            planned[job.name] = plan_package(job, jobs_dir, bucket, target, default_build_dir(jobs_dir)).artifacts
        except JobDefinitionError as exc:
            errors.append(JobDefinitionError(str(job_file(jobs_dir, job.name)), exc.problems))
    return with_artifacts(catalog, planned)


def _eventbridge_problems(
    job: JobDefinition, listened: Iterable[str], landing: str, s3: Any, cache: dict[str, str | None]
) -> list[str]:
    """An extra trigger bucket sends its events to EventBridge only when the bucket says so (S3 User Guide,
    "Enabling Amazon EventBridge"); the stack turns it on for its landing bucket only."""
    from botocore.exceptions import BotoCoreError, ClientError

    lines = []
    for index, trigger in enumerate(job.triggers.s3):
        bucket = trigger.bucket
        if bucket in ("landing", landing) or bucket not in set(listened):
            continue
        if bucket not in cache:
            try:
                configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
                cache[bucket] = (
                    None if "EventBridgeConfiguration" in configuration else "its EventBridge notifications are off"
                )
            except (ClientError, BotoCoreError) as exc:
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
                cache[bucket] = f"its notification configuration cannot be read ({code})"
        if cache[bucket]:
            lines.append(
                f"triggers.s3.{index}.bucket: read {bucket!r}: {cache[bucket]}, so no new object there reaches the "
                f"stack. Allowed: a bucket with EventBridge notifications on; e.g. aws s3api "
                f"put-bucket-notification-configuration --bucket {bucket} "
                "--notification-configuration '{\"EventBridgeConfiguration\": {}}'"
            )
    return lines


def deploy_jobs(
    jobs_dir: Path,
    outputs: StackOutputs,
    s3: Any,
    scheduler: Any,
    *,
    prune: bool = False,
    dry_run: bool = False,
    on_plan: Callable[[Plan], None] | None = None,
    serverless: Any | None = None,
    sleep: Callable[[float], None] = time.sleep,
    package_host: bool = False,
    build_dir: Path | None = None,
) -> DeployReport:
    """Validate everything, plan, then (unless a dry run) upload, create or update managed applications, write
    the catalog, sync schedules and delete managed applications no job uses.

    Raises JobDefinitionError, with nothing changed, when any file is invalid, the directory holds no job,
    a kept job can no longer be loaded, or a managed application to update is not in a state that allows it.
    `serverless` is an emr-serverless client (default: boto3's, made only when a managed application is
    involved); `sleep` waits between polls while an application stops before its deletion. `package_host`
    builds packaged jobs' environments for this machine (the local runtime) instead of their targets;
    `build_dir` keeps built environments (default: build/packages beside the jobs directory).
    """
    for key in REQUIRED_OUTPUTS:
        outputs[key]  # KeyError naming the output, before anything changes
    catalog = load_jobs(jobs_dir)
    region = s3.meta.region_name or "us-east-1"
    errors = check_against_stack(catalog, jobs_dir, outputs, s3, region, package_host)
    if errors:
        raise JobDefinitionError.combine(errors)
    bucket = outputs["ArtifactsBucketName"]
    packages = _prepare_packages(catalog, jobs_dir, bucket, s3, package_host, build_dir, build=not dry_run)
    catalog = _with_packages(catalog, packages)
    deployed = _deployed_jobs(s3, bucket, prune)
    deployed_apps = _deployed_applications(s3, bucket)
    changed_files = _changed_files(catalog, jobs_dir, s3, bucket)
    plan, kept_jobs = _plan(catalog, deployed, changed_files, jobs_dir, bucket, prune)
    kept_names = {job.name for job in kept_jobs}
    if serverless is None and (deployed_apps or any(_manages(job) for job in catalog.jobs)):
        import boto3

        serverless = boto3.client("emr-serverless", region_name=region)
    plan.applications = _plan_applications(catalog, kept_names, deployed_apps, serverless, bucket)
    final_apps = {name: app for name, app in deployed_apps.items() if name in kept_names}
    final = JobCatalog(jobs=[*catalog.jobs, *kept_jobs], applications=final_apps)
    report = DeployReport(jobs=[job.name for job in final.jobs], plan=plan, dry_run=dry_run, packages=packages)
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return report
    clients = (s3, scheduler, serverless)
    _apply_plan(catalog, kept_names, final, changed_files, jobs_dir, outputs, clients, report, sleep, prune)
    return report


def _apply_plan(
    catalog: JobCatalog,
    kept_names: set[str],
    final: JobCatalog,
    changed_files: list[str],
    jobs_dir: Path,
    outputs: StackOutputs,
    clients: tuple[Any, Any, Any],
    report: DeployReport,
    sleep: Callable[[float], None],
    prune: bool,
) -> None:
    """Upload, create or update applications, write the catalog, sync schedules, delete applications: in this
    order, so the catalog never names an application that is not there yet or no longer there.
    `clients`: s3, scheduler and emr-serverless."""
    s3, scheduler, serverless = clients
    bucket = outputs["ArtifactsBucketName"]
    from emr_autopilot_devkit.packaging import upload

    for prepared in report.packages:  # before the catalog that names them
        report.package_uploads += upload(prepared, s3, bucket)
    report.uploaded += report.package_uploads
    for path in changed_files:
        key = f"jobs/{path}"
        s3.upload_file(str(jobs_dir / path), bucket, key)
        report.uploaded.append(f"s3://{bucket}/{key}")
    final_apps = dict(final.applications)
    for change in report.plan.applications:
        if change.action in ("create", "update", "same"):
            if change.action != "same":
                _apply(change, serverless)
                report.applications.append(change)
            assert change.application_id
            final_apps[change.job] = DeployedApplication(application_id=change.application_id, config=change.digest)
    final = JobCatalog(jobs=final.jobs, applications=final_apps)
    s3.put_object(
        Bucket=bucket,
        Key=CATALOG_KEY,
        Body=final.model_dump_json(by_alias=True).encode(),
        ContentType="application/json",
    )
    report.uploaded.append(f"s3://{bucket}/{CATALOG_KEY}")
    _sync_schedules(catalog, kept_names, outputs, scheduler, report, prune)
    # Deleted last: no catalog names them any more, so no new run starts on them.
    for change in report.plan.applications:
        if change.action == "delete":
            _delete_application(change, serverless, sleep)
            report.applications.append(change)


# -- packaged jobs ---------------------------------------------------------------------------------------------
def _prepare_packages(
    catalog: JobCatalog, jobs_dir: Path, bucket: str, s3: Any, host: bool, build_dir: Path | None, build: bool
) -> list[Any]:
    """Each packaged job's artifacts, and (unless `build` is off, for a dry run) what the bucket lacks, built here
    if this machine does not have it yet. A build failure raises JobDefinitionError: nothing is deployed."""
    from emr_autopilot_devkit.packaging import default_build_dir, package_target, plan_package, prepare_uploads

    where = build_dir or default_build_dir(jobs_dir)
    prepared, problems = [], []
    for job in catalog.jobs:
        if job.package is None:
            continue
        try:
            package = plan_package(job, jobs_dir, bucket, package_target(job, host), where)
            if build:
                prepare_uploads(package, job, jobs_dir, s3)
        except JobDefinitionError as exc:
            problems.append(JobDefinitionError(str(job_file(jobs_dir, job.name)), exc.problems))
            continue
        prepared.append(package)
    if problems:
        raise JobDefinitionError.combine(problems)
    return prepared


def _with_packages(catalog: JobCatalog, packages: list[Any]) -> JobCatalog:
    from emr_autopilot_devkit.packaging import with_artifacts

    return with_artifacts(catalog, {package.job: package.artifacts for package in packages})


def _without_artifacts(entry: Any) -> tuple[Any, Any]:
    """A catalog job's JSON without its package's artifacts, and those artifacts (compared apart: a rebuilt
    package is a "package" change, not a "definition" one; the archive's own digest is not known to a dry run)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("package"), dict):
        return entry, None
    package = dict(entry["package"])
    artifacts = package.pop("artifacts", None)
    if isinstance(artifacts, dict):
        artifacts = {key: value for key, value in artifacts.items() if key != "environment_sha256"}
    return {**entry, "package": package}, artifacts


# -- managed EMR Serverless applications -------------------------------------------------------------------
# Polls while an application stops before its deletion: DeleteApplication takes only a CREATED or STOPPED
# application (API_DeleteApplication: "An application has to be in a stopped or created state in order to be
# deleted"). How long stopping takes is not documented; 10 minutes is inferred as ample.
_STOP_POLL_SECONDS = 5.0
_STOP_POLLS = 120
_UPDATABLE_STATES = ("CREATED", "STOPPED")  # API_UpdateApplication: "in a stopped or created state"


def _manages(job: JobDefinition) -> bool:
    return job.serverless is not None and job.serverless.application is not None


def _deployed_applications(s3: Any, bucket: str) -> dict[str, DeployedApplication]:
    """The deployed catalog's managed applications (job name -> id and configuration digest); {} if none."""
    from pydantic import TypeAdapter
    from pydantic import ValidationError as _Invalid

    try:
        body = s3.get_object(Bucket=bucket, Key=CATALOG_KEY)["Body"].read()
        raw = json.loads(body).get("applications", {})
        return TypeAdapter(dict[str, DeployedApplication]).validate_python(raw)
    except (s3.exceptions.NoSuchKey, ValueError, AttributeError, _Invalid):
        return {}  # no catalog, or one _deployed_jobs already judged


def _plan_applications(
    catalog: JobCatalog, kept: set[str], deployed: dict[str, DeployedApplication], serverless: Any, bucket: str
) -> list[ApplicationChange]:
    from emr_autopilot.serverless_runs import application_config_digest, create_application_request

    changes: list[ApplicationChange] = []
    problems: list[str] = []
    for job in catalog.jobs:
        if not _manages(job):
            continue
        request = create_application_request(job)
        digest = application_config_digest(request)
        current = _find_application(job.name, deployed.get(job.name), serverless)
        change = ApplicationChange("create", job.name, request=request, digest=digest)
        if current is not None:
            change.application_id = current["applicationId"]
            if str(current.get("type", "")).upper() != request["type"]:
                problems.append(
                    f"{job.name}: the application {change.name} ({change.application_id}) runs "
                    f"{str(current.get('type')).upper()}, and the job's steps need {request['type']}; an application's "
                    "type cannot change. Allowed: remove the job (jobs deploy --prune) and add it back, or keep "
                    "its step type"
                )
                continue
            recorded = deployed.get(job.name)
            if recorded is not None and recorded.config == digest and recorded.application_id == change.application_id:
                change.action = "same"
            else:
                change.action = "update"
                change.why = "configuration changed" if recorded else "found by name, not in the catalog"
                if current.get("state") not in _UPDATABLE_STATES:
                    problems.append(
                        f"{job.name}: the application {change.name} ({change.application_id}) is "
                        f"{current.get('state')}, and EMR Serverless updates only a CREATED or STOPPED application. "
                        "Allowed: wait until it stops (auto-stop), or stop it with `aws emr-serverless "
                        f"stop-application --application-id {change.application_id}`, then deploy again"
                    )
        changes.append(change)
    managed_now = {job.name for job in catalog.jobs if _manages(job)}
    for name, recorded in sorted(deployed.items()):
        if name in managed_now or name in kept:
            continue
        in_jobs = any(job.name == name for job in catalog.jobs)
        why = "the job no longer manages an application" if in_jobs else "job removed (--prune)"
        changes.append(ApplicationChange("delete", name, application_id=recorded.application_id, why=why))
    if problems:
        raise JobDefinitionError(f"s3://{bucket}/{CATALOG_KEY}", problems)
    return changes


def _find_application(job: str, recorded: DeployedApplication | None, serverless: Any) -> dict[str, Any] | None:
    """The job's live managed application: the catalog's, else one with its name (a deploy that created it
    and stopped before writing the catalog); None when there is none, or only TERMINATED ones."""
    from botocore.exceptions import ClientError

    if recorded is not None:
        try:
            found: dict[str, Any] = serverless.get_application(applicationId=recorded.application_id)["application"]
            if found.get("state") != "TERMINATED":
                return found
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
    name = managed_application_name(job)
    live = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"]  # every state but TERMINATED
    for page in serverless.get_paginator("list_applications").paginate(states=live):
        for summary in page.get("applications", []):
            if summary.get("name") == name and summary.get("state") != "TERMINATED":
                application: dict[str, Any] = serverless.get_application(applicationId=summary["id"])["application"]
                return application
    return None


def _apply(change: ApplicationChange, serverless: Any) -> None:
    """Create or update; neither waits for the application to be CREATED (the state machine starts it)."""
    from emr_autopilot.serverless_runs import UPDATABLE

    if change.action == "create":
        # The same job and configuration give the same token: a retried deploy creates no second application.
        token = f"{change.job}-{change.digest[:20]}"
        response = serverless.create_application(**change.request, clientToken=token)
        change.application_id = response["applicationId"]
        return
    updates = {key: value for key, value in change.request.items() if key in UPDATABLE}
    # A setting the job no longer sets goes back to the API's default (inferred: UpdateApplication leaves an
    # absent member unchanged, so it must be sent).
    updates.setdefault("initialCapacity", {})
    token = f"{change.job}-u{change.digest[:20]}"
    serverless.update_application(applicationId=change.application_id, clientToken=token, **updates)


def _delete_application(change: ApplicationChange, serverless: Any, sleep: Callable[[float], None]) -> None:
    from botocore.exceptions import ClientError

    app_id = change.application_id
    try:
        state = serverless.get_application(applicationId=app_id)["application"]["state"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            change.why += "; already gone"
            return
        raise
    if state == "TERMINATED":
        return
    if state in ("STARTING", "STARTED"):
        serverless.stop_application(applicationId=app_id)
    for _ in range(_STOP_POLLS):
        if state in _UPDATABLE_STATES:
            serverless.delete_application(applicationId=app_id)
            return
        sleep(_STOP_POLL_SECONDS)
        state = serverless.get_application(applicationId=app_id)["application"]["state"]
        if state in ("STARTING", "STARTED"):
            serverless.stop_application(applicationId=app_id)
    raise JobDefinitionError(
        change.name,
        [
            f"(application {app_id}): still {state} after {int(_STOP_POLLS * _STOP_POLL_SECONDS)}s, so it was not "
            "deleted. Allowed: cancel its job runs, then deploy --prune again"
        ],
    )


def _deployed_jobs(s3: Any, bucket: str, prune: bool) -> dict[str, Any]:
    """The deployed catalog's jobs as written (name -> JSON); {} before the first deploy."""
    try:
        body = s3.get_object(Bucket=bucket, Key=CATALOG_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    try:
        jobs = json.loads(body)["jobs"]
        return {job["name"]: job for job in jobs}
    except (ValueError, KeyError, TypeError) as exc:
        if prune:  # replaced whole by jobs/, so what it held does not matter
            return {}
        raise JobDefinitionError(
            f"s3://{bucket}/{CATALOG_KEY}",
            [
                f"(deployed catalog): cannot be read ({type(exc).__name__}), so the jobs to keep are unknown. "
                "Allowed: deploy with --prune to replace it with the jobs directory"
            ],
        ) from exc


def _plan(
    catalog: JobCatalog, deployed: dict[str, Any], changed_files: list[str], jobs_dir: Path, bucket: str, prune: bool
) -> tuple[Plan, list[JobDefinition]]:
    plan = Plan()
    for job in catalog.jobs:
        if job.name not in deployed:
            plan.added.append(job.name)
            continue
        before, before_package = _without_artifacts(deployed[job.name])
        now, now_package = _without_artifacts(job.model_dump(mode="json", by_alias=True))
        why = ["definition"] if before != now else []
        why += ["package"] if before_package != now_package else []
        why += [f"code {path}" for path in job.local_files() if path in changed_files]
        if why:
            plan.changed[job.name] = why
        else:
            plan.unchanged.append(job.name)
    local = {job.name for job in catalog.jobs}
    gone = sorted(set(deployed) - local)
    if prune:
        plan.removed = gone
        return plan, []
    plan.kept = gone
    kept, problems = [], []
    for name in gone:
        try:
            kept.append(JobDefinition.model_validate(deployed[name]))
        except ValidationError as exc:
            problems.append(
                f"{name}: deployed, not in {jobs_dir}, and no longer valid ({'; '.join(describe_errors(exc))}); "
                f"keeping it would break the catalog. Allowed: add its file to {jobs_dir}, or deploy with --prune"
            )
    if problems:
        raise JobDefinitionError(f"s3://{bucket}/{CATALOG_KEY}", problems)
    return plan, kept


def _changed_files(catalog: JobCatalog, jobs_dir: Path, s3: Any, bucket: str) -> list[str]:
    """Local job files whose uploaded copy is missing or differs (a single-part upload's ETag is its MD5)."""
    from botocore.exceptions import ClientError

    changed = []
    for path in sorted({path for job in catalog.jobs for path in job.local_files()}):
        digest = hashlib.md5((jobs_dir / path).read_bytes(), usedforsecurity=False).hexdigest()
        try:
            etag = s3.head_object(Bucket=bucket, Key=f"jobs/{path}")["ETag"].strip('"')
        except ClientError:
            etag = ""
        if etag != digest:
            changed.append(path)
    return changed


def _sync_schedules(
    catalog: JobCatalog, kept: set[str], outputs: StackOutputs, scheduler: Any, report: DeployReport, prune: bool
) -> None:
    group = outputs["ScheduleGroupName"]
    wanted = {f"{SCHEDULE_PREFIX}{job.name}": job for job in catalog.jobs if job.triggers.schedule}
    local = {f"{SCHEDULE_PREFIX}{job.name}" for job in catalog.jobs}
    existing = {
        item["Name"]
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group, NamePrefix=SCHEDULE_PREFIX)
        for item in page["Schedules"]
    }
    for name, job in wanted.items():
        request = {
            "Name": name,
            "GroupName": group,
            "ScheduleExpression": job.triggers.schedule,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": outputs["RunStarterFunctionArn"],
                "RoleArn": outputs["SchedulerRoleArn"],
                # The scheduled time names the execution, so a re-delivered tick starts nothing new.
                "Input": json.dumps({"job": job.name, "scheduled_time": "<aws.scheduler.scheduled-time>"}),
                "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600},
            },
            "State": "ENABLED",
            "Description": f"emr-autopilot: runs job {job.name}",
        }
        if name in existing:
            scheduler.update_schedule(**request)
        else:
            scheduler.create_schedule(**request)
        report.schedules_upserted.append(name)
    kept_names = {f"{SCHEDULE_PREFIX}{name}" for name in kept}
    for name in sorted(existing - wanted.keys() - kept_names):
        # A job in jobs/ that dropped its schedule loses it; any other schedule only goes with --prune.
        if name in local or prune:
            scheduler.delete_schedule(Name=name, GroupName=group)
            report.schedules_deleted.append(name)
