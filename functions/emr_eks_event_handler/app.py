"""EMR on EKS event handler: every aws.emr-containers job run event of ours goes to the run ledger; a failed job
run is notified with its failureReason, stateDetails, driver log and cost estimate, a new driver attempt with a
warning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.emr_eks_events import parse_emr_eks_event
from emr_autopilot.emr_eks_reactions.decisions import react
from emr_autopilot.emr_eks_reactions.settings import eks_event_settings
from emr_autopilot.errors import InvalidEvent
from emr_autopilot.idempotency import once

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


def _react(event: dict[str, Any]) -> dict[str, Any]:
    settings = eks_event_settings()
    envelope, detail = parse_emr_eks_event(event)
    reaction = react(envelope, detail, settings.reaction_settings())
    metrics.add_dimension(name="job", value=reaction.job or "none")
    if reaction.ignored:
        logger.info("job run ignored", extra={"event_id": envelope.id, "reason": reaction.ignored})
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
    for name, unit, value in reaction.metrics:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)
    if not envelope.known:
        metrics.add_metric(name="UnknownEventTypes", unit=MetricUnit.Count, value=1)
    return reaction.as_dict()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = eks_event_settings()
    event_id = event.get("id", "-") if isinstance(event, dict) else "-"
    try:
        parse_emr_eks_event(event)
    except InvalidEvent as exc:
        # Retrying cannot fix the input: kept in the DLQ, counted, not retried.
        return observability.reject(logger, metrics, "emr_eks_event_handler", event, str(exc))
    # A re-delivered event (same id) returns the first result: no second ledger write or notification.
    result = once(_react, settings.idempotency_table_name, "id", context, "emr-eks-event")(event=event)
    logger.info("event handled", extra={"event_id": event_id, **result})
    return {"status": "ok", **result}
