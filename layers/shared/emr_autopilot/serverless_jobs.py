"""The EMR Serverless part of a job definition (compute: emr-serverless): its application, execution role,
logs and concurrency, and which job fields an emr-serverless job refuses.

The job model (emr_autopilot.jobs) holds a ServerlessSpec in `serverless:` and calls check_serverless_target; this
module does not import it (the import graph has no cycles), so the check reads the job by attribute.
"""

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, Self

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from emr_autopilot.durations import Duration, format_duration
from emr_autopilot.job_fields import _duration_between, _FieldError, _Model
from emr_autopilot.s3_uris import s3_uri_problem

COMPUTE_TARGETS = ("emr-ec2", "emr-serverless")
MANAGED_APPLICATION_PREFIX = "emr-autopilot-"

# EMR Serverless runs emr-6.6.0 and later (EMR Serverless User Guide, "Amazon EMR Serverless release versions").
_FIRST_RELEASE = (6, 6, 0)
# CreateApplication autoStopConfiguration.idleTimeoutMinutes: 1 to 10080 (botocore model, AutoStopConfig).
ServerlessIdleTimeout = Annotated[
    Duration,
    _duration_between(timedelta(minutes=1), timedelta(days=7), "idle_timeout", "15m", " (EMR Serverless's range)"),
]


def _amount(unit: str) -> Any:
    """A worker resource as the API spells it ("4 vCPU", "16 GB"): a whole number, with or without the unit."""

    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value > 0:
            return f"{value} {unit}"
        match = re.fullmatch(rf"\s*([1-9]\d*)\s*(?i:{unit})?\s*", value) if isinstance(value, str) else None
        if match:
            return f"{match.group(1)} {unit}"
        raise ValueError(
            f"read {value!r}: not an amount in {unit}. Allowed: a whole number of {unit}, with or without the unit; "
            f"e.g. {'cpu: 4' if unit == 'vCPU' else 'memory: 16'}"
        )

    return BeforeValidator(parse)


Cpu = Annotated[str, _amount("vCPU")]
Gigabytes = Annotated[str, _amount("GB")]


def _whole(amount: str) -> int:
    return int(amount.split()[0])


class WorkerConfiguration(_Model):
    count: int = Field(default=1, ge=1, le=1_000_000)
    cpu: Cpu
    memory: Gigabytes
    disk: Gigabytes | None = None

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        # AWS CloudFormation reference, AWS::EMRServerless::Application WorkerConfiguration, Cpu:
        # "Each worker can have 1, 2, 4, 8, or 16 vCPUs."
        if _whole(value) not in (1, 2, 4, 8, 16):
            raise ValueError(
                f"read {value!r}: a worker has 1, 2, 4, 8 or 16 vCPU. Allowed: 1, 2, 4, 8 or 16; e.g. cpu: 4"
            )
        return value


class InitialCapacity(_Model):
    """Pre-initialised workers, kept warm while the application is STARTED (and billed for it)."""

    driver: WorkerConfiguration | None = None
    executor: WorkerConfiguration | None = None


class MaximumCapacity(_Model):
    cpu: Cpu
    memory: Gigabytes
    disk: Gigabytes | None = None


class AutoStop(_Model):
    enabled: bool = True
    idle_timeout: ServerlessIdleTimeout = Field(default=timedelta(minutes=15))


class Network(_Model):
    # CreateApplication networkConfiguration: at most 16 subnets and 5 security groups (botocore model).
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-z]+$")]] = Field(default_factory=list, max_length=16)
    security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-z]+$")]] = Field(
        default_factory=list, max_length=5
    )


def _no_reserved_tags(tags: dict[str, str]) -> dict[str, str]:
    reserved = [key for key in tags if key.startswith("emr-autopilot:")]
    if reserved:
        raise ValueError(
            f"read tag key(s) {', '.join(reserved)}: tag keys {reserved} are reserved for the pipeline. "
            "Allowed: any other key; e.g. team: data-platform"
        )
    return tags


Tags = Annotated[dict[str, str], AfterValidator(_no_reserved_tags)]


def _release_tuple(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.removeprefix("emr-").split("."))


class ManagedApplication(_Model):
    """An application `jobs deploy` creates for this job alone, named emr-autopilot-<job>."""

    release_label: str = Field(pattern=r"^emr-\d+\.\d+\.\d+$")
    architecture: Literal["X86_64", "ARM64"] = "X86_64"
    initial_capacity: InitialCapacity | None = None
    maximum_capacity: MaximumCapacity | None = None
    # The API's defaults (botocore model, AutoStartConfig and AutoStopConfig): on, and stop after 15 idle minutes.
    auto_start: bool = True
    auto_stop: AutoStop = Field(default_factory=AutoStop)
    network: Network | None = None
    tags: Tags = Field(default_factory=dict)

    @field_validator("release_label")
    @classmethod
    def _serverless_release(cls, value: str) -> str:
        if _release_tuple(value) < _FIRST_RELEASE:
            raise ValueError(
                f"read {value!r}: EMR Serverless runs emr-6.6.0 and later. Allowed: emr-6.6.0 or later; "
                "e.g. release_label: emr-7.5.0"
            )
        return value


class ServerlessLogs(_Model):
    s3: bool = True
    s3_uri: str | None = Field(default=None, description="Default: s3://<LogsBucket>/serverless/<job>/")
    cloudwatch_log_group: str | None = Field(default=None, pattern=r"^[\.\-_/#A-Za-z0-9]{1,512}$")
    cloudwatch_stream_prefix: str | None = Field(default=None, pattern=r"^[^:*]{1,512}$")

    @field_validator("s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        problem = s3_uri_problem(value) if value is not None else None
        if problem:
            raise ValueError(
                f"read {value!r}: {problem}. Allowed: an s3:// URI (no placeholders); "
                "e.g. s3_uri: s3://my-logs-bucket/serverless/"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.s3 and self.s3_uri:
            raise _FieldError(
                "s3_uri",
                f"read {self.s3_uri!r} with s3: false: there are no S3 logs to place. "
                "Allowed: s3: true with an s3_uri, or no s3_uri",
            )
        if self.cloudwatch_stream_prefix and not self.cloudwatch_log_group:
            raise _FieldError(
                "cloudwatch_stream_prefix",
                f"read {self.cloudwatch_stream_prefix!r} without cloudwatch_log_group: CloudWatch logging is on only "
                "with a log group. Allowed: a cloudwatch_log_group too; e.g. cloudwatch_log_group: /emr-autopilot/jobs",
            )
        return self


class ServerlessSpec(_Model):
    """Where and how a serverless job's runs happen."""

    application_id: str | None = Field(default=None, pattern=r"^[0-9a-z]{1,64}$")
    application: ManagedApplication | None = None
    execution_role: str | None = Field(
        default=None, pattern=r"^arn:aws[a-zA-Z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$", max_length=2048
    )
    start_application_first: bool | None = None
    stop_application_after_run: bool = False
    logs: ServerlessLogs = Field(default_factory=ServerlessLogs)
    concurrency: int = Field(default=1, ge=1, le=256)
    tags: Tags = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_application(self) -> Self:
        if (self.application_id is None) == (self.application is None):
            read = "both" if self.application is not None else "neither of them"
            raise _FieldError(
                "application_id",
                f"read {read}: set exactly one of application_id (an existing application) or application (one "
                "`jobs deploy` manages for this job). Allowed: one of them; e.g. application: "
                "{release_label: emr-7.5.0}",
            )
        return self

    @property
    def start_first(self) -> bool:
        """Default: start a managed application first when its auto_start is off; an existing application is
        assumed to auto-start (the API's default), so it is not started unless asked."""
        if self.start_application_first is not None:
            return self.start_application_first
        return self.application is not None and not self.application.auto_start


if TYPE_CHECKING:  # for the type checker only: defining Protocol classes costs every cold start

    class _Step(Protocol):
        @property
        def type(self) -> str: ...
        @property
        def spark_args(self) -> Sequence[str]: ...
        @property
        def simulate(self) -> bool: ...
        @property
        def model_fields_set(self) -> set[str]: ...

    class _Job(Protocol):
        @property
        def compute(self) -> str: ...
        @property
        def cluster(self) -> object | None: ...
        @property
        def serverless(self) -> ServerlessSpec | None: ...
        @property
        def steps(self) -> Sequence[_Step]: ...


_SERVERLESS_STEP_TYPES = ("spark-submit", "hive")


def check_serverless_target(job: "_Job") -> None:
    """Raise _FieldError for the first field an emr-serverless job refuses (the EC2 check is in emr_autopilot.jobs)."""
    if job.cluster is not None:
        raise _FieldError(
            "cluster",
            "read a cluster section on an emr-serverless job: EMR Serverless runs on an application, not a cluster. "
            "Allowed: a serverless section instead, or compute: emr-ec2; e.g. serverless: {application: "
            "{release_label: emr-7.5.0}}",
        )
    if job.serverless is None:
        raise _FieldError(
            "serverless",
            "missing: an emr-serverless job needs a serverless section. Allowed: application_id (an existing "
            "application) or application (one this tool manages); e.g. serverless: {application: "
            "{release_label: emr-7.5.0}}",
        )
    for index, step in enumerate(job.steps):
        _check_serverless_step(index, step)
    types = {step.type for step in job.steps}
    if job.serverless.application is not None and len(types) > 1:
        raise _FieldError(
            "steps",
            f"read {' and '.join(sorted(types))} steps: a managed application runs one engine (SPARK or HIVE). "
            "Allowed: steps of one type, or one job per engine",
        )


def _check_serverless_step(index: int, step: "_Step") -> None:
    where = f"steps.{index}"
    if step.type not in _SERVERLESS_STEP_TYPES:
        raise _FieldError(
            f"{where}.type",
            f"read {step.type!r}: EMR Serverless runs Spark and Hive jobs, not {step.type} steps "
            f"(there is no node to run a {'script' if step.type == 'script' else 'command'} on). "
            f"Allowed: {', '.join(_SERVERLESS_STEP_TYPES)}, or compute: emr-ec2; e.g. type: spark-submit",
        )
    check_job_run_step(where, step, "emr-serverless", "EMR Serverless")


def check_job_run_step(where: str, step: "_Step", compute: str, service: str) -> None:
    """What the job run targets (EMR Serverless, EMR on EKS) refuse alike in a step: EMR cluster step settings, and
    a spark_args word sparkSubmitParameters would split."""
    if "action_on_failure" in step.model_fields_set:
        raise _FieldError(
            f"{where}.action_on_failure",
            f"read action_on_failure on an {compute} job: it is an EMR cluster step setting; a failed job run "
            "fails the run. Allowed: no action_on_failure",
        )
    if step.simulate:
        raise _FieldError(
            f"{where}.simulate",
            f"read true on an {compute} job: simulate puts an echo step on a cluster in place of the step, "
            f"and {service} has no such step. Allowed: false (or no simulate)",
        )
    spaced = next((arg for arg in step.spark_args if not arg.strip() or re.search(r"\s", arg)), None)
    if spaced is not None:
        # sparkSubmitParameters is one string; the words are joined with spaces (inferred: the API documents no
        # quoting), so a word with a space in it would split.
        raise _FieldError(
            f"{where}.spark_args",
            f"read {spaced!r}: on {service} spark_args become one string (sparkSubmitParameters), so a word "
            "cannot hold a space. Allowed: one word per item; e.g. spark_args: [--conf, spark.executor.cores=4]",
        )


def execution_timeout_minutes(timeout: timedelta) -> int:
    """StartJobRun executionTimeoutMinutes for a step: whole minutes, rounded up, so a run gets at least its time.
    The API takes 0 to 1000000 (botocore model, Duration); 0 means no timeout, which a job never asks for."""
    return max(1, -(-int(timeout.total_seconds()) // 60))


def managed_application_name(job_name: str) -> str:
    return f"{MANAGED_APPLICATION_PREFIX}{job_name}"


def describe_timeout(timeout: timedelta) -> str:
    return f"{format_duration(timeout)} ({execution_timeout_minutes(timeout)} min)"
