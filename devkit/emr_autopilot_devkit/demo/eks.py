"""Parts 12 and 13: the same PySpark job on EMR on EKS.

Job red-violations-eks is red-violations-spark's PySpark application with compute: emr-eks. A run starts
EksPipeline, whose emr-containers startJobRun.sync job run the local runtime runs for real on local PySpark, with
the driver's logs written where EMR on EKS writes them (emr_autopilot.emr_eks.driver_log_uri).

The sample names a placeholder virtual cluster (emrautopilotdemo0eks000001): a virtual cluster's id is EMR's to
choose, on AWS as here. So the demo registers one first, as a team would (an EKS cluster, then CreateVirtualCluster
on a namespace of it), and runs the deployed sample with the id EMR chose in its place, saying so. Part 12 runs it
on part 5's file: its output must be the independent count, and the same as the EC2 and EMR Serverless runs'.
Part 13 runs it on the file with a renamed column: it must fail and say why (DescribeJobRun's failureReason and
stateDetails). After each, no job run may be active and the run's cost must be in the ledger (an estimate of
EMR on EKS's charge only: the EKS nodes are billed separately, as the cost label says). Part 13 runs without the
sample's retry policy, so that the failing driver starts once (the demo's time budget), and says so.
"""

from __future__ import annotations

from typing import Any

from emr_autopilot import ledger
from emr_autopilot.emr_eks import JOB_RUN_ACTIVE, driver_log_uri
from emr_autopilot.tags import TAG_RUN_ID
from emr_autopilot_devkit.demo.runs import (
    BAD_KEY,
    COST_CHECK,
    GOOD_KEY,
    SUCCESS_COST_CHECK,
    Printer,
    RunReport,
    check_output,
    run_and_report,
    show_cost,
    split_uri,
    success_notice_costed,
)
from emr_autopilot_devkit.local.eks_clusters import register_virtual_cluster
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

JOB = "red-violations-eks"
GOOD_LABEL = "12. the same PySpark job on EMR on EKS, on the same file"
BAD_LABEL = "13. the same job on EMR on EKS, on the file with a renamed column"
LABELS = (GOOD_LABEL, BAD_LABEL)
MISSING_COLUMN = "missing required column(s): violation_type"
EKS_CLUSTER = "emr-autopilot-demo"  # the demo's EKS cluster, and the namespace it registers


def run_eks_jobs(
    stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]], others: list[RunReport]
) -> list[RunReport]:
    """Part 12 (good file, compared with `others`: the EC2 and EMR Serverless runs on it) and part 13 (bad file)."""
    cluster_id = demo_virtual_cluster(stack)
    say(
        f"\nEMR on EKS (parts 12 and 13): registered EKS cluster {EKS_CLUSTER}'s namespace {EKS_CLUSTER} as virtual "
        f"cluster {cluster_id}; the sample's placeholder id is replaced by it (a virtual cluster's id is EMR's)."
    )
    good = run_eks(stack, say, GOOD_LABEL, GOOD_KEY, cluster_id)
    check_output(stack, say, good, expected)
    checks = good.checks
    checks["same output as the EC2 and EMR Serverless runs"] = same_output(stack, say, good, others)
    checks["execution SUCCEEDED"] = good.status == "SUCCEEDED"
    checks["the job run ran for real: COMPLETED, driver logs in S3"] = bool(good.steps) and all(
        run["state"] == "COMPLETED" and run["driver_log"] for run in good.steps
    )
    checks["ledger shows the run SUCCESS"] = _meta(stack, good).get("state") == "SUCCESS"
    checks["no job run left active"] = not active_job_runs(stack, cluster_id)
    checks[COST_CHECK] = show_cost(stack, say, good, f"RUN#{good.execution_name}")
    checks[SUCCESS_COST_CHECK] = success_notice_costed(good)

    # The sample starts a failed driver once more (retry_max_attempts: 2); this run goes without, to spare a second
    # Spark start (the retry is the conformance tests' and the fault matrix's to show).
    say("\n(Part 13 runs the sample without its retry policy, so that the failing driver starts once.)")
    bad = run_eks(stack, say, BAD_LABEL, BAD_KEY, cluster_id, retry_max_attempts=None)
    checks = bad.checks
    checks["execution FAILED"] = bad.status == "FAILED"
    reasons = [f"{run['failure_reason']}: {run['state_details']}" for run in bad.steps if run["state"] == "FAILED"]
    for reason in reasons:
        say(f"   Job run failure (DescribeJobRun failureReason: stateDetails): {reason}")
    checks["the job run FAILED with the reason (failureReason USER_ERROR, the missing column)"] = any(
        reason.startswith("USER_ERROR: ") and MISSING_COLUMN in reason for reason in reasons
    )
    checks["failure notice gives the reason (USER_ERROR, the missing column)"] = any(
        "FAILED" in n["subject"] and "USER_ERROR" in n["message"] and MISSING_COLUMN in n["message"]
        for n in bad.notifications
    )
    checks["ledger shows the run FAILED, with the reason on its job run"] = _meta(stack, bad).get(
        "state"
    ) == "FAILED" and any(
        item.get("failure_reason") == "USER_ERROR"
        for item in _ledger_items(stack, bad)
        if str(item["sk"]).startswith("JOBRUN#")
    )
    checks["no job run left active"] = not active_job_runs(stack, cluster_id)
    checks[COST_CHECK] = show_cost(stack, say, bad, f"RUN#{bad.execution_name}")
    return [good, bad]


def demo_virtual_cluster(stack: LocalRuntime) -> str:
    """A RUNNING virtual cluster on the demo's EKS cluster: CreateVirtualCluster registers a namespace of an EKS
    cluster that exists (EMR on EKS Development Guide, setting-up-registration)."""
    return register_virtual_cluster(stack, EKS_CLUSTER)


def run_eks(stack: LocalRuntime, say: Printer, label: str, key: str, cluster_id: str, **eks: Any) -> RunReport:
    """`emr-autopilot run red-violations-eks --input ...` with the deployed job on `cluster_id` (and the `eks`
    settings given), and what it did."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.jobs import JobCatalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    out = stack.outputs
    deployed = load_catalog(out["ArtifactsBucketName"]).get(JOB)
    assert deployed.eks is not None
    settings = deployed.eks.model_copy(update={"virtual_cluster_id": cluster_id, **eks})
    job = deployed.model_copy(update={"eks": settings})
    input_uri = f"s3://{out['LandingBucketName']}/{key}"

    def begin() -> None:
        start_manual_run(
            JobCatalog(jobs=[job]),
            ManualRunRequest(job=JOB, input_uri=input_uri),
            StackContext.from_stack_outputs(out, REGION),
            DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
        )

    shown = f"emr-autopilot run {JOB} --input {input_uri} (EMR on EKS virtual cluster {cluster_id}, local PySpark)"
    stack.settle(timeout=60)  # what the previous part left in flight is not this run's
    report = run_and_report(stack, say, label, (shown, begin), timeout=300)  # a JVM and Spark start for real
    report.steps = job_runs_of(stack, cluster_id, report.execution_name)
    states = ", ".join(f"{run['id']} {run['state']}" for run in report.steps) or "none"
    say(f"   Execution {report.execution_name}: {report.status}; job run {states}")
    return report


def job_runs_of(stack: LocalRuntime, cluster_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's job runs (tagged with its run id), with where the driver's log is, if it was written."""
    client, s3 = stack.client("emr-containers"), stack.client("s3")
    found = []
    for summary in client.list_job_runs(virtualClusterId=cluster_id)["jobRuns"]:
        run = client.describe_job_run(virtualClusterId=cluster_id, id=summary["id"])["jobRun"]
        if run.get("tags", {}).get(TAG_RUN_ID) != run_id:
            continue
        monitoring = run.get("configurationOverrides", {}).get("monitoringConfiguration", {})
        log_uri = (monitoring.get("s3MonitoringConfiguration") or {}).get("logUri")
        driver_log = None
        if log_uri:
            uri = driver_log_uri(log_uri, cluster_id, run["id"], name="stdout.gz")
            driver_log = uri if s3.list_objects_v2(**_prefix(uri)).get("Contents") else None
        found.append(
            {
                "id": run["id"],
                "name": run.get("name"),
                "state": run["state"],
                "failure_reason": run.get("failureReason"),
                "state_details": run.get("stateDetails"),
                "virtual_cluster_id": cluster_id,
                "driver_log": driver_log,
            }
        )
    return found


def _prefix(uri: str) -> dict[str, str]:
    where = split_uri(uri)
    return {"Bucket": where["Bucket"], "Prefix": where["Key"]}


def active_job_runs(stack: LocalRuntime, cluster_id: str) -> list[dict[str, Any]]:
    """Job runs of the virtual cluster that have not ended (CANCEL_PENDING included: it still runs)."""
    states = [*JOB_RUN_ACTIVE, "CANCEL_PENDING"]
    runs: list[dict[str, Any]] = stack.client("emr-containers").list_job_runs(
        virtualClusterId=cluster_id, states=states
    )["jobRuns"]
    return runs


def same_output(stack: LocalRuntime, say: Printer, report: RunReport, others: list[RunReport]) -> bool:
    """This run's CSV rows are those of each other run (parts 5 and 7)."""
    from emr_autopilot_devkit.demo.runs import read_output

    ours = read_output(stack, report)
    theirs = [(other.label.split(".")[0], read_output(stack, other)) for other in others]
    missing = [part for part, output in theirs if output is None]
    if ours is None or missing or not theirs:
        say(f"   Same output as parts {', '.join(p for p, _ in theirs)}: cannot compare, a CSV is missing")
        return False
    same = all(output is not None and output[1] == ours[1] for _, output in theirs)
    parts = " and ".join(f"part {part}" for part, _ in theirs)
    say(f"   Same output on EMR on EKS as {parts}: {len(ours[1])} restaurants, {'identical' if same else 'DIFFERENT'}")
    return same


def _ledger_items(stack: LocalRuntime, report: RunReport) -> list[dict[str, Any]]:
    return ledger.partition_items(stack.outputs["RunLedgerTableName"], f"RUN#{report.execution_name}")


def _meta(stack: LocalRuntime, report: RunReport) -> dict[str, Any]:
    return next((item for item in _ledger_items(stack, report) if item["sk"] == "META"), {})
