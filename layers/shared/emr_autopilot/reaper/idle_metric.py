"""CloudWatch's IsIdle as proof: every 5-minute period covering the threshold must say idle."""

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from emr_autopilot.reaper.config import METRIC_PERIOD
from emr_autopilot.reaper.report import IDLE, METRIC_INCOMPLETE, METRIC_NOT_IDLE, NO_METRIC

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

METRIC_NAMESPACE = "AWS/ElasticMapReduce"
QUERIES_PER_CALL = 500  # GetMetricData's limit

Points = list[tuple[datetime, float]]
_T = TypeVar("_T")


def is_idle_points(
    cloudwatch: "CloudWatchClient", cluster_ids: list[str], start: datetime, end: datetime
) -> dict[str, Points]:
    """IsIdle's 5-minute minimums per cluster: one query per cluster in one GetMetricData call (and its pages)."""
    queries: list[Any] = [
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
    points: dict[str, Points] = {cluster_id: [] for cluster_id in cluster_ids}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        response = cloudwatch.get_metric_data(**request)
        for result in response["MetricDataResults"]:
            cluster_id = cluster_ids[int(result["Id"][1:])]
            points[cluster_id] += [
                (utc(t), float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=True)
            ]
        if not response.get("NextToken"):
            return points
        request["NextToken"] = response["NextToken"]


def judge_is_idle(points: Points, now: datetime, threshold: timedelta) -> tuple[bool, str, str]:
    """Idle is proven when every datapoint since the period covering now - threshold is 1, and the
    complete periods are all there except possibly the latest (CloudWatch publishes with a delay)."""
    window_start = floor_period(now - threshold)
    complete_end = floor_period(now)
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


def may_prove_idle(points: Points, now: datetime, read_from: datetime) -> tuple[bool, str, str]:
    """Whether these datapoints (read since `read_from`) could prove idle for SOME threshold, whatever a
    cluster's tags say; else why not. judge_is_idle fails for every threshold when it fails for the shortest
    window holding the newest complete period: a longer window only adds periods, so it keeps any 0 and any
    gap, and a shorter one holds no complete period at all."""
    complete_end = floor_period(now)
    complete = [t for t, _ in points if t < complete_end]
    if not complete:
        periods = int((complete_end - read_from).total_seconds() // METRIC_PERIOD)
        if periods >= 2:  # a longer threshold would also miss these periods: two or more missing is no proof
            return False, NO_METRIC, f"no IsIdle data in the last {periods * METRIC_PERIOD // 60} min"
        return True, IDLE, "too few periods read to tell"
    return judge_is_idle(points, now, now - max(complete))


def idle_since(points: Points, ready: datetime) -> datetime:
    """The latest of ReadyDateTime and the end of the last period with IsIdle 0 in these datapoints."""
    busy = [t for t, v in points if v < 1]
    return max([ready, *(t + timedelta(seconds=METRIC_PERIOD) for t in busy)])


def floor_period(value: datetime) -> datetime:
    """Start of the 5-minute period holding `value` (CloudWatch aligns periods this way)."""
    seconds = math.floor(value.timestamp() / METRIC_PERIOD) * METRIC_PERIOD
    return datetime.fromtimestamp(seconds, UTC)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
