"""Starting pipeline runs: from an S3 object, a schedule tick or a person, exactly once per trigger."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emr_autopilot import aws
from emr_autopilot.deadlines import DEADLINE_ERROR, deadline_schedule_name
from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.errors import InvalidEvent, UnknownJob
from emr_autopilot.jobs import JobCatalog, JobDefinition
from emr_autopilot.runs import StackContext, Trigger, build_run_input, execution_arn, execution_name, matching_jobs, now


class RunStarterSettings(EnvSettings):
    aws_region: str = "us-east-1"
    state_machine_arn: str
    landing_bucket: str
    curated_bucket: str
    artifacts_bucket: str
    logs_bucket: str
    notification_topic_arn: str
    emr_service_role: str
    emr_instance_profile: str
    schedule_group_name: str
    scheduler_role_arn: str
    catalog_key: str = "catalog/jobs.json"
    # Serverless runs (compute: emr-serverless); unset on a stack without them.
    serverless_state_machine_arn: str | None = None
    serverless_execution_role_arn: str | None = None
    # EMR on EKS runs (compute: emr-eks); unset on a stack without them.
    eks_state_machine_arn: str | None = None

    def stack(self) -> StackContext:
        shared = set(StackContext.model_fields) - {"region"}
        return StackContext(region=self.aws_region, **self.model_dump(include=shared))


@cache
def run_starter_settings() -> RunStarterSettings:
    return RunStarterSettings.from_env()


class S3Object(BaseModel):
    """One created object, whichever event shape announced it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    version_id: str | None = None
    etag: str | None = None
    time: datetime

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        # "null" is the version id S3 gives every object in an unversioned bucket: it tells no two uploads apart.
        version = self.version_id if self.version_id != "null" else None
        return f"{self.bucket}/{self.key}#{version or self.etag or ''}"


class _EventBridgeObject(BaseModel):
    model_config = ConfigDict(defer_build=True)
    key: str
    etag: str | None = Field(default=None, alias="etag")
    e_tag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="version-id")


class _EventBridgeDetail(BaseModel):
    model_config = ConfigDict(defer_build=True)
    bucket: dict[str, Any]
    object: _EventBridgeObject


class S3ObjectCreatedEvent(BaseModel):
    """EventBridge "Object Created" from S3; the key arrives as written, not URL-encoded."""

    model_config = ConfigDict(defer_build=True)

    id: str
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    source: Literal["aws.s3"]
    time: datetime
    detail: _EventBridgeDetail

    def objects(self) -> list[S3Object]:
        obj = self.detail.object
        return [
            S3Object(
                bucket=str(self.detail.bucket.get("name", "")),
                key=obj.key,
                version_id=obj.version_id,
                etag=obj.e_tag or obj.etag,
                time=self.time,
            )
        ]


class _RecordS3(BaseModel):
    model_config = ConfigDict(defer_build=True)
    bucket: dict[str, Any]
    object: dict[str, Any]


class _Record(BaseModel):
    model_config = ConfigDict(defer_build=True)
    eventTime: datetime
    eventName: str
    s3: _RecordS3


class S3NotificationEvent(BaseModel):
    """The classic S3 notification shape (Records); its keys are URL-encoded with '+' for spaces."""

    model_config = ConfigDict(defer_build=True)

    Records: list[_Record] = Field(min_length=1)

    def objects(self) -> list[S3Object]:
        return [
            S3Object(
                bucket=str(record.s3.bucket.get("name", "")),
                key=unquote_plus(str(record.s3.object.get("key", ""))),
                version_id=record.s3.object.get("versionId"),
                etag=record.s3.object.get("eTag"),
                time=record.eventTime,
            )
            for record in self.Records
            if record.eventName.startswith("ObjectCreated:")
        ]


class ScheduledRunEvent(BaseModel):
    """What a job's EventBridge Scheduler schedule sends: its Input, with the scheduled time filled in."""

    model_config = ConfigDict(defer_build=True)

    job: str
    scheduled_time: datetime


class ManualRunRequest(BaseModel):
    model_config = ConfigDict(defer_build=True)
    job: str
    input_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+/.+$")


def parse_object_event(event: dict[str, Any]) -> tuple[str, list[S3Object]]:
    """Return (event id, objects) or raise InvalidEvent."""
    try:
        if "Records" in event:
            objects = S3NotificationEvent.model_validate(event).objects()
            elements = event["Records"][0].get("responseElements")
            request_id = elements.get("x-amz-request-id") if isinstance(elements, dict) else None
            return str(request_id or "records"), objects
        parsed = S3ObjectCreatedEvent.model_validate(event)
        return parsed.id, parsed.objects()
    except ValidationError as exc:
        raise InvalidEvent(
            f"not an S3 object-created event: {exc.error_count()} problem(s): {exc.errors()[:3]}"
        ) from exc


class DeadlineScheduler(NamedTuple):
    """Stops an execution when its job's run_timeout passes.

    A Standard workflow's TimeoutSeconds is fixed in the ASL, so each run gets a one-time
    EventBridge Scheduler schedule that calls StopExecution; the execution janitor then
    terminates the run's cluster exactly as for any other aborted run.
    """

    group_name: str
    role_arn: str

    def schedule(self, execution_arn_value: str, job: JobDefinition, started_at: datetime) -> bool:
        """Create the run's deadline; False if the execution already has one."""
        seconds = int(job.run_timeout.total_seconds())
        at = started_at + timedelta(seconds=seconds)
        scheduler = aws.client("scheduler")
        try:
            scheduler.create_schedule(
                Name=deadline_schedule_name(execution_arn_value),
                GroupName=self.group_name,
                ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": "arn:aws:scheduler:::aws-sdk:sfn:stopExecution",
                    "RoleArn": self.role_arn,
                    "Input": json.dumps(
                        {
                            "ExecutionArn": execution_arn_value,
                            "Error": DEADLINE_ERROR,
                            "Cause": f"job {job.name} exceeded its run_timeout of {seconds}s",
                        }
                    ),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                },
            )
        except scheduler.exceptions.ConflictException:
            return False
        return True


class StartOutcome(NamedTuple):
    job: str
    execution_name: str
    execution_arn: str
    status: Literal["started", "duplicate"]
    input_uri: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


def start_run(
    job: JobDefinition,
    trigger: Trigger,
    stack: StackContext,
    *,
    name: str | None = None,
    deadline: DeadlineScheduler | None = None,
    application_id: str | None = None,
) -> StartOutcome:
    """Start one execution; a repeat of the same trigger is reported as a duplicate and starts nothing.
    A serverless job runs on the serverless state machine, on `application_id` (JobCatalog.application_id); an
    emr-eks job on the EMR on EKS state machine."""
    name = name or execution_name(job, trigger)
    if job.compute == "emr-serverless":
        from emr_autopilot.serverless_runs import build_serverless_run_input, serverless_state_machine

        machine = serverless_state_machine(job, stack)
        if not application_id:
            raise ValueError(f"job {job.name!r} runs on EMR Serverless: start_run needs its application id")
        run_input = build_serverless_run_input(job, trigger, stack, name, application_id)
    elif job.compute == "emr-eks":
        from emr_autopilot.eks_runs import build_eks_run_input, eks_state_machine

        machine = eks_state_machine(job, stack)
        run_input = build_eks_run_input(job, trigger, stack, name)
    else:
        machine = stack.state_machine_arn
        run_input = build_run_input(job, trigger, stack, name)
    arn = execution_arn(machine, name)
    sfn = aws.client("stepfunctions")
    try:
        # Same name and same input while open: Step Functions returns the existing execution.
        response = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(run_input, sort_keys=True))
    except sfn.exceptions.ExecutionAlreadyExists:
        return StartOutcome(job.name, name, arn, "duplicate", trigger.input_uri)
    started_at = response.get("startDate")
    if deadline is not None and not deadline.schedule(
        arn, job, started_at if isinstance(started_at, datetime) else now()
    ):
        # StartExecution is idempotent while the execution runs (same name, same input): the response
        # was the running execution's, and its deadline was set by the delivery that started it.
        return StartOutcome(job.name, name, arn, "duplicate", trigger.input_uri)
    return StartOutcome(job.name, name, response["executionArn"], "started", trigger.input_uri)


def start_runs_for_objects(
    catalog: JobCatalog, objects: list[S3Object], stack: StackContext, deadline: DeadlineScheduler | None
) -> tuple[list[StartOutcome], list[S3Object]]:
    """Runs for every (object, matching job); also returns the objects no job wanted."""
    outcomes: list[StartOutcome] = []
    unmatched: list[S3Object] = []
    for obj in objects:
        jobs = matching_jobs(catalog, obj.bucket, obj.key, stack.landing_bucket)
        if not jobs:
            unmatched.append(obj)
        for job in jobs:
            trigger = Trigger(kind="s3", time=obj.time, input_uri=obj.uri, identity=obj.identity)
            outcomes.append(
                start_run(job, trigger, stack, deadline=deadline, application_id=catalog.application_id(job))
            )
    return outcomes, unmatched


def start_scheduled_run(
    catalog: JobCatalog, event: ScheduledRunEvent, stack: StackContext, deadline: DeadlineScheduler | None
) -> StartOutcome:
    job = _job(catalog, event.job)
    trigger = Trigger(kind="schedule", time=event.scheduled_time, identity=event.scheduled_time.isoformat())
    return start_run(job, trigger, stack, deadline=deadline, application_id=catalog.application_id(job))


def start_manual_run(
    catalog: JobCatalog,
    request: ManualRunRequest,
    stack: StackContext,
    deadline: DeadlineScheduler | None,
    name: str | None = None,
) -> StartOutcome:
    job = _job(catalog, request.job)
    trigger = Trigger(kind="manual", time=now(), input_uri=request.input_uri)
    return start_run(job, trigger, stack, name=name, deadline=deadline, application_id=catalog.application_id(job))


def _job(catalog: JobCatalog, name: str) -> JobDefinition:
    try:
        return catalog.get(name)
    except KeyError:
        raise UnknownJob(f"job {name!r} is not in the deployed catalog: {[job.name for job in catalog.jobs]}") from None


@dataclass
class TriggerResult:
    """What one trigger event led to; the handler logs it and turns it into metrics."""

    event_id: str
    kind: Literal["s3", "schedule"]
    outcomes: list[StartOutcome] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "runs": [outcome.as_dict() for outcome in self.outcomes],
            "unmatched": self.unmatched,
        }


def handle_trigger_event(
    event: Any, catalog_loader: Callable[[], JobCatalog], stack: StackContext, deadline: DeadlineScheduler | None
) -> TriggerResult:
    """Entry point of the run starter: an S3 object event (either shape) or a schedule tick."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    if "scheduled_time" in event or ("job" in event and "detail" not in event):
        try:
            tick = ScheduledRunEvent.model_validate(event)
        except ValidationError as exc:
            raise InvalidEvent(f"not a schedule event: {exc.errors()[:3]}") from exc
        outcome = start_scheduled_run(catalog_loader(), tick, stack, deadline)
        return TriggerResult(
            event_id=f"schedule:{tick.job}:{tick.scheduled_time.isoformat()}", kind="schedule", outcomes=[outcome]
        )
    event_id, objects = parse_object_event(event)
    outcomes, unmatched = start_runs_for_objects(catalog_loader(), objects, stack, deadline)
    return TriggerResult(event_id=event_id, kind="s3", outcomes=outcomes, unmatched=[obj.uri for obj in unmatched])
