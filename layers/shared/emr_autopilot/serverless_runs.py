"""From a serverless job and a trigger to the serverless state machine's input, and to the managed
application's CreateApplication request.

The input's job run requests are in the Step Functions optimized integration's form: the EMR Serverless
StartJobRun request with each member in PascalCase (Step Functions developer guide, connect-emr-serverless).
`api_params` turns such a request back into the API's own camelCase form, by botocore's model, so it can be
checked against that model (emr_autopilot.emr_requests) and sent with boto3.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from emr_autopilot.errors import AutopilotError
from emr_autopilot.jobs import JobDefinition, Step
from emr_autopilot.runs import (
    StackContext,
    Trigger,
    _Renderer,
    pipeline_tags,
    placeholder_values,
    run_section,
    s3_location,
)
from emr_autopilot.serverless_jobs import (
    ManagedApplication,
    ServerlessLogs,
    ServerlessSpec,
    WorkerConfiguration,
    execution_timeout_minutes,
    managed_application_name,
)
from emr_autopilot.tags import TAG_JOB, TAG_MANAGED

if TYPE_CHECKING:
    from botocore.model import Shape

COMPUTE = "emr-serverless"
SERVICE = "emr-serverless"
# StartJobRun clientToken: 1 to 64 characters of [A-Za-z0-9._-] (botocore model, ClientToken).
CLIENT_TOKEN_MAX = 64


class ServerlessNotDeployed(AutopilotError):
    """The stack has no serverless state machine (or no default execution role) for a serverless job."""


class JobRunTarget(NamedTuple):
    """A compute target whose runs are job runs on their own state machine (EMR Serverless, EMR on EKS), as the
    run starter's errors name it."""

    service: str
    compute: str
    machine: str  # "the stack has no <machine> state machine"
    output: str  # the stack output with the state machine's ARN
    variable: str  # the run starter's environment variable for it
    otherwise: str  # what else the job can do


SERVERLESS_TARGET = JobRunTarget(
    "EMR Serverless",
    COMPUTE,
    "serverless",
    "ServerlessPipelineStateMachineArn",
    "SERVERLESS_STATE_MACHINE_ARN",
    "set compute: emr-ec2",
)


def target_state_machine(
    job: JobDefinition, arn: str | None, target: JobRunTarget, not_deployed: type[AutopilotError]
) -> str:
    """The state machine that runs this job on `target`; `not_deployed` on a stack without one."""
    if not arn:
        raise not_deployed(
            f"job {job.name!r} runs on {target.service} (compute: {target.compute}), but the stack has no "
            f"{target.machine} state machine: stack output {target.output} is missing (the run starter's "
            f"{target.variable} is unset). Deploy the current template (sam deploy), or {target.otherwise}"
        )
    return arn


def serverless_state_machine(job: JobDefinition, context: StackContext) -> str:
    """The state machine that runs this serverless job; ServerlessNotDeployed on a stack without one."""
    return target_state_machine(job, context.serverless_state_machine_arn, SERVERLESS_TARGET, ServerlessNotDeployed)


def execution_role(job: JobDefinition, context: StackContext) -> str:
    spec = _spec(job)
    role = spec.execution_role or context.serverless_execution_role_arn
    if not role:
        raise ServerlessNotDeployed(
            f"job {job.name!r} names no serverless.execution_role, and the stack has no default: stack output "
            "ServerlessExecutionRoleArn is missing (the run starter's SERVERLESS_EXECUTION_ROLE_ARN is unset). "
            "Set serverless.execution_role, or deploy the current template (sam deploy)"
        )
    return role


def client_token(run_id: str, index: int) -> str:
    """The same run and step always give the same token, so a repeated StartJobRun starts no second job run.
    A digest of the run id: execution names reach 80 characters, over the token's 64."""
    digest = hashlib.sha256(f"{run_id}#{index}".encode()).hexdigest()
    suffix = f"-{index}"
    return digest[: CLIENT_TOKEN_MAX - len(suffix)] + suffix


def logs_uri(job: JobDefinition, context: StackContext) -> str | None:
    return job_logs_uri(_spec(job).logs, context, "serverless", job.name)


def job_logs_uri(logs: ServerlessLogs, context: StackContext, folder: str, job_name: str) -> str | None:
    """Where a job run target's job runs log: logs.s3_uri, else s3://<LogsBucket>/<folder>/<job>/; None with no S3
    logs."""
    if not logs.s3:
        return None
    return logs.s3_uri or f"s3://{context.logs_bucket}/{folder}/{job_name}/"


def build_serverless_run_input(
    job: JobDefinition, trigger: Trigger, context: StackContext, name: str, application_id: str
) -> dict[str, Any]:
    """The serverless state machine's input for one run. Pure: the same arguments give the same input."""
    spec = _spec(job)
    machine = serverless_state_machine(job, context)
    values = placeholder_values(job, trigger, context, name)
    render = _Renderer(values)
    run = run_section(job, trigger, context, name, values, spec.concurrency)
    run.update(compute=COMPUTE, application_id=application_id)
    tags = dict(sorted(pipeline_tags(job.name, name, machine, spec.tags).items()))
    role = execution_role(job, context)
    monitoring = _monitoring(job, context)
    job_runs = []
    for index, step in enumerate(job.steps):
        request: dict[str, Any] = {
            "ApplicationId": application_id,
            "ExecutionRoleArn": role,
            "Name": f"{name}.{index} {step.name}"[:256],
            "ClientToken": client_token(name, index),
            "JobDriver": _job_driver(step, context, render, job),
            "ConfigurationOverrides": {"MonitoringConfiguration": monitoring},
            "ExecutionTimeoutMinutes": execution_timeout_minutes(step.timeout or job.run_timeout),
            "Tags": tags,
        }
        job_runs.append({"Request": request})
    return {
        "run": run,
        "application": {
            "ApplicationId": application_id,
            "start_first": spec.start_first,
            "stop_after": spec.stop_application_after_run,
        },
        "job_runs": job_runs,
    }


def _spec(job: JobDefinition) -> ServerlessSpec:
    if job.serverless is None:
        raise ValueError(f"job {job.name!r} runs on a cluster (compute: {job.compute}): it has no serverless section")
    return job.serverless


def _job_driver(step: Step, context: StackContext, render: _Renderer, job: JobDefinition) -> dict[str, Any]:
    if step.type == "hive":
        assert step.query
        hive: dict[str, Any] = {"Query": s3_location(step.query, context)}
        if step.init_file:
            hive["InitQueryFile"] = s3_location(step.init_file, context)
        if step.parameters:
            hive["Parameters"] = " ".join(render.all(step.parameters))
        return {"Hive": hive}
    return {"SparkSubmit": spark_submit_driver(step, context, render, job)}


def spark_submit_driver(step: Step, context: StackContext, render: _Renderer, job: JobDefinition) -> dict[str, Any]:
    """A spark-submit step as EMR Serverless's SparkSubmit and EMR on EKS's SparkSubmitJobDriver both take it."""
    assert step.script
    spark: dict[str, Any] = {
        "EntryPoint": s3_location(step.script, context),
        "EntryPointArguments": render.all(step.args),
    }
    parameters = render.all(step.spark_args)
    if job.package is not None:  # the project's zip and environment, as `jobs deploy` recorded them
        from emr_autopilot import job_packages

        eks = job.compute == "emr-eks"
        options = job_packages.eks_spark_options(job) if eks else job_packages.serverless_spark_options(job)
        spark["EntryPoint"] = job_packages.entry_point(job, step.script)
        parameters = [*options, *parameters]
    if parameters:
        spark["SparkSubmitParameters"] = " ".join(parameters)
    return spark


def _monitoring(job: JobDefinition, context: StackContext) -> dict[str, Any]:
    logs = _spec(job).logs
    monitoring: dict[str, Any] = {}
    uri = logs_uri(job, context)
    if uri:
        monitoring["S3MonitoringConfiguration"] = {"LogUri": uri}
    if logs.cloudwatch_log_group:
        cloudwatch: dict[str, Any] = {"Enabled": True, "LogGroupName": logs.cloudwatch_log_group}
        if logs.cloudwatch_stream_prefix:
            cloudwatch["LogStreamNamePrefix"] = logs.cloudwatch_stream_prefix
        monitoring["CloudWatchLoggingConfiguration"] = cloudwatch
    return monitoring


# -- PascalCase (Step Functions) to camelCase (the API), by the service model -----------------------------
def api_params(operation: str, params: Any, service: str = SERVICE) -> Any:
    """`params` as the API names them. Step Functions takes each API member with its first letter upper-cased
    (connect-emr-serverless: "Parameters are the EMR Serverless API request fields in PascalCase"); the model says
    which objects are structures (whose keys are members) and which are maps (whose keys are data, e.g. Tags, kept
    as written). A key that matches no member is kept, so the model check names it."""
    from emr_autopilot.emr_requests import service_model

    shape = service_model(service).operation_model(operation).input_shape
    return _to_api(shape, params) if shape is not None else params


def _to_api(shape: "Shape", value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members: Any = shape.members  # type: ignore[attr-defined]
        by_pascal = {name[:1].upper() + name[1:]: name for name in members}
        converted = {}
        for key, item in value.items():
            member = key if key in members else by_pascal.get(key, key)
            converted[member] = _to_api(members[member], item) if member in members else item
        return converted
    if kind == "list" and isinstance(value, list):
        item_shape: Any = shape.member  # type: ignore[attr-defined]
        return [_to_api(item_shape, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        value_shape: Any = shape.value  # type: ignore[attr-defined]
        return {key: _to_api(value_shape, item) for key, item in value.items()}
    return value


def start_job_run_params(request: Mapping[str, Any]) -> dict[str, Any]:
    """A job run Request of the input as boto3's start_job_run takes it."""
    converted: dict[str, Any] = api_params("StartJobRun", dict(request))
    return converted


# -- the managed application ---------------------------------------------------------------------------
_WORKER_TYPES = {"SPARK": ("DRIVER", "EXECUTOR"), "HIVE": ("HIVE_DRIVER", "TEZ_TASK")}


def application_type(job: JobDefinition) -> str:
    """SPARK or HIVE, from the job's steps (a managed application runs one engine; check_target enforces it)."""
    return "HIVE" if job.steps[0].type == "hive" else "SPARK"


def create_application_request(job: JobDefinition) -> dict[str, Any]:
    """CreateApplication for the job's managed application, in the API's (boto3's) form, without clientToken."""
    spec = _spec(job)
    app = spec.application
    if app is None:
        raise ValueError(f"job {job.name!r} runs on an existing application ({spec.application_id}); it manages none")
    kind = application_type(job)
    request: dict[str, Any] = {
        "name": managed_application_name(job.name),
        "releaseLabel": app.release_label,
        "type": kind,
        "architecture": app.architecture,
        "autoStartConfiguration": {"enabled": app.auto_start},
        "autoStopConfiguration": _auto_stop(app),
        "tags": {**app.tags, TAG_JOB: job.name, TAG_MANAGED: "true"},
    }
    if app.initial_capacity:
        driver, executor = _WORKER_TYPES[kind]
        workers = {driver: app.initial_capacity.driver, executor: app.initial_capacity.executor}
        request["initialCapacity"] = {
            worker: _initial_capacity(config) for worker, config in workers.items() if config is not None
        }
    if app.maximum_capacity:
        maximum = {"cpu": app.maximum_capacity.cpu, "memory": app.maximum_capacity.memory}
        if app.maximum_capacity.disk:
            maximum["disk"] = app.maximum_capacity.disk
        request["maximumCapacity"] = maximum
    if app.network:
        request["networkConfiguration"] = {
            "subnetIds": list(app.network.subnet_ids),
            "securityGroupIds": list(app.network.security_group_ids),
        }
    return request


def _auto_stop(app: ManagedApplication) -> dict[str, Any]:
    if not app.auto_stop.enabled:
        return {"enabled": False}
    return {"enabled": True, "idleTimeoutMinutes": execution_timeout_minutes(app.auto_stop.idle_timeout)}


def _initial_capacity(config: WorkerConfiguration) -> dict[str, Any]:
    worker: dict[str, Any] = {"cpu": config.cpu, "memory": config.memory}
    if config.disk:
        worker["disk"] = config.disk
    return {"workerCount": config.count, "workerConfiguration": worker}


# What UpdateApplication can change in place (botocore model, UpdateApplicationRequest); anything else
# (the name, the type) needs a new application.
UPDATABLE = (
    "releaseLabel",
    "architecture",
    "initialCapacity",
    "maximumCapacity",
    "autoStartConfiguration",
    "autoStopConfiguration",
    "networkConfiguration",
)


def application_config_digest(request: Mapping[str, Any]) -> str:
    """Identifies a CreateApplication configuration: `jobs deploy` updates the application when it changes."""
    return hashlib.sha256(json.dumps(dict(request), sort_keys=True).encode()).hexdigest()
