"""Run starter: an S3 object or a job's schedule tick starts a transient-cluster pipeline run."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from emr_autopilot.catalog import load_catalog
from emr_autopilot.errors import InvalidEvent, UnknownJob
from emr_autopilot.quarantine import quarantine
from emr_autopilot.settings import run_starter_settings
from emr_autopilot.starter import DeadlineScheduler, handle_trigger_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = run_starter_settings()
    event_id = event.get("id", "-") if isinstance(event, dict) else "-"
    try:
        result = handle_trigger_event(
            event,
            lambda: load_catalog(settings.artifacts_bucket, settings.catalog_key),
            settings.stack(),
            DeadlineScheduler(settings.schedule_group_name, settings.scheduler_role_arn),
        )
    except (InvalidEvent, UnknownJob) as exc:
        # Retrying cannot fix the input: keep it in the DLQ and return, so Lambda does not retry.
        logger.error("event rejected", extra={"event_id": event_id, "reason": str(exc)})
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        quarantine(os.environ["DEAD_LETTER_QUEUE_URL"], "run_starter", event, str(exc))
        return {"status": "rejected", "event_id": event_id, "reason": str(exc)}

    for outcome in result.outcomes:
        logger.info("run " + outcome.status, extra=outcome.as_dict())
        metrics.add_metric(
            name="RunsStarted" if outcome.status == "started" else "DuplicateTriggers", unit=MetricUnit.Count, value=1
        )
    for uri in result.unmatched:
        logger.info("no job matches object", extra={"event_id": result.event_id, "object": uri})
        metrics.add_metric(name="UnmatchedObjects", unit=MetricUnit.Count, value=1)
    return {"status": "ok", **result.as_dict()}
