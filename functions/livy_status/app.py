"""Livy path, CheckBatch: the batch's state; once final, its log tail and YARN's verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.livy_pipeline.batch_call import BatchRequest
from emr_autopilot.livy_pipeline.run_input import parse_event
from emr_autopilot.livy_pipeline.settings import livy_settings
from emr_autopilot.livy_pipeline.status import batch_status

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = parse_event(BatchRequest, event)
    status = batch_status(request, livy_settings())
    summary = {key: status[key] for key in ("id", "state", "outcome", "app_id", "yarn_note")}
    logger.info("batch checked", extra={"cluster_id": request.cluster_id, **summary})
    metrics.add_metric(name="LivyBatchChecks", unit=MetricUnit.Count, value=1)
    if status["outcome"] != "running":
        name = "LivyBatchesSucceeded" if status["outcome"] == "succeeded" else "LivyBatchesFailed"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return status
