"""Starting a Livy run from a job definition: LivyBatchPipeline's input for a job's spark-submit step.

Used by the operator CLI, the demo and the tests; no Lambda function imports it.
"""

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from emr_autopilot.errors import InvalidLivyRequest
from emr_autopilot.livy_pipeline.run_input import LivyBatchRequest, LivyRunInput, LivyRunOptions, invalid

if TYPE_CHECKING:
    from emr_autopilot.jobs import JobDefinition
    from emr_autopilot.runs import StackContext, Trigger


# spark-submit options and the Livy field each becomes; lists are comma-separated on the command line.
_VALUE_OPTIONS: dict[str, tuple[str, Literal["text", "int", "list"]]] = {
    "--class": ("className", "text"),
    "--name": ("name", "text"),
    "--queue": ("queue", "text"),
    "--proxy-user": ("proxyUser", "text"),
    "--driver-memory": ("driverMemory", "text"),
    "--executor-memory": ("executorMemory", "text"),
    "--driver-cores": ("driverCores", "int"),
    "--executor-cores": ("executorCores", "int"),
    "--num-executors": ("numExecutors", "int"),
    "--jars": ("jars", "list"),
    "--py-files": ("pyFiles", "list"),
    "--files": ("files", "list"),
    "--archives": ("archives", "list"),
}
# Options Livy has no field for but Spark reads as configuration.
_CONF_OPTIONS = {
    "--packages": "spark.jars.packages",
    "--exclude-packages": "spark.jars.excludes",
    "--repositories": "spark.jars.repositories",
    "--driver-java-options": "spark.driver.extraJavaOptions",
    "--driver-class-path": "spark.driver.extraClassPath",
    "--driver-library-path": "spark.driver.extraLibraryPath",
    "--total-executor-cores": "spark.cores.max",
}
# Livy decides where the driver runs (livy.spark.master / deploy-mode on the cluster).
_IGNORED_OPTIONS = {"--master", "--deploy-mode"}
_FLAGS = {"--verbose", "--supervise"}


def batch_from_spark_submit(args: list[str]) -> LivyBatchRequest:
    """`spark-submit [options] <application> [application args]` as a Livy batch."""
    if args and args[0] == "spark-submit":
        args = args[1:]
    body: dict[str, Any] = {"conf": {}}
    index = 0
    while index < len(args) and args[index].startswith("--"):
        option, has_inline, inline = args[index].partition("=")
        if option in _FLAGS:  # options without a value
            if option != "--verbose":
                raise InvalidLivyRequest(f"spark-submit option {option} has no Livy batch equivalent")
            index += 1
            continue
        if not has_inline:
            if index + 1 >= len(args):
                raise InvalidLivyRequest(f"spark-submit option {option} has no value")
            inline = args[index + 1]
            index += 1
        index += 1
        if option in _IGNORED_OPTIONS:
            continue
        if option == "--conf":
            key, sep, value = inline.partition("=")
            if not sep:
                raise InvalidLivyRequest(f"--conf {inline!r} is not key=value")
            body["conf"][key] = value
        elif option in _CONF_OPTIONS:
            body["conf"][_CONF_OPTIONS[option]] = inline
        elif option in _VALUE_OPTIONS:
            target, kind = _VALUE_OPTIONS[option]
            body[target] = [item for item in inline.split(",") if item] if kind == "list" else inline
        else:
            raise InvalidLivyRequest(f"spark-submit option {option} has no Livy batch equivalent")
    if index >= len(args):
        raise InvalidLivyRequest("spark-submit arguments name no application file")
    body["file"], body["args"] = args[index], args[index + 1 :]
    try:
        return LivyBatchRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid("the spark-submit step cannot be a Livy batch", exc) from exc


def build_livy_run_input(
    job: "JobDefinition",
    trigger: "Trigger",
    context: "StackContext",
    name: str,
    *,
    cluster_id: str | None = None,
    step_name: str | None = None,
    poll_interval_seconds: int = 30,
) -> dict[str, Any]:
    """LivyBatchPipeline's input for a job's spark-submit step, rendered as the step pipeline
    renders it. Without cluster_id the run gets a transient cluster: the job's own cluster, with
    Livy added, tagged with this execution so the janitor can find it.

    `context.state_machine_arn` must be LivyBatchPipeline's: the cluster's execution tag comes from it."""
    from emr_autopilot.runs import build_run_input  # not at the top: the Livy functions' cold start skips it

    rendered = build_run_input(job, trigger, context, name)
    candidates = [
        (step, item["Step"]["HadoopJarStep"]["Args"])
        for step, item in zip(job.steps, rendered["steps"], strict=True)
        if step.type == "spark-submit" and (step_name is None or step.name == step_name)
    ]
    if len(candidates) != 1:
        which = f"named {step_name!r}" if step_name else "(name one with step_name)"
        raise InvalidLivyRequest(f"job {job.name} needs exactly one spark-submit step {which}; found {len(candidates)}")
    if candidates[0][0].simulate:
        raise InvalidLivyRequest(
            f"job {job.name}: step {candidates[0][0].name!r} is marked simulate: true; a Livy batch always runs. "
            "Remove simulate to run it through Livy"
        )
    batch = batch_from_spark_submit(candidates[0][1]).model_copy(update={"name": name})
    run = rendered["run"]
    document: dict[str, Any] = {
        "run": LivyRunOptions(
            job_name=job.name,
            run_id=name,
            notification_topic_arn=run["notification_topic_arn"],
            transient=cluster_id is None,
            poll_interval_seconds=poll_interval_seconds,
            max_wait_seconds=run["run_timeout_seconds"],
            input_uri=run["input_uri"],
            output_uri=run["output_uri"],
        ).model_dump(),
        "batch": batch.body(),
    }
    if cluster_id is not None:
        document["cluster_id"] = cluster_id
    else:
        request = dict(rendered["cluster_request"])
        if "livy" not in {app["Name"].lower() for app in request["Applications"]}:
            request["Applications"] = [*request["Applications"], {"Name": "Livy"}]
        document["cluster_request"] = request
    LivyRunInput.model_validate(document)  # what ResolveCluster will accept
    return document


def start_livy_run(state_machine_arn: str, name: str, document: dict[str, Any]) -> str:
    """Start LivyBatchPipeline; returns the execution ARN."""
    from emr_autopilot import aws

    response = aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(document, sort_keys=True)
    )
    return str(response["executionArn"])
