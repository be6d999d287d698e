"""Livy path, KillBatch: DELETE a batch that ran past its time, so it does not run on unattended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.livy_pipeline.batch_call import BatchRequest
from emr_autopilot.livy_pipeline.kill import kill_batch
from emr_autopilot.livy_pipeline.run_input import parse_event
from emr_autopilot.livy_pipeline.settings import livy_settings

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
    result = kill_batch(request, livy_settings())
    logger.info(
        "batch killed",
        extra={
            "cluster_id": request.cluster_id,
            "batch_id": result["id"],
            "deleted": result["deleted"],
            "state_before": result["state_before"],
        },
    )
    metrics.add_metric(name="LivyBatchesKilled", unit=MetricUnit.Count, value=1 if result["deleted"] else 0)
    return result
