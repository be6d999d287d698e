"""Step end wait: stores a `step_completion: events` run's task token for its step, then looks at the step once."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.step_completion import StepWaitSettings, parse_wait_request, register_and_check

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@cache
def _settings() -> StepWaitSettings:
    return StepWaitSettings.from_env()


@logger.inject_lambda_context(log_event=False)  # the payload holds a task token: never logged
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # A malformed payload raises InvalidEvent, which fails the task and so the run (its Catch terminates the cluster).
    request = parse_wait_request(event)
    sent = register_and_check(_settings().ledger_table_name, request.cluster_id, request.step_id, request.task_token)
    if sent != "running":  # the step had ended before the token was stored (or the event was lost)
        metrics.add_metric(name="StepEndsFoundByCheck", unit=MetricUnit.Count, value=1)
    logger.info(
        "step wait registered", extra={"cluster_id": request.cluster_id, "step_id": request.step_id, "sent": sent}
    )
    return {"step_id": request.step_id, "sent": sent}
