"""What the EMR samples in events/ need from a fresh local runtime, for `emr-autopilot local invoke`.

The aws.emr samples need nothing: their cluster (j-2AXXXXXXGAPLF) does not exist locally, and the
handler treats it as EMR treats a cluster it no longer knows: the event is recorded and notified
without the cluster's tags or the step's details. The step-log follow-up samples name a stderr.gz (a step's)
or a driver's stdout.gz (a job run's) in the stack's logs bucket: it is written here, so the follow-up finds
it and sends its digest.

The aws.emr-containers samples name a virtual cluster and a job run: the handler ignores a job run EMR on EKS does
not know, or one without the pipeline's tags. `seed_eks_sample` registers a virtual cluster (on an EKS cluster, as
CreateVirtualCluster needs), starts a job run through StartJobRun as the EKS pipeline does (its tags, logUri and
name), puts it in the sample's state (it does not run: emr_eks_simulator.set_sample_state), writes its driver log,
and moves the sample onto them: a virtual cluster's and a job run's ids are EMR's to choose, never a sample's.
"""

from __future__ import annotations

import copy
import gzip
from typing import Any

from emr_autopilot.step_logs import parse_s3_uri

# What a failed PySpark step's stderr ends with; the key in it shows the digest's redaction.
_INPUT = "s3://emr-autopilot-local-landingbucket/inspections/2026-11-22/inspections-renamed-column.csv"
SAMPLE_STDERR = "\n".join(
    [
        "26/11/21 06:20:58 INFO SparkContext: Running Spark version 3.5.2-amzn-1",
        f"26/11/21 06:21:01 INFO S3NativeFileSystem: Opening '{_INPUT}' for reading",
        "26/11/21 06:21:02 WARN Configuration: fs.s3a.secret.key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Traceback (most recent call last):",
        '  File "/mnt/tmp/count_red_violations.py", line 61, in <module>',
        "    main()",
        '  File "/mnt/tmp/count_red_violations.py", line 47, in main',
        "    raise SystemExit(f\"error: {args.input}: missing required column(s): {', '.join(missing)}\")",
        f"SystemExit: error: {_INPUT}: missing required column(s): violation_type; "
        "columns found: name, inspection_date, violation, violation_description",
        "26/11/21 06:21:03 INFO ShutdownHookManager: Shutdown hook called",
        "",
    ]
)


def seed_emr_sample(stack: Any, event: Any) -> list[str]:
    """Write what the sample event needs into the local runtime; returns one line per thing written."""
    if not isinstance(event, dict):
        return []
    if {"step_id", "log_uri"} <= event.keys():
        uri, what = str(event["log_uri"]), "a sample failed step's stderr"
    elif {"job_run_id", "log_uris"} <= event.keys() and isinstance(event["log_uris"], list) and event["log_uris"]:
        # A job run's follow-up reads its first log first: a PySpark driver's stdout.gz holds the traceback.
        uri, what = str(event["log_uris"][0]), "a sample failed job run's driver log"
    else:
        return []
    location = parse_s3_uri(uri)
    if location is None or location.bucket != stack.outputs.get("LogsBucketName"):
        return []
    stack.seed_object(location.key, gzip.compress(SAMPLE_STDERR.encode("utf-8")), bucket=location.bucket)
    return [f"seeded {location.uri} with {what}, so the follow-up finds it"]


EKS_CLUSTER = "emr-autopilot-samples"  # the EKS cluster and namespace the samples' virtual cluster registers
EKS_SOURCE = "aws.emr-containers"


def seed_eks_sample(stack: Any, event: Any) -> tuple[Any, list[str]]:
    """For an aws.emr-containers sample: a virtual cluster and a job run of ours in the sample's state, with a driver
    log; returns the sample moved onto them, and one line per thing done. Any other event is returned as it is."""
    if not isinstance(event, dict) or event.get("source") != EKS_SOURCE or not isinstance(event.get("detail"), dict):
        return event, []
    from emr_autopilot import emr_eks
    from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB, TAG_MANAGED, TAG_RUN_ID
    from emr_autopilot_devkit.local.account import ACCOUNT_ID
    from emr_autopilot_devkit.local.eks_clusters import register_virtual_cluster

    detail = event["detail"]
    out = stack.outputs
    cluster_id = register_virtual_cluster(stack, EKS_CLUSTER)
    name = str(detail.get("name") or "red-violations-eks-sample.0")
    run_id = name.rsplit(".", 1)[0]
    job = run_id.rsplit("-", 1)[0]
    machine = str(out["EksPipelineStateMachineArn"])
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{run_id}"
    log_uri = f"s3://{out['LogsBucketName']}/eks/{job}/"
    tags = {TAG_JOB: job, TAG_RUN_ID: run_id, TAG_EXECUTION_ARN: execution_arn, TAG_MANAGED: "true"}
    job_run_id: str = stack.client("emr-containers").start_job_run(
        name=name,
        virtualClusterId=cluster_id,
        executionRoleArn=str(detail.get("executionRoleArn") or f"arn:aws:iam::{ACCOUNT_ID}:role/eks-jobs"),
        releaseLabel=str(detail.get("releaseLabel") or "emr-7.5.0-latest"),
        jobDriver={"sparkSubmitJobDriver": {"entryPoint": f"s3://{out['ArtifactsBucketName']}/jobs/sample.py"}},
        configurationOverrides={"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}},
        tags=tags,
    )["id"]
    state = str(detail.get("state") or "RUNNING")
    stack.eks.set_sample_state(job_run_id, state, detail.get("stateDetails"), detail.get("failureReason"))
    notes = [
        f"registered virtual cluster {cluster_id} (EKS cluster {EKS_CLUSTER}) and started job run {job_run_id} "
        f"with the run's tags, put in the sample's state {state} (not run here)",
    ]
    if state in ("FAILED", "COMPLETED", "CANCELLED"):
        uri = emr_eks.driver_log_uri(log_uri, cluster_id, job_run_id, name="stdout.gz")
        location = parse_s3_uri(uri)
        assert location is not None
        stack.seed_object(location.key, gzip.compress(SAMPLE_STDERR.encode("utf-8")), bucket=location.bucket)
        notes.append(f"seeded {uri} with a sample driver log")
    moved = copy.deepcopy(event)
    arn = f"arn:aws:emr-containers:{moved.get('region', 'us-east-1')}:{ACCOUNT_ID}:/virtualclusters/{cluster_id}"
    moved["detail"].update(id=job_run_id, virtualClusterId=cluster_id, arn=f"{arn}/jobruns/{job_run_id}")
    moved["resources"] = [f"{arn}/jobruns/{job_run_id}"]
    notes.append(f"moved the sample onto virtual cluster {cluster_id}, job run {job_run_id} (EMR chooses the ids)")
    return moved, notes
