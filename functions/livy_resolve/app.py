"""Livy path, ResolveCluster: the run's input checked and completed, the cluster's Livy endpoint found."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# aws: every resolve calls EMR, so boto3 loads at init, as Lambda advises for SDK clients. The other
# Livy tasks load it only when Livy is unreachable.
from emr_autopilot import aws, observability  # noqa: F401
from emr_autopilot.livy_pipeline.resolve import ResolveRequest, resolve_run
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
    # Errors (ClusterNotReady, LivyNotInstalled, ClusterGone, InvalidLivyRequest) reach the ASL by name.
    document = resolve_run(parse_event(ResolveRequest, event), livy_settings())
    logger.info("cluster resolved", extra={"cluster_id": document["cluster_id"], "livy": document["livy"]["url"]})
    metrics.add_metric(name="LivyRunsResolved", unit=MetricUnit.Count, value=1)
    return document
