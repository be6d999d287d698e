"""The run ledger: every cluster, step and state change, in one DynamoDB table.

Keys (single-table design):
- ``pk=CLUSTER#<id>, sk=META``            the cluster: name, job, run id, state, reason, times
- ``pk=CLUSTER#<id>, sk=STEP#<step id>``  a step: name, state, failure, times; simulated=true when
  the job marked it simulate: true (it was not run)
- ``pk=CLUSTER#<id>, sk=EVENT#<time>#<id>`` a timeline entry (expires after the TTL)
- ``pk=CLUSTER#<id>, sk=DECISION#<time>#<kind>`` a decision about the cluster (e.g. the reaper's)
- ``pk=STEPTOKEN#<cluster id>#<step id>, sk=TOKEN`` the task token a `step_completion: events` run waits on
  (expires after 8 days)
- ``gsi1pk=RUNS, gsi1sk=<created time>#<cluster id>`` on META items: runs by time, newest first
- ``cost_usd`` (absent when unknown), ``cost_label``, ``cost_detail`` on a finished run's META (and a serverless
  job run's JOBRUN item): its cost ESTIMATE (emr_autopilot.run_costs; record_cost)

States only move forward: an event that arrives late (RUNNING after TERMINATED) is kept in the
timeline but never overwrites a terminal state.

EMR Serverless runs (``pk=RUN#<run id>``: META, ``JOBRUN#<job run id>``, ``EVENT#``) and applications
(``pk=APPLICATION#<id>``): see "EMR Serverless runs" below; EMR on EKS runs are laid out alike ("EMR on EKS runs").
"""

import time
from collections.abc import Iterator, Mapping
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
    # When the step started, for an end learnt from DescribeStep: its RUNNING event may come later, and is then
    # older than the ledger's state and not applied (step_completion.record_end).
    started_at: datetime | None = None


def record_step_change(table_name: str, change: StepChange) -> dict[str, Any] | None:
    """Upsert the step; returns the item, or None when the state was older than the ledger's."""
    rank = emr.STEP_LIFECYCLE.get(change.state, 0)
    extra: dict[str, tuple[str, Any]] = {}
    started = change.at if change.state == "RUNNING" else change.started_at
    if started is not None:
        extra["started"] = ("started_at = if_not_exists(started_at, :started)", _iso(started))
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


def record_step_token(table_name: str, cluster_id: str, step_id: str, token: str, expires_at: int) -> None:
    """The task token a `step_completion: events` run waits on for this step (emr_autopilot.step_completion).
    Its own partition, so a cluster's items (cluster_items) never carry it; a newer token replaces the older."""
    _table(table_name).put_item(
        Item={"pk": f"STEPTOKEN#{cluster_id}#{step_id}", "sk": "TOKEN", "token": token, "expires_at": expires_at}
    )


def step_token(table_name: str, cluster_id: str, step_id: str) -> str | None:
    key = {"pk": f"STEPTOKEN#{cluster_id}#{step_id}", "sk": "TOKEN"}
    # Strongly consistent: the register function's write must be seen by an event handled right after it.
    item = _table(table_name).get_item(Key=key, ConsistentRead=True).get("Item")
    return str(item["token"]) if item else None


def record_cost(table_name: str, pk: str, fields: Mapping[str, Any], sk: str = "META") -> None:
    """Set a run's cost fields (run_costs.cost_fields) on an item that exists; cost_usd None removes it."""
    table = _table(table_name)
    values = {f":{name}": value for name, value in fields.items() if value is not None}
    sets = [f"{name} = :{name}" for name in fields if fields[name] is not None]
    removes = [name for name in fields if fields[name] is None]
    expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        table.update_item(
            Key={"pk": pk, "sk": sk},
            UpdateExpression=expression.strip(),
            ConditionExpression="attribute_exists(pk)",  # never create a bare item holding only a cost
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return


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


# -- EMR Serverless runs ----------------------------------------------------------------------------------
# A serverless run is one ledger run, listed by list_runs beside the clusters:
# - ``pk=RUN#<run id>, sk=META``  compute=emr-serverless, application_id, job, run_id, execution_arn, state
#   (RUNNING while any of its job runs has not ended, else FAILED if one failed, else CANCELLED if one was
#   cancelled, else SUCCESS), created_at, updated_at, ended_at, version, gsi1pk=RUNS,
#   gsi1sk=<created time>#<run id>, and cost_usd / cost_label / cost_detail: the sum of its job runs' costs
#   (run_costs.serverless_run_total), set once a job run ended
# - ``pk=RUN#<run id>, sk=JOBRUN#<job run id>``  a job run, with the names STEP items use where they mean the
#   same (step_name = the job run's name, state, started_at, ended_at, failure_reason = stateDetails, log_file =
#   the driver's stderr), plus application_id, job_run_id, attempt, duration_seconds, total_resource_utilization
#   and billed_resource_utilization ({vCPUHour, memoryGBHour, storageGBHour}), utilization_final; once it ended
#   with billedResourceUtilization, architecture (the application's) and cost_usd / cost_label / cost_detail
# - ``pk=RUN#<run id>, sk=EVENT#<time>#<id>``  a timeline entry, as for clusters
# - ``pk=APPLICATION#<id>, sk=EVENT#<time>#<id>``  an application's state changes
# - ``pk=APPLICATION#<id>, sk=JOBRUN#<job run id>``  a job run without the emr-autopilot:run-id tag (not the
#   tool's, or one EMR Serverless no longer knows): recorded with its application, never in the runs list
# The run id and job come from the job run's tags (GetJobRun); the events do not carry them.
# A JOBRUN item's state only moves forward (its rank grows with the attempt: emr_serverless.job_run_rank). The
# run's META state is derived from its JOBRUN items, not ranked: a run whose first step succeeded goes back to
# RUNNING when its next step's job run is submitted (until then it reads SUCCESS: the ledger cannot know how
# many steps are still to come; the state machine's execution is what says the run ended).
SERVERLESS_COMPUTE = "emr-serverless"
EKS_COMPUTE = "emr-eks"  # EMR on EKS runs: see "EMR on EKS runs" below
_META_ATTEMPTS = 8


def serverless_partition(application_id: str, run_id: str | None) -> str:
    """The partition a job run's items go to: its run's, or its application's when it has no run id tag."""
    return f"RUN#{run_id}" if run_id else f"APPLICATION#{application_id}"


class JobRunChange(NamedTuple):
    application_id: str
    job_run_id: str
    state: str
    at: datetime
    attempt: int = 1
    name: str | None = None
    run_id: str | None = None
    failure_reason: str | None = None  # GetJobRun stateDetails
    log_file: str | None = None  # s3:// URI of the driver's stderr
    duration_seconds: int | None = None  # GetJobRun totalExecutionDurationSeconds
    total: dict[str, float] | None = None  # GetJobRun totalResourceUtilization
    billed: dict[str, float] | None = None  # GetJobRun billedResourceUtilization
    architecture: str | None = None  # the application's, as the cost was priced
    cost: Mapping[str, Any] | None = None  # run_costs.cost_fields of the ended job run


def _job_run_extra(
    state: str, at: datetime, ended: frozenset[str], duration_seconds: int | None, cost: Mapping[str, Any] | None
) -> dict[str, tuple[str, Any]]:
    """A JOBRUN item's start and end times, duration and cost, as a job run change (either target's) sets them."""
    extra: dict[str, tuple[str, Any]] = {}
    if state == "RUNNING":
        extra["started"] = ("started_at = if_not_exists(started_at, :started)", _iso(at))
    if state in ended:
        extra["ended"] = ("ended_at = :ended", _iso(at))
    if duration_seconds is not None:
        extra["duration"] = ("duration_seconds = :duration", duration_seconds)
    for name, value in (cost or {}).items():
        if value is not None:
            extra[name] = (f"{name} = :{name}", value)
    return extra


def _utilization(value: dict[str, float]) -> dict[str, Decimal]:
    return {key: Decimal(str(amount)) for key, amount in value.items()}


def record_job_run_change(table_name: str, change: JobRunChange) -> dict[str, Any] | None:
    """Upsert the job run; returns the item, or None when the ledger already holds a later state or attempt."""
    from emr_autopilot import emr_serverless  # only the serverless reactions need it

    rank = emr_serverless.job_run_rank(change.state, change.attempt)
    extra = {
        "attempt": ("attempt = :attempt", change.attempt),
        **_job_run_extra(change.state, change.at, emr_serverless.JOB_RUN_ENDED, change.duration_seconds, change.cost),
    }
    if change.total is not None:
        extra["total"] = ("total_resource_utilization = :total", _utilization(change.total))
    if change.billed is not None:
        extra["billed"] = ("billed_resource_utilization = :billed", _utilization(change.billed))
    fields = {
        "application_id": change.application_id,
        "job_run_id": change.job_run_id,
        "step_name": change.name,
        "failure_reason": change.failure_reason,
        "log_file": change.log_file,
        "architecture": change.architecture,
    }
    key = {"pk": serverless_partition(change.application_id, change.run_id), "sk": f"JOBRUN#{change.job_run_id}"}
    return _forward_update(table_name, key, change.state, rank, change.at, fields, extra)


class UtilizationUpdate(NamedTuple):
    application_id: str
    job_run_id: str
    run_id: str | None
    attempt: int
    at: datetime  # calculatedTo, else the event's time
    total: dict[str, float]
    billed: dict[str, float]
    final: bool


def record_job_run_utilization(table_name: str, update: UtilizationUpdate) -> bool:
    """Set the job run's totals so far; False when a later update (or the final one) is already there."""
    table = _table(table_name)
    condition = "attribute_not_exists(utilization_final)"
    if not update.final:
        condition += " AND (attribute_not_exists(utilization_at) OR utilization_at <= :at)"
    try:
        table.update_item(
            Key={"pk": serverless_partition(update.application_id, update.run_id), "sk": f"JOBRUN#{update.job_run_id}"},
            UpdateExpression="SET total_resource_utilization = :total, billed_resource_utilization = :billed, "
            "utilization_at = :at, application_id = :app, job_run_id = :jr, utilization_attempt = :attempt"
            + (", utilization_final = :final" if update.final else ""),
            ConditionExpression=condition,
            ExpressionAttributeValues={
                ":total": _utilization(update.total),
                ":billed": _utilization(update.billed),
                ":at": _iso(update.at),
                ":app": update.application_id,
                ":jr": update.job_run_id,
                ":attempt": update.attempt,
                **({":final": True} if update.final else {}),
            },
        )
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def serverless_run_state(job_run_states: list[str], ended: frozenset[str] | None = None) -> str:
    """A run's state from its job runs' (see the key layout above); `ended`: the target's ended job run states."""
    from emr_autopilot import emr_serverless

    ended = ended or emr_serverless.JOB_RUN_ENDED
    if not job_run_states or any(state not in ended for state in job_run_states):
        return "RUNNING"
    for state in ("FAILED", "CANCELLED"):
        if state in job_run_states:
            return state
    return "SUCCESS"


class ServerlessRun(NamedTuple):
    run_id: str
    application_id: str  # an EMR on EKS run's: its virtual cluster id (location_field says which)
    at: datetime
    job: str | None = None
    execution_arn: str | None = None
    compute: str = SERVERLESS_COMPUTE  # or EKS_COMPUTE: the same META, derived from JOBRUN items alike
    location_field: str = "application_id"  # "virtual_cluster_id" for EMR on EKS


def refresh_serverless_run(table_name: str, run: ServerlessRun) -> dict[str, Any]:
    """Upsert the run's META with the state its job runs give. Optimistic locking (a version number) makes the
    last write one that saw every job run recorded before it, whatever the order concurrent events come in."""
    table = _table(table_name)
    key = {"pk": f"RUN#{run.run_id}", "sk": "META"}
    for _ in range(_META_ATTEMPTS):
        meta = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        version = int(meta.get("version", 0))
        # A job run whose utilization came before its first state change has no state yet: not ended.
        job_runs = _job_run_items(table, run.run_id)
        states = [str(item.get("state", "")) for item in job_runs]
        if run.compute == EKS_COMPUTE:
            state, cost = eks_run_state(states), _eks_cost(job_runs)
        else:
            state, cost = serverless_run_state(states), _serverless_cost(job_runs)
        try:
            response = table.update_item(Key=key, ReturnValues="ALL_NEW", **_meta_update(run, state, version, cost))
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            continue  # another event's write came between: read again
        return dict(response["Attributes"])
    raise RuntimeError(f"run {run.run_id}: its META kept changing under {_META_ATTEMPTS} attempts")  # Lambda retries


def _serverless_cost(job_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's cost fields: the sum of its job runs' costs, recorded as each ended ({} before any ended)."""
    from emr_autopilot import emr_serverless, run_costs

    total = run_costs.serverless_run_total(job_runs, emr_serverless.JOB_RUN_ENDED)
    return run_costs.cost_fields(total) if total else {}


def _job_run_items(table: Any, run_id: str) -> list[dict[str, Any]]:
    return _query_all(
        table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :jobrun)",
        ExpressionAttributeValues={":pk": f"RUN#{run_id}", ":jobrun": "JOBRUN#"},
        ConsistentRead=True,
    )


def _query_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    page = table.query(**kwargs)
    items = list(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.query(**kwargs, ExclusiveStartKey=page["LastEvaluatedKey"])
        items.extend(page["Items"])
    return items


def _meta_update(run: ServerlessRun, state: str, version: int, cost: Mapping[str, Any]) -> dict[str, Any]:
    at = _iso(run.at)
    values: dict[str, Any] = {
        ":state": state,
        ":at": at,
        ":compute": run.compute,
        ":app": run.application_id,
        ":run": run.run_id,
        ":runs": "RUNS",
        ":gsi1sk": f"{at}#{run.run_id}",
        ":version": version,
        ":next": version + 1,
    }
    sets = [
        "#state = :state",
        "updated_at = :at",
        "compute = :compute",
        f"{run.location_field} = :app",
        "run_id = :run",
        "gsi1pk = :runs",
        # created_at / gsi1sk only on first sight, so the run keeps its place in the list.
        "created_at = if_not_exists(created_at, :at)",
        "gsi1sk = if_not_exists(gsi1sk, :gsi1sk)",
        "version = :next",
    ]
    for field, value in (("job", run.job), ("execution_arn", run.execution_arn)):
        if value:
            values[f":{field}"] = value
            sets.append(f"{field} = :{field}")
    removes = [] if state != "RUNNING" else ["ended_at"]
    if not removes:
        sets.append("ended_at = :at")
    for name, value in cost.items():
        if value is None:
            removes.append(name)  # cost_usd: unknown
        else:
            values[f":{name}"] = value
            sets.append(f"{name} = :{name}")
    return {
        "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
        "ConditionExpression": "attribute_not_exists(version) OR version = :version",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": values,
    }


def record_timeline(
    table_name: str, partition: str, at: datetime, event_id: str, detail_type: str, summary: dict[str, Any]
) -> None:
    """A timeline entry under any partition (RUN#, APPLICATION#); a re-delivered event lands on the same key."""
    item: dict[str, Any] = {"pk": partition, "sk": f"EVENT#{_iso(at)}#{event_id}", "detail_type": detail_type}
    item.update(event_id=event_id, at=_iso(at), expires_at=int(time.time() + TIMELINE_TTL_DAYS * 86400), **summary)
    _table(table_name).put_item(Item=_clean(item))


def partition_items(table_name: str, partition: str) -> list[dict[str, Any]]:
    """Everything under one partition: a serverless run (RUN#<run id>) or an application (APPLICATION#<id>)."""
    return _query_all(
        _table(table_name), KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": partition}
    )


# -- EMR on EKS runs --------------------------------------------------------------------------------------
# Laid out as a serverless run (above), with compute=emr-eks and virtual_cluster_id where a serverless run has
# application_id: ``pk=RUN#<run id>``: META (state RUNNING, SUCCESS, FAILED or CANCELLED from its job runs, as
# for serverless; cost: the sum of its job runs' estimates, run_costs.eks_run_total), ``JOBRUN#<job run id>``
# (virtual_cluster_id, job_run_id, step_name = the job run's name, state, started_at, ended_at, failure_reason =
# DescribeJobRun failureReason, state_details, log_file = the driver's stderr, duration_seconds and, once ended,
# cost_usd / cost_label / cost_detail) and ``EVENT#`` (the timeline). The run id and job come from the job run's
# tags (DescribeJobRun); a job run without the run-id tag is not recorded (the EMR on EKS reactions ignore it).
class EksJobRunChange(NamedTuple):
    virtual_cluster_id: str
    job_run_id: str
    run_id: str
    state: str
    at: datetime
    name: str | None = None
    failure_reason: str | None = None  # DescribeJobRun failureReason
    state_details: str | None = None  # DescribeJobRun stateDetails
    log_file: str | None = None  # s3:// URI of the driver's stderr
    duration_seconds: int | None = None  # finishedAt - createdAt, once ended
    cost: Mapping[str, Any] | None = None  # run_costs.cost_fields of the ended job run


def record_eks_job_run_change(table_name: str, change: EksJobRunChange) -> dict[str, Any] | None:
    """Upsert the job run's JOBRUN item; returns it, or None when the ledger already holds a later state."""
    from emr_autopilot import emr_eks  # only the EMR on EKS reactions need it

    extra = _job_run_extra(change.state, change.at, emr_eks.JOB_RUN_ENDED, change.duration_seconds, change.cost)
    fields = {
        "virtual_cluster_id": change.virtual_cluster_id,
        "job_run_id": change.job_run_id,
        "step_name": change.name,
        "failure_reason": change.failure_reason,
        "state_details": change.state_details,
        "log_file": change.log_file,
    }
    key = {"pk": f"RUN#{change.run_id}", "sk": f"JOBRUN#{change.job_run_id}"}
    rank = emr_eks.job_run_rank(change.state)
    return _forward_update(table_name, key, change.state, rank, change.at, fields, extra)


def eks_run_state(job_run_states: list[str]) -> str:
    from emr_autopilot import emr_eks

    return serverless_run_state(job_run_states, emr_eks.JOB_RUN_ENDED)


def _eks_cost(job_runs: list[dict[str, Any]]) -> dict[str, Any]:
    from emr_autopilot import run_costs

    total = run_costs.eks_run_total(job_runs)
    return run_costs.cost_fields(total) if total else {}
