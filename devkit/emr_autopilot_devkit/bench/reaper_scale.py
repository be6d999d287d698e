"""Figure 5, idle reaper at scale: API calls and wall time of one scan over N active (WAITING) clusters.

The clusters are created directly in moto's EMR backend in this process (about 1 ms each), ready for
longer than the threshold and the grace period. The real IdleReaperFunction handler runs (stack.invoke)
with the template's environment: threshold 60 min, grace 30 min, cap 5, dry run (ReaperDryRun's
default); then a second scan runs live (ReaperDryRun=false), which adds the cap's TerminateJobFlows calls.

5: all idle (IsIdle=1 for every 5-minute period), so every cluster is a candidate. Budget (scan calls,
i.e. EMR and CloudWatch): ceil(N/50) + ceil(N/500) + 3 x candidates + 5.
5b: a realistic mix (issue 21): 10% idle, 90% busy by IsIdle (0 in every period: interactive clusters at
work without a step). Budget: ceil(N/50) + ceil(N/500) + 2 x idle + 5.
The run ledger's PutItem per decision and the SNS summary are reported in the total, without a budget.

The reaper paces its EMR calls at EMR's default quotas (emr_autopilot.reaper.pacing). moto does not
throttle, so here the pacer's waits are accounted, not slept: "paced" is the waiting the pacer would do
on AWS, and "wall + paced" must stay well inside the function's 900 s timeout: at most half of it.

The naive reaper (below, benchmark only) decides the same way with one DescribeCluster, one ListSteps
and one GetMetricStatistics per cluster; the ratio is reaper scan calls / naive scan calls. It runs at
N <= 1,000, where its calls must equal naive_calls(); at 5,000 its count is computed by that formula
(the figure says so), which saves the two minutes running it would take.

moto's GetMetricData and GetMetricStatistics scan every stored datapoint for every query (O(queries x
datapoints), hours at N=5,000); the benchmark serves them from an index by metric and dimension,
calling moto's own code on the few datapoints that can match. The answers are unchanged: at the first
N the scan runs with and without the index and must decide the same for every cluster.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emr_autopilot_devkit.bench.calls import AppCalls, Call, by_operation
from emr_autopilot_devkit.bench.common import say
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local import emr_simulator
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REGION, LocalRuntime

SECTION = "5. Idle reaper at scale (one scan; N WAITING clusters, all idle)"
MIX_SECTION = "5b. Idle reaper at scale (one scan; N WAITING clusters, 10% idle, 90% busy by IsIdle)"
SIZES = (100, 1000, 5000)
MIX_SIZES = (1000, 5000)
IDLE_SHARE = 10  # percent of the mix
TIMEOUT = 900  # the function's timeout, seconds
WELL_INSIDE = TIMEOUT // 2  # "finishes well inside the function timeout" (issue 21): at most half of it
NAIVE_RUN_UP_TO = 1000  # the naive reaper runs up to this N; above, its calls are computed
FUNCTION = "IdleReaperFunction"
SCAN_SERVICES = ("emr", "monitoring", "cloudwatch")
IDLE_FOR = timedelta(minutes=100)  # > threshold (60 min) and grace (30 min)
PERIOD = 300


def budget(clusters: int, candidates: int) -> int:
    return math.ceil(clusters / 50) + math.ceil(clusters / 500) + 3 * candidates + 5


def mix_budget(clusters: int, idle: int) -> int:
    return math.ceil(clusters / 50) + math.ceil(clusters / 500) + 2 * idle + 5


def naive_calls(clusters: int, idle: int, cap: int) -> int:
    """The naive reaper's calls: its ListClusters pages, three per cluster, a pricing call per chosen one."""
    return math.ceil(clusters / 50) + 3 * clusters + min(idle, cap)


# -- the emulated fleet ------------------------------------------------------------------------------
def _instance_attrs() -> dict[str, Any]:
    return {
        "master_instance_type": "m5.xlarge",
        "slave_instance_type": None,
        "instance_count": 1,
        "ec2_key_name": None,
        "ec2_subnet_id": None,
        "hadoop_version": None,
        "availability_zone": f"{REGION}a",
        "keep_job_flow_alive_when_no_steps": True,
        "termination_protected": False,
        "emr_managed_master_security_group": None,
        "emr_managed_slave_security_group": None,
        "service_access_security_group": None,
        "additional_master_security_groups": [],
        "additional_slave_security_groups": [],
    }


def add_idle_clusters(stack: LocalRuntime, count: int, start: int, is_idle: float = 1.0) -> list[str]:
    """`count` WAITING clusters, ready IDLE_FOR ago, with IsIdle=`is_idle` for every complete period since."""
    from moto.emr.models import emr_backends

    backend = emr_backends[ACCOUNT_ID][REGION]
    now = stack.clock.now()
    ready = now - IDLE_FOR
    simulator = emr_simulator.active()
    emr_simulator.activate(None)  # not the simulator's: these clusters are WAITING already, and stay so
    try:
        created = []
        for number in range(start, start + count):
            cluster = backend.run_job_flow(
                name=f"bench-{'idle' if is_idle else 'busy'}-{number:05d}",
                log_uri=None,
                job_flow_role="EMR_EC2_DefaultRole",
                service_role="EMR_DefaultRole",
                steps=[],
                instance_attrs=_instance_attrs(),
                release_label="emr-7.5.0",
                kerberos_attributes={},
            )
            cluster.creation_datetime = ready - timedelta(minutes=6)
            cluster.start_datetime = cluster.creation_datetime
            cluster.ready_datetime = ready
            cluster.state = "WAITING"
            created.append(cluster.id)
    finally:
        emr_simulator.activate(simulator)
    publish_is_idle(stack, created, ready, is_idle)
    return created


def publish_is_idle(stack: LocalRuntime, created: list[str], since: datetime, is_idle: float = 1.0) -> None:
    """IsIdle=`is_idle` for every complete period since `since`. Called again before each scan for the
    latest periods: on a loaded machine a scan of thousands takes minutes, and the metric must keep up."""
    now = stack.clock.now()
    first = datetime.fromtimestamp(math.ceil(since.timestamp() / PERIOD) * PERIOD, UTC)
    periods = []
    at = first
    while at + timedelta(seconds=PERIOD) <= now:
        periods.append(at)
        at += timedelta(seconds=PERIOD)
    data = [
        {"MetricName": "IsIdle", "Dimensions": [{"Name": "JobFlowId", "Value": c}], "Timestamp": t, "Value": is_idle}
        for c in created
        for t in periods
    ]
    cloudwatch = stack.client("cloudwatch")  # through the API, as EMR (and the simulator) publish it
    for offset in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=data[offset : offset + 1000])


def _keep_publishing(stack: LocalRuntime, fleet: dict[float, list[str]]) -> None:
    # The last 15 minutes again: a period already written gets the same value twice (same Minimum).
    since = stack.clock.now() - timedelta(minutes=15)
    for is_idle, cluster_ids in fleet.items():
        publish_is_idle(stack, cluster_ids, since, is_idle)


# -- an index for moto's CloudWatch queries ------------------------------------------------------------
_subset = threading.local()


@contextlib.contextmanager
def indexed_cloudwatch() -> Iterator[None]:
    from moto.cloudwatch.models import CloudWatchBackend

    original_all = CloudWatchBackend.get_all_metrics
    original_data = CloudWatchBackend.get_metric_data
    original_statistics = CloudWatchBackend.get_metric_statistics
    cache: dict[int, tuple[int, dict[tuple[str, str, str, str], list[Any]]]] = {}

    def index(backend: Any) -> dict[tuple[str, str, str, str], list[Any]]:
        everything = original_all(backend)
        cached = cache.get(id(backend))
        if cached is not None and cached[0] == len(everything):
            return cached[1]
        built: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
        for datum in everything:
            pairs = [(str(d.name), str(d.value)) for d in datum.dimensions or []] or [("", "")]
            for name, value in pairs:
                built[(datum.namespace, datum.name, name, value)].append(datum)
        cache[id(backend)] = (len(everything), built)
        return built

    def candidates(backend: Any, namespace: str, name: str, dimensions: list[dict[str, str]]) -> list[Any] | None:
        if not dimensions:
            return None  # no dimension to index by: moto's own full scan
        first = dimensions[0]
        return index(backend).get((namespace, name, first["Name"], first["Value"]), [])

    def get_all_metrics(self: Any) -> list[Any]:
        subset = getattr(_subset, "value", None)
        return original_all(self) if subset is None else subset

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any, **kw: Any) -> Any:
        results = []
        for query in queries:
            metric = query.get("MetricStat", {}).get("Metric")
            subset = (
                candidates(self, metric["Namespace"], metric["MetricName"], metric.get("Dimensions", []))
                if metric
                else None
            )
            _subset.value = subset
            try:
                results += original_data(self, [query], start_time, end_time, **kw)
            finally:
                _subset.value = None
        return results

    def get_metric_statistics(self: Any, namespace: str, metric_name: str, *args: Any, **kw: Any) -> Any:
        dimensions = kw.get("dimensions", args[5] if len(args) > 5 else [])
        _subset.value = candidates(self, namespace, metric_name, dimensions or [])
        try:
            return original_statistics(self, namespace, metric_name, *args, **kw)
        finally:
            _subset.value = None

    CloudWatchBackend.get_all_metrics = get_all_metrics  # type: ignore[method-assign]
    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign,assignment]
    CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudWatchBackend.get_all_metrics = original_all  # type: ignore[method-assign]
        CloudWatchBackend.get_metric_data = original_data  # type: ignore[method-assign]
        CloudWatchBackend.get_metric_statistics = original_statistics  # type: ignore[method-assign]


# -- the pacer's waits, accounted instead of slept ------------------------------------------------------
class AccountedTime:
    """The pacer's clock: real time plus the waits it asked for, which are added up instead of slept."""

    def __init__(self) -> None:
        self.waited = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.waited

    def sleep(self, seconds: float) -> None:
        self.waited += seconds


@contextlib.contextmanager
def accounted_pacing() -> Iterator[AccountedTime]:
    from emr_autopilot.reaper import pacing

    clock = AccountedTime()
    original = pacing.time
    pacing.time = clock  # type: ignore[assignment]
    try:
        yield clock
    finally:
        pacing.time = original


# -- the naive reaper ------------------------------------------------------------------------------
def naive_scan(now: datetime, threshold: timedelta, grace: timedelta, cap: int, dry_run: bool) -> list[str]:
    """One DescribeCluster, one ListSteps and one GetMetricStatistics per WAITING cluster; then the same
    cost estimate (and, live, termination) for the first `cap` idle ones. Returns the idle clusters."""
    from emr_autopilot import aws, pricing

    emr, cloudwatch = aws.client("emr"), aws.client("cloudwatch")
    table = pricing.price_table()
    idle: list[tuple[float, str, Any]] = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=["WAITING"]):
        for summary in page["Clusters"]:
            cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            steps = emr.list_steps(ClusterId=summary["Id"])["Steps"]
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/ElasticMapReduce",
                MetricName="IsIdle",
                Dimensions=[{"Name": "JobFlowId", "Value": summary["Id"]}],
                StartTime=now - threshold,
                EndTime=now,
                Period=PERIOD,
                Statistics=["Minimum"],
            )["Datapoints"]
            timeline = cluster["Status"]["Timeline"]
            ready = timeline.get("ReadyDateTime") or timeline["CreationDateTime"]
            ends = [s["Status"]["Timeline"].get("EndDateTime") for s in steps]
            idle_since = max([ready, *[end for end in ends if end]])
            if (
                now - timeline["CreationDateTime"] >= grace
                and not any(s["Status"]["State"] in ("PENDING", "CANCEL_PENDING", "RUNNING") for s in steps)
                and now - idle_since >= threshold
                and points
                and all(p["Minimum"] >= 1 for p in points)
                and not cluster.get("TerminationProtected")
            ):
                idle.append(((now - idle_since).total_seconds(), summary["Id"], cluster))
    chosen = sorted(idle, key=lambda item: (-item[0], item[1]))[:cap]
    for _, cluster_id, cluster in chosen:
        pricing.estimate_cluster(cluster, 1.0, table)
        if not dry_run:
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
    return [cluster_id for _, cluster_id, _ in idle]


@dataclass
class NaiveRun:
    calls: list[Call]
    seconds: float
    idle: list[str]


def _run_naive(
    stack: LocalRuntime, counter: AppCalls, size: int, cap: int, threshold: timedelta, grace: timedelta
) -> NaiveRun:
    mark, started = counter.mark(), time.monotonic()
    idle = naive_scan(stack.clock.now(), threshold, grace, cap, dry_run=True)
    run = NaiveRun(counter.since(mark), time.monotonic() - started, idle)
    if len(run.calls) != naive_calls(size, len(idle), cap):  # the formula used where it is not run
        raise RuntimeError(f"the naive reaper made {len(run.calls)} calls, naive_calls() says otherwise")
    return run


# -- running the scans ---------------------------------------------------------------------------------
def _scan(
    stack: LocalRuntime,
    counter: AppCalls,
    dry_run: bool,
    paced: AccountedTime | None = None,
    fleet: dict[float, list[str]] | None = None,
) -> tuple[dict[str, Any], list[Call], float]:
    """One scan: its result, its calls and its wall time (with the pacer's accounted waits in `paced`)."""
    _keep_publishing(stack, fleet or {})
    stack.functions[FUNCTION].environment["REAPER_DRY_RUN"] = "true" if dry_run else "false"
    mark, waited = counter.mark(), paced.waited if paced else 0.0
    started = time.monotonic()
    result = stack.invoke(FUNCTION, stack.schedule_tick(FUNCTION))
    result["_paced_seconds"] = (paced.waited if paced else 0.0) - waited
    return result, counter.since(mark), time.monotonic() - started


def _split(calls: list[Call]) -> tuple[list[Call], list[Call]]:
    scan = [c for c in calls if c.service in SCAN_SERVICES]
    return scan, [c for c in calls if c.service not in SCAN_SERVICES]


def _decisions(result: dict[str, Any]) -> dict[str, str]:
    return {row["cluster_id"]: row["code"] for row in result["clusters"]}


def measure(sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    figures: list[Figure] = []
    # Wall speed for the whole figure: at x600 a 20 s scan would be 200 virtual minutes, and the IsIdle
    # data written before it would no longer cover the threshold by the time the next scan looks.
    with LocalRuntime() as stack, stack.clock.real_time(), accounted_pacing() as paced:
        env = stack.functions[FUNCTION].environment
        threshold = timedelta(minutes=int(env["REAPER_IDLE_THRESHOLD_MINUTES"]))
        grace = timedelta(minutes=int(env["REAPER_GRACE_MINUTES"]))
        cap = int(env["REAPER_MAX_TERMINATIONS_PER_RUN"])
        waiting = 0
        fleet: dict[float, list[str]] = {1.0: []}
        with AppCalls(only_thread=threading.get_ident()) as counter:
            for position, size in enumerate(sizes):
                started = time.monotonic()
                added = add_idle_clusters(stack, size - waiting, waiting + 1_000_000 * position)
                fleet[1.0] += added
                waiting += len(added)
                say(f"    N={size}: {size} WAITING clusters ready ({time.monotonic() - started:.1f}s to create)")
                if position == 0:  # the index must not change a decision
                    unindexed, _, _ = _scan(stack, counter, dry_run=True, paced=paced, fleet=fleet)
                with indexed_cloudwatch():
                    dry, dry_calls, dry_seconds = _scan(stack, counter, dry_run=True, paced=paced, fleet=fleet)
                    if position == 0 and _decisions(unindexed) != _decisions(dry):
                        raise RuntimeError("the CloudWatch index changed the reaper's decisions")
                    naive = _run_naive(stack, counter, size, cap, threshold, grace) if size <= NAIVE_RUN_UP_TO else None
                    scans = [("dry run", dry, dry_calls, dry_seconds)]
                    live, live_calls, live_seconds = _scan(stack, counter, dry_run=False, paced=paced, fleet=fleet)
                    waiting -= len(live["terminated"])
                    scans.append(("live", live, live_calls, live_seconds))
                figures += _figures(size, scans)
                figures += _naive_figures(size, cap, dry_calls, naive, dry)
                naive_said = f"naive {len(naive.calls)} in {naive.seconds:.1f}s" if naive else "naive computed"
                say(f"    N={size}: {_said(scans)}, {naive_said}")
    return figures + measure_mix()


def measure_mix(sizes: tuple[int, ...] = MIX_SIZES) -> list[Figure]:
    """Each size in a fresh runtime: N x 10% idle clusters and the rest busy by IsIdle; a dry run, then live."""
    figures: list[Figure] = []
    for size in sizes:
        idle = size * IDLE_SHARE // 100
        with LocalRuntime() as stack, stack.clock.real_time(), accounted_pacing() as paced:
            started = time.monotonic()
            fleet = {1.0: add_idle_clusters(stack, idle, 0), 0.0: add_idle_clusters(stack, size - idle, idle, 0.0)}
            idle_ids = set(fleet[1.0])
            cap = int(stack.functions[FUNCTION].environment["REAPER_MAX_TERMINATIONS_PER_RUN"])
            took = time.monotonic() - started
            say(f"    mix N={size}: {idle} idle + {size - idle} busy clusters ready ({took:.1f}s to create)")
            with AppCalls(only_thread=threading.get_ident()) as counter, indexed_cloudwatch():
                scans = []
                for mode, dry_run in (("dry run", True), ("live", False)):
                    result, calls, seconds = _scan(stack, counter, dry_run=dry_run, paced=paced, fleet=fleet)
                    _check_mix(result, idle_ids, size)
                    scans.append((mode, result, calls, seconds))
        figures += _mix_figures(size, idle, cap, scans)
        say(f"    mix N={size}: {_said(scans)}")
    return figures


def _said(scans: list[tuple[str, dict[str, Any], list[Call], float]]) -> str:
    return ", ".join(
        f"{mode} {len(_split(calls)[0])} scan calls in {seconds:.1f}s (+{result['_paced_seconds']:.0f}s paced)"
        for mode, result, calls, seconds in scans
    )


def _check_mix(result: dict[str, Any], idle_ids: set[str], size: int) -> None:
    """The scan must decide what the fleet is: every busy cluster busy, every idle one acted on or capped."""
    codes = _decisions(result)
    busy = {c for c, code in codes.items() if code == "busy"}
    if len(codes) != size or busy & idle_ids or len(busy) != size - len(idle_ids):
        raise RuntimeError(f"the mix was misjudged: {len(codes)} decisions, {len(busy)} busy")
    if {codes[c] for c in idle_ids} - {"idle", "cap-reached"}:
        raise RuntimeError("an idle cluster of the mix was not found idle")


def _mix_figures(
    size: int, idle: int, cap: int, scans: list[tuple[str, dict[str, Any], list[Call], float]]
) -> list[Figure]:
    figures = []
    naive = naive_calls(size, idle, cap)  # computed, not run here
    for mode, result, calls, seconds in scans:
        scan, other = _split(calls)
        limit = mix_budget(size, idle)
        key = "dry" if mode == "dry run" else "live"
        paced = result["_paced_seconds"]
        operations = by_operation(scan)
        figures += [
            Figure(
                id=f"reaper.mix.N{size}.{key}.scan_calls",
                section=MIX_SECTION,
                name=f"N={size:,}, {mode}: EMR + CloudWatch calls (budget ceil(N/50)+ceil(N/500)+2 x idle+5)",
                value=len(scan),
                unit="",
                budget=limit,
                note=f"{idle} idle; {result['summary']}; naive reaper (computed): {naive:,} calls, "
                f"ratio {len(scan) / naive:.3f}",
                detail={
                    "idle": idle,
                    "budget": limit,
                    "by_operation": operations,
                    "other_calls": by_operation(other),
                    "total_calls": len(calls),
                    "summary": result["summary"],
                    "naive_calls_computed": naive,
                },
            ),
            Figure(
                id=f"reaper.mix.N{size}.{key}.wall_plus_paced_seconds",
                section=MIX_SECTION,
                name=f"N={size:,}, {mode}: wall time + the pacer's waits at EMR's default quotas "
                f"(budget: well inside the {TIMEOUT} s timeout, at most half)",
                value=round(seconds + paced, 1),
                unit="s",
                budget=WELL_INSIDE,
                note=f"wall {seconds:.1f} s in the emulator (moto on 127.0.0.1, not AWS latencies) + "
                f"{paced:.0f} s paced (accounted, not slept)",
                detail={"wall_seconds": round(seconds, 1), "paced_seconds": round(paced, 1)},
            ),
        ]
    return figures


def _figures(size: int, scans: list[tuple[str, dict[str, Any], list[Call], float]]) -> list[Figure]:
    figures = []
    for mode, result, calls, seconds in scans:
        scan, other = _split(calls)
        candidates = sum(1 for row in result["clusters"] if row["code"] != "grace")
        limit = budget(size, candidates)
        key = "dry" if mode == "dry run" else "live"
        figures.append(
            Figure(
                id=f"reaper.N{size}.{key}.scan_calls",
                section=SECTION,
                name=f"N={size:,}, {mode}: EMR + CloudWatch calls (budget ceil(N/50)+ceil(N/500)+3c+5)",
                value=len(scan),
                unit="",
                budget=limit,
                note=f"{candidates} candidates; {result['summary']}",
                detail={
                    "candidates": candidates,
                    "budget": limit,
                    "by_operation": by_operation(scan),
                    "other_calls": by_operation(other),
                    "total_calls": len(calls),
                    "summary": result["summary"],
                },
            )
        )
        figures.append(
            Figure(
                id=f"reaper.N{size}.{key}.total_calls",
                section=SECTION,
                name=f"N={size:,}, {mode}: all calls (+ ledger PutItem per decision, SNS)",
                value=len(calls),
                unit="",
                note="informational: the run ledger records one decision per cluster",
                detail={"by_operation": by_operation(calls)},
            )
        )
        figures.append(
            Figure(
                id=f"reaper.N{size}.{key}.wall_seconds",
                section=SECTION,
                name=f"N={size:,}, {mode}: wall time (in the emulator; budget: the function's 900 s timeout)",
                value=round(seconds, 1),
                unit="s",
                budget=900,
                note="moto in this process on 127.0.0.1, not AWS latencies",
            )
        )
        paced = result["_paced_seconds"]
        figures.append(
            Figure(
                id=f"reaper.N{size}.{key}.wall_plus_paced_seconds",
                section=SECTION,
                name=f"N={size:,}, {mode}: wall time + the pacer's waits at EMR's default quotas "
                f"(budget: well inside the {TIMEOUT} s timeout, at most half)",
                value=round(seconds + paced, 1),
                unit="s",
                budget=WELL_INSIDE,
                note=f"wall {seconds:.1f} s in the emulator + {paced:.0f} s paced (accounted, not slept); only the "
                "clusters needed to fill the cap are described, so the waits are mostly the ListClusters pages'",
                detail={"wall_seconds": round(seconds, 1), "paced_seconds": round(paced, 1)},
            )
        )
    return figures


def _naive_figures(
    size: int, cap: int, dry_calls: list[Call], naive: NaiveRun | None, dry: dict[str, Any]
) -> list[Figure]:
    scan, _ = _split(dry_calls)
    count = len(naive.calls) if naive else naive_calls(size, size, cap)
    how = "run" if naive else "computed by naive_calls(), checked equal to the runs at smaller N; not run"
    detail: dict[str, Any] = {"naive_calls": count, "naive_run": naive is not None}
    if naive:
        detail |= {
            "naive_by_operation": by_operation(naive.calls),
            "naive_seconds": round(naive.seconds, 1),
            "naive_found_idle": len(naive.idle),
            "reaper_would_terminate_within_naive_idle": set(dry["would_terminate"]) <= set(naive.idle),
        }
    return [
        Figure(
            id=f"reaper.N{size}.naive.ratio",
            section=SECTION,
            name=f"N={size:,}: reaper / naive reaper, scan calls ({len(scan):,} / {count:,}"
            + ("" if naive else ", computed")
            + ")",
            value=round(len(scan) / count, 3),
            unit="x",
            note=f"naive: one DescribeCluster, ListSteps and GetMetricStatistics per cluster ({how}); informational",
            detail=detail,
        )
    ]
