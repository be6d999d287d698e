"""Log follow-up: a failed step's (or EMR Serverless job run's) log reached S3 late; send its digest, look again,
or give up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.emr_event_reactions.follow_up_schedule import parse_follow_up
from emr_autopilot.emr_event_reactions.settings import emr_event_settings
from emr_autopilot.emr_event_reactions.step_log_follow_up import follow_up_logs
from emr_autopilot.idempotency import once

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()

# One key for both kinds (a container configures its idempotency store once, with the first key it is given): a
# step's request keeps the key it always had, [cluster_id, step_id, attempt]; a job run's is [application_id,
# job_run_id, attempt].
IDEMPOTENCY_KEY = "[cluster_id || application_id, step_id || job_run_id, attempt]"


def _follow_up(event: dict[str, Any]) -> dict[str, Any]:
    outcome = follow_up_logs(parse_follow_up(event), emr_event_settings().reaction_settings())
    metrics.add_metric(name="StepLogFollowUps", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = emr_event_settings()
    try:
        parse_follow_up(event)
    except ValidationError as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "step_log_follow_up", event, str(exc))
    # Scheduler delivers at least once: one digest per step (or job run) and attempt.
    result = once(_follow_up, settings.idempotency_table_name, IDEMPOTENCY_KEY, context, "step-log")(event=event)
    logger.info("follow-up", extra={**event, **result})
    return {"status": "ok", **result}
