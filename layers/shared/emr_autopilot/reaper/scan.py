"""The scan: one decision for every WAITING cluster, cheapest checks first, then the terminations.

Per run: the ListClusters pages; one GetMetricData per 500 clusters past their grace period (IsIdle over
the default threshold). A cluster whose IsIdle is 0 in its latest period can never be terminated, whatever
its tags say, and costs nothing more. The others are ranked by how long IsIdle and ReadyDateTime say
they have been idle, and walked longest idle first until the cap is filled: a DescribeCluster (scope,
opt-out, threshold tag, protection; one more GetMetricData if its threshold tag is longer than the default),
then one ListSteps (two past 50 steps) right before it is chosen, then a pricing call and TerminateJobFlows.
The clusters the walk never reached are reported without another call. In heal mode every cluster is
described first (heal needs its tags and release).
"""

import heapq
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
from emr_autopilot.reaper.idle_metric import (
    QUERIES_PER_CALL,
    Points,
    chunks,
    floor_period,
    idle_since,
    is_idle_points,
    judge_is_idle,
    may_prove_idle,
    utc,
)
from emr_autopilot.reaper.pacing import Pacer
from emr_autopilot.reaper.report import (
    API_ERROR,
    BAD_THRESHOLD_TAG,
    BUSY,
    CAP_REACHED,
    GRACE,
    IDLE,
    IDLE_TOO_SHORT,
    METRIC_NOT_IDLE,
    OPTED_OUT,
    OUT_OF_SCOPE,
    PROTECTED,
    ClusterDecision,
    ReapReport,
    error_text,
)

if TYPE_CHECKING:
    from mypy_boto3_emr.type_defs import ClusterSummaryTypeDef, ClusterTypeDef


NOT_READ = datetime.max.replace(tzinfo=UTC)


@dataclass
class Candidate:
    """A cluster on its way through the checks, and what they learned about it."""

    decision: ClusterDecision
    created: datetime
    ready: datetime
    cluster: "ClusterTypeDef" = field(default_factory=dict)  # type: ignore[assignment]
    tags: dict[str, str] = field(default_factory=dict)
    threshold: timedelta = timedelta(0)
    points: Points = field(default_factory=list)  # IsIdle's 5-minute minimums since points_from
    points_from: datetime = NOT_READ
    idle_since: datetime | None = None  # set once examined: proven idle over its own threshold since then
    steps_read: bool = False

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
    pacer = Pacer.at(config.list_clusters_rate, config.describe_cluster_rate, config.list_steps_rate)

    candidates = _list_waiting(report, pacer)
    selected = _keep(candidates, lambda c: _past_grace(c, config, now))
    selected = _read_is_idle(selected, floor_period(now - config.idle_threshold), now)
    heal_candidates: list[Candidate] = []
    if config.heal:  # heal needs every cluster's tags and release: describe them all
        selected = _keep(selected, lambda c: _describe_and_select(c, config, pacer))
        heal_candidates = [c for c in selected if not c.decision.protected]  # in scope, not opted out
    # A cluster whose IsIdle cannot prove it idle for any threshold is left without another call.
    selected = _keep(selected, lambda c: _may_be_idle(c, now))

    for candidate in _choose(selected, config, now, pacer):
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
def _list_waiting(report: ReapReport, pacer: Pacer) -> list[Candidate]:
    # WAITING only: RUNNING means steps are running; the filter is applied by EMR, not here.
    found: list[Candidate] = []
    pages = emr.cluster_pages([emr.IDLE])
    more = True
    while more:
        pacer.list_clusters.take()  # next() makes one call
        page, more = next(pages)
        found += [_candidate(report, summary) for summary in page]
    return found


def _candidate(report: ReapReport, summary: "ClusterSummaryTypeDef") -> Candidate:
    timeline = summary.get("Status", {}).get("Timeline", {})
    created = utc(timeline["CreationDateTime"])
    decision = ClusterDecision(cluster_id=summary["Id"], name=summary.get("Name", ""), state=summary["Status"]["State"])
    report.decisions.append(decision)
    return Candidate(decision, created, utc(timeline.get("ReadyDateTime") or created))


def _past_grace(candidate: Candidate, config: ReaperConfig, now: datetime) -> bool:
    age = now - candidate.created
    if age < config.grace:
        candidate.skip(GRACE, f"created {_minutes(age):.0f} min ago, grace period {_minutes(config.grace):.0f} min")
        return False
    return True


def _read_is_idle(candidates: list[Candidate], start: datetime, now: datetime) -> list[Candidate]:
    """IsIdle since `start` for each candidate: one GetMetricData query per cluster, up to 500 a call."""
    if not candidates:
        return []
    cloudwatch = aws.client("cloudwatch")
    read = []
    for batch in chunks(candidates, QUERIES_PER_CALL):
        try:
            points = is_idle_points(cloudwatch, [c.cluster_id for c in batch], start, now)
        except (ClientError, BotoCoreError) as exc:
            for candidate in batch:
                candidate.fail("GetMetricData", exc)
            continue
        for candidate in batch:
            candidate.points, candidate.points_from = points.get(candidate.cluster_id, []), start
            read.append(candidate)
    return read


def _may_be_idle(candidate: Candidate, now: datetime) -> bool:
    ok, code, reason = may_prove_idle(candidate.points, now, candidate.points_from)
    if ok:
        return True
    if code == METRIC_NOT_IDLE:  # a 0 in the latest periods: busy now, not just within the threshold
        code, reason = BUSY, f"busy by IsIdle: {reason}"
        candidate.decision.idle_minutes = 0.0
    # Without a DescribeCluster its scope, opt-out and protection are unknown; say so rather than guess.
    candidate.skip(code, reason if candidate.decision.tags_read else f"{reason}; tags not read")
    return False


# -- longest idle first, each cluster examined only when the walk reaches it -----------------------------
def _choose(possible: list[Candidate], config: ReaperConfig, now: datetime, pacer: Pacer) -> list[Candidate]:
    """Best first: the cluster idle longest by what is known of it is taken one check further (described
    and judged, then its steps read) and chosen once nothing is left to check. A check can only move a
    cluster's idle start later (older IsIdle data, a step's end), so the clusters chosen are the `cap` idle
    longest, and a cluster below them is never described: the cap bounds the per-cluster calls."""
    queue = [_rank(candidate) for candidate in possible]
    heapq.heapify(queue)
    chosen: list[Candidate] = []
    while queue and len(chosen) < config.max_terminations:
        candidate = heapq.heappop(queue)[-1]
        if candidate.steps_read:
            _choose_one(candidate)
            chosen.append(candidate)
        elif _check_further(candidate, config, now, pacer):
            heapq.heappush(queue, _rank(candidate))
    for _, _, candidate in queue:
        _left_by_the_cap(candidate, config, now)
    return chosen


def _rank(candidate: Candidate) -> tuple[datetime, str, Candidate]:
    # Idle since the latest of ReadyDateTime, the last IsIdle 0 read and the last step's end: earliest first.
    since = candidate.idle_since or idle_since(candidate.points, candidate.ready)
    return since, candidate.cluster_id, candidate


def _check_further(candidate: Candidate, config: ReaperConfig, now: datetime, pacer: Pacer) -> bool:
    if candidate.idle_since is None:  # not examined yet
        return _examine(candidate, config, now, pacer)
    candidate.steps_read = True
    return _no_active_steps(candidate, pacer) and _idle_long_enough(candidate, now)


def _examine(candidate: Candidate, config: ReaperConfig, now: datetime, pacer: Pacer) -> bool:
    """Its tags (unless heal mode read them), its own threshold, IsIdle over it, and its protection."""
    if not candidate.decision.tags_read and not _describe_and_select(candidate, config, pacer):
        return False
    return _up_long_enough(candidate, now) and _metric_proves_idle(candidate, now) and _unprotected(candidate)


def _describe_and_select(candidate: Candidate, config: ReaperConfig, pacer: Pacer) -> bool:
    try:
        pacer.describe_cluster.take()
        cluster = emr.describe_cluster(candidate.cluster_id)
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("DescribeCluster", exc)
        return False
    candidate.cluster = cluster
    candidate.tags = emr.tags_of(cluster)
    candidate.decision.tags_read = True
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


def _metric_proves_idle(candidate: Candidate, now: datetime) -> bool:
    """IsIdle must be 1 throughout the cluster's own threshold; a threshold tag longer than the default
    needs older data, read for this cluster only when the walk reaches it (one more GetMetricData)."""
    start = floor_period(now - candidate.threshold)
    if start < candidate.points_from and not _read_is_idle([candidate], start, now):
        return False  # the call failed: said in its decision
    ok, code, reason = judge_is_idle(candidate.points, now, candidate.threshold)
    if not ok:
        candidate.skip(code, reason)
        return False
    candidate.idle_since = idle_since(candidate.points, candidate.ready)
    candidate.decision.idle_minutes = round(_minutes(now - candidate.idle_since), 1)
    return True


def _unprotected(candidate: Candidate) -> bool:
    """Proven idle: only protection, the steps and the cap can keep it now."""
    if candidate.decision.protected:
        candidate.skip(
            PROTECTED,
            f"idle {candidate.decision.idle_minutes:.0f} min but termination-protected: left running "
            "(protection is never removed)",
        )
        return False
    return True


def _choose_one(candidate: Candidate) -> None:
    decision = candidate.decision
    decision.action, decision.code = "would terminate", IDLE
    decision.reason = (
        f"idle {decision.idle_minutes:.0f} min >= {decision.threshold_minutes:.0f} min; "
        "no active step; IsIdle=1 throughout"
    )


def _left_by_the_cap(candidate: Candidate, config: ReaperConfig, now: datetime) -> None:
    """A cluster the walk did not finish: below the `cap` chosen ones by its idle time as far as known."""
    cap = f"the cap of {config.max_terminations} terminations per run was reached"
    if candidate.idle_since is not None:  # examined: in scope, not opted out, proven idle, unprotected
        candidate.skip(
            CAP_REACHED,
            f"idle {candidate.decision.idle_minutes:.0f} min (by IsIdle and ReadyDateTime), but {cap} (steps not read)",
        )
        return
    # Not examined: judged only by IsIdle over the default threshold, what was read for every cluster.
    candidate.decision.unexamined = True
    tail = f"not examined: {cap}" + ("" if candidate.decision.tags_read else "; tags not read")
    up, threshold = now - candidate.ready, config.idle_threshold
    ok, code, reason = judge_is_idle(candidate.points, now, threshold)
    if up < threshold:
        code, reason = IDLE_TOO_SHORT, f"ready {_minutes(up):.0f} min ago"
    if not ok or up < threshold:
        candidate.skip(code, f"{reason}, default threshold {_minutes(threshold):.0f} min; {tail}")
        return
    candidate.decision.idle_minutes = round(_minutes(now - idle_since(candidate.points, candidate.ready)), 1)
    candidate.skip(CAP_REACHED, f"idle {candidate.decision.idle_minutes:.0f} min by IsIdle and ReadyDateTime; {tail}")


def _no_active_steps(candidate: Candidate, pacer: Pacer) -> bool:
    try:
        # The newest page serves both the busy check and the last step's end time.
        pacer.list_steps.take()
        steps, older = emr.steps_page(candidate.cluster_id)
        active = [step for step in steps if step["Status"]["State"] in emr.STEP_ACTIVE]
        if older and not active:
            # Over 50 steps: an older one may still be active (concurrent steps, newer ones cancelled).
            pacer.list_steps.take()
            active, _ = emr.steps_page(candidate.cluster_id, emr.STEP_ACTIVE)
    except (ClientError, BotoCoreError) as exc:
        candidate.fail("ListSteps", exc)
        return False
    if active:
        states = Counter(step["Status"]["State"] for step in active)
        candidate.decision.idle_minutes = 0.0
        candidate.skip(BUSY, "steps active: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))
        return False
    # The last step to end is among the 50 newest; an older concurrent step that ended later shows up
    # in IsIdle, which was 1 throughout the threshold.
    ends = [utc(end) for step in steps if (end := step["Status"].get("Timeline", {}).get("EndDateTime"))]
    if ends and max(ends) > (candidate.idle_since or candidate.ready):
        candidate.idle_since = max(ends)
    return True


def _idle_long_enough(candidate: Candidate, now: datetime) -> bool:
    since = candidate.idle_since or candidate.ready
    idle = now - since
    candidate.decision.idle_minutes = round(_minutes(idle), 1)
    if idle < candidate.threshold:
        what = "ready" if since == candidate.ready else "last step ended"
        candidate.skip(
            IDLE_TOO_SHORT,
            f"idle {_minutes(idle):.0f} min ({what} {since:%Y-%m-%d %H:%M}Z), "
            f"threshold {_minutes(candidate.threshold):.0f} min",
        )
        return False
    return True


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
