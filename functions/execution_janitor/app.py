"""Execution janitor: when a pipeline execution ends, its clusters must not outlive it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.janitor import ExecutionStatusChange, handle_execution_end
from emr_autopilot.settings import janitor_settings

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


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

    report = handle_execution_end(change, settings.notification_topic_arn, settings.schedule_group_name)
    logger.info("execution ended", extra={"event_id": change.id, **report.as_dict()})
    metrics.add_metric(
        name=f"Executions{change.detail.status.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    if report.terminated:
        metrics.add_metric(name="OrphanClustersTerminated", unit=MetricUnit.Count, value=len(report.terminated))
    return {"status": "ok", **report.as_dict()}
