"""`emr-autopilot jobs deploy`: validate jobs/, upload their code and the catalog, sync schedules.

EMR reads step scripts and bootstrap actions from S3, so job code is uploaded whatever else
happens; the catalog and the schedules go with it so one command makes the jobs live.

Nothing changes until every job file is valid, as a job and against the stack (its EMR requests, its
trigger buckets). The plan (added, changed, removed) is printed first; a deployed job that is not in
jobs/ is kept unless `--prune` says to remove it, so a wrong directory cannot empty a stack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobCatalog, JobDefinition, describe_errors, load_jobs

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
class Plan:
    """What a deploy changes in the deployed catalog."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # job -> what changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # deployed, not in jobs/, and --prune
    kept: list[str] = field(default_factory=list)  # deployed, not in jobs/, no --prune

    def lines(self) -> list[str]:
        rows = [f"  add      {name}" for name in self.added]
        rows += [f"  change   {name}: {', '.join(why)}" for name, why in self.changed.items()]
        rows += [f"  same     {name}" for name in self.unchanged]
        rows += [f"  remove   {name}" for name in self.removed]
        rows += [f"  keep     {name} (deployed, not in the jobs directory; --prune removes it)" for name in self.kept]
        return rows


@dataclass
class DeployReport:
    jobs: list[str]  # the jobs live after the deploy (or that would be, for a dry run)
    plan: Plan = field(default_factory=Plan)
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    schedules_upserted: list[str] = field(default_factory=list)
    schedules_deleted: list[str] = field(default_factory=list)


def job_file(jobs_dir: Path, name: str) -> Path:
    yaml_path = jobs_dir / f"{name}.yaml"
    return yaml_path if yaml_path.exists() else jobs_dir / f"{name}.yml"


def check_against_stack(
    catalog: JobCatalog, jobs_dir: Path, outputs: StackOutputs | None, s3: Any, region: str
) -> list[JobDefinitionError]:
    """Each job's EMR requests (rendered for the stack, or an example stack) and trigger buckets, one error
    per job file with problems. Without a stack, trigger buckets other than landing are not checked."""
    from emr_autopilot.job_checks import example_context, request_problems, trigger_bucket_problems
    from emr_autopilot.runs import StackContext

    context = StackContext.from_stack_outputs(outputs.values, region) if outputs else example_context(region)
    errors = []
    sends_events: dict[str, str | None] = {}
    for job in catalog.jobs:
        problems = request_problems(job, context)
        if outputs is not None:
            problems += trigger_bucket_problems(job, outputs.trigger_buckets, context)
            problems += _eventbridge_problems(job, outputs.trigger_buckets, context.landing_bucket, s3, sends_events)
        if problems:
            errors.append(JobDefinitionError(str(job_file(jobs_dir, job.name)), problems))
    return errors


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
) -> DeployReport:
    """Validate everything, plan, then (unless a dry run) upload, write the catalog and sync schedules.

    Raises JobDefinitionError, with nothing changed, when any file is invalid, the directory holds no job,
    or a kept job can no longer be loaded.
    """
    for key in REQUIRED_OUTPUTS:
        outputs[key]  # KeyError naming the output, before anything changes
    catalog = load_jobs(jobs_dir)
    region = s3.meta.region_name or "us-east-1"
    errors = check_against_stack(catalog, jobs_dir, outputs, s3, region)
    if errors:
        raise JobDefinitionError.combine(errors)
    bucket = outputs["ArtifactsBucketName"]
    deployed = _deployed_jobs(s3, bucket, prune)
    changed_files = _changed_files(catalog, jobs_dir, s3, bucket)
    plan, kept_jobs = _plan(catalog, deployed, changed_files, jobs_dir, bucket, prune)
    final = JobCatalog(jobs=[*catalog.jobs, *kept_jobs])
    report = DeployReport(jobs=[job.name for job in final.jobs], plan=plan, dry_run=dry_run)
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return report
    for path in changed_files:
        key = f"jobs/{path}"
        s3.upload_file(str(jobs_dir / path), bucket, key)
        report.uploaded.append(f"s3://{bucket}/{key}")
    s3.put_object(
        Bucket=bucket,
        Key=CATALOG_KEY,
        Body=final.model_dump_json(by_alias=True).encode(),
        ContentType="application/json",
    )
    report.uploaded.append(f"s3://{bucket}/{CATALOG_KEY}")
    _sync_schedules(catalog, {job.name for job in kept_jobs}, outputs, scheduler, report, prune)
    return report


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
        why = ["definition"] if deployed[job.name] != job.model_dump(mode="json", by_alias=True) else []
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
