"""`emr-autopilot jobs deploy`: validate jobs/, upload their code and the catalog, sync schedules.

EMR reads step scripts and bootstrap actions from S3, so job code is uploaded whatever else
happens; the catalog and the schedules go with it so one command makes the jobs live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.jobs import JobCatalog, load_jobs

SCHEDULE_PREFIX = "job-"


@dataclass
class StackOutputs:
    """The deployed stack's outputs the CLI needs (CloudFormation, or the local runtime)."""

    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"stack output {key!r} is missing; is the stack deployed from this template?") from None


@dataclass
class DeployReport:
    jobs: list[str]
    uploaded: list[str] = field(default_factory=list)
    schedules_upserted: list[str] = field(default_factory=list)
    schedules_deleted: list[str] = field(default_factory=list)


def deploy_jobs(jobs_dir: Path, outputs: StackOutputs, s3: Any, scheduler: Any) -> DeployReport:
    catalog = load_jobs(jobs_dir)  # raises JobDefinitionError before anything is uploaded
    bucket = outputs["ArtifactsBucketName"]
    report = DeployReport(jobs=[job.name for job in catalog.jobs])
    for path in sorted({path for job in catalog.jobs for path in job.local_files()}):
        key = f"jobs/{path}"
        s3.upload_file(str(jobs_dir / path), bucket, key)
        report.uploaded.append(f"s3://{bucket}/{key}")
    s3.put_object(
        Bucket=bucket,
        Key=CATALOG_KEY,
        Body=catalog.model_dump_json(by_alias=True).encode(),
        ContentType="application/json",
    )
    report.uploaded.append(f"s3://{bucket}/{CATALOG_KEY}")
    _sync_schedules(catalog, outputs, scheduler, report)
    return report


def _sync_schedules(catalog: JobCatalog, outputs: StackOutputs, scheduler: Any, report: DeployReport) -> None:
    group = outputs["ScheduleGroupName"]
    wanted = {f"{SCHEDULE_PREFIX}{job.name}": job for job in catalog.jobs if job.triggers.schedule}
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
    for name in sorted(existing - wanted.keys()):
        scheduler.delete_schedule(Name=name, GroupName=group)
        report.schedules_deleted.append(name)
