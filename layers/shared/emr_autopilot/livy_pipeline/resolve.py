"""ResolveCluster (the livy_resolve function): validate the run's input and find its cluster's Livy endpoint."""

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from emr_autopilot import emr
from emr_autopilot.errors import ClusterGone, ClusterNotReady, InvalidLivyRequest, LivyNotInstalled
from emr_autopilot.livy_pipeline.run_input import LivyRunInput, invalid
from emr_autopilot.livy_pipeline.settings import LivySettings, endpoint_for

if TYPE_CHECKING:
    from mypy_boto3_emr.type_defs import ClusterTypeDef


class ResolveRequest(BaseModel):
    model_config = ConfigDict(defer_build=True)
    input: dict[str, Any]
    execution_name: str
    execution_arn: str


def describe_cluster(cluster_id: str) -> "ClusterTypeDef":
    """The cluster, or ClusterGone when EMR no longer knows it."""
    try:
        return emr.describe_cluster(cluster_id)
    except emr.client().exceptions.InvalidRequestException as exc:
        # EMR forgets clusters some weeks after they end; retrying would not bring it back.
        raise ClusterGone(f"cluster {cluster_id} does not exist: {exc}") from exc


def resolve_run(request: ResolveRequest, settings: LivySettings) -> dict[str, Any]:
    """Validate the input, fill its defaults and find the cluster's Livy endpoint: the document
    the rest of the pipeline works on."""
    try:
        parsed = LivyRunInput.model_validate(request.input)
    except ValidationError as exc:
        raise invalid("the Livy run's input is invalid", exc) from exc
    if parsed.cluster_id in (None, "none"):
        raise InvalidLivyRequest("no cluster_id: creating the transient cluster must come first")
    cluster_id = str(parsed.cluster_id)
    cluster = describe_cluster(cluster_id)
    state = cluster["Status"]["State"]
    label = f"cluster {cluster_id} ({cluster.get('Name', '-')})"
    if state in emr.ENDED:
        raise ClusterGone(f"{label} is {state}")
    if state not in emr.READY:
        raise ClusterNotReady(f"{label} is {state}, not RUNNING or WAITING")
    apps = [str(app.get("Name", "")) for app in cluster.get("Applications", [])]
    if "livy" not in {app.lower() for app in apps}:
        raise LivyNotInstalled(
            f"{label} has applications {apps} but not Livy: create it with Livy, or use the step pipeline"
        )
    dns = cluster.get("MasterPublicDnsName")
    if not dns:
        raise ClusterNotReady(f"{label} reports no primary node DNS name yet")
    run = parsed.run
    return {
        "run": {
            **run.model_dump(),
            "run_id": request.execution_name,
            "execution_arn": request.execution_arn,
            # Only a cluster this run created may be terminated by it, whatever the input says.
            "transient": parsed.cluster_request is not None,
            "notification_topic_arn": run.notification_topic_arn or settings.notification_topic_arn,
            "max_polls": run.max_polls,
        },
        "cluster_id": cluster_id,
        "cluster": {
            "id": cluster_id,
            "name": cluster.get("Name", ""),
            "state": state,
            "release": cluster.get("ReleaseLabel", ""),
            "master_dns": dns,
        },
        "livy": endpoint_for(dns, settings).model_dump(),
        # The execution name makes the batch findable again (a retried submit, the janitor).
        "batch": {**parsed.batch.body(), "name": parsed.batch.name or request.execution_name},
    }
