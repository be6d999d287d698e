"""Livy janitor: when a Livy run is stopped, times out or fails, its batch must not run on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.execution_janitor import ExecutionStatusChange
from emr_autopilot.idempotency import once
from emr_autopilot.livy_janitor import clean_up_execution, livy_janitor_settings

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


def _clean_up(event: dict[str, Any]) -> dict[str, Any]:
    report = clean_up_execution(ExecutionStatusChange.model_validate(event), livy_janitor_settings())
    # Counted inside the idempotent part: a re-delivered event is not counted twice.
    metrics.add_metric(name="LivyOrphanBatchesDeleted", unit=MetricUnit.Count, value=len(report.deleted))
    if report.terminated:
        metrics.add_metric(name="OrphanClustersTerminated", unit=MetricUnit.Count, value=len(report.terminated))
    return report.as_dict()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        change = ExecutionStatusChange.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "livy_janitor", event, str(exc))

    # One cleanup and one notice per execution end, however often EventBridge delivers it.
    table = livy_janitor_settings().idempotency_table_name
    key = "[detail.executionArn, detail.status]"
    report = once(_clean_up, table, key, context, "livy-execution-end")(event=event)
    logger.info("livy execution ended", extra={"event_id": change.id, **report})
    return {"status": "ok", **report}
