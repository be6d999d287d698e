"""Livy janitor: when a Livy run is stopped, times out or fails, its batch must not run on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.janitor import ExecutionStatusChange
from emr_autopilot.livy_batches import clean_up_execution
from emr_autopilot.settings import livy_settings

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        change = ExecutionStatusChange.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "livy_janitor", event, str(exc))

    report = clean_up_execution(change, livy_settings())
    logger.info("livy execution ended", extra={"event_id": change.id, **report.as_dict()})
    metrics.add_metric(name="LivyOrphanBatchesDeleted", unit=MetricUnit.Count, value=len(report.deleted))
    if report.terminated:
        metrics.add_metric(name="OrphanClustersTerminated", unit=MetricUnit.Count, value=len(report.terminated))
    return {"status": "ok", **report.as_dict()}
