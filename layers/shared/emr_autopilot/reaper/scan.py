"""The scan: one decision for every WAITING cluster, cheapest checks first, then the terminations.

Per run: the ListClusters pages; per candidate a DescribeCluster and one ListSteps (two when the
cluster has more than 50 steps); one GetMetricData per 500 clusters still in the running; a
pricing call and TerminateJobFlows per cluster it terminates.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from emr_autopilot import aws, emr, pricing
from emr_autopilot.durations import format_duration
from emr_autopilot.reaper.applications import reap_applications
from emr_autopilot.reaper.config import (
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    TAG_IDLE_THRESHOLD,
    ReaperConfig,
    parse_duration,
)
from emr_autopilot.reaper.heal import heal
from emr_autopilot.reaper.idle_metric import QUERIES_PER_CALL, chunks, floor_period, is_idle_points, judge_is_idle, utc
from emr_autopilot.reaper.report import (
    API_ERROR,
    BAD_THRESHOLD_TAG,
    BUSY,
    CAP_REACHED,
    GRACE,
    IDLE,
    IDLE_TOO_SHORT,
    OPTED_OUT,
    OUT_OF_SCOPE,
    PROTECTED,
    ClusterDecision,
    ReapReport,
    error_text,
)

if TYPE_CHECKING:
    from mypy_boto3_emr.type_defs import ClusterTypeDef, StepSummaryTypeDef


@dataclass
class Candidate:
    """A cluster on its way through the checks, and what they learned about it."""

    decision: ClusterDecision
    created: datetime
    ready: datetime
    cluster: "ClusterTypeDef" = field(default_factory=dict)  # type: ignore[assignment]
    tags: dict[str, str] = field(default_factory=dict)
    threshold: timedelta = timedelta(0)
    recent_steps: "list[StepSummaryTypeDef]" = field(default_factory=list)  # newest first, at most one page
    idle_since: datetime | None = None

    @property
    def cluster_id(self) -> str:
        return self.decision.cluster_id

    def skip(self, code: str, reason: str) -> None:
        self.decision.action, self.decision.code, self.decision.reason = "skipped", code, reason

    def fail(self, what: str, exc: Exception) -> None:
        self.decision.action, self.decision.code = "error", API_ERROR
        self.decision.reason = f"{what} failed: {error_text(exc)}"


def reap(config: ReaperConfig, now: datetime) -> ReapReport:
    """Decide for every WAITING cluster, terminate the ones proven idle (unless dry run), heal if asked."""
    now = now.astimezone(UTC)
    table = pricing.price_table()
    report = ReapReport(scanned_at=now, config=config, cost_label=table.label)

    candidates = _list_waiting(report)
    selected = _keep(candidates, lambda c: _past_grace(c, config, now))
    selected = _keep(selected, lambda c: _describe_and_select(c, config))
    heal_candidates = [c for c in selected if not c.decision.protected]  # in scope, not opted out
    idle = _keep(selected, lambda c: _up_long_enough(c, now))
    idle = _keep(idle, _no_active_steps)
    idle = _keep(idle, lambda c: _idle_long_enough(c, now))
    idle = _metric_proves_idle(idle, now)

    for candidate in _within_cap(_unprotected(idle), config.max_terminations):
        _estimate_cost(candidate, now, table)
        if not config.dry_run:
            _terminate(candidate)

    if config.heal:
        for candidate in heal_candidates:
            if candidate.decision.action == "skipped":
                candidate.decision.heal = heal(candidate.cluster, candidate.threshold, config.dry_run)
    report.applications = reap_applications(config, now)
    return report


def _keep(candidates: list[Candidate], check: Callable[[Candidate], bool]) -> list[Candidate]:
    # Each check runs over all candidates before the next: a phase's calls come together.
    return [candidate for candidate in candidates if check(candidate)]


# -- the phases, cheapest first ------------------------------------------------------------------
def _list_waiting(report: ReapReport) -> list[Candidate]:
    # WAITING only: RUNNING means steps are running; the filter is applied by EMR, not here.
    found = []
    for summary in emr.list_clusters([emr.IDLE]):
        timeline = summary.get("Status", {}).get("Timeline", {})
        created = utc(timeline["CreationDateTime"])
        decision = ClusterDecision(
            cluster_id=summary["Id"], name=summary.get("Name", ""), state=summary["Status"]["State"]
        )
        report.decisions.append(decision)
        found.append(Candidate(decision, created, utc(timeline.get("ReadyDateTime") or created)))
    return found


def _past_grace(candidate: Candidate, config: ReaperConfig, now: datetime) -> bool:
    age = now - candidate.created
    if age < config.grace:
        candidate.skip(GRACE, f"created {_minutes(age):.0f} min ago, grace period {_minutes(config.grace):.0f} min")
        return False
    return True


def _describe_and_select(candidate: Candidate, config: ReaperConfig) -> bool:
    try:
        cluster = emr.describe_cluster(candidate.cluster_id)
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("DescribeCluster", exc)
        return False
    candidate.cluster = cluster
    candidate.tags = emr.tags_of(cluster)
    candidate.decision.protected = bool(cluster.get("TerminationProtected"))
    if config.scope is not None and not config.scope.matches(candidate.tags):
        candidate.skip(OUT_OF_SCOPE, f"not tagged {config.scope}")
        return False
    if config.opt_out is not None and config.opt_out.matches(candidate.tags):
        candidate.skip(OPTED_OUT, f"opted out: tagged {config.opt_out}")
        return False
    return _threshold_of(candidate, config)


def _threshold_of(candidate: Candidate, config: ReaperConfig) -> bool:
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


def _up_long_enough(candidate: Candidate, now: datetime) -> bool:
    up = now - candidate.ready
    if up < candidate.threshold:  # idle time cannot exceed the time since the cluster was ready
        candidate.skip(
            IDLE_TOO_SHORT, f"ready {_minutes(up):.0f} min ago, threshold {_minutes(candidate.threshold):.0f} min"
        )
        return False
    return True


def _no_active_steps(candidate: Candidate) -> bool:
    try:
        # The newest page serves both the busy check and the last step's end time.
        steps, older = emr.steps_page(candidate.cluster_id)
        active = [step for step in steps if step["Status"]["State"] in emr.STEP_ACTIVE]
        if older and not active:
            # Over 50 steps: an older one may still be active (concurrent steps, newer ones cancelled).
            active, _ = emr.steps_page(candidate.cluster_id, emr.STEP_ACTIVE)
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("ListSteps", exc)
        return False
    if active:
        states = Counter(step["Status"]["State"] for step in active)
        candidate.decision.idle_minutes = 0.0
        candidate.skip(BUSY, "steps active: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))
        return False
    candidate.recent_steps = steps
    return True


def _idle_long_enough(candidate: Candidate, now: datetime) -> bool:
    # The last step to end is among the 50 newest; an older concurrent step that ended later shows up
    # in IsIdle, which must be 1 throughout the threshold as well.
    steps = candidate.recent_steps
    ends = [utc(end) for step in steps if (end := step["Status"].get("Timeline", {}).get("EndDateTime"))]
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


def _metric_proves_idle(candidates: list[Candidate], now: datetime) -> list[Candidate]:
    """One GetMetricData query per cluster, up to 500 a call, over the longest threshold among them."""
    if not candidates:
        return []
    cloudwatch = aws.client("cloudwatch")
    start = min(floor_period(now - c.threshold) for c in candidates)
    proven = []
    for batch in chunks(candidates, QUERIES_PER_CALL):
        try:
            points = is_idle_points(cloudwatch, [c.cluster_id for c in batch], start, now)
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


# -- proven idle: only protection and the cap can keep it now ---------------------------------------
def _unprotected(proven: list[Candidate]) -> list[Candidate]:
    for candidate in proven:
        decision = candidate.decision
        decision.action, decision.code = "would terminate", IDLE
        decision.reason = (
            f"idle {decision.idle_minutes:.0f} min >= {decision.threshold_minutes:.0f} min; "
            "no active step; IsIdle=1 throughout"
        )
        if decision.protected:
            candidate.skip(
                PROTECTED,
                f"idle {decision.idle_minutes:.0f} min but termination-protected: left running "
                "(protection is never removed)",
            )
    return [c for c in proven if c.decision.action == "would terminate"]


def _within_cap(eligible: list[Candidate], cap: int) -> list[Candidate]:
    """The `cap` longest idle; the rest are skipped, saying so."""
    ranked = sorted(eligible, key=lambda c: (-(c.decision.idle_minutes or 0.0), c.cluster_id))
    for candidate in ranked[cap:]:
        candidate.skip(
            CAP_REACHED,
            f"idle {candidate.decision.idle_minutes:.0f} min, but the cap of {cap} terminations per run was reached",
        )
    return ranked[:cap]


def _estimate_cost(candidate: Candidate, now: datetime, table: pricing.PriceTable) -> None:
    try:
        hours_up = (now - candidate.created).total_seconds() / 3600
        estimate = pricing.estimate_cluster(candidate.cluster, hours_up, table)
    except (ClientError, BotoCoreError) as exc:  # a missing estimate must not stop a termination
        estimate = pricing.CostEstimate(None, "unknown", f"pricing call failed: {error_text(exc)}")
    candidate.decision.estimated_hourly_usd = estimate.hourly_usd
    candidate.decision.cost_basis = f"{estimate.basis}: {estimate.detail}" if estimate.detail else estimate.basis


def _terminate(candidate: Candidate) -> None:
    try:
        emr.terminate(candidate.cluster_id)
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("TerminateJobFlows", exc)
        return
    candidate.decision.action = "terminated"


def _minutes(value: timedelta) -> float:
    return value.total_seconds() / 60
