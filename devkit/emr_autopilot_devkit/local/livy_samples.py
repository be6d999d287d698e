"""Long-running clusters with Livy in the local runtime, for the demo, tests and `local invoke`.

The Livy sample events (events/livy_*.json) name cluster SAMPLE_CLUSTER_ID and its primary node
SAMPLE_DNS. A fresh local runtime has no such cluster, and moto picks cluster ids at random, so
`seed_livy_event` creates a real one (with Livy), writes its id and name into the event, and
gives the events that look at a batch a running one (simulated, and its log says so: it stands in
for a batch, it is not run).
"""

from __future__ import annotations

import json
import time
from typing import Any

from emr_autopilot_devkit.local.livy_server import primary_dns

SAMPLE_CLUSTER_ID = "j-2LIVYSAMPLE01"
SAMPLE_DNS = "ip-10-0-0-1.ec2.internal"
SAMPLE_FILE = "s3://emr-autopilot-local-artifactsbucket/jobs/red_violations/red_violations_spark.py"


def create_livy_cluster(
    stack: Any, name: str = "analytics-livy", applications: tuple[str, ...] = ("Hadoop", "Spark", "Livy")
) -> str:
    """A long-running cluster, as a team would start it by hand; returns its id once it is WAITING."""
    emr = stack.client("emr")
    cluster_id: str = emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.5.0",
        Applications=[{"Name": app} for app in applications],
        LogUri=f"s3://{stack.outputs['LogsBucketName']}/emr-logs/",
        Instances={
            "InstanceGroups": [
                {"Name": "primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
            "TerminationProtected": False,
        },
        JobFlowRole=stack.outputs["EmrInstanceRoleName"],
        ServiceRole=stack.outputs["EmrServiceRoleName"],
        VisibleToAllUsers=True,
        Tags=[{"Key": "team", "Value": "analytics"}],
    )["JobFlowId"]
    deadline = time.monotonic() + 30
    while emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] != "WAITING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster {cluster_id} did not reach WAITING")
        time.sleep(0.02)
    return cluster_id


def seed_livy_event(stack: Any, event: Any) -> tuple[Any, list[str]]:
    """Return the event with the sample cluster replaced by a live one, and what was done."""
    text = json.dumps(event)
    if SAMPLE_CLUSTER_ID not in text:
        return event, []
    cluster_id = create_livy_cluster(stack, name="livy-sample")
    dns = primary_dns(cluster_id)
    seeded = json.loads(text.replace(SAMPLE_CLUSTER_ID, cluster_id).replace(SAMPLE_DNS, dns))
    notes = [f"created cluster {cluster_id} ({dns}) with Livy in place of the event's {SAMPLE_CLUSTER_ID}"]
    if isinstance(seeded, dict) and "batch_id" in seeded:
        batch = stack.livy.submit_direct(dns, {"file": SAMPLE_FILE, "name": "livy-sample"}, simulate=True)
        seeded["batch_id"] = batch["id"]
        notes.append(f"submitted Livy batch {batch['id']} on it, for the event to look at")
    elif isinstance(seeded, dict) and seeded.get("detail-type") == "Step Functions Execution Status Change":
        detail = seeded["detail"]
        run_input = json.loads(detail.get("input") or "{}")
        name = (run_input.get("batch") or {}).get("name") or detail["name"]
        batch = stack.livy.submit_direct(dns, {"file": SAMPLE_FILE, "name": name}, simulate=True)
        notes.append(f"submitted Livy batch {batch['id']} ({name}) on it: the batch the stopped run left behind")
    return seeded, notes
