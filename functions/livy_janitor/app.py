"""Livy janitor: when a Livy run is stopped, times out or fails, its batch must not run on."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from emr_autopilot.janitor import ExecutionStatusChange
from emr_autopilot.livy_batches import clean_up_execution
from emr_autopilot.quarantine import quarantine
from emr_autopilot.settings import livy_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        change = ExecutionStatusChange.model_validate(event)
    except ValidationError as exc:
        event_id = event.get("id", "-") if isinstance(event, dict) else "-"
        logger.error("event rejected", extra={"event_id": event_id, "reason": str(exc)})
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        quarantine(os.environ["DEAD_LETTER_QUEUE_URL"], "livy_janitor", event, str(exc))
        return {"status": "rejected", "event_id": event_id}

    report = clean_up_execution(change, livy_settings())
    logger.info("livy execution ended", extra={"event_id": change.id, **report.as_dict()})
    metrics.add_metric(name="LivyOrphanBatchesDeleted", unit=MetricUnit.Count, value=len(report.deleted))
    if report.terminated:
        metrics.add_metric(name="OrphanClustersTerminated", unit=MetricUnit.Count, value=len(report.terminated))
    return {"status": "ok", **report.as_dict()}
