"""EventBridge -> handlers: AWS service events put on the default bus, and the template's rules delivering them
to the real handlers in this process.

moto's rules deliver only to SQS, Logs and buses: the rules the template deploys (routes, rule ARN -> function)
are sent to the active runtime's queue instead, to be delivered as Lambda's asynchronous invocation."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from moto.events.models import Rule, events_backends

from emr_autopilot_devkit.local.account import ACCOUNT_ID, REGION


class Router(Protocol):
    """What routing needs of the runtime: the deployed routes, and its event queue."""

    routes: dict[str, str]

    def enqueue(self, function_logical_id: str, event: dict[str, Any]) -> None: ...


_active: Router | None = None


def activate(router: Router | None) -> None:
    global _active
    _active = router


def active() -> Router | None:
    return _active


@functools.cache  # installs once per process
def install() -> None:
    """Idempotent: the template's rules go to the active runtime's queue, any other rule as moto sends it."""
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        router = _active
        route = router.routes.get(self.arn) if router else None
        if route is None:
            return original(self, _moto_time(original_event), transform_input)
        if self.event_pattern.matches_event(original_event):
            assert router is not None
            router.enqueue(route, dict(original_event))

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _moto_time(event: Any) -> Any:
    """The event with "time" in epoch seconds, as moto's PutEvents stores it and its targets (SQS, Logs) read it:
    the service events here carry EventBridge's ISO text, on which moto's SQS target failed (nothing delivered)."""
    if not isinstance(event, dict) or not isinstance(event.get("time"), str):
        return event
    try:
        stamp = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return event
    return {**event, "time": stamp.timestamp()}


def service_event(
    now: datetime, detail_type: str, resource: str, detail: dict[str, Any], source: str = "aws.emr"
) -> dict[str, Any]:
    """An AWS service event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [resource] if source == "aws.states" else [],
        "detail": detail,
    }


def put_on_default_bus(event: dict[str, Any]) -> None:
    """Every rule on every bus sees the event, as PutEvents would have it."""
    backend = events_backends[ACCOUNT_ID][REGION]
    for bus in list(backend.event_buses.values()):
        for rule in list(bus.rules.values()):
            rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]


def execution_status_change(execution: Any, now: datetime) -> dict[str, Any]:
    """The detail of Step Functions' "Execution Status Change" event for a moto execution that ended."""
    stop = execution.stop_date or now
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.exec_status.value,
        "startDate": int(execution.start_date.timestamp() * 1000),
        "stopDate": int(stop.timestamp() * 1000),
        "input": json.dumps(execution.input_data),
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }
