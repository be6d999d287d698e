"""Run starter: an S3 object or a job's schedule tick starts a transient-cluster pipeline run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.catalog import load_catalog
from emr_autopilot.errors import InvalidEvent, UnknownJob
from emr_autopilot.run_starter import DeadlineScheduler, handle_trigger_event, run_starter_settings

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = run_starter_settings()
    try:
        result = handle_trigger_event(
            event,
            lambda: load_catalog(settings.artifacts_bucket, settings.catalog_key),
            settings.stack(),
            DeadlineScheduler(settings.schedule_group_name, settings.scheduler_role_arn),
        )
    except (InvalidEvent, UnknownJob) as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "run_starter", event, str(exc))

    for outcome in result.outcomes:
        logger.info("run " + outcome.status, extra=outcome.as_dict())
        metrics.add_metric(
            name="RunsStarted" if outcome.status == "started" else "DuplicateTriggers", unit=MetricUnit.Count, value=1
        )
    for uri in result.unmatched:
        logger.info("no job matches object", extra={"event_id": result.event_id, "object": uri})
        metrics.add_metric(name="UnmatchedObjects", unit=MetricUnit.Count, value=1)
    return {"status": "ok", **result.as_dict()}
