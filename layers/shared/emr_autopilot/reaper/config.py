"""What the reaper may do: its settings (from the function's environment), tag selectors and the schedule's tick."""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emr_autopilot.durations import duration_adapter, format_duration
from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.reaper.pacing import DESCRIBE_CLUSTER, LIST_CLUSTERS, LIST_STEPS, CallRate

TAG_IDLE_THRESHOLD = "emr-autopilot:idle-threshold"
DEFAULT_OPT_OUT = "emr-autopilot:reaper=skip"
METRIC_PERIOD = 300  # IsIdle is a 5-minute metric
MIN_THRESHOLD = timedelta(seconds=METRIC_PERIOD)  # shorter than one period cannot be proven by IsIdle
MAX_THRESHOLD = timedelta(days=7)


def parse_duration(text: str) -> timedelta:
    """The job files' duration syntax: 90s, 30m, 2h, 1d, PT2H, HH:MM:SS or seconds; ValidationError otherwise."""
    return duration_adapter().validate_python(text)


class TagSelector(BaseModel):
    """``key=value`` matches that tag with that value; ``key`` alone matches the key with any value."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str = Field(min_length=1, max_length=128)
    value: str | None = Field(default=None, max_length=256)

    @classmethod
    def parse(cls, text: str) -> Self | None:
        text = text.strip()
        if not text:
            return None
        key, sep, value = text.partition("=")
        return cls(key=key.strip(), value=value.strip() if sep else None)

    def matches(self, tags: dict[str, str]) -> bool:
        return self.key in tags and (self.value is None or tags[self.key] == self.value)

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


class ReaperConfig(BaseModel):
    """What the reaper may do. Defaults are the template's parameter defaults (a static test keeps them equal)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    idle_threshold: timedelta = timedelta(minutes=60)
    grace: timedelta = timedelta(minutes=30)
    max_terminations: int = Field(default=5, ge=0)
    dry_run: bool = True
    scope: TagSelector | None = None  # None: every cluster in the account and region
    opt_out: TagSelector | None = TagSelector(key="emr-autopilot:reaper", value="skip")
    heal: bool = False
    region: str = "us-east-1"
    # EMR's token buckets the scan paces its calls under (pacing.py; defaults inferred)
    list_clusters_rate: CallRate = LIST_CLUSTERS
    describe_cluster_rate: CallRate = DESCRIBE_CLUSTER
    list_steps_rate: CallRate = LIST_STEPS

    @field_validator("list_clusters_rate", "describe_cluster_rate", "list_steps_rate")
    @classmethod
    def _rate(cls, value: CallRate) -> CallRate:
        if value.burst < 1 or value.per_second <= 0:
            raise ValueError("the burst must be at least 1 and the rate above 0 a second")
        return value

    @field_validator("scope", "opt_out", mode="before")
    @classmethod
    def _selector(cls, value: Any) -> Any:
        return TagSelector.parse(value) if isinstance(value, str) else value

    @field_validator("idle_threshold")
    @classmethod
    def _threshold(cls, value: timedelta) -> timedelta:
        if not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
            raise ValueError(f"must be between {format_duration(MIN_THRESHOLD)} and {format_duration(MAX_THRESHOLD)}")
        return value

    @field_validator("grace")
    @classmethod
    def _grace(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    def describe(self) -> str:
        return (
            f"{'dry run' if self.dry_run else 'live'}; threshold {format_duration(self.idle_threshold)}, "
            f"grace {format_duration(self.grace)}, at most {self.max_terminations} per run, "
            f"scope {self.scope or 'all clusters'}, opt-out {self.opt_out or 'none'}"
            + ("; heal mode" if self.heal else "")
        )


class ReaperSettings(EnvSettings):
    """The reaper function's environment (template.yaml). Read on every run, not cached: it is cheap, and
    the local runtime may run the function under different settings in one process."""

    aws_region: str = "us-east-1"
    notification_topic_arn: str
    ledger_table_name: str = ""
    reaper_idle_threshold_minutes: int = Field(default=60, ge=5, le=10080)
    reaper_grace_minutes: int = Field(default=30, ge=0, le=10080)
    reaper_max_terminations_per_run: int = Field(default=5, ge=0, le=1000)
    reaper_dry_run: bool = True
    reaper_scope_tag: str = ""
    reaper_opt_out_tag: str = DEFAULT_OPT_OUT
    reaper_heal_mode: bool = False
    # EMR's quotas for the paced calls (not template parameters: set them on the function for an account
    # whose quotas were raised, or lowered to leave room for other tools sharing the buckets)
    emr_list_clusters_burst: int = Field(default=LIST_CLUSTERS.burst, ge=1, le=10000)
    emr_list_clusters_per_second: float = Field(default=LIST_CLUSTERS.per_second, gt=0, le=10000)
    emr_describe_cluster_burst: int = Field(default=DESCRIBE_CLUSTER.burst, ge=1, le=10000)
    emr_describe_cluster_per_second: float = Field(default=DESCRIBE_CLUSTER.per_second, gt=0, le=10000)
    emr_list_steps_burst: int = Field(default=LIST_STEPS.burst, ge=1, le=10000)
    emr_list_steps_per_second: float = Field(default=LIST_STEPS.per_second, gt=0, le=10000)

    def config(self) -> ReaperConfig:
        return ReaperConfig(
            idle_threshold=timedelta(minutes=self.reaper_idle_threshold_minutes),
            grace=timedelta(minutes=self.reaper_grace_minutes),
            max_terminations=self.reaper_max_terminations_per_run,
            dry_run=self.reaper_dry_run,
            scope=TagSelector.parse(self.reaper_scope_tag),
            opt_out=TagSelector.parse(self.reaper_opt_out_tag),
            heal=self.reaper_heal_mode,
            region=self.aws_region,
            list_clusters_rate=CallRate(self.emr_list_clusters_burst, self.emr_list_clusters_per_second),
            describe_cluster_rate=CallRate(self.emr_describe_cluster_burst, self.emr_describe_cluster_per_second),
            list_steps_rate=CallRate(self.emr_list_steps_burst, self.emr_list_steps_per_second),
        )


class ScheduledEvent(BaseModel):
    """EventBridge "Scheduled Event": its time is the scan's "now" (a late retry judges as of its tick)."""

    model_config = ConfigDict(defer_build=True)

    id: str
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    source: Literal["aws.events"]
    time: datetime

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
