"""The run ledger: every cluster, step and state change, in one DynamoDB table.

Keys (single-table design):
- ``pk=CLUSTER#<id>, sk=META``            the cluster: name, job, run id, state, reason, times
- ``pk=CLUSTER#<id>, sk=STEP#<step id>``  a step: name, state, failure, times; simulated=true when
  the job marked it simulate: true (it was not run)
- ``pk=CLUSTER#<id>, sk=EVENT#<time>#<id>`` a timeline entry (expires after the TTL)
- ``pk=CLUSTER#<id>, sk=DECISION#<time>#<kind>`` a decision about the cluster (e.g. the reaper's)
- ``gsi1pk=RUNS, gsi1sk=<created time>#<cluster id>`` on META items: runs by time, newest first

States only move forward: an event that arrives late (RUNNING after TERMINATED) is kept in the
timeline but never overwrites a terminal state.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from emr_autopilot import aws, emr

RUNS_INDEX = "gsi1"
TIMELINE_TTL_DAYS = 90


def _table(name: str) -> Any:
    return aws.resource("dynamodb").Table(name)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes no floats and no empty strings in key attributes; drop None values."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if value is None:
            continue
        out[key] = Decimal(str(value)) if isinstance(value, float) else value
    return out


class ClusterChange(NamedTuple):
    cluster_id: str
    state: str
    at: datetime
    event_id: str
    name: str | None = None
    job: str | None = None
    run_id: str | None = None
    reason_code: str | None = None
    reason_message: str | None = None


def _forward_update(
    table_name: str,
    key: dict[str, str],
    state: str,
    rank: int,
    at: datetime,
    fields: dict[str, str | None],
    extra: dict[str, tuple[str, Any]],
) -> dict[str, Any] | None:
    """Set state (only if it moves forward), the non-empty `fields`, and `extra` ({name: (expression
    using :name, value)}); returns the new item, or None when the ledger already holds a later state."""
    table = _table(table_name)
    values: dict[str, Any] = {":state": state, ":rank": rank, ":at": _iso(at)}
    sets = ["#state = :state", "state_rank = :rank", "updated_at = :at"]
    for field, value in fields.items():
        if value:
            values[f":{field}"] = value
            sets.append(f"{field} = :{field}")
    for name, (expression, value) in extra.items():
        values[f":{name}"] = value
        sets.append(expression)
    try:
        response = table.update_item(
            ReturnValues="ALL_NEW",
            Key=key,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(state_rank) OR state_rank <= :rank",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
        )
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return None
    return dict(response["Attributes"])


def record_cluster_change(table_name: str, change: ClusterChange) -> dict[str, Any] | None:
    """Upsert the cluster; returns the item, or None when the state was older than the ledger's."""
    rank = emr.CLUSTER_LIFECYCLE.get(change.state, 0)
    at = _iso(change.at)
    extra: dict[str, tuple[str, Any]] = {
        "runs": ("gsi1pk = :runs", "RUNS"),
        # created_at / gsi1sk only on first sight, so the run keeps its place in the list.
        "created": ("created_at = if_not_exists(created_at, :created)", at),
        "gsi1sk": ("gsi1sk = if_not_exists(gsi1sk, :gsi1sk)", f"{at}#{change.cluster_id}"),
    }
    if rank >= emr.CLUSTER_LIFECYCLE["TERMINATED"]:
        extra["ended"] = ("ended_at = :ended", at)
    fields = {
        "cluster_name": change.name,
        "job": change.job,
        "run_id": change.run_id,
        "reason_code": change.reason_code,
        "reason_message": change.reason_message,
    }
    key = {"pk": f"CLUSTER#{change.cluster_id}", "sk": "META"}
    return _forward_update(table_name, key, change.state, rank, change.at, fields, extra)


class StepChange(NamedTuple):
    cluster_id: str
    step_id: str
    state: str
    at: datetime
    name: str | None = None
    action_on_failure: str | None = None
    failure_reason: str | None = None
    failure_message: str | None = None
    log_file: str | None = None
    simulated: bool = False  # a step the job marked simulate: true (emr_autopilot.simulation): not run


def record_step_change(table_name: str, change: StepChange) -> dict[str, Any] | None:
    """Upsert the step; returns the item, or None when the state was older than the ledger's."""
    rank = emr.STEP_LIFECYCLE.get(change.state, 0)
    extra: dict[str, tuple[str, Any]] = {}
    if change.state == "RUNNING":
        extra["started"] = ("started_at = if_not_exists(started_at, :started)", _iso(change.at))
    if rank >= emr.STEP_LIFECYCLE["COMPLETED"]:
        extra["ended"] = ("ended_at = :ended", _iso(change.at))
    if change.simulated:
        extra["simulated"] = ("simulated = :simulated", True)
    fields = {
        "step_name": change.name,
        "action_on_failure": change.action_on_failure,
        "failure_reason": change.failure_reason,
        "failure_message": change.failure_message,
        "log_file": change.log_file,
    }
    key = {"pk": f"CLUSTER#{change.cluster_id}", "sk": f"STEP#{change.step_id}"}
    return _forward_update(table_name, key, change.state, rank, change.at, fields, extra)


def record_event(
    table_name: str, cluster_id: str, at: datetime, event_id: str, detail_type: str, summary: dict[str, Any]
) -> None:
    """A timeline entry; the same event id always lands on the same key, so a re-delivery is a no-op."""
    expires = int(time.time() + timedelta(days=TIMELINE_TTL_DAYS).total_seconds())
    _table(table_name).put_item(
        Item=_clean(
            {
                "pk": f"CLUSTER#{cluster_id}",
                "sk": f"EVENT#{_iso(at)}#{event_id}",
                "detail_type": detail_type,
                "event_id": event_id,
                "at": _iso(at),
                "expires_at": expires,
                **summary,
            }
        )
    )


def record_decision(table_name: str, cluster_id: str, kind: str, detail: dict[str, Any], at: datetime) -> None:
    """A decision about a cluster (the idle reaper's, for one), shown in its timeline."""
    expires = int(time.time() + timedelta(days=TIMELINE_TTL_DAYS).total_seconds())
    _table(table_name).put_item(
        Item=_clean(
            {
                "pk": f"CLUSTER#{cluster_id}",
                "sk": f"DECISION#{_iso(at)}#{kind}",
                "kind": kind,
                "at": _iso(at),
                "expires_at": expires,
                **detail,
            }
        )
    )


def get_cluster(table_name: str, cluster_id: str) -> dict[str, Any] | None:
    item = _table(table_name).get_item(Key={"pk": f"CLUSTER#{cluster_id}", "sk": "META"}).get("Item")
    return dict(item) if item else None


def cluster_items(table_name: str, cluster_id: str) -> list[dict[str, Any]]:
    """Everything about one cluster: META, steps, timeline and decisions."""
    table = _table(table_name)
    items: list[dict[str, Any]] = []
    # Expression strings, not boto3.dynamodb.conditions: no function queries, so none imports it.
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": f"CLUSTER#{cluster_id}"},
    }
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def list_runs(table_name: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Clusters, newest first."""
    table = _table(table_name)
    condition, values = "gsi1pk = :runs", {":runs": "RUNS"}
    if since is not None:
        condition, values[":since"] = condition + " AND gsi1sk >= :since", _iso(since)
    kwargs: dict[str, Any] = {
        "IndexName": RUNS_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    while True:
        page = table.query(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def find_by_run_id(table_name: str, run_id: str) -> list[dict[str, Any]]:
    return [item for item in list_runs(table_name) if item.get("run_id") == run_id]
