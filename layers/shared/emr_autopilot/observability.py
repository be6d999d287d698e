"""The handlers' Tracer, and how they turn away input that cannot be used."""

import os
from collections.abc import Callable
from typing import Any


class _NoTracer:
    """Stands in for powertools' Tracer when tracing is off.

    powertools imports the X-Ray SDK when a Tracer is created, even a disabled one: about 100 ms
    of every cold start. With POWERTOOLS_TRACE_DISABLED set (the template's default, EnableTracing
    false) the handlers get this instead; with tracing on they get the real Tracer.
    """

    def capture_lambda_handler(self, handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        return handler if handler is not None else (lambda function: function)

    def capture_method(self, method: Callable[..., Any] | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None


def tracer() -> Any:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return _NoTracer()
    from aws_lambda_powertools import Tracer

    return Tracer()


def reject(logger: Any, metrics: Any, function: str, event: Any, reason: str) -> dict[str, Any]:
    """Bad input: retrying cannot fix it. Log it with the event id, count it, keep it in the DLQ, and
    return normally so Lambda does not retry."""
    from aws_lambda_powertools.metrics import MetricUnit

    from emr_autopilot.quarantine import quarantine

    event_id = event.get("id", "-") if isinstance(event, dict) else "-"
    logger.error("event rejected", extra={"event_id": event_id, "reason": reason})
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    quarantine(os.environ["DEAD_LETTER_QUEUE_URL"], function, event, reason)
    return {"status": "rejected", "event_id": event_id, "reason": reason}
