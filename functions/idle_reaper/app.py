"""Idle reaper: on its schedule, terminate EMR clusters proven idle, within limits, and report why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from emr_autopilot import observability
from emr_autopilot.reaper import ReaperSettings, ScheduledEvent, reap_and_report

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = ReaperSettings.from_env()  # a bad parameter fails the run loudly (OnFailure queue), never reaps
    try:
        tick = ScheduledEvent.model_validate(event)
    except ValidationError as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "idle_reaper", event, str(exc))

    report = reap_and_report(
        settings.config(), tick.time, settings.notification_topic_arn, settings.ledger_table_name or None
    )
    for decision in report.decisions:
        if decision.action != "skipped" or decision.heal:
            fields = decision.as_dict()
            fields["cluster_name"] = fields.pop("name")  # "name" is reserved in a log record
            logger.info("reaper decision", extra=fields)
    logger.info(
        "reaper run",
        extra={
            "event_id": tick.id,
            "summary": report.summary_line(),
            "skipped": report.skip_counts(),
            "ledger_errors": report.ledger_errors,
        },
    )
    metrics.add_metric(
        name="ClustersTerminatedIdle", unit=MetricUnit.Count, value=len(report.with_action("terminated"))
    )
    if not report.config.dry_run:
        # An estimate (the price table's on-demand list prices), as the notification says.
        metrics.add_metric(name="EstimatedHourlyCostAvoided", unit=MetricUnit.NoUnit, value=report.hourly_cost_avoided)
    return {"status": "ok", "reaper_summary": report.summary_line(), **report.as_dict()}
