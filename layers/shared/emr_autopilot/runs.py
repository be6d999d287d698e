"""From a trigger to a state machine input: job matching, execution naming and rendering."""

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, field_validator

from emr_autopilot.clock import now  # noqa: F401  (re-exported: callers use runs.now)
from emr_autopilot.jobs import (
    ClusterSpec,
    InstanceFleet,
    InstanceGroup,
    JobCatalog,
    JobDefinition,
    Step,
)
from emr_autopilot.simulation import simulated_step
from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB, TAG_MANAGED, TAG_RUN_ID

EXECUTION_NAME_MAX = 80


class StackContext(BaseModel):
    """The deployed stack's resources that rendering needs."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    region: str
    state_machine_arn: str
    landing_bucket: str
    curated_bucket: str
    artifacts_bucket: str
    logs_bucket: str
    notification_topic_arn: str
    emr_service_role: str
    emr_instance_profile: str
    # EMR Serverless (compute: emr-serverless); None on a stack deployed before serverless runs existed.
    serverless_state_machine_arn: str | None = None
    serverless_execution_role_arn: str | None = None
    # EMR on EKS (compute: emr-eks); None on a stack deployed before EKS runs existed.
    eks_state_machine_arn: str | None = None

    @classmethod
    def from_stack_outputs(cls, outputs: Mapping[str, str], region: str) -> Self:
        """From the CloudFormation outputs of template.yaml (the CLI's view of a deployed stack)."""
        return cls(
            region=region,
            state_machine_arn=outputs["StateMachineArn"],
            landing_bucket=outputs["LandingBucketName"],
            curated_bucket=outputs["CuratedBucketName"],
            artifacts_bucket=outputs["ArtifactsBucketName"],
            logs_bucket=outputs["LogsBucketName"],
            notification_topic_arn=outputs["NotificationTopicArn"],
            emr_service_role=outputs["EmrServiceRoleName"],
            emr_instance_profile=outputs["EmrInstanceRoleName"],
            serverless_state_machine_arn=outputs.get("ServerlessPipelineStateMachineArn"),
            serverless_execution_role_arn=outputs.get("ServerlessExecutionRoleArn"),
            eks_state_machine_arn=outputs.get("EksPipelineStateMachineArn"),
        )

    @property
    def artifacts_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/jobs/"


class Trigger(BaseModel):
    """What asked for a run: an object, a schedule tick or a person."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["s3", "schedule", "manual"]
    time: datetime
    input_uri: str | None = None
    # What makes a delivery the same delivery: bucket/key/version-or-etag, or the scheduled time.
    identity: str | None = None

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A naive time is UTC; astimezone() would otherwise read it in the machine's local zone,
        # so the same trigger would name and date its run differently on different machines.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def matching_jobs(catalog: JobCatalog, bucket: str, key: str, landing_bucket: str) -> list[JobDefinition]:
    return [
        job for job in catalog.jobs if any(trigger.matches(bucket, key, landing_bucket) for trigger in job.triggers.s3)
    ]


def execution_name(job: JobDefinition, trigger: Trigger) -> str:
    """Deterministic for S3 and schedule triggers, so a re-delivered event names the same execution."""
    if trigger.kind == "s3":
        if not trigger.identity:
            raise ValueError("an S3 trigger needs its identity (bucket/key/version)")
        digest = hashlib.sha256(trigger.identity.encode("utf-8")).hexdigest()[:24]
        name = f"{job.name}-s3-{digest}"
    elif trigger.kind == "schedule":
        name = f"{job.name}-sched-{trigger.time.astimezone(UTC):%Y%m%dT%H%MZ}"
    else:
        name = f"{job.name}-manual-{trigger.time.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    assert len(name) <= EXECUTION_NAME_MAX, name
    return name


def execution_arn(state_machine_arn: str, name: str) -> str:
    # Step Functions forms execution ARNs this way; knowing it up front lets the cluster carry it as a tag.
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def s3_location(path: str, context: StackContext) -> str:
    return path if path.startswith("s3://") else f"s3://{context.artifacts_bucket}/jobs/{path}"


class _Renderer:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def __call__(self, text: str) -> str:
        return text.format_map(self.values)

    def all(self, texts: list[str]) -> list[str]:
        return [self(text) for text in texts]


def placeholder_values(job: JobDefinition, trigger: Trigger, context: StackContext, name: str) -> dict[str, str]:
    """What each placeholder of a run renders to."""
    run_date = f"{trigger.time.astimezone(UTC):%Y-%m-%d}"
    values = {
        "run_id": name,
        "run_date": run_date,
        "job_name": job.name,
        "artifacts_uri": context.artifacts_uri,
        "landing_bucket": context.landing_bucket,
        "curated_bucket": context.curated_bucket,
        "artifacts_bucket": context.artifacts_bucket,
        "region": context.region,
        "input_uri": "",
    }
    input_uri = trigger.input_uri
    if input_uri is None and job.triggers.schedule_input_uri:
        input_uri = job.triggers.schedule_input_uri.format_map(values)
    values["input_uri"] = input_uri or ""
    values["output_uri"] = job.output_uri.format_map(values)
    return values


def pipeline_tags(job_name: str, name: str, state_machine_arn: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The tags of what a run creates (a cluster, a job run): the job's own, then the pipeline's."""
    return {
        **extra,
        TAG_JOB: job_name,
        TAG_RUN_ID: name,
        TAG_EXECUTION_ARN: execution_arn(state_machine_arn, name),
        TAG_MANAGED: "true",
    }


def run_section(
    job: JobDefinition, trigger: Trigger, context: StackContext, name: str, values: Mapping[str, str], concurrency: int
) -> dict[str, Any]:
    """The input's "run": what every state and notification reads about the run, whatever it runs on."""
    simulated = [step.name for step in job.steps if step.simulate]
    return {
        "job_name": job.name,
        "run_id": name,
        "run_date": values["run_date"],
        "trigger": trigger.kind,
        "input_uri": values["input_uri"],
        "output_uri": values["output_uri"],
        "notification_topic_arn": job.notification_topic_arn or context.notification_topic_arn,
        "run_timeout_seconds": int(job.run_timeout.total_seconds()),
        "step_concurrency": concurrency,
        "step_count": len(job.steps),
        # The success notification's word: SIMULATED when a step was not run (simulate: true).
        "outcome": "SIMULATED" if simulated else "SUCCEEDED",
        "outcome_detail": _outcome_detail(simulated, len(job.steps)),
        "simulated_steps": simulated,
    }


def build_run_input(job: JobDefinition, trigger: Trigger, context: StackContext, name: str) -> dict[str, Any]:
    """The EC2 state machine input for one run. Pure: the same arguments give the same input.
    (Serverless runs: emr_autopilot.serverless_runs.build_serverless_run_input.)"""
    spec = job.ec2_cluster
    values = placeholder_values(job, trigger, context, name)
    render = _Renderer(values)
    tags = pipeline_tags(job.name, name, context.state_machine_arn, spec.tags)
    run_timeout = int(job.run_timeout.total_seconds())
    return {
        "run": run_section(job, trigger, context, name, values, spec.step_concurrency),
        "cluster_request": _run_job_flow_request(job, name, tags, context, render),
        "steps": [
            {
                "Step": simulated_step(_step_config(step, context, render, job))
                if step.simulate
                else _step_config(step, context, render, job),
                **_step_timing(spec.step_completion, step.timeout, run_timeout),
            }
            for step in job.steps
        ],
    }


# step_completion: events: how long each WaitForStepEnd waits for the step's event before it looks at the step
# itself (the most a lost event costs); the last wait is what is left of the step's TimeoutSeconds. 240 s keeps a
# 7-day run's waits (about 8 history events each) under the 25,000-event execution history quota
# (Step Functions developer guide, service-quotas, "Quotas related to state machine executions").
STEP_WAIT_SECONDS = 240


def _step_timing(step_completion: str, step_timeout: timedelta | None, run_timeout: int) -> dict[str, Any]:
    """A step's TimeoutSeconds (its own, else the run's), how RunSteps' StepCompletionMode waits for it, and in
    events mode each wait's length."""
    timeout_seconds = int(step_timeout.total_seconds()) if step_timeout else run_timeout
    timing: dict[str, Any] = {"TimeoutSeconds": timeout_seconds, "StepCompletion": step_completion}
    if step_completion == "events":
        timing["WaitSeconds"] = max(1, min(STEP_WAIT_SECONDS, timeout_seconds))
    return timing


def _outcome_detail(simulated: list[str], step_count: int) -> str:
    if not simulated:
        return "SUCCEEDED"
    names = ", ".join(repr(name) for name in simulated)
    return f"SIMULATED: {len(simulated)} of {step_count} step(s) not run (simulate: true): {names}"[:1000]


def _run_job_flow_request(
    job: JobDefinition, name: str, tags: dict[str, str], context: StackContext, render: _Renderer
) -> dict[str, Any]:
    spec = job.ec2_cluster
    request: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": spec.release_label,
        "Applications": [{"Name": app} for app in spec.applications],
        "LogUri": spec.log_uri or f"s3://{context.logs_bucket}/emr-logs/",
        "ServiceRole": spec.service_role or context.emr_service_role,
        "JobFlowRole": spec.instance_profile or context.emr_instance_profile,
        "VisibleToAllUsers": True,
        "Instances": _instances(spec),
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        # A backstop: the cluster ends itself even if every other cleanup path fails.
        "AutoTerminationPolicy": {"IdleTimeout": int(spec.idle_timeout.total_seconds())},
        "StepConcurrencyLevel": spec.step_concurrency,
    }
    if spec.bootstrap_actions:
        request["BootstrapActions"] = [
            {
                "Name": action.name,
                "ScriptBootstrapAction": {
                    "Path": s3_location(action.path, context),
                    "Args": render.all(action.args),
                },
            }
            for action in spec.bootstrap_actions
        ]
    if spec.configurations:
        request["Configurations"] = [
            config.model_dump(by_alias=True, exclude_defaults=True) for config in spec.configurations
        ]
    if spec.managed_scaling:
        limits = {
            "UnitType": spec.managed_scaling.unit_type,
            "MinimumCapacityUnits": spec.managed_scaling.minimum,
            "MaximumCapacityUnits": spec.managed_scaling.maximum,
        }
        if spec.managed_scaling.maximum_on_demand is not None:
            limits["MaximumOnDemandCapacityUnits"] = spec.managed_scaling.maximum_on_demand
        if spec.managed_scaling.maximum_core is not None:
            limits["MaximumCoreCapacityUnits"] = spec.managed_scaling.maximum_core
        request["ManagedScalingPolicy"] = {"ComputeLimits": limits}
    if spec.security_configuration:
        request["SecurityConfiguration"] = spec.security_configuration
    return request


def _instances(spec: ClusterSpec) -> dict[str, Any]:
    # KeepJobFlowAliveWhenNoSteps: createCluster.sync only returns once the cluster is WAITING.
    instances: dict[str, Any] = {"KeepJobFlowAliveWhenNoSteps": True, "TerminationProtected": False}
    if spec.instance_groups is not None:
        instances["InstanceGroups"] = [_instance_group(group) for group in spec.instance_groups]
        if spec.subnet_ids:
            instances["Ec2SubnetId"] = spec.subnet_ids[0]
    else:
        instances["InstanceFleets"] = [_instance_fleet(fleet) for fleet in spec.instance_fleets or []]
        if spec.subnet_ids:
            instances["Ec2SubnetIds"] = list(spec.subnet_ids)
    if spec.ec2_key_name:
        instances["Ec2KeyName"] = spec.ec2_key_name
    return instances


def _instance_group(group: InstanceGroup) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Name": group.name or group.role.lower(),
        "InstanceRole": group.role,
        "InstanceType": group.instance_type,
        "InstanceCount": group.instance_count,
        "Market": group.market,
    }
    if group.bid_price:
        config["BidPrice"] = group.bid_price
    if group.ebs_volume_gb:
        config["EbsConfiguration"] = {
            "EbsBlockDeviceConfigs": [
                {"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": group.ebs_volume_gb}, "VolumesPerInstance": 1}
            ]
        }
    return config


def _instance_fleet(fleet: InstanceFleet) -> dict[str, Any]:
    types = []
    for item in fleet.instance_types:
        entry: dict[str, Any] = {"InstanceType": item.instance_type, "WeightedCapacity": item.weighted_capacity}
        if item.bid_price_as_percentage_of_on_demand_price is not None:
            entry["BidPriceAsPercentageOfOnDemandPrice"] = item.bid_price_as_percentage_of_on_demand_price
        types.append(entry)
    config: dict[str, Any] = {
        "Name": fleet.name or fleet.role.lower(),
        "InstanceFleetType": fleet.role,
        "TargetOnDemandCapacity": fleet.target_on_demand_capacity,
        "TargetSpotCapacity": fleet.target_spot_capacity,
        "InstanceTypeConfigs": types,
    }
    launch: dict[str, Any] = {}
    if fleet.spot:
        launch["SpotSpecification"] = {
            "TimeoutDurationMinutes": fleet.spot.timeout_minutes,
            "TimeoutAction": fleet.spot.timeout_action,
            "AllocationStrategy": fleet.spot.allocation_strategy,
        }
    if fleet.on_demand_allocation_strategy:
        launch["OnDemandSpecification"] = {"AllocationStrategy": fleet.on_demand_allocation_strategy}
    if launch:
        config["LaunchSpecifications"] = launch
    return config


def script_runner_jar(region: str) -> str:
    return f"s3://{region}.elasticmapreduce/libs/script-runner/script-runner.jar"


def _step_config(step: Step, context: StackContext, render: _Renderer, job: JobDefinition) -> dict[str, Any]:
    if step.type == "spark-submit":
        assert step.script
        jar = "command-runner.jar"
        options, application = render.all(step.spark_args), s3_location(step.script, context)
        if job.package is not None:  # the project's zip and environment, as `jobs deploy` recorded them
            from emr_autopilot.job_packages import ec2_spark_options, entry_point

            options = [*ec2_spark_options(job, step.spark_args), *options]
            application = entry_point(job, step.script)
        args = ["spark-submit", *options, application, *render.all(step.args)]
    elif step.type == "script":
        assert step.script
        jar = script_runner_jar(context.region)
        args = [s3_location(step.script, context), *render.all(step.args)]
    else:
        jar = "command-runner.jar"
        args = render.all(step.args)
    return {"Name": step.name, "ActionOnFailure": step.action_on_failure, "HadoopJarStep": {"Jar": jar, "Args": args}}
