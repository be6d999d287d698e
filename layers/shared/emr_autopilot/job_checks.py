"""Checks of a valid job against what AWS will do with it: the EMR (or EMR Serverless) requests a run sends,
and its trigger buckets.

The job models (emr_autopilot.jobs) check each field; these checks need a rendering of the whole job and the
stack's view, so `jobs validate` and `jobs deploy` run them before anything changes. Problems are
`field: reason` lines in the job file's words, as JobDefinitionError carries them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from emr_autopilot.emr_requests import RequestProblem, check_add_step, check_create_cluster, check_request
from emr_autopilot.jobs import JobDefinition
from emr_autopilot.runs import StackContext, Trigger, build_run_input, execution_name
from emr_autopilot.serverless_runs import (
    SERVICE,
    ServerlessNotDeployed,
    api_params,
    build_serverless_run_input,
    create_application_request,
)

# A run's cluster does not exist before it is created; addStep needs some id to be checked at all.
_EXAMPLE_CLUSTER_ID = "j-EXAMPLE0000000"
_WHEN = datetime(2026, 1, 31, 6, 0, tzinfo=UTC)

# RunJobFlow's top-level members, as the job file names what renders to them (emr_autopilot.runs).
_CLUSTER_FIELDS = {
    "Name": "name",
    "ReleaseLabel": "cluster.release_label",
    "Applications": "cluster.applications",
    "LogUri": "cluster.log_uri",
    "ServiceRole": "cluster.service_role",
    "JobFlowRole": "cluster.instance_profile",
    "Tags": "cluster.tags",
    "AutoTerminationPolicy": "cluster.idle_timeout",
    "StepConcurrencyLevel": "cluster.step_concurrency",
    "BootstrapActions": "cluster.bootstrap_actions",
    "Configurations": "cluster.configurations",
    "ManagedScalingPolicy": "cluster.managed_scaling",
    "SecurityConfiguration": "cluster.security_configuration",
    "Instances.InstanceGroups": "cluster.instance_groups",
    "Instances.InstanceFleets": "cluster.instance_fleets",
    "Instances.Ec2SubnetId": "cluster.subnet_ids",
    "Instances.Ec2SubnetIds": "cluster.subnet_ids",
    "Instances.Ec2KeyName": "cluster.ec2_key_name",
}
_STEP_FIELDS = {
    "Step.Name": "name",
    "Step.ActionOnFailure": "action_on_failure",
    "Step.HadoopJarStep.Args": "args",
    "Step.HadoopJarStep": "script",
}


def example_context(region: str = "us-east-1") -> StackContext:
    """A stack's resources as `sam deploy` names them, for checking a job with no stack at hand."""
    account = "123456789012"
    return StackContext(
        region=region,
        state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:emr-autopilot-TransientClusterPipeline",
        landing_bucket="emr-autopilot-landingbucket-example",
        curated_bucket="emr-autopilot-curatedbucket-example",
        artifacts_bucket="emr-autopilot-artifactsbucket-example",
        logs_bucket="emr-autopilot-logsbucket-example",
        notification_topic_arn=f"arn:aws:sns:{region}:{account}:emr-autopilot-NotificationTopic",
        emr_service_role="EMR_DefaultRole",
        emr_instance_profile="EMR_EC2_DefaultRole",
        serverless_state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:emr-autopilot-ServerlessPipeline",
        serverless_execution_role_arn=f"arn:aws:iam::{account}:role/emr-autopilot-ServerlessExecutionRole",
        eks_state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:emr-autopilot-EksPipeline",
    )


def representative_trigger(job: JobDefinition, context: StackContext) -> Trigger:
    """The trigger a job's runs most often have: its first S3 trigger, else its schedule, else a person."""
    if job.triggers.s3:
        first = job.triggers.s3[0]
        bucket = context.landing_bucket if first.bucket == "landing" else first.bucket
        uri = f"s3://{bucket}/{first.prefix}example{first.suffix or '.csv'}"
        return Trigger(kind="s3", time=_WHEN, input_uri=uri, identity=f"{uri}#example")
    if job.triggers.schedule:
        return Trigger(kind="schedule", time=_WHEN, identity=_WHEN.isoformat())
    return Trigger(kind="manual", time=_WHEN, input_uri=f"s3://{context.landing_bucket}/example.csv")


def request_problems(job: JobDefinition, context: StackContext) -> list[str]:
    """The job's rendered createCluster request and each addStep request, against EMR's API model and the
    Step Functions createCluster rules (emr_autopilot.emr_requests): what EMR would refuse at run time.
    A serverless job: serverless_request_problems."""
    if job.package is not None:  # a job file has no recorded artifacts: example ones give the requests' shape
        from emr_autopilot.job_packages import with_example_artifacts

        job = with_example_artifacts(job, context.artifacts_bucket)
    if job.compute == "emr-serverless":
        return serverless_request_problems(job, context)
    if job.compute == "emr-eks":
        return eks_request_problems(job, context)
    trigger = representative_trigger(job, context)
    run_input = build_run_input(job, trigger, context, execution_name(job, trigger))
    lines = [_cluster_line(problem) for problem in check_create_cluster(run_input["cluster_request"])]
    for index, step in enumerate(run_input["steps"]):
        request = {"ClusterId": _EXAMPLE_CLUSTER_ID, "Step": step["Step"]}
        lines += [_step_line(index, problem) for problem in check_add_step(request)]
    return lines


# Members rendered one to one from a list in the job file, so the request's index is the file's index.
_SAME_INDEX = ("Instances.InstanceGroups", "Instances.InstanceFleets", "BootstrapActions", "Configurations")


def _field_for(path: str, fields: dict[str, str]) -> str | None:
    """The job field a request member comes from: the longest member the path starts with."""
    bare = re.sub(r"\[\d+\]", "", path)
    for member in sorted(fields, key=len, reverse=True):
        if bare == member or bare.startswith((member + ".", member + "[", member + " key")):  # [" key"]: a map
            index = re.match(re.escape(member) + r"\[(\d+)\]", path) if member in _SAME_INDEX else None
            return fields[member] + (f".{index.group(1)}" if index else "")
    return None


def _cluster_line(problem: RequestProblem) -> str:
    field = _field_for(problem.path, _CLUSTER_FIELDS) or "cluster"
    where = f"RunJobFlow {problem.path}" if problem.path else "the RunJobFlow request"
    return f"{field}: EMR would refuse the cluster this job creates: {where} {problem.problem}"


def _step_line(index: int, problem: RequestProblem) -> str:
    field = _field_for(problem.path, _STEP_FIELDS)
    member = problem.path.removeprefix("Step.") if problem.path else "the step"
    return f"steps.{index}{'.' + field if field else ''}: EMR would refuse this step: {member} {problem.problem}"


# A managed application has no id before `jobs deploy` creates it; StartJobRun needs one to be checked at all.
_EXAMPLE_APPLICATION_ID = "00example0000000"

# StartJobRun members (camelCase, as the model names them), as the job file names what renders to them.
_JOB_RUN_FIELDS = {
    "applicationId": "serverless.application_id",
    "executionRoleArn": "serverless.execution_role",
    "name": "name",
    "tags": "serverless.tags",
    "executionTimeoutMinutes": "timeout",
    "configurationOverrides.monitoringConfiguration": "serverless.logs",
    "jobDriver.sparkSubmit.entryPoint": "script",
    "jobDriver.sparkSubmit.entryPointArguments": "args",
    "jobDriver.sparkSubmit.sparkSubmitParameters": "spark_args",
    "jobDriver.hive.query": "query",
    "jobDriver.hive.initQueryFile": "init_file",
    "jobDriver.hive.parameters": "parameters",
}
# Members read from the job, not the step: their line names the job's field, not steps.N.<field>.
_JOB_LEVEL = ("serverless.", "name")
_APPLICATION_FIELDS = {
    "name": "name",
    "releaseLabel": "serverless.application.release_label",
    "architecture": "serverless.application.architecture",
    "initialCapacity": "serverless.application.initial_capacity",
    "maximumCapacity": "serverless.application.maximum_capacity",
    "autoStartConfiguration": "serverless.application.auto_start",
    "autoStopConfiguration": "serverless.application.auto_stop",
    "networkConfiguration": "serverless.application.network",
    "tags": "serverless.application.tags",
    "type": "steps",
}


def serverless_request_problems(job: JobDefinition, context: StackContext) -> list[str]:
    """A serverless job's StartJobRun requests (as the state machine sends them, turned into the API's form by
    the service model) and its managed application's CreateApplication, against EMR Serverless's API model."""
    assert job.serverless is not None
    trigger = representative_trigger(job, context)
    application_id = job.serverless.application_id or _EXAMPLE_APPLICATION_ID
    try:
        run_input = build_serverless_run_input(job, trigger, context, execution_name(job, trigger), application_id)
    except ServerlessNotDeployed as exc:
        return [f"compute: read 'emr-serverless': {exc}"]
    lines = []
    if job.serverless.application is not None:
        request = {**create_application_request(job), "clientToken": "validate"}
        lines += [_application_line(problem) for problem in check_request("CreateApplication", request, SERVICE)]
    for index, job_run in enumerate(run_input["job_runs"]):
        params = api_params("StartJobRun", job_run["Request"])
        lines += [_job_run_line(index, problem) for problem in check_request("StartJobRun", params, SERVICE)]
    return list(dict.fromkeys(lines))  # a job-level problem is found once per step: say it once


def _application_line(problem: RequestProblem) -> str:
    field = _field_for(problem.path, _APPLICATION_FIELDS) or "serverless.application"
    where = f"CreateApplication {problem.path}" if problem.path else "the CreateApplication request"
    return f"{field}: EMR Serverless would refuse the application this job creates: {where} {problem.problem}"


def _job_run_line(index: int, problem: RequestProblem) -> str:
    field = _field_for(problem.path, _JOB_RUN_FIELDS)
    where = f"StartJobRun {problem.path}" if problem.path else "the StartJobRun request"
    if field is not None and field.startswith(_JOB_LEVEL):
        return f"{field}: EMR Serverless would refuse this job's job runs: {where} {problem.problem}"
    step_field = f"steps.{index}{'.' + field if field else ''}"
    return f"{step_field}: EMR Serverless would refuse this job run: {where} {problem.problem}"


# EMR on EKS StartJobRun members (camelCase), as the job file names what renders to them.
_EKS_JOB_RUN_FIELDS = {
    "virtualClusterId": "eks.virtual_cluster_id",
    "executionRoleArn": "eks.execution_role",
    "releaseLabel": "eks.release_label",
    "jobTemplateId": "eks.job_template_id",
    "jobTemplateParameters": "eks.job_template_parameters",
    "retryPolicyConfiguration": "eks.retry_max_attempts",
    "name": "name",
    "tags": "eks.tags",
    "configurationOverrides.monitoringConfiguration": "eks.logs",
    "configurationOverrides.applicationConfiguration": "eks.spark_properties",
    "jobDriver.sparkSubmitJobDriver.entryPoint": "script",
    "jobDriver.sparkSubmitJobDriver.entryPointArguments": "args",
    "jobDriver.sparkSubmitJobDriver.sparkSubmitParameters": "spark_args",
}


def eks_request_problems(job: JobDefinition, context: StackContext) -> list[str]:
    """An emr-eks job's StartJobRun requests (as the state machine sends them, turned into the API's form by the
    service model) against EMR on EKS's API model (botocore, service emr-containers)."""
    from emr_autopilot.eks_runs import SERVICE as EKS_SERVICE
    from emr_autopilot.eks_runs import EksNotDeployed, build_eks_run_input

    trigger = representative_trigger(job, context)
    try:
        run_input = build_eks_run_input(job, trigger, context, execution_name(job, trigger))
    except EksNotDeployed as exc:
        return [f"compute: read 'emr-eks': {exc}"]
    lines = []
    for index, job_run in enumerate(run_input["job_runs"]):
        params = api_params("StartJobRun", job_run["Request"], EKS_SERVICE)
        for problem in check_request("StartJobRun", params, EKS_SERVICE):
            field = _field_for(problem.path, _EKS_JOB_RUN_FIELDS)
            where = f"StartJobRun {problem.path}" if problem.path else "the StartJobRun request"
            if field is not None and field.startswith(("eks.", "name")):
                lines.append(f"{field}: EMR on EKS would refuse this job's job runs: {where} {problem.problem}")
            else:
                step_field = f"steps.{index}{'.' + field if field else ''}"
                lines.append(f"{step_field}: EMR on EKS would refuse this job run: {where} {problem.problem}")
    return list(dict.fromkeys(lines))  # a job-level problem is found once per step: say it once


def trigger_bucket_problems(job: JobDefinition, notified: Iterable[str], context: StackContext) -> list[str]:
    """S3 triggers on buckets whose new objects never reach the run starter: such a trigger would never fire."""
    listened = set(notified)
    lines = []
    for index, trigger in enumerate(job.triggers.s3):
        bucket = context.landing_bucket if trigger.bucket == "landing" else trigger.bucket
        if bucket in listened:
            continue
        others = sorted(listened - {context.landing_bucket})
        heard = "landing (" + context.landing_bucket + ")" + "".join(f", {name}" for name in others)
        lines.append(
            f"triggers.s3.{index}.bucket: read {trigger.bucket!r}: the stack does not start runs for new objects "
            f"in this bucket, so the trigger would never fire. Allowed: {heard}; e.g. bucket: landing, or add "
            f"{trigger.bucket} to the stack parameter ExtraTriggerBucketNames (with EventBridge notifications "
            "enabled on the bucket) and deploy the stack again"
        )
    return lines
