"""The idle reaper's rules, limits and reports, against moto in-process (EMR, CloudWatch, SNS, SQS, DynamoDB).

moto's EMR makes a cluster WAITING at once and never ends a step, so these tests set a cluster's
times and its steps' states on moto's backend objects, as the local runtime's simulator does.
moto has no Get/PutAutoTerminationPolicy: the devkit's small extension of moto provides them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.emr.models import emr_backends

from emr_autopilot import aws, pricing, reaper
from emr_autopilot.reaper import ReaperConfig, ReaperSettings, TagSelector, judge_is_idle, pacing, reap, reap_and_report
from emr_autopilot.reaper.idle_metric import may_prove_idle
from emr_autopilot_devkit.local.moto_patches import emr_auto_termination

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
EVENT = json.loads((ROOT / "events" / "idle_reaper_scheduled.json").read_text(encoding="utf-8"))
NOW = datetime.fromisoformat(EVENT["time"].replace("Z", "+00:00"))  # the sample tick: 21:15Z, a period boundary
PERIOD = timedelta(minutes=5)
LIVE = ReaperConfig(dry_run=False)
OPT_OUT = {"emr-autopilot:reaper": "skip"}


def live(**overrides: Any) -> ReaperConfig:
    """The live config with some settings changed, validated like any config."""
    return ReaperConfig.model_validate({**LIVE.model_dump(), **overrides})


def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set by the local runtime when it ran in this process
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    emr_auto_termination.install()


class World:
    """moto's EMR and CloudWatch, with clusters whose history is set by hand."""

    def __init__(self) -> None:
        self.emr = aws.client("emr")
        self.cloudwatch = aws.client("cloudwatch")
        self.backend = emr_backends[ACCOUNT][REGION]

    def cluster(
        self,
        name: str = "adhoc",
        *,
        ready_ago: timedelta = timedelta(hours=2),
        created_ago: timedelta | None = None,
        step_ended_ago: timedelta | None = None,
        active_step: str | None = None,
        tags: dict[str, str] | None = None,
        protected: bool = False,
        metric: str | None = "idle",
        master: str = "m5.xlarge",
        core: tuple[str, int] | None = None,
        release: str = "emr-7.5.0",
        applications: tuple[str, ...] = ("Spark",),
    ) -> str:
        """A WAITING cluster. metric: "idle" writes IsIdle for every complete period since it was ready: 0 while
        its ended step ran, else 1; "idle-despite-step" writes 1 even then; "busy" makes the latest period 0,
        "busy-earlier" the period 30 minutes ago; "gappy" leaves every other period out, "lagging" leaves the
        latest period out (CloudWatch's delay), None writes nothing."""
        cluster_id: str = self.emr.run_job_flow(
            Name=name,
            ReleaseLabel=release,
            Applications=[{"Name": app} for app in applications],
            # Instance types without InstanceGroups: moto then starts no EC2 instances (ten times faster).
            Instances={
                "MasterInstanceType": master,
                **({"SlaveInstanceType": core[0], "InstanceCount": core[1] + 1} if core else {"InstanceCount": 1}),
                "KeepJobFlowAliveWhenNoSteps": True,
                "TerminationProtected": protected,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )["JobFlowId"]
        cluster = self.backend.clusters[cluster_id]
        cluster.creation_datetime = NOW - (created_ago or ready_ago + timedelta(minutes=6))
        cluster.ready_datetime = NOW - ready_ago
        busy_between = None
        if step_ended_ago is not None:
            step = self._add_step(cluster_id, "COMPLETED")
            step.start_date_time = NOW - step_ended_ago - timedelta(minutes=10)
            step.end_date_time = NOW - step_ended_ago
            busy_between = (step.start_date_time, step.end_date_time)
        if active_step:
            self._add_step(cluster_id, active_step)
        cluster.state = "WAITING"  # add_job_flow_steps made it RUNNING
        if metric:
            self.write_is_idle(
                [cluster_id], NOW - ready_ago, metric, None if metric == "idle-despite-step" else busy_between
            )
        return cluster_id

    def _add_step(self, cluster_id: str, state: str) -> Any:
        self.emr.add_job_flow_steps(
            JobFlowId=cluster_id,
            Steps=[{"Name": f"step {state}", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}],
        )
        step = self.backend.clusters[cluster_id].steps[-1]
        step.state = state
        return step

    def write_is_idle(
        self,
        cluster_ids: list[str],
        since: datetime,
        mode: str = "idle",
        busy_between: tuple[datetime, datetime] | None = None,
    ) -> None:
        first = datetime.fromtimestamp(math.ceil(since.timestamp() / 300) * 300, UTC)
        periods = []
        at = first
        while at + PERIOD <= NOW:
            periods.append(at)
            at += PERIOD
        if mode == "gappy":
            periods = periods[::2]
        if mode == "lagging":
            periods = periods[:-1]

        def busy(at: datetime) -> bool:
            if mode == "busy":
                return at == periods[-1]
            if mode == "busy-earlier":
                return at == NOW - timedelta(minutes=30)
            return busy_between is not None and busy_between[0] < at + PERIOD and at < busy_between[1]

        data = [
            {
                "MetricName": "IsIdle",
                "Dimensions": [{"Name": "JobFlowId", "Value": cluster_id}],
                "Timestamp": at,
                "Value": 0.0 if busy(at) else 1.0,
            }
            for cluster_id in cluster_ids
            for at in periods
        ]
        for start in range(0, len(data), 1000):
            self.cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=data[start : start + 1000])

    def state(self, cluster_id: str) -> str:
        return str(self.backend.clusters[cluster_id].state)


@pytest.fixture(scope="module", autouse=True)
def _module_clients() -> Iterator[None]:
    # Clients are created once for this module (a fresh moto per test still applies to them).
    aws.reset_clients()
    yield
    aws.reset_clients()


class VirtualTime:
    """The pacer's clock in these tests: its waits are recorded and pass at once."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture(autouse=True)
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    clock = VirtualTime()
    monkeypatch.setattr(pacing, "time", clock)
    return clock


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    _aws_env(monkeypatch)
    with mock_aws():
        yield World()


Hook = Callable[[Any, str, Callable[..., Any]], None]


@pytest.fixture
def hook() -> Iterator[Hook]:
    """Register a botocore event handler on a client for this test only."""
    registered: list[tuple[Any, str, Callable[..., Any]]] = []

    def register(client: Any, event: str, handler: Callable[..., Any]) -> None:
        client.meta.events.register(event, handler)
        registered.append((client, event, handler))

    yield register
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


class CallCounter:
    """Counts API calls per operation with botocore's before-call hook (one per call, retries not counted),
    and the queries of each GetMetricData call (before-parameter-build sees the caller's parameters)."""

    def __init__(self, hook: Hook, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.metric_queries: list[int] = []
        for client in clients:
            hook(client, "before-call.*.*", self._count)
            hook(client, "before-parameter-build.cloudwatch.GetMetricData", self._queries)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _queries(self, params: dict[str, Any], **_: Any) -> None:
        self.metric_queries.append(len(params["MetricDataQueries"]))


def decision(report: reaper.ReapReport, cluster_id: str) -> reaper.ClusterDecision:
    (found,) = [d for d in report.decisions if d.cluster_id == cluster_id]
    return found


# -- the happy path --------------------------------------------------------------------------------
def test_an_idle_cluster_is_terminated_with_its_reason_and_estimated_cost(world: World) -> None:
    # Given a cluster ready two hours ago that ran nothing since, IsIdle=1 all along
    cluster = world.cluster(core=("r5.2xlarge", 2))
    # When the reaper runs live
    report = reap(LIVE, NOW)
    # Then the cluster is terminated, and the decision says why and what it cost
    assert world.state(cluster) == "TERMINATED"
    found = decision(report, cluster)
    assert (found.action, found.code) == ("terminated", reaper.IDLE)
    assert found.idle_minutes == 120.0
    assert found.threshold_minutes == 60.0
    table = pricing.price_table()
    assert found.estimated_hourly_usd == pytest.approx(table.hourly["m5.xlarge"] + 2 * table.hourly["r5.2xlarge"])
    assert found.cost_basis == "instances: 1x m5.xlarge, 2x r5.2xlarge"
    assert report.hourly_cost_avoided == found.estimated_hourly_usd
    assert "estimate" in report.cost_label


# -- each rule -------------------------------------------------------------------------------------
RULES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # case: (cluster kwargs, config overrides, expected skip code)
    "a pending step": ({"active_step": "PENDING"}, {}, reaper.BUSY),
    "a running step": ({"active_step": "RUNNING"}, {}, reaper.BUSY),
    "a step being cancelled": ({"active_step": "CANCEL_PENDING"}, {}, reaper.BUSY),
    "termination protection": ({"protected": True}, {}, reaper.PROTECTED),
    "the opt-out tag": ({"tags": OPT_OUT}, {}, reaper.OPTED_OUT),
    "the opt-out tag set by parameter": ({"tags": {"keep": "me"}}, {"opt_out": "keep"}, reaper.OPTED_OUT),
    "younger than the grace period": (
        {"created_ago": timedelta(minutes=70), "ready_ago": timedelta(minutes=64)},
        {"grace": timedelta(minutes=90)},
        reaper.GRACE,
    ),
    "outside the scope tag": ({"tags": {"team": "ml"}}, {"scope": "team=data"}, reaper.OUT_OF_SCOPE),
    "a longer threshold tag": ({"tags": {reaper.TAG_IDLE_THRESHOLD: "3h"}}, {}, reaper.IDLE_TOO_SHORT),
    "a threshold tag that is no duration": (
        {"tags": {reaper.TAG_IDLE_THRESHOLD: "soon"}},
        {},
        reaper.BAD_THRESHOLD_TAG,
    ),
    "a threshold tag under one period": ({"tags": {reaper.TAG_IDLE_THRESHOLD: "1m"}}, {}, reaper.BAD_THRESHOLD_TAG),
    "a step that ended 20 minutes ago (IsIdle 0 while it ran)": (
        {"step_ended_ago": timedelta(minutes=20)},
        {},
        reaper.METRIC_NOT_IDLE,
    ),
    "a step that ended 20 minutes ago (IsIdle 1 all along)": (
        {"step_ended_ago": timedelta(minutes=20), "metric": "idle-despite-step"},
        {},
        reaper.IDLE_TOO_SHORT,
    ),
    "ready less than the threshold ago": ({"ready_ago": timedelta(minutes=45)}, {}, reaper.IDLE_TOO_SHORT),
    "no IsIdle data": ({"metric": None}, {}, reaper.NO_METRIC),
    "IsIdle 0 in the latest period": ({"metric": "busy"}, {}, reaper.BUSY),
    "IsIdle 0 thirty minutes ago": ({"metric": "busy-earlier"}, {}, reaper.METRIC_NOT_IDLE),
    "IsIdle with gaps": ({"metric": "gappy"}, {}, reaper.METRIC_INCOMPLETE),
}


@pytest.mark.parametrize("case", sorted(RULES))
def test_a_cluster_is_left_running_because_of(world: World, case: str) -> None:
    # Given an otherwise idle cluster with one reason not to terminate it
    cluster_kwargs, overrides, expected = RULES[case]
    cluster = world.cluster(**cluster_kwargs)
    # When the reaper runs live
    report = reap(live(**overrides), NOW)
    # Then it is still running, skipped for exactly that reason, which is spelled out
    assert world.state(cluster) == "WAITING"
    found = decision(report, cluster)
    assert (found.action, found.code) == ("skipped", expected)
    assert found.reason


TERMINATED_ANYWAY: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "a shorter threshold tag": (
        {"ready_ago": timedelta(minutes=40), "tags": {reaper.TAG_IDLE_THRESHOLD: "30m"}},
        {},
    ),
    "inside the scope tag": ({"tags": {"team": "data"}}, {"scope": "team=data"}),
    "a scope given by key only": ({"tags": {"team": "ml"}}, {"scope": "team"}),
    "the latest period not yet published": ({"metric": "lagging"}, {}),
    "a step that ended 90 minutes ago": ({"step_ended_ago": timedelta(minutes=90)}, {}),
    "an opt-out tag with another value": ({"tags": {"emr-autopilot:reaper": "yes-please"}}, {}),
}


@pytest.mark.parametrize("case", sorted(TERMINATED_ANYWAY))
def test_a_cluster_is_terminated_despite(world: World, case: str) -> None:
    # Given an idle cluster with something that looks like, but is not, a reason to keep it
    cluster_kwargs, overrides = TERMINATED_ANYWAY[case]
    cluster = world.cluster(**cluster_kwargs)
    # When the reaper runs live
    report = reap(live(**overrides), NOW)
    # Then the rules that matter still hold, and it is terminated
    assert decision(report, cluster).action == "terminated"
    assert world.state(cluster) == "TERMINATED"


# -- limits ----------------------------------------------------------------------------------------
def test_the_cap_terminates_the_longest_idle_first_and_reports_the_rest(world: World, hook: Hook) -> None:
    # Given four idle clusters, idle 4h, 3h, 2h and 1h15m
    by_idle = {hours: world.cluster(f"idle-{hours}h", ready_ago=timedelta(hours=hours)) for hours in (4, 3, 2, 1.25)}
    counter = CallCounter(hook, world.emr)
    # When the reaper may terminate two per run
    report = reap(live(max_terminations=2), NOW)
    # Then the two idle longest are terminated and the others are reported as "cap reached", still running
    assert {hours: world.state(c) for hours, c in by_idle.items()} == {
        4: "TERMINATED",
        3: "TERMINATED",
        2: "WAITING",
        1.25: "WAITING",
    }
    assert {decision(report, by_idle[h]).code for h in (2, 1.25)} == {reaper.CAP_REACHED}
    assert report.notable()
    # And only the two it terminated were described and had their steps read (right before)
    assert (counter.calls["ListSteps"], counter.calls["DescribeCluster"]) == (2, 2)


def test_the_scan_describes_only_the_clusters_it_needs_to_fill_the_cap(world: World, hook: Hook) -> None:
    # Given ten idle clusters, idle 2h10m down to 1h25m
    by_rank = [world.cluster(f"idle-{n}", ready_ago=timedelta(minutes=130 - 5 * n)) for n in range(10)]
    counter = CallCounter(hook, world.emr)
    topic, queue = _topic_with_queue()
    # When the scheduled reaper may terminate two per run
    report = reap_and_report(live(max_terminations=2), NOW, topic)
    # Then the two idle longest are the only ones described, have their steps read and are terminated
    assert (counter.calls["DescribeCluster"], counter.calls["ListSteps"]) == (2, 2)
    assert [world.state(c) for c in by_rank] == ["TERMINATED"] * 2 + ["WAITING"] * 8
    # And the eight others are reported as idle by IsIdle, not examined because of the cap, tags not read
    for cluster in by_rank[2:]:
        found = decision(report, cluster)
        assert (found.code, found.unexamined, found.tags_read) == (reaper.CAP_REACHED, True, False)
        assert found.reason.endswith("; not examined: the cap of 2 terminations per run was reached; tags not read")
    assert decision(report, by_rank[2]).idle_minutes == 120.0
    # And the notice counts them, longest idle first
    (message,) = _messages(queue)
    assert message["Subject"] == "[emr-autopilot] Idle reaper: terminated 2, cap-reached 8, scanned 10"
    assert "Idle by IsIdle, not examined (8): the cap of 2 terminations per run was reached first" in message["Message"]
    assert f"  {by_rank[2]}, {by_rank[3]}, " in message["Message"]


def test_a_protected_cluster_early_in_the_ranking_is_skipped_and_the_next_one_is_chosen(
    world: World, hook: Hook
) -> None:
    # Given the cluster idle longest is protected, then three plain idle ones, idle 3h, 2h and 1h30m
    protected = world.cluster("guarded", ready_ago=timedelta(hours=4), protected=True)
    plain = [world.cluster(f"plain-{m}", ready_ago=timedelta(minutes=m)) for m in (180, 120, 90)]
    counter = CallCounter(hook, world.emr)
    # When the reaper runs live with a cap of one
    report = reap(live(max_terminations=1), NOW)
    # Then the protected one is described and kept, and the next one is described and terminated
    assert (decision(report, protected).code, world.state(protected)) == (reaper.PROTECTED, "WAITING")
    assert (decision(report, plain[0]).action, world.state(plain[0])) == ("terminated", "TERMINATED")
    assert counter.calls["DescribeCluster"] == 2
    # And only the chosen one had its steps read; the last two were not examined
    assert counter.calls["ListSteps"] == 1
    assert [decision(report, c).unexamined for c in plain] == [False, True, True]


def test_a_cluster_the_walk_did_not_reach_is_judged_by_is_idle_over_the_default_threshold(
    world: World, hook: Hook
) -> None:
    # Given an idle cluster, and one busy 30 minutes ago that only a threshold tag under 25m could make eligible
    idle = world.cluster("idle")
    recent = world.cluster("recent", metric="busy-earlier", tags={reaper.TAG_IDLE_THRESHOLD: "10m"})
    counter = CallCounter(hook, world.emr)
    # When the reaper runs live with a cap of one
    report = reap(live(max_terminations=1), NOW)
    # Then the idle one fills the cap, and the other, ranked below it, is not described: it is reported by
    # IsIdle over the default threshold, not as idle, and not terminated
    assert decision(report, idle).action == "terminated"
    found = decision(report, recent)
    assert (found.code, found.unexamined, found.tags_read) == (reaper.METRIC_NOT_IDLE, True, False)
    assert found.reason == (
        "IsIdle was 0 in the period from 20:45Z, default threshold 60 min; "
        "not examined: the cap of 1 terminations per run was reached; tags not read"
    )
    assert counter.calls["DescribeCluster"] == 1
    assert world.state(recent) == "WAITING"


def test_clusters_busy_by_is_idle_cost_no_describe_and_no_list_steps(world: World, hook: Hook) -> None:
    # Given clusters whose IsIdle was 0 in the latest period (interactive clusters at work, no step), whatever
    # their tags and protection, one with no IsIdle data at all, and one idle cluster
    busy = [
        world.cluster("notebooks", metric="busy"),
        world.cluster("kept", metric="busy", tags=OPT_OUT),
        world.cluster("theirs", metric="busy", tags={"team": "ml"}),
        world.cluster("guarded", metric="busy", protected=True),
        world.cluster("short", metric="busy", tags={reaper.TAG_IDLE_THRESHOLD: "5m"}),
    ]
    silent = world.cluster("silent", metric=None)
    idle = world.cluster("adhoc")
    counter = CallCounter(hook, world.emr, world.cloudwatch)
    # When the reaper runs live
    report = reap(LIVE, NOW)
    # Then only the idle cluster was described and had its steps read, and it was terminated
    assert (counter.calls["DescribeCluster"], counter.calls["ListSteps"]) == (1, 1)
    assert counter.calls["GetMetricData"] == 1
    assert decision(report, idle).action == "terminated"
    # And each busy one is "busy", saying why and that its tags were not read; the silent one has no metric
    for cluster in busy:
        found = decision(report, cluster)
        assert (found.action, found.code, found.tags_read) == ("skipped", reaper.BUSY, False)
        assert found.reason.startswith("busy by IsIdle: IsIdle was 0 in the period from 21:10Z")
        assert found.reason.endswith("; tags not read")
        assert world.state(cluster) == "WAITING"
    assert (decision(report, silent).code, decision(report, silent).tags_read) == (reaper.NO_METRIC, False)


def test_an_idle_cluster_still_meets_every_rule_after_the_metric(world: World, hook: Hook) -> None:
    # Given idle clusters (IsIdle 1 throughout) that are protected, opted out, out of scope, with a step
    # running, all idle longer than two plain ones, of which the cap lets one go
    protected = world.cluster("guarded", protected=True, tags={"team": "data"}, ready_ago=timedelta(hours=5))
    opted_out = world.cluster("kept", tags={**OPT_OUT, "team": "data"}, ready_ago=timedelta(hours=5))
    elsewhere = world.cluster("theirs", tags={"team": "ml"}, ready_ago=timedelta(hours=5))
    running = world.cluster("racing", active_step="RUNNING", tags={"team": "data"}, ready_ago=timedelta(hours=9))
    plain = [
        world.cluster("plain-old", ready_ago=timedelta(hours=3), tags={"team": "data"}),
        world.cluster("plain-new", tags={"team": "data"}),
    ]
    counter = CallCounter(hook, world.emr)
    # When the reaper runs live with a scope and a cap of one
    report = reap(live(scope="team=data", max_terminations=1), NOW)
    # Then each rule keeps its cluster; the running step is found right before the termination, and the cap
    # then goes to the longest idle plain cluster
    codes = {c: decision(report, c).code for c in [protected, opted_out, elsewhere, running, *plain]}
    assert codes == {
        protected: reaper.PROTECTED,
        opted_out: reaper.OPTED_OUT,
        elsewhere: reaper.OUT_OF_SCOPE,
        running: reaper.BUSY,
        plain[0]: reaper.IDLE,
        plain[1]: reaper.CAP_REACHED,
    }
    assert [world.state(c) for c in [protected, opted_out, elsewhere, running, *plain]] == [
        "WAITING",
        "WAITING",
        "WAITING",
        "WAITING",
        "TERMINATED",
        "WAITING",
    ]
    # And the walk stopped once the cap was filled: the newer plain one was neither described nor had its
    # steps read, and steps were read only for the two checked
    assert (counter.calls["DescribeCluster"], counter.calls["ListSteps"]) == (5, 2)
    assert [d.cluster_id for d in report.decisions if not d.tags_read] == [plain[1]]


def test_a_threshold_tag_longer_than_the_default_is_judged_over_its_own_window(world: World, hook: Hook) -> None:
    # Given two clusters ready 5 hours ago with a 3-hour threshold tag: IsIdle 1 all along for one, and for
    # the other 0 two hours ago (within its 3 hours, outside the default hour); and an untagged idle one
    tag = {reaper.TAG_IDLE_THRESHOLD: "3h"}
    long_idle = world.cluster("long-idle", ready_ago=timedelta(hours=5), tags=tag, metric=None)
    world.write_is_idle([long_idle], NOW - timedelta(hours=5))
    busy_before = world.cluster("busy-2h-ago", ready_ago=timedelta(hours=5), tags=tag, metric=None)
    world.write_is_idle(
        [busy_before],
        NOW - timedelta(hours=5),
        busy_between=(NOW - timedelta(hours=2, minutes=5), NOW - timedelta(hours=2)),
    )
    plain = world.cluster("plain")
    counter = CallCounter(hook, world.cloudwatch)
    # When the reaper runs live with the default threshold of one hour
    report = reap(LIVE, NOW)
    # Then the one busy two hours ago is kept by its own 3-hour threshold, the others are terminated
    assert decision(report, busy_before).code == reaper.METRIC_NOT_IDLE
    assert world.state(busy_before) == "WAITING"
    assert decision(report, long_idle).action == "terminated"
    assert decision(report, long_idle).threshold_minutes == 180
    assert world.state(plain) == "TERMINATED"
    # And the older data was read for the two tagged clusters only, one GetMetricData each when examined
    assert counter.metric_queries == [3, 1, 1]


def test_the_per_cluster_calls_are_paced_at_emrs_rates(world: World, virtual_time: VirtualTime) -> None:
    # Given 15 idle clusters, all to be chosen: 15 DescribeCluster and 15 ListSteps calls, 5 over each bucket of 10
    for n in range(15):
        world.cluster(f"idle-{n}")
    # When the reaper runs (dry run)
    reap(ReaperConfig(dry_run=True, max_terminations=15), NOW)
    # Then the five clusters past the buckets waited two seconds each: ListSteps' rate (0.5 a second) sets the
    # pace, and DescribeCluster's (1 a second) refills within those waits
    assert virtual_time.slept == pytest.approx(5 * 2.0)


def test_the_pacing_follows_the_rates_in_the_functions_environment(
    world: World, virtual_time: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 4 idle clusters, and the environment giving DescribeCluster a burst of 1, then one call every 4 s,
    # and ListSteps a burst of 100
    for n in range(4):
        world.cluster(f"idle-{n}")
    for key, value in {
        "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
        "EMR_DESCRIBE_CLUSTER_BURST": "1",
        "EMR_DESCRIBE_CLUSTER_PER_SECOND": "0.25",
        "EMR_LIST_STEPS_BURST": "100",
    }.items():
        monkeypatch.setenv(key, value)
    config = ReaperSettings.from_env().config()
    # When the reaper runs with a cap of 4
    reap(config.model_copy(update={"max_terminations": 4}), NOW)
    # Then the three DescribeCluster calls past the burst waited 4 s each, and nothing else waited
    assert config.describe_cluster_rate == pacing.CallRate(1, 0.25)
    assert virtual_time.slept == pytest.approx(3 * 4.0)


def test_a_token_bucket_waits_only_past_its_burst(virtual_time: VirtualTime) -> None:
    # Given ListSteps' bucket: 10 at once, then one every 2 seconds
    bucket = pacing.TokenBucket(*pacing.LIST_STEPS)
    # When 12 calls are paced, then 10 seconds pass and 5 more are
    for _ in range(12):
        bucket.take()
    after_twelve = virtual_time.slept
    virtual_time.now += 10
    for _ in range(5):
        bucket.take()
    # Then it waited 2 seconds for each of the two past the burst, and none for the 5 the pause refilled
    assert after_twelve == pytest.approx(4.0)
    assert virtual_time.slept == pytest.approx(4.0)
    assert bucket.waited == pytest.approx(4.0)


def test_a_dry_run_decides_the_same_and_terminates_nothing(world: World) -> None:
    # Given two idle clusters and a busy one
    idle = [world.cluster("idle-a"), world.cluster("idle-b")]
    busy = world.cluster("busy", active_step="RUNNING")
    # When the reaper runs as a dry run, then live
    dry = reap(ReaperConfig(dry_run=True), NOW)
    states_after_dry_run = {c: world.state(c) for c in [*idle, busy]}
    real = reap(LIVE, NOW)
    # Then the dry run terminated nothing but decided exactly what the live run then did
    assert set(states_after_dry_run.values()) == {"WAITING"}
    assert {d.cluster_id for d in dry.with_action("would terminate")} == set(idle)
    assert {d.cluster_id for d in real.with_action("terminated")} == set(idle)
    assert dry.hourly_cost_avoided == real.hourly_cost_avoided > 0
    assert world.state(busy) == "WAITING"


def test_more_than_one_page_of_clusters_is_scanned(world: World, hook: Hook) -> None:
    # Given 60 idle clusters (ListClusters pages by 50)
    clusters = [world.cluster(f"idle-{n}") for n in range(60)]
    counter = CallCounter(hook, world.emr)
    # When the reaper may terminate them all
    report = reap(live(max_terminations=100), NOW)
    # Then all 60 are terminated, read over two ListClusters pages
    assert {d.cluster_id for d in report.with_action("terminated")} == set(clusters)
    assert counter.calls["ListClusters"] == 2


@pytest.mark.parametrize("count", [100, pytest.param(1000, marks=pytest.mark.slow)])
def test_calls_per_scan_stay_proportional(
    world: World, hook: Hook, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `count` idle clusters (a 5-minute threshold keeps moto's metric store small)
    threshold, ready = timedelta(minutes=5), timedelta(minutes=10)
    clusters = [world.cluster(f"idle-{n}", ready_ago=ready, metric=None) for n in range(count)]
    world.write_is_idle(clusters, NOW - ready)
    counter = CallCounter(hook, world.emr, world.cloudwatch)
    # When one scan runs with the default cap of 5
    report = reap(live(idle_threshold=threshold, grace=timedelta(0)), NOW)
    # Then the calls are: the ListClusters pages, one GetMetricData per 500 clusters (never more queries
    # a call), and for each terminated one its DescribeCluster, its ListSteps right before, pricing and the
    # termination (the cap-reached ones are not described and their steps not read)
    assert len(report.with_action("terminated")) == 5
    calls = counter.calls
    assert calls["ListClusters"] == math.ceil(count / 50)
    assert calls["GetMetricData"] == math.ceil(count / 500)
    assert max(counter.metric_queries) <= 500
    assert sum(counter.metric_queries) == count
    assert (calls["DescribeCluster"], calls["ListSteps"]) == (5, 5)
    assert (calls["ListInstanceGroups"], calls["TerminateJobFlows"]) == (5, 5)
    assert sum(calls.values()) == math.ceil(count / 50) + math.ceil(count / 500) + 20
    with capsys.disabled():
        print(f"\n  reaper calls for {count} idle clusters: {dict(sorted(calls.items()))}")


@pytest.mark.parametrize(("oldest_step", "expected"), [("RUNNING", "skipped"), ("COMPLETED", "terminated")])
def test_a_cluster_with_more_than_one_page_of_steps_is_checked_beyond_the_first(
    world: World, hook: Hook, oldest_step: str, expected: str
) -> None:
    # Given an idle-looking cluster whose oldest step is `oldest_step`, followed by 60 newer steps that
    # were cancelled (ListSteps pages by 50, newest first: the oldest one is on page two)
    cluster = world.cluster("many-steps")
    world.emr.add_job_flow_steps(
        JobFlowId=cluster,
        Steps=[
            {"Name": f"step {n}", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}} for n in range(61)
        ],
    )
    oldest, *newer = world.backend.clusters[cluster].steps[-61:]
    oldest.state, oldest.creation_date_time = oldest_step, NOW - timedelta(hours=5)
    for n, step in enumerate(newer):
        step.state, step.creation_date_time = "CANCELLED", NOW - timedelta(hours=4, minutes=-n)
    world.backend.clusters[cluster].state = "WAITING"
    counter = CallCounter(hook, world.emr)
    # When the reaper runs live
    report = reap(LIVE, NOW)
    # Then a second, state-filtered ListSteps looked past the first page, and decided by the oldest step
    found = decision(report, cluster)
    assert found.action == expected
    assert (found.code == reaper.BUSY) == (oldest_step == "RUNNING")
    assert counter.calls["ListSteps"] == 2


# -- failures --------------------------------------------------------------------------------------
def test_one_clusters_failure_is_recorded_and_the_scan_goes_on(world: World, hook: Hook) -> None:
    # Given two idle clusters, and someone protecting the first right before the reaper terminates it
    first, second = sorted([world.cluster("idle-a"), world.cluster("idle-b")])

    def protect_first(params: dict[str, Any], **_: Any) -> None:
        if params["JobFlowIds"] == [first]:
            world.backend.clusters[first].termination_protected = True

    hook(world.emr, "before-parameter-build.emr.TerminateJobFlows", protect_first)
    # When the reaper runs live
    report = reap(LIVE, NOW)
    # Then EMR's refusal is recorded for the first, and the second is terminated anyway
    failed = decision(report, first)
    assert failed.action == "error"
    assert "TerminateJobFlows failed: ValidationException" in failed.reason
    assert world.state(first) == "WAITING"
    assert world.state(second) == "TERMINATED"


# -- heal mode -------------------------------------------------------------------------------------
def test_heal_mode_adds_a_policy_only_where_allowed_and_missing(world: World) -> None:
    # Given busy clusters: a plain one, one with a policy, protected, opted out, out of scope, too old, with HBase
    scope = {"team": "data"}
    plain = world.cluster("plain", active_step="RUNNING", tags=scope)
    has_policy = world.cluster("has-policy", active_step="RUNNING", tags=scope)
    world.emr.put_auto_termination_policy(ClusterId=has_policy, AutoTerminationPolicy={"IdleTimeout": 7200})
    protected = world.cluster("protected", active_step="RUNNING", tags=scope, protected=True)
    opted_out = world.cluster("opted-out", active_step="RUNNING", tags={**scope, **OPT_OUT})
    elsewhere = world.cluster("elsewhere", active_step="RUNNING", tags={"team": "ml"})
    old = world.cluster("old", active_step="RUNNING", tags=scope, release="emr-5.20.0")
    hbase = world.cluster("hbase", active_step="RUNNING", tags=scope, applications=("HBase",))
    config = live(heal=True, scope="team=data")

    def policy(cluster_id: str) -> Any:
        return world.emr.get_auto_termination_policy(ClusterId=cluster_id).get("AutoTerminationPolicy")

    # When a dry run in heal mode runs, then a live one
    dry = reap(live(heal=True, scope="team=data", dry_run=True), NOW)
    policy_after_dry_run = policy(plain)
    real = reap(config, NOW)
    # Then only the plain cluster gets a policy (its threshold as IdleTimeout), and only in the live run
    assert decision(dry, plain).heal == "would add auto-termination (IdleTimeout 3600 s)"
    assert policy_after_dry_run is None
    assert decision(real, plain).heal == "added auto-termination (IdleTimeout 3600 s)"
    assert policy(plain) == {"IdleTimeout": 3600}
    assert policy(has_policy) == {"IdleTimeout": 7200}
    assert decision(real, has_policy).heal == "has a policy (IdleTimeout 7200 s)"
    for untouched in (protected, opted_out, elsewhere):
        assert decision(real, untouched).heal is None
        assert policy(untouched) is None
    assert decision(real, old).heal.startswith("not possible: emr-5.20.0")
    assert decision(real, hbase).heal == "not possible: auto-termination does not support HBase"
    assert [d.cluster_id for d in real.healed] == [plain]


# -- reporting: notification, ledger, handler --------------------------------------------------------
def _topic_with_queue() -> tuple[str, str]:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="emr-autopilot-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def _messages(queue: str) -> list[dict[str, Any]]:
    found = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in found]


def test_the_summary_names_what_was_terminated_and_what_was_left(world: World) -> None:
    # Given an idle cluster, an idle protected one and a busy one
    idle = world.cluster("adhoc")
    protected = world.cluster("notebooks", protected=True)
    world.cluster("busy", active_step="RUNNING")
    topic, queue = _topic_with_queue()
    # When the scheduled reaper runs
    report = reap_and_report(LIVE, NOW, topic)
    # Then one notification lists the terminated cluster with idle time and estimated cost, and the protected one
    (message,) = _messages(queue)
    assert report.notified
    assert message["Subject"] == "[emr-autopilot] Idle reaper: terminated 1, protected 1, scanned 3"
    body = message["Message"]
    assert f"{idle} adhoc: idle 120 min, ~$0.24/h" in body
    assert "Estimated hourly cost avoided: ~$0.24/h (estimate:" in body
    assert f"{protected} notebooks: idle 120 min but termination-protected" in body
    assert "Other skips: busy 1" in body
    attributes = {key: value["Value"] for key, value in message["MessageAttributes"].items()}
    assert attributes == {
        "severity": "WARNING",
        "event_type": "IDLE_REAPER",
        "job": "-",
        "cluster_id": idle,
        "state": "LIVE",
    }


def test_nothing_notable_sends_nothing(world: World) -> None:
    # Given only a busy cluster and an opted-out one
    world.cluster("busy", active_step="PENDING")
    world.cluster("kept", tags=OPT_OUT)
    topic, queue = _topic_with_queue()
    # When the scheduled reaper runs
    report = reap_and_report(LIVE, NOW, topic)
    # Then no notification is sent
    assert not report.notified
    assert _messages(queue) == []


def test_decisions_are_recorded_in_the_ledger(world: World) -> None:
    # Given the ledger table (the template's keys), an idle cluster, a busy one and another team's
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    idle = world.cluster("adhoc", tags={"team": "data"})
    busy = world.cluster("busy", active_step="RUNNING", tags={"team": "data"})
    other = world.cluster("theirs", tags={"team": "ml"})
    unknown = world.cluster("notebooks", metric="busy", tags={"team": "ml"})
    topic, _ = _topic_with_queue()
    config = live(scope="team=data")
    # When the scheduled reaper runs with the ledger
    reap_and_report(config, NOW, topic, "ledger")
    # Then each in-scope decision is a DECISION item of kind "reaper"; the out-of-scope cluster has none
    items = aws.resource("dynamodb").Table("ledger").scan()["Items"]
    by_cluster = {item["pk"]: item for item in items}
    assert set(by_cluster) == {f"CLUSTER#{idle}", f"CLUSTER#{busy}"}
    assert f"CLUSTER#{other}" not in by_cluster
    assert f"CLUSTER#{unknown}" not in by_cluster  # busy by IsIdle: tags not read, so maybe another team's
    recorded = by_cluster[f"CLUSTER#{idle}"]
    assert recorded["sk"] == "DECISION#2026-11-21T21:15:00.000000Z#reaper"
    assert (recorded["kind"], recorded["action"], recorded["code"]) == ("reaper", "terminated", reaper.IDLE)
    assert recorded["dry_run"] is False
    assert recorded["cluster_name"] == "adhoc"
    assert by_cluster[f"CLUSTER#{busy}"]["code"] == reaper.BUSY


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], Any]]:
    """The function's handler, imported as Lambda would with the given environment."""
    service_logger = logging.getLogger("emr-autopilot")
    before = list(service_logger.handlers)

    def load(env: dict[str, str]) -> Any:
        for key, value in {
            "POWERTOOLS_SERVICE_NAME": "emr-autopilot",
            "POWERTOOLS_METRICS_NAMESPACE": "EmrAutopilot",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **env,
        }.items():
            monkeypatch.setenv(key, value)
        path = ROOT / "functions" / "idle_reaper" / "app.py"
        spec = importlib.util.spec_from_file_location("idle_reaper_app", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.handler

    yield load
    # The Logger's handler was opened on this test's captured stdout, which closes after it; later loggers
    # of the same service reuse the handler, so point it at the real stdout (no flush of the closed one).
    for handler in service_logger.handlers:
        if handler not in before and isinstance(handler, logging.StreamHandler):
            handler.stream = sys.__stdout__


class _Context:
    function_name = "IdleReaperFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:IdleReaperFunction"
    aws_request_id = "test-request"


def test_the_handler_reaps_on_the_sample_tick_and_emits_metrics(
    world: World, load_handler: Callable[[dict[str, str]], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an idle cluster and the function's environment, live
    cluster = world.cluster()
    topic, queue = _topic_with_queue()
    handler = load_handler({"NOTIFICATION_TOPIC_ARN": topic, "REAPER_DRY_RUN": "false"})
    # When the sample "Scheduled Event" arrives
    result = handler(EVENT, _Context())
    # Then the scan is judged as of the tick's time, the cluster is terminated, and both metrics are emitted
    assert result["status"] == "ok"
    assert result["scanned_at"] == NOW.isoformat()
    assert result["terminated"] == [cluster]
    assert world.state(cluster) == "TERMINATED"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ClustersTerminatedIdle"] for m in emf if "ClustersTerminatedIdle" in m] == [[1.0]]
    assert [m["EstimatedHourlyCostAvoided"] for m in emf if "EstimatedHourlyCostAvoided" in m] == [[0.24]]
    assert len(_messages(queue)) == 1


def test_the_handler_quarantines_an_event_it_cannot_read(
    world: World, load_handler: Callable[[dict[str, str]], Any]
) -> None:
    # Given the function's environment and a dead-letter queue
    queue = aws.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    handler = load_handler({"NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:1:x", "DEAD_LETTER_QUEUE_URL": queue})
    cluster = world.cluster()
    # When an event that is not a Scheduled Event arrives
    result = handler({"id": "not-a-tick", "detail-type": "Object Created", "source": "aws.s3"}, _Context())
    # Then it is rejected into the queue, and nothing was scanned or terminated
    assert (result["status"], result["event_id"]) == ("rejected", "not-a-tick")
    assert "Scheduled Event" in result["reason"]
    (message,) = aws.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["function"] == "idle_reaper"
    assert world.state(cluster) == "WAITING"


# -- the pure parts ----------------------------------------------------------------------------------
def _points(*minutes_ago: int, value: float = 1.0) -> list[tuple[datetime, float]]:
    return [(NOW - timedelta(minutes=m), value) for m in minutes_ago]


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (_points(*range(5, 65, 5)), (True, reaper.IDLE)),  # every period of the hour
        (_points(*range(10, 65, 5)), (True, reaper.IDLE)),  # the latest one not published yet
        (_points(*range(15, 65, 5)), (False, reaper.METRIC_INCOMPLETE)),  # two missing
        (_points(*range(5, 65, 5)) + _points(30, value=0.0), (False, reaper.METRIC_NOT_IDLE)),
        (_points(70, 75), (False, reaper.NO_METRIC)),  # only before the window
        ([], (False, reaper.NO_METRIC)),
    ],
)
def test_is_idle_must_cover_the_threshold(points: list[tuple[datetime, float]], expected: tuple[bool, str]) -> None:
    # Given IsIdle datapoints (period starts) and a 60-minute threshold
    # When they are judged
    ok, code, _ = judge_is_idle(points, NOW, timedelta(minutes=60))
    # Then idle is proven only by complete, all-1 data
    assert (ok, code) == expected


@pytest.mark.parametrize(
    ("points", "read_minutes", "expected"),
    [
        (_points(*range(5, 65, 5)), 60, (True, reaper.IDLE)),
        (_points(*range(10, 65, 5)) + _points(5, value=0.0), 60, (False, reaper.METRIC_NOT_IDLE)),
        (_points(*range(15, 65, 5)) + _points(10, value=0.0), 60, (False, reaper.METRIC_NOT_IDLE)),  # 5 not yet in
        (_points(*range(5, 30, 5)) + _points(30, value=0.0), 60, (True, reaper.IDLE)),  # a tag under 25m could prove it
        ([], 60, (False, reaper.NO_METRIC)),
        ([], 5, (True, reaper.IDLE)),  # one period read: a longer threshold might still be proven
    ],
)
def test_is_idle_rules_a_cluster_out_only_when_no_threshold_could_prove_it_idle(
    points: list[tuple[datetime, float]], read_minutes: int, expected: tuple[bool, str]
) -> None:
    # Given IsIdle datapoints read over the last `read_minutes`
    # When they are asked whether any threshold (5m to 7d) could prove the cluster idle
    ok, code, _ = may_prove_idle(points, NOW, NOW - timedelta(minutes=read_minutes))
    # Then only a 0 in the newest periods, or no data over two periods or more, rules it out
    assert (ok, code) == expected


def test_settings_from_the_environment_become_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the environment the template sets
    for key, value in {
        "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
        "REAPER_IDLE_THRESHOLD_MINUTES": "45",
        "REAPER_GRACE_MINUTES": "10",
        "REAPER_MAX_TERMINATIONS_PER_RUN": "3",
        "REAPER_DRY_RUN": "false",
        "REAPER_SCOPE_TAG": "team=data",
        "REAPER_OPT_OUT_TAG": "keep",
        "REAPER_HEAL_MODE": "true",
    }.items():
        monkeypatch.setenv(key, value)
    # When it is read
    config = ReaperSettings.from_env().config()
    # Then every parameter arrives
    assert config == ReaperConfig(
        idle_threshold=timedelta(minutes=45),
        grace=timedelta(minutes=10),
        max_terminations=3,
        dry_run=False,
        scope=TagSelector(key="team", value="data"),
        opt_out=TagSelector(key="keep"),
        heal=True,
    )


def test_a_price_table_gap_is_said_not_hidden() -> None:
    # Given instances, one of a type the table does not have
    table = pricing.price_table()
    # When their cost is estimated
    estimate = pricing.estimate_from_instances([("m5.xlarge", "ON_DEMAND"), ("x9.mega", "SPOT")], table)
    # Then the known part is priced and the unknown one named
    assert estimate.hourly_usd == pytest.approx(table.hourly["m5.xlarge"])
    assert estimate.detail == "1x m5.xlarge; not in the price table: 1x x9.mega (Spot, priced at on-demand)"
    # And with no instance types, normalized instance hours give the rate (EMR counts started hours)
    fallback = pricing.estimate_from_normalized_hours(48, 2.5, table)
    assert fallback.hourly_usd == pytest.approx(16 * table.normalized_instance_hour_usd)


# -- the property: nothing that must stay is ever terminated -----------------------------------------
cluster_specs = st.fixed_dictionaries(
    {
        "protected": st.booleans(),
        "opted_out": st.booleans(),
        "in_scope": st.booleans(),
        "active_step": st.sampled_from([None, "PENDING", "RUNNING", "CANCEL_PENDING"]),
        "ready_minutes": st.integers(min_value=1, max_value=240),
        "step_ended_minutes": st.none() | st.integers(min_value=0, max_value=240),
        "metric": st.sampled_from(["idle", "busy", "gappy", "lagging", None]),
        "threshold_tag": st.sampled_from([None, "30m", "2h", "bogus"]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(cluster_specs, min_size=1, max_size=6), cap=st.integers(0, 4), dry_run=st.booleans())
def test_no_protected_opted_out_busy_or_out_of_scope_cluster_is_ever_terminated(
    monkeypatch: pytest.MonkeyPatch, specs: list[dict[str, Any]], cap: int, dry_run: bool
) -> None:
    _aws_env(monkeypatch)
    with mock_aws():  # a fresh moto per example; the cached clients carry over
        world = World()
        # Given clusters with any mix of protection, opt-out, scope, steps, idle time, metrics and threshold tag
        clusters = {}
        for n, spec in enumerate(specs):
            tags = {"team": "data" if spec["in_scope"] else "ml"}
            if spec["opted_out"]:
                tags.update(OPT_OUT)
            if spec["threshold_tag"]:
                tags[reaper.TAG_IDLE_THRESHOLD] = spec["threshold_tag"]
            ready = timedelta(minutes=spec["ready_minutes"])
            ended = spec["step_ended_minutes"]
            cluster_id = world.cluster(
                f"c{n}",
                ready_ago=ready,
                step_ended_ago=None if ended is None else min(timedelta(minutes=ended), ready),
                active_step=spec["active_step"],
                tags=tags,
                protected=spec["protected"],
                metric=spec["metric"],
            )
            clusters[cluster_id] = spec
        config = ReaperConfig(
            dry_run=dry_run, max_terminations=cap, grace=timedelta(0), scope=TagSelector(key="team", value="data")
        )
        # When the reaper runs
        report = reap(config, NOW)
        # Then no cluster that must stay was terminated or chosen, and no more than the cap were
        chosen = {d.cluster_id for d in report.acted}
        for cluster_id, spec in clusters.items():
            must_stay = spec["protected"] or spec["opted_out"] or spec["active_step"] or not spec["in_scope"]
            if must_stay:
                assert cluster_id not in chosen
                assert world.state(cluster_id) == "WAITING"
            if cluster_id in chosen:
                assert spec["metric"] in ("idle", "lagging")
        assert len(chosen) <= cap
        assert sum(world.state(c) == "TERMINATED" for c in clusters) == (0 if dry_run else len(chosen))
