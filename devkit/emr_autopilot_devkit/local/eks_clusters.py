"""A virtual cluster on the local runtime, for what runs EMR on EKS jobs there (the demo, the fault matrix, the bench,
`local invoke`'s samples).

A virtual cluster registers a namespace of an EKS cluster that exists (EMR on EKS Development Guide,
setting-up-registration; CreateVirtualCluster checks it locally too), and its id is EMR's to choose: a job's
`virtual_cluster_id` must be the id this returns, never one the job names in advance.
"""

from __future__ import annotations

from typing import Any

from emr_autopilot_devkit.local.account import ACCOUNT_ID


def register_virtual_cluster(stack: Any, name: str, namespace: str | None = None) -> str:
    """The id of the RUNNING virtual cluster `name` on the EKS cluster `name`, both made if missing."""
    client = stack.client("emr-containers")
    for cluster in client.list_virtual_clusters(states=["RUNNING"])["virtualClusters"]:
        if cluster["name"] == name:
            return str(cluster["id"])
    eks = stack.client("eks")
    if name not in eks.list_clusters()["clusters"]:
        eks.create_cluster(name=name, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={})
    provider = {"type": "EKS", "id": name, "info": {"eksInfo": {"namespace": namespace or name}}}
    return str(client.create_virtual_cluster(name=name, containerProvider=provider)["id"])
