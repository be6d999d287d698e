"""CloudWatch's AWS/ElasticMapReduce IsIdle metric for the simulated clusters, which the idle reaper reads.

EMR publishes IsIdle by itself every 5 minutes (emr-metricscollected, "IsIdle"); the local runtime writes
it when asked (the demo, tests, `local up`), for each complete 5-minute virtual period since a cluster was
ready that has not been written yet."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from emr_autopilot.emr import READY, STEP_ACTIVE

PERIOD = 300  # IsIdle is a 5-minute metric
PUT_LIMIT = 1000  # PutMetricData takes up to 1,000 datapoints


class SimulatedCluster(Protocol):
    cluster: Any  # moto's Cluster
    idle_since: float | None
    idle_metrics_until: float


def datapoints(clusters: Iterable[SimulatedCluster], now: float) -> list[Any]:
    """IsIdle per cluster and unwritten period: 1 if the cluster has been WAITING with no step pending or
    running since before the period began, else 0. Marks the periods as written."""
    end = now // PERIOD * PERIOD
    data: list[Any] = []  # MetricDatum dicts
    for sim in clusters:
        cluster = sim.cluster
        if cluster.ready_datetime is None or cluster.state not in READY:
            continue
        start = max(-(-cluster.ready_datetime.timestamp() // PERIOD) * PERIOD, sim.idle_metrics_until)
        active = any(step.state in STEP_ACTIVE for step in cluster.steps)
        idle_since = sim.idle_since if cluster.state == "WAITING" and not active else None
        at = start
        while at + PERIOD <= end:
            data.append(
                {
                    "MetricName": "IsIdle",
                    "Dimensions": [{"Name": "JobFlowId", "Value": cluster.id}],
                    "Timestamp": datetime.fromtimestamp(at, tz=cluster.ready_datetime.tzinfo),
                    # Periods not written in time are judged by the state now: 0 unless provably idle.
                    "Value": 1.0 if idle_since is not None and at >= idle_since else 0.0,
                }
            )
            at += PERIOD
        sim.idle_metrics_until = max(start, at)
    return data


def put(cloudwatch: Any, data: list[Any]) -> int:
    """Write the datapoints; returns how many."""
    for first in range(0, len(data), PUT_LIMIT):
        cloudwatch.put_metric_data(Namespace="AWS/ElasticMapReduce", MetricData=data[first : first + PUT_LIMIT])
    return len(data)
