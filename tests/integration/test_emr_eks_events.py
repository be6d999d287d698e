"""EMR on EKS job run events on the local runtime: the simulator's events reach EmrEksEventFunction through the
template's EventBridge rule, which records the run and sends the failure notice. No Spark: the job run's entry
point is missing, so EMR on EKS (the simulator) fails it as a USER_ERROR before any driver starts."""

from __future__ import annotations

from emr_autopilot import ledger
from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB, TAG_RUN_ID
from emr_autopilot_devkit.local.account import ACCOUNT_ID
from emr_autopilot_devkit.local.runtime import REGION
from tests.helpers.integration import RuntimeFactory

RUN_ID = "red-violations-eks-0123456789abcdef01234567"


def test_a_failed_job_run_reaches_the_ledger_and_one_notice_through_the_event_bus(
    local_runtime: RuntimeFactory,
) -> None:
    stack = local_runtime()
    # Given a virtual cluster and a job run started with the pipeline's tags, its entry point not in S3
    stack.client("eks").create_cluster(
        name="analytics", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={}
    )
    containers = stack.client("emr-containers")
    cluster = containers.create_virtual_cluster(
        name="emr-autopilot-demo",
        containerProvider={"type": "EKS", "id": "analytics", "info": {"eksInfo": {"namespace": "emr"}}},
    )["id"]
    logs = f"s3://{stack.outputs['LogsBucketName']}/eks/red-violations-eks/"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:emr-autopilot-eks:{RUN_ID}"
    job_run = containers.start_job_run(
        name=f"{RUN_ID}.0",
        virtualClusterId=cluster,
        clientToken="eks-events-test",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/emr-autopilot-eks-jobs",
        releaseLabel="emr-7.5.0-latest",
        jobDriver={"sparkSubmitJobDriver": {"entryPoint": f"s3://{stack.outputs['ArtifactsBucketName']}/missing.py"}},
        configurationOverrides={"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": logs}}},
        tags={TAG_JOB: "red-violations-eks", TAG_RUN_ID: RUN_ID, TAG_EXECUTION_ARN: execution},
    )["id"]
    # When EMR on EKS fails it and every state change's event is delivered
    stack.settle()
    # Then the ledger holds the run, FAILED for the job run's failureReason, with a cost estimate
    table = stack.outputs["RunLedgerTableName"]
    described = containers.describe_job_run(virtualClusterId=cluster, id=job_run)["jobRun"]
    assert described["state"] == "FAILED"
    items = {item["sk"]: item for item in ledger.partition_items(table, f"RUN#{RUN_ID}")}
    item, meta = items[f"JOBRUN#{job_run}"], items["META"]
    assert (item["state"], item["failure_reason"]) == ("FAILED", described["failureReason"])
    assert (meta["state"], meta["compute"], meta["virtual_cluster_id"]) == ("FAILED", "emr-eks", cluster)
    assert "estimate: EMR on EKS" in str(meta["cost_label"])
    # And each state change is in the run's timeline (PENDING, SUBMITTED, ... FAILED), once
    timeline = [i.get("state") for i in items.values() if str(i["sk"]).startswith("EVENT#")]
    assert "FAILED" in timeline and len(timeline) == len(set(timeline))
    # And one failure notice from EmrEksEventFunction gives the reason and where the driver's log is
    (notice,) = [n for n in stack.notifications if n.subject.startswith("[emr-autopilot] Job run failed:")]
    assert f"Reason: {described['failureReason']}" in notice.message
    assert f"{logs}{cluster}/jobs/{job_run}/containers/spark-{job_run}/spark-{job_run}-driver/" in notice.message
