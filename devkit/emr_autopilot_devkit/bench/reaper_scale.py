"""Figure 5, idle reaper at scale: API calls and wall time of one scan over N active (WAITING) clusters.

The clusters are created directly in moto's EMR backend in this process (about 1 ms each), ready and
idle for longer than the threshold, with IsIdle=1 published for every 5-minute period of it, so every
one of them is a candidate. The real IdleReaperFunction handler runs (stack.invoke) with the
template's environment: threshold 60 min, grace 30 min, cap 5, dry run (ReaperDryRun's default); then a
second scan runs live (ReaperDryRun=false), which adds the cap's TerminateJobFlows calls.

Budget (scan calls, i.e. EMR and CloudWatch): ceil(N/50) + ceil(N/500) + 3 x candidates + 5. The
run ledger's PutItem per decision and the SNS summary are reported in the total, without a budget.

The naive reaper (below, benchmark only) decides the same way with one DescribeCluster, one ListSteps
and one GetMetricStatistics per cluster; the ratio is reaper scan calls / naive scan calls.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from emr_autopilot_devkit.bench.calls import AppCalls, Call, by_operation
from emr_autopilot_devkit.bench.common import say
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local import emr_simulator
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REGION, LocalRuntime

SECTION = "5. Idle reaper at scale (one scan; N WAITING clusters, all idle)"
SIZES = (100, 1000, 5000)
FUNCTION = "IdleReaperFunction"
SCAN_SERVICES = ("emr", "monitoring", "cloudwatch")
IDLE_FOR = timedelta(minutes=100)  # > threshold (60 min) and grace (30 min)
PERIOD = 300


def budget(clusters: int, candidates: int) -> int:
    return math.ceil(clusters / 50) + math.ceil(clusters / 500) + 3 * candidates + 5


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


def add_idle_clusters(stack: LocalRuntime, count: int, start: int) -> list[str]:
    """`count` WAITING clusters, ready IDLE_FOR ago, with IsIdle=1 for every complete period since."""
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
                name=f"bench-idle-{number:05d}",
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
    first = datetime.fromtimestamp(math.ceil(ready.timestamp() / PERIOD) * PERIOD, UTC)
    periods = []
    at = first
    while at + timedelta(seconds=PERIOD) <= now:
        periods.append(at)
        at += timedelta(seconds=PERIOD)
    data = [
        {"MetricName": "IsIdle", "Dimensions": [{"Name": "JobFlowId", "Value": c}], "Timestamp": t, "Value": 1.0}
        for c in created
        for t in periods
    ]
    cloudwatch = stack.client("cloudwatch")  # through the API, as EMR (and the simulator) publish it
    for offset in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=data[offset : offset + 1000])
    return created


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


# -- running the scans ---------------------------------------------------------------------------------
def _scan(stack: LocalRuntime, counter: AppCalls, dry_run: bool) -> tuple[dict[str, Any], list[Call], float]:
    stack.functions[FUNCTION].environment["REAPER_DRY_RUN"] = "true" if dry_run else "false"
    mark = counter.mark()
    started = time.monotonic()
    result = stack.invoke(FUNCTION, stack.schedule_tick(FUNCTION))
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
    with LocalRuntime() as stack, stack.clock.real_time():
        env = stack.functions[FUNCTION].environment
        threshold = timedelta(minutes=int(env["REAPER_IDLE_THRESHOLD_MINUTES"]))
        grace = timedelta(minutes=int(env["REAPER_GRACE_MINUTES"]))
        cap = int(env["REAPER_MAX_TERMINATIONS_PER_RUN"])
        waiting = 0
        with AppCalls(only_thread=threading.get_ident()) as counter:
            for position, size in enumerate(sizes):
                started = time.monotonic()
                waiting += len(add_idle_clusters(stack, size - waiting, waiting + 1_000_000 * position))
                say(f"    N={size}: {size} WAITING clusters ready ({time.monotonic() - started:.1f}s to create)")
                if position == 0:  # the index must not change a decision
                    unindexed, _, _ = _scan(stack, counter, dry_run=True)
                with indexed_cloudwatch():
                    dry, dry_calls, dry_seconds = _scan(stack, counter, dry_run=True)
                    if position == 0 and _decisions(unindexed) != _decisions(dry):
                        raise RuntimeError("the CloudWatch index changed the reaper's decisions")
                    mark = counter.mark()
                    naive_started = time.monotonic()
                    naive_idle = naive_scan(stack.clock.now(), threshold, grace, cap, dry_run=True)
                    naive_seconds = time.monotonic() - naive_started
                    naive_calls = counter.since(mark)
                    scans = [("dry run", dry, dry_calls, dry_seconds)]
                    live, live_calls, live_seconds = _scan(stack, counter, dry_run=False)
                    waiting -= len(live["terminated"])
                    scans.append(("live", live, live_calls, live_seconds))
                figures += _figures(size, scans)
                figures += _naive_figures(size, dry_calls, naive_calls, naive_seconds, naive_idle, dry)
                say(
                    f"    N={size}: dry run {len(_split(dry_calls)[0])} scan calls in {dry_seconds:.1f}s"
                    + "".join(f", {mode} {len(_split(calls)[0])}" for mode, _, calls, _ in scans[1:])
                    + f", naive {len(naive_calls)} in {naive_seconds:.1f}s"
                )
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
    return figures


def _naive_figures(
    size: int,
    dry_calls: list[Call],
    naive_calls: list[Call],
    naive_seconds: float,
    naive_idle: list[str],
    dry: dict[str, Any],
) -> list[Figure]:
    scan, _ = _split(dry_calls)
    would = set(dry["would_terminate"])
    return [
        Figure(
            id=f"reaper.N{size}.naive.ratio",
            section=SECTION,
            name=f"N={size:,}: reaper / naive reaper, scan calls ({len(scan):,} / {len(naive_calls):,})",
            value=round(len(scan) / len(naive_calls), 3),
            unit="x",
            note="naive: one DescribeCluster, ListSteps and GetMetricStatistics per cluster; informational",
            detail={
                "naive_calls": len(naive_calls),
                "naive_by_operation": by_operation(naive_calls),
                "naive_seconds": round(naive_seconds, 1),
                "naive_found_idle": len(naive_idle),
                "reaper_would_terminate_within_naive_idle": would <= set(naive_idle),
            },
        )
    ]
