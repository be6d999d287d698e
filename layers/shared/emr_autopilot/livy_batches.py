"""The Livy path: one Spark batch submitted through Apache Livy on an EMR cluster, tracked to its
end, and never left running unattended.

LivyBatchPipeline (statemachines/livy_batch.asl.json) calls one function here per Lambda:
resolve the cluster, submit, check, kill. The Livy janitor (livy_janitor.py) cleans up after a
stopped execution.
`build_livy_run_input` turns a job definition into the pipeline's input, on a long-running
cluster or on a transient one the pipeline creates and terminates.

boto3 is imported where AWS is called, not at the top: submit, status and kill talk only to Livy
unless it is unreachable, so their cold starts skip the SDK (about 120 ms).
"""

import json
import math
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.errors import (
    BatchNotFound,
    ClusterGone,
    ClusterNotReady,
    InvalidLivyRequest,
    LivyError,
    LivyNotInstalled,
    LivyUnavailable,
)
from emr_autopilot.livy import Batch, LivyClient, LivyOptions, outcome_of
from emr_autopilot.redaction import redact

if TYPE_CHECKING:  # only build_livy_run_input (the CLI) needs the job models; no Livy function does
    from emr_autopilot.jobs import JobDefinition
    from emr_autopilot.runs import StackContext, Trigger

READY_STATES = frozenset({"RUNNING", "WAITING"})
ENDED_STATES = frozenset({"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"})
# Each poll adds about 11 events to the execution history, which Step Functions caps at 25,000.
MAX_POLLS = 2000
LINE_MAX = 500  # characters kept of one log line in a notification

_M = TypeVar("_M", bound=BaseModel)


class LivySettings(EnvSettings):
    """The Livy path's functions (resolve, submit, status, kill, janitor) share these."""

    aws_region: str = "us-east-1"
    notification_topic_arn: str
    livy_scheme: Literal["http", "https"] = "http"
    livy_port: int = Field(default=8998, ge=1, le=65535)
    livy_ca_bundle: str | None = None  # PEM path inside the function or layer, for https
    livy_headers: dict[str, str] = Field(default_factory=dict)  # JSON, e.g. {"Authorization": "Basic ..."}
    livy_connect_timeout: float = Field(default=3.0, gt=0, le=30)
    livy_read_timeout: float = Field(default=10.0, gt=0, le=50)
    livy_attempts: int = Field(default=3, ge=1, le=6)
    livy_backoff_seconds: float = Field(default=0.25, ge=0, le=5)
    yarn_check: bool = True
    yarn_port: int = Field(default=8088, ge=1, le=65535)
    log_tail_lines: int = Field(default=40, ge=1, le=500)


@cache
def livy_settings() -> LivySettings:
    return LivySettings.from_env()


# -- the pipeline's input ---------------------------------------------------------------------
def _to_text(value: Any) -> Any:
    # Spark reads every conf value as a string; YAML and JSON writers give numbers and booleans.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


Text = Annotated[str, BeforeValidator(_to_text)]


class LivyBatchRequest(BaseModel):
    """Livy's POST /batches body, in Livy's own spelling."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    file: str = Field(min_length=1)
    proxyUser: str | None = None
    className: str | None = None
    args: list[Text] = Field(default_factory=list)
    jars: list[str] = Field(default_factory=list)
    pyFiles: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    driverMemory: str | None = Field(default=None, pattern=r"^\d+[kKmMgGtT]?[bB]?$")
    driverCores: int | None = Field(default=None, ge=1)
    executorMemory: str | None = Field(default=None, pattern=r"^\d+[kKmMgGtT]?[bB]?$")
    executorCores: int | None = Field(default=None, ge=1)
    numExecutors: int | None = Field(default=None, ge=1)
    queue: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)
    conf: dict[str, Text] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class LivyRunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    job_name: str = Field(default="livy-batch", min_length=1, max_length=40)  # in SNS subjects (100 chars)
    run_id: str | None = None
    notification_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:sns:")
    transient: bool = False  # set by the pipeline from cluster_request, never taken from the caller
    poll_interval_seconds: int = Field(default=30, ge=5, le=300)
    max_wait_seconds: int = Field(default=7200, ge=60, le=7 * 86400)
    input_uri: str = ""
    output_uri: str = ""

    @property
    def max_polls(self) -> int:
        return math.ceil(self.max_wait_seconds / self.poll_interval_seconds)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.max_polls > MAX_POLLS:
            raise ValueError(
                f"max_wait_seconds / poll_interval_seconds is {self.max_polls} polls; at most {MAX_POLLS} fit "
                "in one execution's history: raise poll_interval_seconds"
            )
        return self


class LivyRunInput(BaseModel):
    """LivyBatchPipeline's input: a batch and either a running cluster or a cluster to create."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    run: LivyRunOptions = Field(default_factory=LivyRunOptions)
    cluster_id: str | None = Field(default=None, pattern=r"^(j-[A-Za-z0-9]{1,64}|none)$")
    cluster_request: dict[str, Any] | None = None
    batch: LivyBatchRequest

    @model_validator(mode="after")
    def _cluster(self) -> Self:
        if self.cluster_id in (None, "none") and self.cluster_request is None:
            raise ValueError("give cluster_id (a running cluster with Livy) or cluster_request (a transient one)")
        return self


def _invalid(what: str, exc: ValidationError) -> InvalidLivyRequest:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}" for item in exc.errors()[:5]
    )
    return InvalidLivyRequest(f"{what}: {problems}")


# -- settings to client -----------------------------------------------------------------------
# What endpoint_for writes: scheme, host name, port. Anything else in a payload is bad input.
_ENDPOINT = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"


class LivyEndpoint(BaseModel):
    model_config = ConfigDict(defer_build=True)
    url: str = Field(pattern=_ENDPOINT)
    yarn_url: str | None = Field(default=None, pattern=_ENDPOINT)


def livy_options(settings: LivySettings) -> LivyOptions:
    return LivyOptions(
        connect_timeout=settings.livy_connect_timeout,
        read_timeout=settings.livy_read_timeout,
        attempts=settings.livy_attempts,
        backoff_seconds=settings.livy_backoff_seconds,
        ca_bundle=settings.livy_ca_bundle or None,
        headers=dict(settings.livy_headers),
    )


def client_for(endpoint: LivyEndpoint, settings: LivySettings) -> LivyClient:
    return LivyClient(endpoint.url, livy_options(settings), yarn_url=endpoint.yarn_url)


def endpoint_for(dns: str, settings: LivySettings) -> LivyEndpoint:
    yarn = f"http://{dns}:{settings.yarn_port}" if settings.yarn_check else None
    return LivyEndpoint(url=f"{settings.livy_scheme}://{dns}:{settings.livy_port}", yarn_url=yarn)


# -- ResolveCluster ---------------------------------------------------------------------------
class ResolveRequest(BaseModel):
    model_config = ConfigDict(defer_build=True)
    input: dict[str, Any]
    execution_name: str
    execution_arn: str


def describe_cluster(cluster_id: str) -> dict[str, Any]:
    from emr_autopilot import aws

    emr = aws.client("emr")
    try:
        cluster: dict[str, Any] = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except emr.exceptions.InvalidRequestException as exc:
        # EMR forgets clusters some weeks after they end; retrying would not bring it back.
        raise ClusterGone(f"cluster {cluster_id} does not exist: {exc}") from exc
    return cluster


def resolve_run(request: ResolveRequest, settings: LivySettings) -> dict[str, Any]:
    """Validate the input, fill its defaults and find the cluster's Livy endpoint: the document
    the rest of the pipeline works on."""
    try:
        parsed = LivyRunInput.model_validate(request.input)
    except ValidationError as exc:
        raise _invalid("the Livy run's input is invalid", exc) from exc
    if parsed.cluster_id in (None, "none"):
        raise InvalidLivyRequest("no cluster_id: creating the transient cluster must come first")
    cluster_id = str(parsed.cluster_id)
    cluster = describe_cluster(cluster_id)
    state = cluster["Status"]["State"]
    label = f"cluster {cluster_id} ({cluster.get('Name', '-')})"
    if state in ENDED_STATES:
        raise ClusterGone(f"{label} is {state}")
    if state not in READY_STATES:
        raise ClusterNotReady(f"{label} is {state}, not RUNNING or WAITING")
    apps = [str(app.get("Name", "")) for app in cluster.get("Applications", [])]
    if "livy" not in {app.lower() for app in apps}:
        raise LivyNotInstalled(
            f"{label} has applications {apps} but not Livy: create it with Livy, or use the step pipeline"
        )
    dns = cluster.get("MasterPublicDnsName")
    if not dns:
        raise ClusterNotReady(f"{label} reports no primary node DNS name yet")
    run = parsed.run
    return {
        "run": {
            **run.model_dump(),
            "run_id": request.execution_name,
            "execution_arn": request.execution_arn,
            # Only a cluster this run created may be terminated by it, whatever the input says.
            "transient": parsed.cluster_request is not None,
            "notification_topic_arn": run.notification_topic_arn or settings.notification_topic_arn,
            "max_polls": run.max_polls,
        },
        "cluster_id": cluster_id,
        "cluster": {
            "id": cluster_id,
            "name": cluster.get("Name", ""),
            "state": state,
            "release": cluster.get("ReleaseLabel", ""),
            "master_dns": dns,
        },
        "livy": endpoint_for(dns, settings).model_dump(),
        # The execution name makes the batch findable again (a retried submit, the janitor).
        "batch": {**parsed.batch.body(), "name": parsed.batch.name or request.execution_name},
    }


# -- SubmitBatch, CheckBatch, KillBatch --------------------------------------------------------
class BatchCall(BaseModel):
    model_config = ConfigDict(defer_build=True)
    livy: LivyEndpoint
    cluster_id: str = Field(pattern=r"^j-[A-Za-z0-9]{1,64}$")


class SubmitRequest(BatchCall):
    batch: LivyBatchRequest


class BatchRequest(BatchCall):
    batch_id: int = Field(ge=0)


def _gone_or_raise(cluster_id: str, exc: LivyError) -> None:
    """Livy is unreachable: if EMR says the cluster ended, say so, so nobody waits for it to come back."""
    if not isinstance(exc, LivyUnavailable):
        return
    state = describe_cluster(cluster_id)["Status"]["State"]
    if state in ENDED_STATES:
        raise ClusterGone(f"cluster {cluster_id} is {state}; Livy on it is gone ({exc})") from exc


def submit_batch(request: SubmitRequest, settings: LivySettings) -> dict[str, Any]:
    client = client_for(request.livy, settings)
    try:
        batch = client.submit(request.batch.body())
    except LivyError as exc:
        _gone_or_raise(request.cluster_id, exc)
        raise
    return {"id": batch.id, "name": batch.name or "", "state": batch.state, "app_id": batch.app_id or ""}


def batch_status(request: BatchRequest, settings: LivySettings) -> dict[str, Any]:
    """The batch's state; once it is final, its log tail and the YARN cross-check too."""
    client = client_for(request.livy, settings)
    try:
        batch = client.get(request.batch_id)
        if not batch.final:
            return _status(batch, "running", [], "not final yet")
        check = client.cross_check(batch)
        tail = client.log(request.batch_id, size=settings.log_tail_lines)
    except LivyError as exc:
        _gone_or_raise(request.cluster_id, exc)
        raise
    return _status(batch, outcome_of(batch, check), tail, check.note)


def _tail_lines(tail: list[str]) -> list[str]:
    # Livy's first lines are "stdout: " and "\nstderr: ": keep the markers, drop the blank lines.
    return [redact(line.strip()[:LINE_MAX]) for line in tail if line.strip()]


def _status(batch: Batch, outcome: str, tail: list[str], yarn_note: str) -> dict[str, Any]:
    lines = _tail_lines(tail)
    info = batch.app_info or {}
    return {
        "id": batch.id,
        "name": batch.name or "",
        "state": batch.state,
        "outcome": outcome,
        "app_id": batch.app_id or "-",
        "spark_ui": str(info.get("sparkUiUrl") or "-"),
        "driver_log": str(info.get("driverLogUrl") or "-"),
        "yarn_note": yarn_note,
        "log_tail": lines,
        "log_text": "\n".join(lines) if lines else "(Livy returned no log lines)",
    }


def kill_batch(request: BatchRequest, settings: LivySettings) -> dict[str, Any]:
    """DELETE the batch so it does not run on unattended; a batch Livy no longer knows is fine."""
    client = client_for(request.livy, settings)
    try:
        try:
            state = client.state(request.batch_id)
            # Read the log first: Livy forgets a batch's log once it is deleted.
            tail = client.log(request.batch_id, size=settings.log_tail_lines)
        except BatchNotFound:
            return {
                "id": request.batch_id,
                "deleted": False,
                "state_before": "unknown to Livy",
                "log_text": "(Livy no longer knows the batch)",
            }
        deleted = client.delete(request.batch_id)
    except LivyError as exc:
        _gone_or_raise(request.cluster_id, exc)
        raise
    lines = _tail_lines(tail)
    return {
        "id": request.batch_id,
        "deleted": deleted,
        "state_before": state,
        "log_text": "\n".join(lines) if lines else "(Livy returned no log lines)",
    }


# -- from a job definition ----------------------------------------------------------------------
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
        raise _invalid("the spark-submit step cannot be a Livy batch", exc) from exc


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


def parse_event(model: type[_M], event: Any) -> _M:
    """A handler's payload as its model; a malformed one fails with a name the ASL can catch."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise _invalid(f"{model.__name__} payload is invalid", exc) from exc
