"""Livy path, SubmitBatch: POST /batches, or find the batch a previous attempt already submitted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.livy_pipeline.batch_call import SubmitRequest
from emr_autopilot.livy_pipeline.run_input import parse_event
from emr_autopilot.livy_pipeline.settings import livy_settings
from emr_autopilot.livy_pipeline.submit import submit_batch

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = parse_event(SubmitRequest, event)
    batch = submit_batch(request, livy_settings())
    logger.info(
        "batch submitted",
        extra={
            "cluster_id": request.cluster_id,
            "batch_id": batch["id"],
            "batch_name": batch["name"],
            "state": batch["state"],
        },
    )
    metrics.add_metric(name="LivyBatchesSubmitted", unit=MetricUnit.Count, value=1)
    return batch
