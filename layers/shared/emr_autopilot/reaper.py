"""The idle-cluster reaper: terminates EMR clusters that are proven idle, within limits, and says why.

Every WAITING cluster gets one decision and a reason. Cheap checks run first, so most clusters cost
few calls: one scan makes the ListClusters pages, then per candidate a DescribeCluster and one
ListSteps (two when the cluster has more than 50 steps), one GetMetricData per 500 clusters still in
the running, and a pricing call and TerminateJobFlows per cluster it terminates (plus
Get/PutAutoTerminationPolicy in heal mode).

A cluster is terminated only when ALL hold:
- in scope (scope tag, if one is set) and not opted out (opt-out tag);
- created at least the grace period ago;
- no step PENDING, CANCEL_PENDING or RUNNING;
- idle since max(ReadyDateTime, last step EndDateTime) for at least its threshold (default, or
  the cluster's ``emr-autopilot:idle-threshold`` tag);
- CloudWatch ``IsIdle`` is 1 in every datapoint of the 5-minute periods covering the threshold
  (missing data proves nothing, so it is a skip);
- not termination-protected (protection is never removed);
- fewer than ``max_terminations`` clusters were terminated before it in this run.
"""

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from emr_autopilot import aws, ledger, notifications, pricing
from emr_autopilot.durations import duration_adapter, format_duration
from emr_autopilot.env_settings import EnvSettings

TAG_IDLE_THRESHOLD = "emr-autopilot:idle-threshold"
DEFAULT_OPT_OUT = "emr-autopilot:reaper=skip"
METRIC_NAMESPACE = "AWS/ElasticMapReduce"
METRIC_PERIOD = 300  # IsIdle is a 5-minute metric
QUERIES_PER_CALL = 500  # GetMetricData's limit
MIN_THRESHOLD = timedelta(seconds=METRIC_PERIOD)  # shorter than one period cannot be proven by IsIdle
MAX_THRESHOLD = timedelta(days=7)
ACTIVE_STEP_STATES = ["PENDING", "CANCEL_PENDING", "RUNNING"]
AUTO_TERMINATION_RANGE = (60, 604800)  # IdleTimeout bounds EMR accepts, seconds
NO_AUTO_TERMINATION_APPS = {"hbase", "presto", "prestosql", "trino"}
LEDGER_KIND = "reaper"

Action = Literal["terminated", "would terminate", "skipped", "error"]

# Reason codes: stable strings for the ledger, the JSON output and tests (the reason text is for people).
GRACE = "grace"
OUT_OF_SCOPE = "out-of-scope"
OPTED_OUT = "opted-out"
BAD_THRESHOLD_TAG = "invalid-threshold-tag"
IDLE_TOO_SHORT = "idle-too-short"
BUSY = "busy"
NO_METRIC = "no-metric"
METRIC_NOT_IDLE = "metric-not-idle"
METRIC_INCOMPLETE = "metric-incomplete"
PROTECTED = "protected"
CAP_REACHED = "cap-reached"
IDLE = "idle"
API_ERROR = "api-error"
# Skips worth a notification: an idle cluster that was left running.
NOTABLE_SKIPS = (PROTECTED, CAP_REACHED)


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


@dataclass
class ClusterDecision:
    cluster_id: str
    name: str
    state: str
    action: Action = "skipped"
    code: str = ""
    reason: str = ""
    idle_minutes: float | None = None
    threshold_minutes: float | None = None
    protected: bool = False
    estimated_hourly_usd: float | None = None
    cost_basis: str | None = None
    heal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReapReport:
    scanned_at: datetime
    config: ReaperConfig
    decisions: list[ClusterDecision] = field(default_factory=list)
    cost_label: str = ""
    notified: bool = False
    ledger_errors: int = 0

    def with_action(self, *actions: str) -> list[ClusterDecision]:
        return [d for d in self.decisions if d.action in actions]

    @property
    def acted(self) -> list[ClusterDecision]:
        return self.with_action("terminated", "would terminate")

    @property
    def healed(self) -> list[ClusterDecision]:
        return [d for d in self.decisions if d.heal and d.heal.startswith(("added", "would add"))]

    @property
    def hourly_cost_avoided(self) -> float:
        return round(sum(d.estimated_hourly_usd or 0.0 for d in self.acted), 4)

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(d.code for d in self.with_action("skipped")))

    def notable(self) -> bool:
        return bool(
            self.acted
            or self.healed
            or self.with_action("error")
            or any(d.code in NOTABLE_SKIPS for d in self.with_action("skipped"))
        )

    def summary_line(self) -> str:
        verb = "would terminate" if self.config.dry_run else "terminated"
        parts = [f"{verb} {len(self.acted)}"]
        skips = self.skip_counts()
        parts += [f"{code} {skips[code]}" for code in NOTABLE_SKIPS if skips.get(code)]
        if self.healed:
            parts.append(f"{'would heal' if self.config.dry_run else 'healed'} {len(self.healed)}")
        if errors := self.with_action("error"):
            parts.append(f"errors {len(errors)}")
        parts.append(f"scanned {len(self.decisions)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned_at": self.scanned_at.isoformat(),
            "dry_run": self.config.dry_run,
            "config": self.config.describe(),
            "summary": self.summary_line(),
            "terminated": [d.cluster_id for d in self.with_action("terminated")],
            "would_terminate": [d.cluster_id for d in self.with_action("would terminate")],
            "errors": [d.cluster_id for d in self.with_action("error")],
            "skipped": self.skip_counts(),
            "estimated_hourly_cost_avoided_usd": self.hourly_cost_avoided,
            "cost_label": self.cost_label,
            "notified": self.notified,
            "clusters": [d.as_dict() for d in self.decisions],
        }


@dataclass
class _Candidate:
    decision: ClusterDecision
    created: datetime
    ready: datetime
    cluster: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    threshold: timedelta = timedelta(0)
    recent_steps: list[dict[str, Any]] = field(default_factory=list)  # newest first, at most one page
    idle_since: datetime | None = None

    @property
    def cluster_id(self) -> str:
        return self.decision.cluster_id

    def skip(self, code: str, reason: str) -> None:
        self.decision.action, self.decision.code, self.decision.reason = "skipped", code, reason

    def fail(self, what: str, exc: Exception) -> None:
        self.decision.action, self.decision.code = "error", API_ERROR
        self.decision.reason = f"{what} failed: {_error_text(exc)}"


def reap(config: ReaperConfig, now: datetime) -> ReapReport:
    """Decide for every WAITING cluster, terminate the ones proven idle (unless dry run), heal if asked."""
    emr, cloudwatch = aws.client("emr"), aws.client("cloudwatch")
    now = now.astimezone(UTC)
    table = pricing.price_table()
    report = ReapReport(scanned_at=now, config=config, cost_label=table.label)

    candidates = _list_waiting(emr, report)
    still = [c for c in candidates if _past_grace(c, config, now)]
    still = [c for c in still if _describe_and_select(emr, c, config)]
    heal_candidates = [c for c in still if not c.decision.protected]
    still = [c for c in still if _up_long_enough(c, now)]
    still = [c for c in still if _no_active_steps(emr, c)]
    still = [c for c in still if _idle_long_enough(c, now)]
    still = _metric_proves_idle(cloudwatch, still, now)

    for candidate in still:  # proven idle: only protection and the cap can keep it now
        candidate.decision.action, candidate.decision.code = "would terminate", IDLE
        candidate.decision.reason = (
            f"idle {candidate.decision.idle_minutes:.0f} min >= {candidate.decision.threshold_minutes:.0f} min; "
            "no active step; IsIdle=1 throughout"
        )
        if candidate.decision.protected:
            candidate.skip(
                PROTECTED,
                f"idle {candidate.decision.idle_minutes:.0f} min but termination-protected: left running "
                "(protection is never removed)",
            )
    eligible = sorted(
        (c for c in still if c.decision.action == "would terminate"),
        key=lambda c: (-(c.decision.idle_minutes or 0.0), c.cluster_id),
    )
    for candidate in eligible[config.max_terminations :]:
        candidate.skip(
            CAP_REACHED,
            f"idle {candidate.decision.idle_minutes:.0f} min, but the cap of {config.max_terminations} "
            "terminations per run was reached",
        )
    for candidate in eligible[: config.max_terminations]:
        _estimate_cost(emr, candidate, now, table)
        if not config.dry_run:
            _terminate(emr, candidate)

    if config.heal:
        for candidate in heal_candidates:  # in scope, not opted out, not protected
            if candidate.decision.action == "skipped":
                _heal(emr, candidate, config)
    return report


# -- the phases, cheapest first ------------------------------------------------------------------
def _list_waiting(emr: Any, report: ReapReport) -> list[_Candidate]:
    # WAITING only: RUNNING means steps are running; the filter is applied by EMR, not here.
    found = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=["WAITING"]):
        for summary in page["Clusters"]:
            timeline = summary.get("Status", {}).get("Timeline", {})
            created = _utc(timeline["CreationDateTime"])
            decision = ClusterDecision(
                cluster_id=summary["Id"], name=summary.get("Name", ""), state=summary["Status"]["State"]
            )
            report.decisions.append(decision)
            found.append(_Candidate(decision, created, _utc(timeline.get("ReadyDateTime") or created)))
    return found


def _past_grace(candidate: _Candidate, config: ReaperConfig, now: datetime) -> bool:
    age = now - candidate.created
    if age < config.grace:
        candidate.skip(GRACE, f"created {_minutes(age):.0f} min ago, grace period {_minutes(config.grace):.0f} min")
        return False
    return True


def _describe_and_select(emr: Any, candidate: _Candidate, config: ReaperConfig) -> bool:
    try:
        cluster = emr.describe_cluster(ClusterId=candidate.cluster_id)["Cluster"]
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("DescribeCluster", exc)
        return False
    candidate.cluster = cluster
    candidate.tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
    candidate.decision.protected = bool(cluster.get("TerminationProtected"))
    if config.scope is not None and not config.scope.matches(candidate.tags):
        candidate.skip(OUT_OF_SCOPE, f"not tagged {config.scope}")
        return False
    if config.opt_out is not None and config.opt_out.matches(candidate.tags):
        candidate.skip(OPTED_OUT, f"opted out: tagged {config.opt_out}")
        return False
    override = candidate.tags.get(TAG_IDLE_THRESHOLD)
    try:
        threshold = config.idle_threshold if override is None else parse_duration(override)
    except ValidationError:
        threshold = timedelta(-1)
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        # A typo must not make a cluster easier to terminate: skip it until the tag is fixed.
        candidate.skip(
            BAD_THRESHOLD_TAG,
            f"tag {TAG_IDLE_THRESHOLD}={override!r} is not a duration between "
            f"{format_duration(MIN_THRESHOLD)} and {format_duration(MAX_THRESHOLD)}",
        )
        return False
    candidate.threshold = threshold
    candidate.decision.threshold_minutes = _minutes(threshold)
    return True


def _up_long_enough(candidate: _Candidate, now: datetime) -> bool:
    up = now - candidate.ready
    if up < candidate.threshold:  # idle time cannot exceed the time since the cluster was ready
        candidate.skip(
            IDLE_TOO_SHORT, f"ready {_minutes(up):.0f} min ago, threshold {_minutes(candidate.threshold):.0f} min"
        )
        return False
    return True


def _no_active_steps(emr: Any, candidate: _Candidate) -> bool:
    try:
        # Unfiltered: AWS documents newest-first order only without a StepStates filter, so this one page
        # serves both the busy check and the last step's end time.
        page = emr.list_steps(ClusterId=candidate.cluster_id)
        active = [step for step in page["Steps"] if step["Status"]["State"] in ACTIVE_STEP_STATES]
        if page.get("Marker") and not active:
            # Over 50 steps: an older one may still be active (concurrent steps, newer ones cancelled).
            active = emr.list_steps(ClusterId=candidate.cluster_id, StepStates=ACTIVE_STEP_STATES)["Steps"]
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("ListSteps", exc)
        return False
    if active:
        states = Counter(step["Status"]["State"] for step in active)
        candidate.decision.idle_minutes = 0.0
        candidate.skip(BUSY, "steps active: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))
        return False
    candidate.recent_steps = page["Steps"]
    return True


def _idle_long_enough(candidate: _Candidate, now: datetime) -> bool:
    # The last step to end is among the 50 newest; an older concurrent step that ended later shows up
    # in IsIdle, which must be 1 throughout the threshold as well.
    steps = candidate.recent_steps
    ends = [_utc(end) for step in steps if (end := step["Status"].get("Timeline", {}).get("EndDateTime"))]
    candidate.idle_since = max([candidate.ready, *ends])
    idle = now - candidate.idle_since
    candidate.decision.idle_minutes = round(_minutes(idle), 1)
    if idle < candidate.threshold:
        since = "last step ended" if ends and candidate.idle_since > candidate.ready else "ready"
        candidate.skip(
            IDLE_TOO_SHORT,
            f"idle {_minutes(idle):.0f} min ({since} {candidate.idle_since:%Y-%m-%d %H:%M}Z), "
            f"threshold {_minutes(candidate.threshold):.0f} min",
        )
        return False
    return True


def _metric_proves_idle(cloudwatch: Any, candidates: list[_Candidate], now: datetime) -> list[_Candidate]:
    """One GetMetricData query per cluster, up to 500 a call, over the longest threshold among them."""
    if not candidates:
        return []
    start = min(_floor(now - c.threshold) for c in candidates)
    proven = []
    for batch in _chunks(candidates, QUERIES_PER_CALL):
        try:
            points = _is_idle_points(cloudwatch, [c.cluster_id for c in batch], start, now)
        except (ClientError, BotoCoreError) as exc:
            for candidate in batch:
                candidate.fail("GetMetricData", exc)
            continue
        for candidate in batch:
            ok, code, reason = judge_is_idle(points.get(candidate.cluster_id, []), now, candidate.threshold)
            if ok:
                proven.append(candidate)
            else:
                candidate.skip(code, reason)
    return proven


def _is_idle_points(
    cloudwatch: Any, cluster_ids: list[str], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    queries = [
        {
            "Id": f"c{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRIC_NAMESPACE,
                    "MetricName": "IsIdle",
                    "Dimensions": [{"Name": "JobFlowId", "Value": cluster_id}],
                },
                "Period": METRIC_PERIOD,
                # Minimum: a period counts as idle only if every sample in it was idle.
                "Stat": "Minimum",
            },
            "ReturnData": True,
        }
        for index, cluster_id in enumerate(cluster_ids)
    ]
    points: dict[str, list[tuple[datetime, float]]] = {cluster_id: [] for cluster_id in cluster_ids}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        response = cloudwatch.get_metric_data(**request)
        for result in response["MetricDataResults"]:
            cluster_id = cluster_ids[int(result["Id"][1:])]
            points[cluster_id] += [
                (_utc(t), float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=True)
            ]
        if not response.get("NextToken"):
            return points
        request["NextToken"] = response["NextToken"]


def judge_is_idle(points: list[tuple[datetime, float]], now: datetime, threshold: timedelta) -> tuple[bool, str, str]:
    """Idle is proven when every datapoint since the period covering now - threshold is 1, and the
    complete periods are all there except possibly the latest (CloudWatch publishes with a delay)."""
    window_start = _floor(now - threshold)
    complete_end = _floor(now)
    expected = int((complete_end - window_start).total_seconds() // METRIC_PERIOD)
    relevant = [(t, v) for t, v in points if t >= window_start]
    if not relevant:
        return False, NO_METRIC, "no IsIdle data"
    busy = sorted(t for t, v in relevant if v < 1)
    if busy:
        return False, METRIC_NOT_IDLE, f"IsIdle was 0 in the period from {busy[-1]:%H:%M}Z"
    complete = {t for t, _ in relevant if t < complete_end}
    if len(complete) < max(1, expected - 1):
        return False, METRIC_INCOMPLETE, f"IsIdle data for only {len(complete)} of {expected} periods"
    return True, IDLE, f"IsIdle=1 in {len(relevant)} periods"


def _estimate_cost(emr: Any, candidate: _Candidate, now: datetime, table: pricing.PriceTable) -> None:
    try:
        hours_up = (now - candidate.created).total_seconds() / 3600
        estimate = pricing.estimate_cluster(emr, candidate.cluster, hours_up, table)
    except (ClientError, BotoCoreError) as exc:  # a missing estimate must not stop a termination
        estimate = pricing.CostEstimate(None, "unknown", f"pricing call failed: {_error_text(exc)}")
    candidate.decision.estimated_hourly_usd = estimate.hourly_usd
    candidate.decision.cost_basis = f"{estimate.basis}: {estimate.detail}" if estimate.detail else estimate.basis


def _terminate(emr: Any, candidate: _Candidate) -> None:
    try:
        # One cluster per call: EMR rejects a whole batch when one of its clusters is protected.
        emr.terminate_job_flows(JobFlowIds=[candidate.cluster_id])
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("TerminateJobFlows", exc)
        return
    candidate.decision.action = "terminated"


def _heal(emr: Any, candidate: _Candidate, config: ReaperConfig) -> None:
    unsupported = _auto_termination_unsupported(candidate.cluster)
    if unsupported:
        candidate.decision.heal = f"not possible: {unsupported}"
        return
    try:
        policy = emr.get_auto_termination_policy(ClusterId=candidate.cluster_id).get("AutoTerminationPolicy")
    except (ClientError, BotoCoreError) as exc:
        candidate.decision.heal = f"failed: GetAutoTerminationPolicy: {_error_text(exc)}"
        return
    if policy:
        candidate.decision.heal = f"has a policy (IdleTimeout {policy.get('IdleTimeout')} s)"
        return
    low, high = AUTO_TERMINATION_RANGE
    timeout = min(max(int(candidate.threshold.total_seconds()), low), high)
    if config.dry_run:
        candidate.decision.heal = f"would add auto-termination (IdleTimeout {timeout} s)"
        return
    try:
        emr.put_auto_termination_policy(ClusterId=candidate.cluster_id, AutoTerminationPolicy={"IdleTimeout": timeout})
    except (ClientError, BotoCoreError) as exc:
        candidate.decision.heal = f"failed: PutAutoTerminationPolicy: {_error_text(exc)}"
        return
    candidate.decision.heal = f"added auto-termination (IdleTimeout {timeout} s)"


def _auto_termination_unsupported(cluster: dict[str, Any]) -> str | None:
    match = re.fullmatch(r"emr-(\d+)\.(\d+)\.\d+.*", cluster.get("ReleaseLabel") or "")
    if match:
        version = (int(match.group(1)), int(match.group(2)))
        if version < (5, 30) or (6, 0) <= version < (6, 1):
            return f"{cluster['ReleaseLabel']} has no auto-termination (needs 5.30.0+ or 6.1.0+)"
    apps = sorted(
        a["Name"] for a in cluster.get("Applications", []) if a.get("Name", "").lower() in NO_AUTO_TERMINATION_APPS
    )
    if apps:
        return f"auto-termination does not support {', '.join(apps)}"
    return None


# -- the scheduled run: decisions to the ledger, a summary to SNS ------------------------------------
def reap_and_report(config: ReaperConfig, now: datetime, topic_arn: str, ledger_table: str | None = None) -> ReapReport:
    report = reap(config, now)
    if ledger_table:
        _record_decisions(report, ledger_table)
    if report.notable():
        notify(report, topic_arn)
        report.notified = True
    return report


def _record_decisions(report: ReapReport, table: str) -> None:
    for decision in report.decisions:
        if decision.code == OUT_OF_SCOPE:
            continue  # other teams' clusters: not the reaper's to keep a history of
        detail = {key: value for key, value in decision.as_dict().items() if key not in ("cluster_id", "state")}
        detail["dry_run"] = report.config.dry_run
        detail["cluster_name"] = detail.pop("name")
        try:
            ledger.record_decision(table, decision.cluster_id, LEDGER_KIND, detail, report.scanned_at)
        except (ClientError, BotoCoreError):
            report.ledger_errors += 1  # the scan's outcome matters more than its record


def notify(report: ReapReport, topic_arn: str) -> str:
    config = report.config
    region = config.region
    mode = " (dry run)" if config.dry_run else ""
    lines = [
        f"Idle reaper{mode} at {report.scanned_at:%Y-%m-%d %H:%M}Z: {report.summary_line()}.",
        f"Rules: {config.describe()}.",
    ]
    if report.acted:
        verb = "Would terminate" if config.dry_run else "Terminated"
        lines.append("")
        lines.append(f"{verb} (idle minutes; hourly cost, {report.cost_label}):")
        for d in report.acted:
            cost = f"~${d.estimated_hourly_usd:.2f}/h" if d.estimated_hourly_usd is not None else "cost unknown"
            lines.append(f"  {d.cluster_id} {d.name}: idle {d.idle_minutes:.0f} min, {cost} ({d.cost_basis})")
            lines.append(f"    {notifications.console_cluster_url(region, d.cluster_id)}")
        lines.append(f"Estimated hourly cost avoided: ~${report.hourly_cost_avoided:.2f}/h ({report.cost_label}).")
    notable = [d for d in report.with_action("skipped") if d.code in NOTABLE_SKIPS]
    if notable:
        lines.append("")
        lines.append("Idle but left running:")
        lines += [f"  {d.cluster_id} {d.name}: {d.reason}" for d in notable]
    if errors := report.with_action("error"):
        lines.append("")
        lines.append("Errors (the scan went on):")
        lines += [f"  {d.cluster_id} {d.name}: {d.reason}" for d in errors]
    if report.healed:
        lines.append("")
        lines.append("Auto-termination policy (heal mode):")
        lines += [f"  {d.cluster_id} {d.name}: {d.heal}" for d in report.healed]
    others = {code: n for code, n in report.skip_counts().items() if code not in NOTABLE_SKIPS}
    if others:
        lines.append("")
        lines.append("Other skips: " + ", ".join(f"{code} {n}" for code, n in sorted(others.items())))

    severity: notifications.Severity = "INFO"
    if notable:
        severity = "WARNING"
    if errors:
        severity = "ERROR"
    first = (report.acted + notable + errors + [None])[0]
    return notifications.publish(
        topic_arn,
        f"[emr-autopilot] Idle reaper{mode}: {report.summary_line()}",
        "\n".join(lines),
        severity=severity,
        event_type="IDLE_REAPER",
        cluster_id=first.cluster_id if first else None,
        state="DRY_RUN" if config.dry_run else "LIVE",
    )


# -- helpers -----------------------------------------------------------------------------------------
def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor(value: datetime) -> datetime:
    """Start of the 5-minute period holding `value` (CloudWatch aligns periods this way)."""
    seconds = math.floor(value.timestamp() / METRIC_PERIOD) * METRIC_PERIOD
    return datetime.fromtimestamp(seconds, UTC)


def _minutes(value: timedelta) -> float:
    return value.total_seconds() / 60


def _chunks(items: list[_Candidate], size: int) -> Iterator[list[_Candidate]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
