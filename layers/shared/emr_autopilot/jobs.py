"""Job definitions: what a pipeline run creates, runs and reports.

A job is one YAML file under jobs/. It is validated here, in the CLI, in
`jobs deploy` and again by the run starter when it loads the catalog, so an
invalid definition never reaches EMR.
"""

import string
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# Durations have a module of their own (the idle reaper needs them, not the job models); callers may
# keep importing them from here.
from emr_autopilot.durations import Duration, format_duration, parse_duration  # noqa: F401
from emr_autopilot.errors import JobDefinitionError

# Placeholders a step arg, output URI or bootstrap arg may use.
PLACEHOLDERS = frozenset(
    {
        "input_uri",
        "output_uri",
        "run_id",
        "run_date",
        "job_name",
        "artifacts_uri",
        "landing_bucket",
        "curated_bucket",
        "artifacts_bucket",
        "region",
    }
)


def placeholders_in(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _check_placeholders(text: str) -> str:
    try:
        unknown = placeholders_in(text) - PLACEHOLDERS
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"{text!r}: {exc}") from exc
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in {text!r}; known: {sorted(PLACEHOLDERS)}")
    try:  # a format spec or conversion ("{run_date:%Y}") would only fail when a run is rendered
        text.format_map(dict.fromkeys(PLACEHOLDERS, "x"))
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"{text!r} cannot be rendered: a format spec or conversion does not fit a text value") from exc
    return text


def _check_no_placeholders(text: str | None, forbidden: set[str], field: str) -> str | None:
    # Rendering fills input_uri, then output_uri, in that order; a value cannot use what is not yet known.
    used = placeholders_in(text) & forbidden if text else set()
    if used:
        raise ValueError(f"{field} cannot use {sorted('{' + name + '}' for name in used)}")
    return text


def _check_location(value: str) -> str:
    if not value.startswith("s3://"):
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(f"{value!r}: use an s3:// URI or a relative path inside jobs/ (no '/...', '..' or '\\')")
    return value


def _property_value(value: Any) -> Any:
    # EMR configuration properties are strings; YAML reads `enabled: true` or `instances: 4` as bool/int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Templated = Annotated[str, BeforeValidator(lambda v: _check_placeholders(v) if isinstance(v, str) else v)]
# A location: an s3:// URI, or a path relative to jobs/ that `jobs deploy` uploads.
Location = Annotated[str, Field(min_length=1), AfterValidator(_check_location)]
PropertyValue = Annotated[str, BeforeValidator(_property_value)]


class _Model(BaseModel):
    # defer_build: only the run starter validates job definitions; other importers skip the cost.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class S3Trigger(_Model):
    bucket: str = Field(
        description="Bucket name, or 'landing' for the stack's landing bucket.",
        pattern=r"^(landing|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$",
    )
    prefix: str = ""
    suffix: str = ""

    def matches(self, bucket: str, key: str, landing_bucket: str) -> bool:
        wanted = landing_bucket if self.bucket == "landing" else self.bucket
        return bucket == wanted and key.startswith(self.prefix) and key.endswith(self.suffix)


class Triggers(_Model):
    s3: list[S3Trigger] = Field(default_factory=list)
    schedule: str | None = Field(
        default=None,
        description="An EventBridge Scheduler expression: rate(...) or cron(...).",
        pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$",
    )
    schedule_input_uri: Templated | None = Field(default=None, description="The input_uri of scheduled runs.")

    @field_validator("schedule_input_uri")
    @classmethod
    def _schedule_input_placeholders(cls, value: str | None) -> str | None:
        return _check_no_placeholders(value, {"input_uri", "output_uri"}, "schedule_input_uri")


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
        if self.target_on_demand_capacity + self.target_spot_capacity == 0:
            raise ValueError("a fleet needs target_on_demand_capacity or target_spot_capacity > 0")
        if self.role == "MASTER" and self.target_on_demand_capacity + self.target_spot_capacity != 1:
            raise ValueError("the MASTER fleet has a target capacity of exactly 1")
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
            raise ValueError("maximum must be >= minimum")
        for field in ("maximum_on_demand", "maximum_core"):
            limit = getattr(self, field)
            if limit is not None and limit > self.maximum:
                raise ValueError(f"{field} must be <= maximum")
        return self


class BootstrapAction(_Model):
    name: str
    path: Location
    args: list[Templated] = Field(default_factory=list)


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
    log_uri: str | None = Field(default=None, pattern=r"^s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/.*)?$")
    service_role: str | None = None
    instance_profile: str | None = None
    subnet_ids: list[str] = Field(default_factory=list)
    security_configuration: str | None = None
    ec2_key_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    idle_timeout: Duration = Field(default=timedelta(hours=1))
    step_concurrency: int = Field(default=1, ge=1, le=256)

    @model_validator(mode="after")
    def _topology(self) -> Self:
        if (self.instance_groups is None) == (self.instance_fleets is None):
            raise ValueError("set exactly one of instance_groups or instance_fleets")
        nodes = self.instance_groups or self.instance_fleets or []
        roles = [node.role for node in nodes]
        if roles.count("MASTER") != 1:
            raise ValueError("exactly one MASTER instance group or fleet is required")
        if self.instance_fleets is not None:
            repeated = sorted({role for role in roles if roles.count(role) > 1})
            if repeated:
                raise ValueError(f"a cluster has at most one instance fleet per role; repeated: {repeated}")
        elif roles.count("CORE") > 1:
            raise ValueError("a cluster has at most one CORE instance group")
        if self.instance_groups is None and self.managed_scaling and self.managed_scaling.unit_type == "Instances":
            raise ValueError("instance fleets scale in InstanceFleetUnits or VCPU, not Instances")
        if (
            self.instance_groups is not None
            and self.managed_scaling
            and self.managed_scaling.unit_type == "InstanceFleetUnits"
        ):
            raise ValueError("instance groups scale in Instances or VCPU, not InstanceFleetUnits")
        if self.instance_groups is not None and len(self.subnet_ids) > 1:
            raise ValueError("instance groups take one subnet; use instance_fleets for several")
        seconds = self.idle_timeout.total_seconds()
        if not 60 <= seconds <= 604800:
            raise ValueError("idle_timeout must be between 60s and 7d (EMR's AutoTerminationPolicy range)")
        if self.step_concurrency > 1 and _release_tuple(self.release_label) < (5, 28, 0):
            raise ValueError("step_concurrency > 1 needs emr-5.28.0 or later")
        return self

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = [key for key in tags if key.startswith("emr-autopilot:")]
        if reserved:
            raise ValueError(f"tag keys {reserved} are reserved for the pipeline")
        return tags


def _release_tuple(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.removeprefix("emr-").split("."))


class Step(_Model):
    name: str = Field(min_length=1, max_length=256)
    type: Literal["spark-submit", "script", "command"]
    script: Location | None = Field(
        default=None, description="spark-submit application or script to run: s3:// or relative to jobs/."
    )
    spark_args: list[Templated] = Field(default_factory=list, description="Options before the application.")
    args: list[Templated] = Field(default_factory=list)
    action_on_failure: Literal["TERMINATE_CLUSTER", "CANCEL_AND_WAIT", "CONTINUE"] = "CONTINUE"
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type in ("spark-submit", "script") and not self.script:
            raise ValueError(f"a {self.type} step needs 'script'")
        if self.type == "command":
            if self.script:
                raise ValueError("a command step takes its whole command line in 'args', not 'script'")
            if not self.args:
                raise ValueError("a command step needs 'args' (the command-runner.jar command line)")
        if self.type != "spark-submit" and self.spark_args:
            raise ValueError("spark_args only apply to spark-submit steps")
        if self.timeout is not None and self.timeout.total_seconds() < 60:
            raise ValueError("a step timeout is at least 60s")
        return self


class JobDefinition(_Model):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$",
        description="Lower-case letters, digits and '-'; it names executions, clusters and metrics.",
    )
    description: str = ""
    triggers: Triggers = Field(default_factory=Triggers)
    cluster: ClusterSpec
    steps: list[Step] = Field(min_length=1, max_length=256)
    output_uri: Templated = "s3://{curated_bucket}/{job_name}/{run_date}/{run_id}/"
    run_timeout: Duration = Field(default=timedelta(hours=2))
    notification_topic_arn: str | None = Field(
        default=None,
        # The state machine role may publish to the stack's topic and to topics named emr-autopilot-*.
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:emr-autopilot-[A-Za-z0-9_-]+$",
        description="An SNS topic named emr-autopilot-* (default: the stack's topic).",
    )

    @field_validator("output_uri")
    @classmethod
    def _output_placeholders(cls, value: str) -> str:
        checked = _check_no_placeholders(value, {"output_uri"}, "output_uri")
        assert checked is not None
        return checked

    @model_validator(mode="after")
    def _timeouts(self) -> Self:
        run_seconds = self.run_timeout.total_seconds()
        if not 300 <= run_seconds <= 7 * 86400:
            raise ValueError("run_timeout must be between 5m and 7d")
        for index, step in enumerate(self.steps):
            if step.timeout and step.timeout > self.run_timeout:
                raise ValueError(
                    f"steps.{index}.timeout: {format_duration(step.timeout)} (step {step.name!r}) "
                    f"is longer than the job's run_timeout ({format_duration(self.run_timeout)})"
                )
        return self

    def local_files(self) -> list[str]:
        """Paths relative to jobs/ that must be uploaded with the job."""
        return sorted({path for _, path in self._local_file_fields()})

    def _local_file_fields(self) -> list[tuple[str, str]]:
        """(field, path) for every location that is a path relative to jobs/."""
        fields = [(f"steps.{i}.script", step.script) for i, step in enumerate(self.steps) if step.script] + [
            (f"cluster.bootstrap_actions.{i}.path", action.path)
            for i, action in enumerate(self.cluster.bootstrap_actions)
        ]
        return [(field, path) for field, path in fields if not path.startswith("s3://")]


class JobCatalog(_Model):
    """What `jobs deploy` uploads and the run starter reads."""

    jobs: list[JobDefinition]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [job.name for job in self.jobs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"job names must be unique: {duplicates}")
        return self

    def get(self, name: str) -> JobDefinition:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)


def _describe_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
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
        raise JobDefinitionError(str(path), _describe_errors(exc)) from exc
    if path.stem != job.name:
        raise JobDefinitionError(str(path), [f"name: {job.name!r} must match the file name {path.stem!r}"])
    base = jobs_dir or path.parent
    missing = [(field, rel) for field, rel in job._local_file_fields() if not _is_file(base / rel)]
    if missing:
        raise JobDefinitionError(str(path), [f"{field}: file not found under {base}: {rel}" for field, rel in missing])
    return job


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name longer than the file system allows: not a file that is there
        return False


def load_jobs(jobs_dir: Path) -> JobCatalog:
    """Load every jobs/*.yaml; any invalid file stops everything."""
    problems: list[JobDefinitionError] = []
    jobs = []
    files: dict[str, list[str]] = {}
    for path in sorted(jobs_dir.glob("*.yaml")) + sorted(jobs_dir.glob("*.yml")):
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
        raise JobDefinitionError(str(jobs_dir), _describe_errors(exc)) from exc
