"""Schedules, fired on the fast clock: EventBridge Scheduler's one-time at() schedules when they fall due (the
run deadlines), recurring ones (a job's cron) on demand, and a function's Schedule/ScheduleV2 event ticks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from emr_autopilot_devkit.local.account import ACCOUNT_ID, REGION
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.functions import Invocation, LocalFunction

STOP_EXECUTION = "arn:aws:scheduler:::aws-sdk:sfn:stopExecution"


class ScheduleHost(Protocol):
    """What schedules need of the runtime: clients, its clock, its functions and their asynchronous invocation."""

    clock: FastClock
    functions: dict[str, LocalFunction]

    def client(self, service: str) -> Any: ...

    def deliver(self, function_logical_id: str, event: dict[str, Any]) -> Invocation: ...


def fire_due(host: ScheduleHost) -> int:
    """Fire one-time at() schedules whose time has come on the fast clock; returns how many fired."""
    sched = host.client("scheduler")
    fired = 0
    for group in sched.list_schedule_groups()["ScheduleGroups"]:
        for summary in sched.list_schedules(GroupName=group["Name"]).get("Schedules", []):
            schedule = sched.get_schedule(Name=summary["Name"], GroupName=group["Name"])
            due = _one_time_due(schedule["ScheduleExpression"])
            if due is None or due > host.clock.now():
                continue
            run_target(host, schedule, due)
            if schedule.get("ActionAfterCompletion") == "DELETE":
                sched.delete_schedule(Name=summary["Name"], GroupName=group["Name"])
            fired += 1
    return fired


def _one_time_due(expression: str) -> datetime | None:
    match = re.fullmatch(r"at\((.+)\)", expression)
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) if match else None


def run_target(host: ScheduleHost, schedule: dict[str, Any], when: datetime) -> Any:
    """What the schedule's target does: StopExecution (the universal target), or a function's invocation."""
    target = schedule["Target"]
    payload = target.get("Input", "{}").replace("<aws.scheduler.scheduled-time>", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    arn = target["Arn"]
    if arn == STOP_EXECUTION:
        return _stop_execution(host.client("stepfunctions"), json.loads(payload))
    for logical, function in host.functions.items():
        if arn.endswith(f":function:{function.name}"):
            return host.deliver(logical, json.loads(payload))
    raise ValueError(f"local runtime cannot run schedule target {arn}")


def _stop_execution(sfn: Any, request: dict[str, Any]) -> str:
    status: str = sfn.describe_execution(executionArn=request["ExecutionArn"])["status"]
    if status == "RUNNING":
        sfn.stop_execution(executionArn=request["ExecutionArn"], error=request.get("Error"), cause=request.get("Cause"))
    return status


def function_tick(
    function_schedules: dict[tuple[str, str], dict[str, Any]],
    function_logical_id: str,
    event_name: str | None,
    now: datetime,
    stack_name: str,
) -> dict[str, Any]:
    """The event one tick of a function's Schedule/ScheduleV2 event delivers, at `now`."""
    matches = [key for key in function_schedules if key[0] == function_logical_id and event_name in (None, key[1])]
    if not matches:
        raise KeyError(f"{function_logical_id} has no schedule event {event_name or ''}".strip())
    props = function_schedules[matches[0]]
    if props.get("Input"):
        event: dict[str, Any] = json.loads(props["Input"])
        return event
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{stack_name}-{matches[0][1]}"],
        "detail": {},
    }
