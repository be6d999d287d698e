"""Job definitions: what a pipeline run creates, runs and reports.

A job is one YAML file under jobs/. It is validated here, in the CLI, in
`jobs deploy` and again by the run starter when it loads the catalog, so an
invalid definition never reaches EMR. A job runs on a transient EMR cluster (compute: emr-ec2, the
cluster's model is here) or on EMR Serverless (compute: emr-serverless, emr_autopilot.serverless_jobs).
"""

import importlib
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo

# Durations have a module of their own (the idle reaper needs them, not the job models); callers may
# keep importing them from here.
from emr_autopilot.durations import Duration, format_duration, parse_duration  # noqa: F401
from emr_autopilot.errors import CatalogNotDeployed, JobDefinitionError

# The field types both job models share; re-exported, so callers may keep importing them from here.
from emr_autopilot.job_fields import (  # noqa: F401
    _DURATION_HINT,
    PLACEHOLDERS,
    IdleTimeout,
    Location,
    PropertyValue,
    RunTimeout,
    StepTimeout,
    Templated,
    TemplatedArg,
    _braced,
    _check_bucket,
    _check_log_uri,
    _check_no_placeholders,
    _check_templated_uri,
    _FieldError,
    _Model,
    _shown,
    placeholders_in,
)
from emr_autopilot.schedules import check_schedule


class _LazySection:
    """A job section whose model is imported on first use: defining the serverless, EKS and package models costs
    a few ms each, which a catalog of EC2 jobs (most) would otherwise pay at every cold start of the run starter
    (make bench, section 1d). As a PlainValidator it validates (with the nested errors' locations) by that model,
    and the field is serialised as that model."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def model(self) -> type[BaseModel]:
        model: type[BaseModel] = getattr(importlib.import_module(self.module), self.name)
        return model

    def __call__(self, value: Any) -> Any:
        model = self.model()
        return value if isinstance(value, model) else model.model_validate(value)


if TYPE_CHECKING:
    from emr_autopilot.eks_jobs import EksSpec
    from emr_autopilot.job_packages import PythonPackage
    from emr_autopilot.serverless_jobs import ServerlessSpec

    _ServerlessSection = ServerlessSpec | None
    _EksSection = EksSpec | None
    _PackageSection = PythonPackage | None
else:
    _ServerlessSection = Annotated[Any, PlainValidator(_LazySection("emr_autopilot.serverless_jobs", "ServerlessSpec"))]
    _EksSection = Annotated[Any, PlainValidator(_LazySection("emr_autopilot.eks_jobs", "EksSpec"))]
    _PackageSection = Annotated[Any, PlainValidator(_LazySection("emr_autopilot.job_packages", "PythonPackage"))]

_EC2_STEP_TYPES = ("spark-submit", "script", "command")


class S3Trigger(_Model):
    bucket: Annotated[str, AfterValidator(_check_bucket)] = Field(
        description="Bucket name, or 'landing' for the stack's landing bucket."
    )
    prefix: str = ""
    suffix: str = ""

    def matches(self, bucket: str, key: str, landing_bucket: str) -> bool:
        wanted = landing_bucket if self.bucket == "landing" else self.bucket
        return bucket == wanted and key.startswith(self.prefix) and key.endswith(self.suffix)


class Triggers(_Model):
    s3: list[S3Trigger] = Field(default_factory=list)
    schedule: Annotated[str, AfterValidator(check_schedule)] | None = Field(
        default=None, description="An EventBridge Scheduler expression: rate(...), cron(...) or at(...)."
    )
    schedule_input_uri: Templated | None = Field(default=None, description="The input_uri of scheduled runs.")

    @field_validator("schedule_input_uri")
    @classmethod
    def _schedule_input_placeholders(cls, value: str | None) -> str | None:
        _check_no_placeholders(value, {"input_uri", "output_uri"}, "schedule_input_uri")
        return _check_templated_uri(value, "schedule_input_uri", "s3://{landing_bucket}/inspections/latest.csv")


class InstanceGroup(_Model):
    role: Literal["MASTER", "CORE", "TASK"]
    instance_type: str
    instance_count: int = Field(default=1, ge=1, le=500)
    market: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    name: str | None = None
    bid_price: str | None = None
    ebs_volume_gb: int | None = Field(default=None, ge=1, le=16384)


class FleetInstanceType(_Model):
    instance_type: str
    weighted_capacity: int = Field(default=1, ge=1)
    bid_price_as_percentage_of_on_demand_price: float | None = Field(default=None, gt=0, le=100)


class SpotSpecification(_Model):
    timeout_minutes: int = Field(default=20, ge=5, le=1440)
    timeout_action: Literal["SWITCH_TO_ON_DEMAND", "TERMINATE_CLUSTER"] = "SWITCH_TO_ON_DEMAND"
    allocation_strategy: Literal[
        "capacity-optimized",
        "price-capacity-optimized",
        "lowest-price",
        "diversified",
        "capacity-optimized-prioritized",
    ] = "price-capacity-optimized"


class InstanceFleet(_Model):
    role: Literal["MASTER", "CORE", "TASK"]
    name: str | None = None
    target_on_demand_capacity: int = Field(default=0, ge=0)
    target_spot_capacity: int = Field(default=0, ge=0)
    instance_types: list[FleetInstanceType] = Field(min_length=1, max_length=30)
    spot: SpotSpecification | None = None
    on_demand_allocation_strategy: Literal["lowest-price", "prioritized"] | None = None

    @model_validator(mode="after")
    def _capacity(self) -> Self:
        total = self.target_on_demand_capacity + self.target_spot_capacity
        if total == 0:
            raise ValueError(
                "read a target capacity of 0: a fleet needs target_on_demand_capacity or target_spot_capacity > 0. "
                "Allowed: a whole number of 1 or more in one of them; e.g. target_on_demand_capacity: 1"
            )
        if self.role == "MASTER" and total != 1:
            raise ValueError(
                f"read a target capacity of {total}: the MASTER fleet has a target capacity of exactly 1. "
                "Allowed: 1 (on demand or spot); e.g. target_on_demand_capacity: 1"
            )
        return self


class ManagedScaling(_Model):
    unit_type: Literal["Instances", "InstanceFleetUnits", "VCPU"] = "Instances"
    minimum: int = Field(ge=1)
    maximum: int = Field(ge=1)
    maximum_on_demand: int | None = Field(default=None, ge=0)
    maximum_core: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.maximum < self.minimum:
            raise _FieldError(
                "maximum",
                f"read {self.maximum}, below minimum ({self.minimum}): maximum must be >= minimum. "
                f"Allowed: {self.minimum} or more",
            )
        for field in ("maximum_on_demand", "maximum_core"):
            limit = getattr(self, field)
            if limit is not None and limit > self.maximum:
                low = 0 if field == "maximum_on_demand" else 1
                raise _FieldError(
                    field,
                    f"read {limit}, above maximum ({self.maximum}): {field} must be <= maximum. "
                    f"Allowed: {low} to {self.maximum}",
                )
        return self


class BootstrapAction(_Model):
    name: str
    path: Location
    args: list[TemplatedArg] = Field(default_factory=list)


class Configuration(_Model):
    classification: str = Field(alias="Classification")
    properties: dict[str, PropertyValue] = Field(default_factory=dict, alias="Properties")
    configurations: list["Configuration"] = Field(default_factory=list, alias="Configurations")


class ClusterSpec(_Model):
    release_label: str = Field(pattern=r"^emr-\d+\.\d+\.\d+$")
    applications: list[str] = Field(default_factory=lambda: ["Hadoop"])
    instance_groups: list[InstanceGroup] | None = None
    instance_fleets: list[InstanceFleet] | None = None
    managed_scaling: ManagedScaling | None = None
    bootstrap_actions: list[BootstrapAction] = Field(default_factory=list)
    configurations: list[Configuration] = Field(default_factory=list)
    log_uri: Annotated[str, AfterValidator(_check_log_uri)] | None = None
    service_role: str | None = None
    instance_profile: str | None = None
    subnet_ids: list[str] = Field(default_factory=list)
    security_configuration: str | None = None
    ec2_key_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    idle_timeout: IdleTimeout = Field(default=timedelta(hours=1))
    step_concurrency: int = Field(default=1, ge=1, le=256)
    # How the pipeline learns a step ended: EMR's Step Status Change event (the default: it loses far less cluster
    # time), or addStep.sync's polling (emr_autopilot.step_completion; docs/performance.md, "Cluster time lost
    # until Step Functions notices").
    step_completion: Literal["polling", "events"] = "events"

    @model_validator(mode="after")
    def _topology(self) -> Self:
        kind = _one_node_kind(self)
        roles = [node.role for node in self.instance_groups or self.instance_fleets or []]
        _check_roles(kind, roles, fleets=self.instance_fleets is not None)
        _check_scaling(self)
        if self.instance_groups is not None and len(self.subnet_ids) > 1:
            raise _FieldError(
                "subnet_ids",
                f"read {len(self.subnet_ids)} subnets: instance groups take one subnet. "
                "Allowed: one subnet, or instance_fleets for several",
            )
        if self.step_concurrency > 1 and _release_tuple(self.release_label) < (5, 28, 0):
            raise _FieldError(
                "step_concurrency",
                f"read {self.step_concurrency} with {self.release_label}: step_concurrency > 1 needs emr-5.28.0 "
                "or later. Allowed: 1, or a later release_label",
            )
        return self

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = [key for key in tags if key.startswith("emr-autopilot:")]
        if reserved:
            raise ValueError(
                f"read tag key(s) {', '.join(reserved)}: tag keys {reserved} are reserved for the pipeline. "
                "Allowed: any other key; e.g. team: data-platform"
            )
        return tags


def _one_node_kind(spec: ClusterSpec) -> str:
    if (spec.instance_groups is None) == (spec.instance_fleets is None):
        read = "both" if spec.instance_groups is not None else "neither of them"
        raise _FieldError(
            "instance_groups",
            f"read {read}: set exactly one of instance_groups or instance_fleets. "
            "Allowed: one of them; e.g. instance_groups: [{role: MASTER, instance_type: m5.xlarge}]",
        )
    return "instance_groups" if spec.instance_groups is not None else "instance_fleets"


def _check_roles(kind: str, roles: Sequence[str], *, fleets: bool) -> None:
    if roles.count("MASTER") != 1:
        raise _FieldError(
            kind,
            f"read {roles.count('MASTER')} with role MASTER. Allowed: exactly one MASTER "
            f"(the primary node), then CORE and TASK; e.g. {kind}: [{{role: MASTER, ...}}, {{role: CORE, ...}}]",
        )
    if fleets:
        repeated = sorted({role for role in roles if roles.count(role) > 1})
        if repeated:
            raise _FieldError(
                kind,
                f"read more than one fleet with role {', '.join(repeated)}: a cluster has at most one instance "
                f"fleet per role; repeated: {repeated}. Allowed: one MASTER, one CORE, one TASK fleet",
            )
    elif roles.count("CORE") > 1:
        raise _FieldError(
            kind,
            f"read {roles.count('CORE')} CORE instance groups: a cluster has at most one CORE instance group. "
            "Allowed: one MASTER, one CORE, and TASK groups",
        )


def _check_scaling(spec: ClusterSpec) -> None:
    if not spec.managed_scaling:
        return
    unit = spec.managed_scaling.unit_type
    groups = spec.instance_groups is not None
    allowed = ("Instances", "VCPU") if groups else ("InstanceFleetUnits", "VCPU")
    if unit not in allowed:
        noun = "instance groups" if groups else "instance fleets"
        raise _FieldError(
            "managed_scaling.unit_type",
            f"read {unit!r}: {noun} scale in {' or '.join(allowed)}, not {unit}. "
            f"Allowed: {' or '.join(allowed)}; e.g. unit_type: {allowed[0]}",
        )


def _release_tuple(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.removeprefix("emr-").split("."))


class Step(_Model):
    name: str = Field(min_length=1, max_length=256)
    type: Literal["spark-submit", "script", "command", "hive"]
    script: Location | None = Field(
        default=None, description="spark-submit application or script to run: s3:// or relative to jobs/."
    )
    spark_args: list[TemplatedArg] = Field(default_factory=list, description="Options before the application.")
    args: list[TemplatedArg] = Field(default_factory=list)
    action_on_failure: Literal["TERMINATE_CLUSTER", "CANCEL_AND_WAIT", "CONTINUE"] = "CONTINUE"
    timeout: StepTimeout | None = None
    simulate: bool = Field(
        default=False,
        description="Do not run this step (on AWS or locally): an echo stands in for it and the run is "
        "reported SIMULATED. For trying a pipeline whose step this machine cannot run (hive, hadoop jar).",
    )
    # hive steps (EMR Serverless only): the query file, an init file run before it, and Hive CLI parameters.
    query: Location | None = None
    init_file: Location | None = None
    parameters: list[TemplatedArg] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_hive_fields(self, handler: Any) -> Any:
        # Other steps are written as before hive steps existed, so a catalog of them reads the same everywhere.
        data = handler(self)
        if self.type != "hive" and isinstance(data, dict):
            for key in _HIVE_FIELDS:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type == "hive":
            return self._hive_shape()
        used = [key for key in _HIVE_FIELDS if getattr(self, key)]
        if used:
            raise _FieldError(
                used[0],
                f"read {used[0]} on a {self.type} step: query, init_file and parameters belong to hive steps. "
                "Allowed: type hive, or the values in args",
            )
        if self.type in ("spark-submit", "script") and not self.script:
            example = "my_job/app.py" if self.type == "spark-submit" else "my_job/run.sh"
            raise _FieldError(
                "script",
                f"missing: a {self.type} step needs 'script'. Allowed: an s3:// URI or a path relative to jobs/; "
                f"e.g. script: {example}",
            )
        if self.type == "command":
            if self.script:
                raise _FieldError(
                    "script",
                    f"read {self.script!r}: a command step takes its whole command line in 'args', not 'script'. "
                    "Allowed: type script (or spark-submit) for a file to run; e.g. args: [bash, -c, 'echo hi']",
                )
            if not self.args:
                raise _FieldError(
                    "args",
                    "missing: a command step needs 'args' (the command-runner.jar command line). "
                    "Allowed: a list of words; e.g. args: [spark-submit, --version]",
                )
        if self.type != "spark-submit" and self.spark_args:
            raise _FieldError(
                "spark_args",
                f"read spark_args on a {self.type} step: spark_args only apply to spark-submit steps. "
                "Allowed: type spark-submit, or the options in args",
            )
        return self

    def _hive_shape(self) -> Self:
        if not self.query:
            raise _FieldError(
                "query",
                "missing: a hive step needs 'query' (its query file). Allowed: an s3:// URI or a path relative to "
                "jobs/; e.g. query: my_job/query.sql",
            )
        for key in ("script", "spark_args", "args"):
            if getattr(self, key):
                raise _FieldError(
                    key,
                    f"read {key} on a hive step: a hive step runs its query file; Hive settings go in parameters. "
                    "Allowed: query, init_file and parameters; e.g. parameters: [--hiveconf, "
                    "hive.exec.scratchdir=s3://{curated_bucket}/hive/scratch]",
                )
        return self


_HIVE_FIELDS = ("query", "init_file", "parameters")


class JobDefinition(_Model):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$",
        description="Lower-case letters, digits and '-'; it names executions, clusters and metrics.",
    )
    description: str = ""
    triggers: Triggers = Field(default_factory=Triggers)
    compute: Literal["emr-ec2", "emr-serverless", "emr-eks"] = Field(
        default="emr-ec2", description="Where runs happen: a transient EMR cluster, EMR Serverless or EMR on EKS."
    )
    cluster: ClusterSpec | None = Field(default=None, description="Required for emr-ec2; refused for emr-serverless.")
    serverless: _ServerlessSection = Field(
        default=None, description="Required for emr-serverless; refused for emr-ec2."
    )
    eks: _EksSection = Field(default=None, description="Required for emr-eks; refused for the other targets.")
    package: _PackageSection = Field(
        default=None, description="A Python project (modules and dependencies) its spark-submit steps ship with."
    )
    steps: list[Step] = Field(min_length=1, max_length=256)
    output_uri: Templated = "s3://{curated_bucket}/{job_name}/{run_date}/{run_id}/"
    run_timeout: RunTimeout = Field(default=timedelta(hours=2))
    notification_topic_arn: str | None = Field(
        default=None,
        # The state machine role may publish to the stack's topic and to topics named emr-autopilot-*.
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:emr-autopilot-[A-Za-z0-9_-]+$",
        description="An SNS topic named emr-autopilot-* (default: the stack's topic).",
    )

    @field_validator("output_uri")
    @classmethod
    def _output_placeholders(cls, value: str) -> str:
        _check_no_placeholders(value, {"output_uri"}, "output_uri")
        _check_templated_uri(value, "output_uri", "s3://{curated_bucket}/{job_name}/{run_date}/{run_id}/")
        return value

    @model_serializer(mode="wrap")
    def _only_its_target(self, handler: Any) -> Any:
        # An EC2 job is written as before serverless jobs existed, so its catalog entry (and the plan's
        # comparison with it) reads the same; each job carries only its own target's section.
        data = handler(self)
        if isinstance(data, dict):
            if self.compute != "emr-eks":
                data.pop("eks", None)  # an EC2 or serverless job reads as before EKS jobs existed
            if self.package is None:
                data.pop("package", None)  # a job without one reads as before packages existed
            if self.compute != "emr-serverless":
                data.pop("serverless", None)
            if self.compute == "emr-ec2":
                data.pop("compute", None)
            else:
                data.pop("cluster", None)
                # Cluster-only step fields stay unset, so the catalog reads back as the file did (check_target
                # refuses them when set).
                for step in data.get("steps", []):
                    if isinstance(step, dict):
                        step.pop("action_on_failure", None)
                        step.pop("simulate", None)
        return data

    @model_validator(mode="after")
    def _target(self) -> Self:
        # Each field belongs to one compute target: the first one the job's target refuses is the error.
        if self.compute == "emr-ec2":
            _check_ec2_target(self)
        elif self.compute == "emr-eks":
            from emr_autopilot.eks_jobs import check_eks_target  # see _LazySection

            check_eks_target(self)
        else:
            from emr_autopilot.serverless_jobs import check_serverless_target  # see _LazySection

            check_serverless_target(self)
            _refuse_eks_section(self)
        if self.package is not None:
            from emr_autopilot.job_packages import check_package  # see _LazySection

            check_package(self)
        return self

    @property
    def ec2_cluster(self) -> ClusterSpec:
        """The cluster of an emr-ec2 job; ValueError for a serverless job, which has none."""
        if self.cluster is None:
            where = "EMR on EKS" if self.compute == "emr-eks" else "EMR Serverless"
            raise ValueError(f"job {self.name!r} runs on {where} (compute: {self.compute}): it has no cluster")
        return self.cluster

    @model_validator(mode="after")
    def _timeouts(self) -> Self:
        for index, step in enumerate(self.steps):
            if step.timeout and step.timeout > self.run_timeout:
                raise _FieldError(
                    f"steps.{index}.timeout",
                    f"read {format_duration(step.timeout)} (step {step.name!r}) "
                    f"is longer than the job's run_timeout ({format_duration(self.run_timeout)}). "
                    f"Allowed: at most {format_duration(self.run_timeout)}, or a longer run_timeout",
                )
        return self

    def local_files(self) -> list[str]:
        """Paths relative to jobs/ that must be uploaded with the job."""
        return sorted({path for _, path in self._local_file_fields()})

    def _local_file_fields(self) -> list[tuple[str, str]]:
        """(field, path) for every location that is a path relative to jobs/."""
        fields = [
            (f"steps.{i}.{key}", path)
            for i, step in enumerate(self.steps)
            for key in ("script", "query", "init_file")
            if (path := getattr(step, key))
        ]
        fields += [
            (f"cluster.bootstrap_actions.{i}.path", action.path)
            for i, action in enumerate(self.cluster.bootstrap_actions if self.cluster else [])
        ]
        if self.package is not None and self.package.requirements:
            fields.append(("package.requirements", self.package.requirements))
        return [(field, path) for field, path in fields if not path.startswith("s3://")]


def _check_ec2_target(job: JobDefinition) -> None:
    if job.cluster is None:
        raise _FieldError(
            "cluster",
            "missing: cluster is required for compute: emr-ec2 (the default). Allowed: the cluster's settings, or "
            "compute: emr-serverless with a serverless section; e.g. cluster: {release_label: emr-7.5.0, "
            "instance_groups: [...]}",
        )
    if job.serverless is not None:
        raise _FieldError(
            "serverless",
            "read a serverless section on an emr-ec2 job: it applies to compute: emr-serverless only. "
            "Allowed: no serverless section, or compute: emr-serverless (and no cluster)",
        )
    _refuse_eks_section(job)
    for index, step in enumerate(job.steps):
        if step.type not in _EC2_STEP_TYPES:
            raise _FieldError(
                f"steps.{index}.type",
                f"read {step.type!r}: {step.type} steps run on EMR Serverless only (compute: emr-serverless). "
                f"Allowed on a cluster: {', '.join(_EC2_STEP_TYPES)}; e.g. type: command with "
                "args: [hive-script, --run-hive-script, --args, -f, s3://my-bucket/query.q]",
            )


def _refuse_eks_section(job: JobDefinition) -> None:
    if job.eks is not None:
        raise _FieldError(
            "eks",
            f"read an eks section on an {job.compute} job: it applies to compute: emr-eks only. "
            f"Allowed: no eks section, or compute: emr-eks (with no {'cluster' if job.cluster else 'serverless'} "
            "section)",
        )


class DeployedApplication(_Model):
    """A managed application as `jobs deploy` left it: its id, and a digest of the configuration it was given."""

    application_id: str
    config: str


class JobCatalog(_Model):
    """What `jobs deploy` uploads and the run starter reads."""

    jobs: list[JobDefinition]
    # Job name -> the managed application `jobs deploy` created for it (jobs with serverless.application).
    applications: dict[str, DeployedApplication] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_applications(self, handler: Any) -> Any:
        # A catalog without serverless applications reads as before they existed (an older run starter takes it).
        data = handler(self)
        if not self.applications and isinstance(data, dict):
            data.pop("applications", None)
        return data

    def application_id(self, job: JobDefinition) -> str | None:
        """The application a serverless job runs on (None for an EC2 job); CatalogNotDeployed when its managed
        application is not in the catalog (the jobs were not deployed with `jobs deploy`)."""
        if job.serverless is None:
            return None
        if job.serverless.application_id:
            return job.serverless.application_id
        deployed = self.applications.get(job.name)
        if deployed is None:
            raise CatalogNotDeployed(
                f"job {job.name!r} runs on a managed EMR Serverless application, and the deployed catalog has none "
                "for it; run `emr-autopilot jobs deploy`, which creates it"
            )
        return deployed.application_id

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [job.name for job in self.jobs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"read job name(s) {', '.join(duplicates)} more than once: job names must be unique")
        return self

    def get(self, name: str) -> JobDefinition:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)


# For pydantic's own checks (types, patterns, bounds): what a field takes, and an example line.
_HINTS: dict[str, tuple[str, str]] = {
    "steps.name": ("text of 1 to 256 characters", "name: Count red violations"),
    "cluster.bootstrap_actions.name": ("text", "name: install-deps"),
    "name": (
        "2-40 lower-case letters, digits and '-', starting and ending with a letter or digit",
        "name: red-violations",
    ),
    "release_label": ("emr-<major>.<minor>.<patch>", "release_label: emr-7.5.0"),
    "notification_topic_arn": (
        "the ARN of an SNS topic whose name starts with emr-autopilot- (the pipeline may publish only there "
        "and to the stack's topic)",
        "notification_topic_arn: arn:aws:sns:us-east-1:123456789012:emr-autopilot-alerts",
    ),
    "instance_type": ("an EC2 instance type", "instance_type: m5.xlarge"),
    "instance_count": ("a whole number from 1 to 500", "instance_count: 2"),
    "steps": ("a list of 1 to 256 steps", "steps: [{name: count, type: spark-submit, script: my_job/app.py}]"),
    "cluster": ("the cluster's settings", "cluster: {release_label: emr-7.5.0, instance_groups: [...]}"),
    "type": (
        "spark-submit, script or command (emr-ec2); spark-submit or hive (emr-serverless); spark-submit (emr-eks)",
        "type: spark-submit",
    ),
    "eks.virtual_cluster_id": (
        "the id of an EMR on EKS virtual cluster (0-9, a-z)",
        "virtual_cluster_id: abcdefghijklmnop0123456789",
    ),
    "eks.execution_role": ("an IAM role ARN", "execution_role: arn:aws:iam::123456789012:role/emr-autopilot-eks-jobs"),
    "eks.release_label": (
        "an EMR on EKS release: emr-<major>.<minor>.<patch>-latest or -<YYYYMMDD>",
        "release_label: emr-7.5.0-latest",
    ),
    "eks.job_template_id": ("the id of an EMR on EKS job template (0-9, a-z)", "job_template_id: 0abcdef123456789"),
    "eks.logs.cloudwatch_log_group": ("a log group name", "cloudwatch_log_group: /emr-autopilot/jobs"),
    "serverless.application_id": (
        "the id of an EMR Serverless application (0-9, a-z)",
        "application_id: 00fabc123example",
    ),
    "serverless.execution_role": (
        "an IAM role ARN",
        "execution_role: arn:aws:iam::123456789012:role/emr-autopilot-serverless-jobs",
    ),
    "serverless.logs.cloudwatch_log_group": ("a log group name", "cloudwatch_log_group: /emr-autopilot/jobs"),
    "subnet_ids": ("a list of subnet ids", "subnet_ids: [subnet-0a1b2c3d]"),
    "security_group_ids": ("a list of security group ids", "security_group_ids: [sg-0a1b2c3d]"),
    "concurrency": ("a whole number from 1 to 256", "concurrency: 1"),
    "count": ("a whole number of 1 or more", "count: 2"),
    "query": ("an s3:// URI or a path relative to jobs/", "query: my_job/query.sql"),
    "init_file": ("an s3:// URI or a path relative to jobs/", "init_file: my_job/init.sql"),
    "role": ("MASTER, CORE or TASK", "role: MASTER"),
    "applications": ("a list of EMR application names", "applications: [Hadoop, Spark]"),
    "args": ("a list of words", "args: [--input, '{input_uri}']"),
    "spark_args": ("a list of spark-submit options", "spark_args: [--deploy-mode, cluster]"),
    "instance_types": ("a list of 1 to 30 instance types", "instance_types: [{instance_type: m5.xlarge}]"),
    "minimum": ("a whole number of 1 or more", "minimum: 2"),
    "maximum": ("a whole number of 1 or more", "maximum: 10"),
    "step_concurrency": ("a whole number from 1 to 256", "step_concurrency: 1"),
    "step_completion": ("polling or events", "step_completion: polling"),
    "timeout_minutes": ("a whole number from 5 to 1440", "timeout_minutes: 10"),
    "ebs_volume_gb": ("a whole number from 1 to 16384", "ebs_volume_gb: 64"),
    "target_on_demand_capacity": ("a whole number of 0 or more", "target_on_demand_capacity: 1"),
    "target_spot_capacity": ("a whole number of 0 or more", "target_spot_capacity: 4"),
    "weighted_capacity": ("a whole number of 1 or more", "weighted_capacity: 1"),
    "triggers.s3.bucket": ("landing, or the name of a bucket the stack listens on", "bucket: landing"),
    "script": ("an s3:// URI or a path relative to jobs/", "script: my_job/app.py"),
    "path": ("an s3:// URI or a path relative to jobs/", "path: my_job/bootstrap.sh"),
}
_DURATION_FIELDS = {"timeout": "30m", "run_timeout": "2h", "idle_timeout": "30m"}
_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (lines starting with '- ', or [a, b])",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping of fields (key: value lines)",
    "model_attributes_type": "a mapping of fields (key: value lines)",
}
_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation (X, list[X], X | None, "X")."""
    import typing

    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        annotation = globals().get(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field_model(field: FieldInfo) -> type[BaseModel] | None:
    lazy = next((meta.func for meta in field.metadata if isinstance(getattr(meta, "func", None), _LazySection)), None)
    return lazy.model() if isinstance(lazy, _LazySection) else _model_in(field.annotation)


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(root: type[BaseModel], path: list[Any]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = root
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):  # a list index: the list's item model is already current
            continue
        fields = current.model_fields
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        current = _field_model(field) if field is not None else None
    return current


def _where_else(root: type[BaseModel], name: str) -> str | None:
    """The path of a field called `name` elsewhere in the job (for a field written at the wrong level)."""
    queue: list[tuple[type[BaseModel], str]] = [(root, "")]
    seen: set[type[BaseModel]] = set()
    while queue:
        model, prefix = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        for field_name, field in model.model_fields.items():
            key = field.alias or field_name
            if key == name:
                return prefix + key
            inner = _field_model(field)
            if inner is not None:
                queue.append((inner, f"{prefix}{key}."))
    return None


class _Problem(NamedTuple):
    """One pydantic error, with what the messages need."""

    kind: str
    value: Any
    ctx: dict[str, Any]
    leaf: str  # the field's own name
    tail: str  # ". Allowed: ...; e.g. ..." when the field has a hint


def _plain(item: Any, loc: list[Any], root: type[BaseModel]) -> str:
    """One pydantic error in the job file's words: what was read, what is allowed, an example."""
    kind, ctx = item["type"], item.get("ctx") or {}
    leaf = next((part for part in reversed(loc) if isinstance(part, str)), "")
    path = ".".join(part for part in loc if isinstance(part, str))
    allowed, example = _HINTS.get(path) or (_HINTS.get(leaf) if leaf != "name" else None) or ("", "")
    tail = (f". Allowed: {allowed}" if allowed else "") + (f"; e.g. {example}" if example else "")
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind == "extra_forbidden":
        return _unknown_field(leaf, loc, root)
    if kind == "missing":
        return f"missing: {leaf or 'this field'} is required{tail}"
    problem = _Problem(kind, item.get("input"), ctx, leaf, tail)
    for describe in (_as_duration, _as_choice, _as_pattern, _as_bound, _as_length, _as_type):
        text = describe(problem)
        if text is not None:
            return text
    message = str(item["msg"]).replace("Input should be", "expected").replace("Value error, ", "")
    return f"read {_shown(problem.value)}: {message}{tail}"


def _unknown_field(leaf: str, loc: list[Any], root: type[BaseModel]) -> str:
    import difflib

    model = _model_at(root, loc[:-1])
    known = _field_names(model) if model else []
    elsewhere = _where_else(root, leaf)
    close = difflib.get_close_matches(leaf, known, n=1, cutoff=0.6)
    if elsewhere and elsewhere != leaf:
        hint = f"; it is a field of {elsewhere.rpartition('.')[0]}, not here ({elsewhere})."
    else:
        hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"unknown field {leaf!r}{hint} Fields here: {', '.join(known)}"


def _as_duration(p: _Problem) -> str | None:
    if not (p.kind.startswith("time_delta") or (p.leaf in _DURATION_FIELDS and p.kind in _TYPE_WORDS)):
        return None
    example = _DURATION_FIELDS.get(p.leaf, "30m")
    return f"read {_shown(p.value)}: not a duration. Allowed: {_DURATION_HINT}; e.g. {p.leaf}: {example}"


def _as_choice(p: _Problem) -> str | None:
    if p.kind != "literal_error":
        return None
    import difflib

    choices = re.findall(r"'([^']*)'", str(p.ctx.get("expected", "")))
    close = difflib.get_close_matches(str(p.value), choices, n=1, cutoff=0.5) if isinstance(p.value, str) else []
    guess = f"; did you mean {close[0]}?" if close else ""
    return f"read {_shown(p.value)}: not one of the allowed values{guess} Allowed: {', '.join(choices)}"


def _as_pattern(p: _Problem) -> str | None:
    if p.kind != "string_pattern_mismatch":
        return None
    return f"read {_shown(p.value)}: not in the expected form{p.tail or '. Allowed: see docs/jobs.md'}"


def _as_bound(p: _Problem) -> str | None:
    if p.kind not in _BOUNDS:
        return None
    bound = next(iter(p.ctx.values()), "")
    return f"read {_shown(p.value)}: must be {_BOUNDS[p.kind]} {bound}{p.tail}"


def _as_length(p: _Problem) -> str | None:
    if p.kind not in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return None
    unit = "character(s)" if p.kind.startswith("string") else "item(s)"
    size = len(p.value) if isinstance(p.value, str | list | dict | tuple) else p.ctx.get("actual_length", "?")
    short = "short" in p.kind
    limit = p.ctx.get("min_length") if short else p.ctx.get("max_length")
    return f"read {size} {unit}: {'at least' if short else 'at most'} {limit} allowed{p.tail}"


def _as_type(p: _Problem) -> str | None:
    if p.kind not in _TYPE_WORDS:
        return None
    return f"read {_shown(p.value)}: expected {_TYPE_WORDS[p.kind]}{p.tail}"


def describe_errors(error: ValidationError, root: type[BaseModel] | None = None) -> list[str]:
    """`field: reason` lines in the job file's words (no pydantic wording, no documentation links)."""
    root = root or JobDefinition
    lines = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            loc += [int(part) if part.isdigit() else part for part in ctx_error.field.split(".")]
        where = ".".join(str(part) for part in loc) or "(top level)"
        lines.append(f"{where}: {_plain(item, loc, root)}")
    return lines


def load_job_file(path: Path, jobs_dir: Path | None = None) -> JobDefinition:
    """Read and validate one job file; errors name the file, the field and the reason."""
    import yaml  # only the CLI reads YAML; Lambdas read the JSON catalog, so they skip this import

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobDefinitionError(str(path), [f"(file): cannot be read as UTF-8 text: {exc}"]) from exc
    try:
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        # PyYAML's own constructors raise ValueError too, e.g. for the timestamp "0000-01-01".
        raise JobDefinitionError(str(path), [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise JobDefinitionError(str(path), ["(top level): expected a mapping of job fields"])
    try:
        job = JobDefinition.model_validate(raw)
    except ValidationError as exc:
        raise JobDefinitionError(str(path), describe_errors(exc)) from exc
    if path.stem != job.name:
        raise JobDefinitionError(
            str(path),
            [f"name: read {job.name!r}: it must match the file name {path.stem!r}. Allowed: {path.stem}"],
        )
    base = jobs_dir or path.parent
    missing = [(field, rel) for field, rel in job._local_file_fields() if not _is_file(base / rel)]
    if missing:
        raise JobDefinitionError(
            str(path),
            [
                f"{field}: read {rel!r}: file not found under {base}: {rel}. "
                f"Allowed: a file under {base}, or an s3:// URI"
                for field, rel in missing
            ],
        )
    return job


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name longer than the file system allows: not a file that is there
        return False


def job_files(jobs_dir: Path) -> list[Path]:
    """The job files of a jobs directory; JobDefinitionError when there is none (a deploy never empties a stack)."""
    try:
        is_dir, exists = jobs_dir.is_dir(), jobs_dir.exists()
    except (OSError, ValueError) as exc:  # a name longer than the file system allows; a NUL byte in it
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise JobDefinitionError(
            str(jobs_dir)[:80], [f"(directory): cannot be read ({why}). Allowed: a directory of job files"]
        ) from exc
    if not is_dir:
        where = "not a directory" if exists else "does not exist"
        raise JobDefinitionError(
            str(jobs_dir),
            [f"(directory): {where} (from {Path.cwd()}). Allowed: a directory of job files; e.g. --jobs-dir jobs"],
        )
    paths = sorted(jobs_dir.glob("*.yaml")) + sorted(jobs_dir.glob("*.yml"))
    if not paths:
        raise JobDefinitionError(
            str(jobs_dir),
            ["(directory): no job files (*.yaml or *.yml) in it. Allowed: a YAML file per job; e.g. jobs/my-job.yaml"],
        )
    return paths


def load_jobs(jobs_dir: Path) -> JobCatalog:
    """Load every jobs/*.yaml; any invalid file stops everything, and so does a directory without jobs."""
    problems: list[JobDefinitionError] = []
    jobs = []
    files: dict[str, list[str]] = {}
    for path in job_files(jobs_dir):
        try:
            job = load_job_file(path, jobs_dir)
        except JobDefinitionError as exc:
            problems.append(exc)
            continue
        jobs.append(job)
        files.setdefault(job.name, []).append(path.name)
    if problems:
        raise JobDefinitionError.combine(problems)
    duplicates = [f"name: {name!r} is defined by {', '.join(names)}" for name, names in files.items() if len(names) > 1]
    if duplicates:
        raise JobDefinitionError(str(jobs_dir), [*duplicates, "job names must be unique"])
    try:
        return JobCatalog(jobs=jobs)
    except ValidationError as exc:
        raise JobDefinitionError(str(jobs_dir), describe_errors(exc, JobCatalog)) from exc
