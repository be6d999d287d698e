"""Execution janitor: when a pipeline execution ends, its clusters must not outlive it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.execution_janitor import ExecutionStatusChange, handle_execution_end, janitor_settings
from emr_autopilot.idempotency import once

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


def _clean_up(event: dict[str, Any]) -> dict[str, Any]:
    settings = janitor_settings()
    change = ExecutionStatusChange.model_validate(event)
    report = handle_execution_end(change, settings.notification_topic_arn, settings.schedule_group_name)
    # Counted here, inside the idempotent part: a re-delivered event is not counted twice.
    metrics.add_metric(
        name=f"Executions{change.detail.status.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    if report.terminated:
        metrics.add_metric(name="OrphanClustersTerminated", unit=MetricUnit.Count, value=len(report.terminated))
    return report.as_dict()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = janitor_settings()
    try:
        change = ExecutionStatusChange.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "execution_janitor", event, str(exc))

    # One cleanup and one notice per execution end, however often EventBridge delivers it.
    key = "[detail.executionArn, detail.status]"
    report = once(_clean_up, settings.idempotency_table_name, key, context, "execution-end")(event=event)
    logger.info("execution ended", extra={"event_id": change.id, **report})
    return {"status": "ok", **report}
