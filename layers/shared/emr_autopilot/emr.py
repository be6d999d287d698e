"""The one wrapper around Amazon EMR: its state sets, cluster tags and the calls this project makes.

In the spirit of Airflow's EmrHook: one place that knows EMR's API shapes, typed by mypy-boto3-emr.
The stubs are imported for type checking only, and boto3 itself only on the first call (through
emr_autopilot.aws), so modules that need just the constants (the Livy functions, the dev kit) load
nothing heavy.

States and their meaning: EMR API Reference, ClusterStatus and StepStatus data types, and the EMR
Management Guide, "Understanding the cluster lifecycle".
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: the stubs are not loaded at run time
    from mypy_boto3_emr import EMRClient
    from mypy_boto3_emr.literals import ClusterStateType, InstanceStateType, StepStateType
    from mypy_boto3_emr.type_defs import (
        AutoTerminationPolicyTypeDef,
        ClusterSummaryTypeDef,
        ClusterTypeDef,
        InstanceGroupTypeDef,
        InstanceTypeDef,
        StepSummaryTypeDef,
        StepTypeDef,
    )

# -- cluster states (tuples: ordered, so requests that pass them are reproducible) -----------------
STARTING: "tuple[ClusterStateType, ...]" = ("STARTING", "BOOTSTRAPPING")
READY: "tuple[ClusterStateType, ...]" = ("RUNNING", "WAITING")  # steps can run; Livy answers
IDLE: "ClusterStateType" = "WAITING"  # ready, no step running
ACTIVE: "tuple[ClusterStateType, ...]" = (*STARTING, *READY)  # started and not yet ending
ENDING: "ClusterStateType" = "TERMINATING"
TERMINATED: "tuple[ClusterStateType, ...]" = ("TERMINATED", "TERMINATED_WITH_ERRORS")
ENDED: "tuple[ClusterStateType, ...]" = (ENDING, *TERMINATED)  # ending or gone: nothing runs on it again
NOT_TERMINATED: "tuple[ClusterStateType, ...]" = (*ACTIVE, ENDING)  # still has (or may have) instances

# -- step states --------------------------------------------------------------------------------
STEP_ACTIVE: "tuple[StepStateType, ...]" = ("PENDING", "CANCEL_PENDING", "RUNNING")
STEP_ENDED: "tuple[StepStateType, ...]" = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")

# Lifecycle order: a state never follows one of a higher rank, so a late event cannot move a record back.
CLUSTER_LIFECYCLE: dict[str, int] = {
    "STARTING": 1,
    "BOOTSTRAPPING": 2,
    "RUNNING": 3,
    "WAITING": 3,
    "TERMINATING": 4,
    "TERMINATED": 5,
    "TERMINATED_WITH_ERRORS": 5,
}
STEP_LIFECYCLE: dict[str, int] = {
    "PENDING": 1,
    "CANCEL_PENDING": 2,
    "RUNNING": 2,
    "COMPLETED": 3,
    "CANCELLED": 3,
    "FAILED": 3,
    "INTERRUPTED": 3,
}

# -- instance states: those that are (or are about to be) billed ----------------------------------
INSTANCE_LIVE: "tuple[InstanceStateType, ...]" = ("AWAITING_FULFILLMENT", "PROVISIONING", "BOOTSTRAPPING", "RUNNING")


def tags_of(cluster: Mapping[str, Any]) -> dict[str, str]:
    """A cluster's tags as a dict (EMR returns them as a list of Key/Value pairs)."""
    return {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}


def client() -> "EMRClient":
    """The cached EMR client (boto3 is imported on first use, not when this module is)."""
    from emr_autopilot import aws

    return aws.client("emr")


# -- reads ---------------------------------------------------------------------------------------
def describe_cluster(cluster_id: str) -> "ClusterTypeDef":
    return client().describe_cluster(ClusterId=cluster_id)["Cluster"]


def describe_step(cluster_id: str, step_id: str) -> "StepTypeDef":
    return client().describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]


def list_clusters(states: "Sequence[ClusterStateType]") -> "Iterator[ClusterSummaryTypeDef]":
    """Every cluster in these states, page by page (EMR filters by state, not this code)."""
    for page, _ in cluster_pages(states):
        yield from page


def cluster_pages(states: "Sequence[ClusterStateType]") -> "Iterator[tuple[list[ClusterSummaryTypeDef], bool]]":
    """The same, one ListClusters page (up to 50 clusters) at a time, and whether another page follows:
    each next() makes one call, and none after a page that said no other follows."""
    for page in client().get_paginator("list_clusters").paginate(ClusterStates=list(states)):
        yield page["Clusters"], bool(page.get("Marker"))


def steps_page(cluster_id: str, states: "Sequence[StepStateType]" = ()) -> "tuple[list[StepSummaryTypeDef], bool]":
    """One ListSteps page (up to 50 steps) and whether more follow. Unfiltered, the page holds the newest
    steps: EMR documents newest-first order only for a call without a StepStates filter."""
    emr = client()
    if states:
        page = emr.list_steps(ClusterId=cluster_id, StepStates=list(states))
    else:
        page = emr.list_steps(ClusterId=cluster_id)
    return page["Steps"], bool(page.get("Marker"))


def list_steps(cluster_id: str, states: "Sequence[StepStateType]") -> "Iterator[StepSummaryTypeDef]":
    for page in client().get_paginator("list_steps").paginate(ClusterId=cluster_id, StepStates=list(states)):
        yield from page["Steps"]


def list_instances(
    cluster_id: str, states: "Sequence[InstanceStateType]" = INSTANCE_LIVE
) -> "Iterator[InstanceTypeDef]":
    """The cluster's instances in these states; states=() for every instance, ended ones included."""
    filters: dict[str, Any] = {"InstanceStates": list(states)} if states else {}
    pages = client().get_paginator("list_instances").paginate(ClusterId=cluster_id, **filters)
    for page in pages:
        yield from page["Instances"]


def list_instance_groups(cluster_id: str) -> "Iterator[InstanceGroupTypeDef]":
    for page in client().get_paginator("list_instance_groups").paginate(ClusterId=cluster_id):
        yield from page["InstanceGroups"]


def get_auto_termination_policy(cluster_id: str) -> "AutoTerminationPolicyTypeDef | None":
    """The cluster's idle timeout policy, or None when it has none."""
    return client().get_auto_termination_policy(ClusterId=cluster_id).get("AutoTerminationPolicy") or None


# -- changes -------------------------------------------------------------------------------------
def terminate(cluster_id: str) -> None:
    # One cluster per call: EMR rejects a whole batch when one of its clusters is protected.
    client().terminate_job_flows(JobFlowIds=[cluster_id])


def put_auto_termination_policy(cluster_id: str, idle_timeout_seconds: int) -> None:
    client().put_auto_termination_policy(
        ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": idle_timeout_seconds}
    )
