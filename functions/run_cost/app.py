"""Run cost: a finished run's cost estimate, for the success notice the state machine sends next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emr_autopilot import observability
from emr_autopilot.run_cost_estimate import parse_request, run_cost

if TYPE_CHECKING:  # a type only: importing it would cost each cold start 0.2 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = observability.tracer()  # the real Tracer only when tracing is on
metrics = Metrics()


# No settings: the price tables ship in the layer (emr_autopilot/data) and the payload names the run's compute.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # A malformed payload raises InvalidEvent: the state machine's Catch sends the notice without a cost.
    cost = run_cost(parse_request(event))
    logger.info("run cost", extra=cost)
    known = cost["usd"] is not None
    metrics.add_metric(name="RunCostsEstimated" if known else "RunCostsUnknown", unit=MetricUnit.Count, value=1)
    return cost
