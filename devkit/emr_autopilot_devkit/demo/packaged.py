"""Parts 9 to 11: the red-violations count as a Python project (jobs/red_violations_packaged: an entry point, two
modules of its own, toolz from PyPI), packaged once and run on every target the demo has.

The demo's deploy at the start built the project's zip and packed environment (for this machine's Python: the
local runtime runs the job on local Spark) and uploaded them under content-addressed keys; a second deploy here
must upload nothing. Part 9 runs the EC2 job (its step's spark-submit carries --py-files and --archives), part 10
the EMR Serverless job and part 11 the EMR on EKS job (their sparkSubmitParameters carry spark.submit.pyFiles and
spark.archives); each output is checked against the independent count, and each run must use the very artifacts
the catalog recorded.
"""

from __future__ import annotations

import json
from typing import Any

from emr_autopilot_devkit.demo import serverless
from emr_autopilot_devkit.demo.runs import GOOD_KEY, Printer, RunReport, check_output, run_and_report
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

EC2_JOB = "red-violations-packaged"
SERVERLESS_JOB = "red-violations-packaged-serverless"
EKS_JOB = "red-violations-packaged-eks"
EC2_LABEL = "9. the packaged PySpark project (own modules + toolz) on a transient cluster"
SERVERLESS_LABEL = "10. the same packaged project on EMR Serverless"
EKS_LABEL = "11. the same packaged project on EMR on EKS"
LABELS = (EC2_LABEL, SERVERLESS_LABEL, EKS_LABEL)


def run_packaged_jobs(
    stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]], first_deploy: Any
) -> list[RunReport]:
    """Parts 9 to 11; the checks on deploying the packages go with part 9."""
    say("\nPackaging (parts 9 to 11): `emr-autopilot jobs deploy` built and uploaded the packaged jobs' artifacts:")
    for prepared in first_deploy.packages:
        say(f"   {prepared.job}: {prepared.target.describe()}")
        say(f"     --py-files  {prepared.artifacts.py_files_uri}")
        say(f"     --archives  {prepared.artifacts.environment_uri}#environment")
    again = stack.deploy_jobs()
    say(f"   A second deploy uploaded {len(again.package_uploads)} package artifact(s).")
    ec2 = _run_ec2(stack, say, expected)
    jobs = {EC2_JOB, SERVERLESS_JOB, EKS_JOB}
    ec2.checks["the first deploy uploaded each packaged job's artifacts"] = {
        p.job for p in first_deploy.packages
    } == jobs and all(p.uploads for p in first_deploy.packages)
    ec2.checks["a second deploy uploaded nothing"] = not again.package_uploads and bool(again.packages)
    return [ec2, _run_serverless(stack, say, expected), _run_eks(stack, say, expected)]


def _recorded(stack: LocalRuntime, job: str) -> Any:
    from emr_autopilot.catalog import load_catalog

    package = load_catalog(stack.outputs["ArtifactsBucketName"]).get(job).package
    assert package is not None and package.artifacts is not None
    return package.artifacts


def _run_ec2(stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]]) -> RunReport:
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    out = stack.outputs
    input_uri = f"s3://{out['LandingBucketName']}/{GOOD_KEY}"

    def begin() -> None:
        start_manual_run(
            load_catalog(out["ArtifactsBucketName"]),
            ManualRunRequest(job=EC2_JOB, input_uri=input_uri),
            StackContext.from_stack_outputs(out, REGION),
            DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
        )

    shown = f"emr-autopilot run {EC2_JOB} --input {input_uri} (spark-submit with the package, on local PySpark)"
    report = run_and_report(stack, say, EC2_LABEL, (shown, begin), timeout=300)
    check_output(stack, say, report, expected)
    report.checks["execution SUCCEEDED (not SIMULATED)"] = report.outcome == "SUCCEEDED"
    report.checks["the step ran for real"] = bool(report.steps) and all(
        step["state"] == "COMPLETED" and not step["simulated"] for step in report.steps
    )
    args = _step_args(stack, report.execution_name)
    artifacts = _recorded(stack, EC2_JOB)
    report.checks["the step shipped the recorded zip and environment"] = (
        artifacts.py_files_uri in args and f"{artifacts.environment_uri}#environment" in args
    )
    return report


def _step_args(stack: LocalRuntime, execution_name: str) -> list[str]:
    for item in stack.executions():
        if item["name"] == execution_name:
            run_input = json.loads(item["input"])
            return [str(arg) for step in run_input["steps"] for arg in step["Step"]["HadoopJarStep"]["Args"]]
    return []


def _run_serverless(stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]]) -> RunReport:
    run = serverless.run_serverless(stack, say, SERVERLESS_LABEL, GOOD_KEY, job=SERVERLESS_JOB)
    report = run.report
    check_output(stack, say, report, expected)
    report.checks["execution SUCCEEDED"] = report.status == "SUCCEEDED"
    report.checks["the job run ran for real: SUCCESS"] = bool(run.job_runs) and all(
        job_run["state"] == "SUCCESS" for job_run in run.job_runs
    )
    parameters = _submit_parameters(stack, run.application_id, report.execution_name)
    artifacts = _recorded(stack, SERVERLESS_JOB)
    report.checks["the job run shipped the recorded zip and environment"] = (
        f"spark.submit.pyFiles={artifacts.py_files_uri}" in parameters
        and f"spark.archives={artifacts.environment_uri}#environment" in parameters
    )
    serverless.nothing_left_running(stack, run)
    return report


def _submit_parameters(stack: LocalRuntime, application_id: str, run_id: str) -> str:
    """The sparkSubmitParameters EMR Serverless recorded for the run's job runs."""
    from emr_autopilot.tags import TAG_RUN_ID

    client = stack.client("emr-serverless")
    found = []
    for summary in client.list_job_runs(applicationId=application_id)["jobRuns"]:
        job_run = client.get_job_run(applicationId=application_id, jobRunId=summary["id"])["jobRun"]
        if job_run.get("tags", {}).get(TAG_RUN_ID) == run_id:
            found.append(str(job_run["jobDriver"]["sparkSubmit"].get("sparkSubmitParameters", "")))
    return " ".join(found)


def _run_eks(stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]]) -> RunReport:
    """The deployed EMR on EKS job on a virtual cluster made here (its id is EMR's to choose), as the EKS tests do."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.jobs import JobCatalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext
    from emr_autopilot_devkit.local.account import ACCOUNT_ID

    out = stack.outputs
    # A virtual cluster registers a namespace of an EKS cluster that exists (CreateVirtualCluster checks it).
    stack.client("eks").create_cluster(
        name="packaged-analytics", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks", resourcesVpcConfig={}
    )
    cluster_id: str = stack.client("emr-containers").create_virtual_cluster(
        name="emr-autopilot-packaged",
        containerProvider={"type": "EKS", "id": "packaged-analytics", "info": {"eksInfo": {"namespace": "emr"}}},
    )["id"]
    deployed = load_catalog(out["ArtifactsBucketName"]).get(EKS_JOB)
    assert deployed.eks is not None
    job = deployed.model_copy(update={"eks": deployed.eks.model_copy(update={"virtual_cluster_id": cluster_id})})
    input_uri = f"s3://{out['LandingBucketName']}/{GOOD_KEY}"

    def begin() -> None:
        start_manual_run(
            JobCatalog(jobs=[job]),
            ManualRunRequest(job=EKS_JOB, input_uri=input_uri),
            StackContext.from_stack_outputs(out, REGION),
            DeadlineScheduler(out["ScheduleGroupName"], out["SchedulerRoleArn"]),
        )

    shown = f"emr-autopilot run {EKS_JOB} --input {input_uri} (EMR on EKS virtual cluster {cluster_id}, local PySpark)"
    report = run_and_report(stack, say, EKS_LABEL, (shown, begin), timeout=300)
    check_output(stack, say, report, expected)
    report.checks["execution SUCCEEDED"] = report.status == "SUCCEEDED"
    client = stack.client("emr-containers")
    runs = [
        client.describe_job_run(id=item["id"], virtualClusterId=cluster_id)["jobRun"]
        for item in client.list_job_runs(virtualClusterId=cluster_id)["jobRuns"]
    ]
    report.steps = [{"id": run["id"], "state": run["state"]} for run in runs]
    report.checks["the job run ran for real: COMPLETED"] = bool(runs) and all(r["state"] == "COMPLETED" for r in runs)
    parameters = " ".join(str(r["jobDriver"]["sparkSubmitJobDriver"].get("sparkSubmitParameters", "")) for r in runs)
    artifacts = _recorded(stack, EKS_JOB)
    report.checks["the job run shipped the recorded zip and environment"] = (
        f"spark.submit.pyFiles={artifacts.py_files_uri}" in parameters
        and f"spark.archives={artifacts.environment_uri}#environment" in parameters
    )
    return report
