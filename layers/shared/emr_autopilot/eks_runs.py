"""From an emr-eks job and a trigger to the EMR on EKS state machine's input.

The input's job run requests are in the Step Functions optimized integration's form: the EMR on EKS StartJobRun
request with each member in PascalCase (Step Functions developer guide, connect-emr-eks: "the same as" the EMR on
EKS API, in PascalCase). serverless_runs.api_params turns one back into the API's camelCase by botocore's model
(service "emr-containers"), so `jobs validate` checks it against that model; the ClientToken is made as for EMR
Serverless (serverless_runs.client_token: both APIs take 1 to 64 characters).
"""

from datetime import timedelta
from typing import Any

from emr_autopilot.eks_jobs import COMPUTE, EksSpec
from emr_autopilot.emr_requests import without_nulls
from emr_autopilot.errors import AutopilotError
from emr_autopilot.jobs import JobDefinition, Step
from emr_autopilot.runs import StackContext, Trigger, _Renderer, pipeline_tags, placeholder_values, run_section
from emr_autopilot.serverless_runs import (
    JobRunTarget,
    api_params,
    client_token,
    job_logs_uri,
    spark_submit_driver,
    target_state_machine,
)

SERVICE = "emr-containers"
# StartJobRun name: ResourceNameString, 1 to 64 of [.-_/#A-Za-z0-9] (botocore emr-containers model).
NAME_MAX = 64


class EksNotDeployed(AutopilotError):
    """The stack has no EMR on EKS state machine for an emr-eks job."""


EKS_TARGET = JobRunTarget(
    "EMR on EKS",
    COMPUTE,
    "EMR on EKS",
    "EksPipelineStateMachineArn",
    "EKS_STATE_MACHINE_ARN",
    "set another compute target",
)


def eks_state_machine(job: JobDefinition, context: StackContext) -> str:
    """The state machine that runs this emr-eks job; EksNotDeployed on a stack without one."""
    return target_state_machine(job, context.eks_state_machine_arn, EKS_TARGET, EksNotDeployed)


def job_run_name(run_id: str, index: int) -> str:
    """`<run id>.<step index>`: run ids are lower-case letters, digits, '-', 'T' and 'Z', all allowed in a name.
    A run id too long for the 64 characters is cut; the run's tags and ClientToken still identify it."""
    suffix = f".{index}"
    return run_id[: NAME_MAX - len(suffix)] + suffix


def logs_uri(job: JobDefinition, context: StackContext) -> str | None:
    return job_logs_uri(_spec(job).logs, context, "eks", job.name)


def step_timeout(job: JobDefinition, step: Step) -> timedelta:
    return step.timeout or job.run_timeout


def build_eks_run_input(job: JobDefinition, trigger: Trigger, context: StackContext, name: str) -> dict[str, Any]:
    """The EMR on EKS state machine's input for one run. Pure: the same arguments give the same input."""
    spec = _spec(job)
    machine = eks_state_machine(job, context)
    values = placeholder_values(job, trigger, context, name)
    render = _Renderer(values)
    run = run_section(job, trigger, context, name, values, spec.concurrency)
    run.update(compute=COMPUTE, virtual_cluster_id=spec.virtual_cluster_id)
    tags = dict(sorted(pipeline_tags(job.name, name, machine, spec.tags).items()))
    overrides = _configuration_overrides(job, context)
    template_parameters = {key: render(value) for key, value in spec.job_template_parameters.items()} or None
    retry_policy = {"MaxAttempts": spec.retry_max_attempts} if spec.retry_max_attempts is not None else None
    job_runs = []
    for index, step in enumerate(job.steps):
        # Every member the state machine names is present; null means not set (see start_job_run_params).
        request: dict[str, Any] = {
            "VirtualClusterId": spec.virtual_cluster_id,
            "Name": job_run_name(name, index),
            "ClientToken": client_token(name, index),
            "ExecutionRoleArn": spec.execution_role,
            "ReleaseLabel": spec.release_label,
            "JobDriver": {"SparkSubmitJobDriver": spark_submit_driver(step, context, render, job)},
            "ConfigurationOverrides": overrides,
            "JobTemplateId": spec.job_template_id,
            "JobTemplateParameters": template_parameters,
            "RetryPolicyConfiguration": retry_policy,
            "Tags": tags,
        }
        # StartJobRun has no timeout of its own: the task's TimeoutSeconds is the step's (or the run's) timeout.
        job_runs.append({"Request": request, "TimeoutSeconds": int(step_timeout(job, step).total_seconds())})
    return {"run": run, "virtual_cluster": {"VirtualClusterId": spec.virtual_cluster_id}, "job_runs": job_runs}


def start_job_run_params(request: dict[str, Any]) -> dict[str, Any]:
    """A job run Request of the input as boto3's emr-containers start_job_run takes it: camelCase, and without
    the members the job leaves unset (null in the input; boto3 refuses None)."""
    converted: dict[str, Any] = api_params("StartJobRun", without_nulls(request), SERVICE)
    return converted


def _spec(job: JobDefinition) -> EksSpec:
    if job.eks is None:
        raise ValueError(f"job {job.name!r} does not run on EMR on EKS (compute: {job.compute}): it has no eks section")
    return job.eks


def _configuration_overrides(job: JobDefinition, context: StackContext) -> dict[str, Any]:
    spec = _spec(job)
    monitoring: dict[str, Any] = {}
    uri = logs_uri(job, context)
    if uri:
        monitoring["S3MonitoringConfiguration"] = {"LogUri": uri}
    if spec.logs.cloudwatch_log_group:
        cloudwatch: dict[str, Any] = {"LogGroupName": spec.logs.cloudwatch_log_group}
        if spec.logs.cloudwatch_stream_prefix:
            cloudwatch["LogStreamNamePrefix"] = spec.logs.cloudwatch_stream_prefix
        monitoring["CloudWatchMonitoringConfiguration"] = cloudwatch
    if spec.persistent_app_ui is not None:
        monitoring["PersistentAppUI"] = "ENABLED" if spec.persistent_app_ui else "DISABLED"
    overrides: dict[str, Any] = {"MonitoringConfiguration": monitoring}
    if spec.spark_properties:
        overrides["ApplicationConfiguration"] = [
            {"Classification": "spark-defaults", "Properties": dict(sorted(spec.spark_properties.items()))}
        ]
    return overrides
