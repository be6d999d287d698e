"""The optimized `arn:aws:states:::emr-serverless:*` integration for moto's ASL interpreter.

moto (pinned 5.2.5) lists emr-serverless as unsupported: PascalCase parameters crash its boto call and `.sync`
is refused at run time. This follows the Step Functions developer guide, "Create and manage Amazon EMR
Serverless applications with Step Functions" (connect-emr-serverless), and its IAM page (emr-serverless-iam):

- exactly six resources, createApplication, startApplication, stopApplication, deleteApplication, startJobRun and
  cancelJobRun, each as Request Response and Run a Job (.sync); "The Wait for Callback with Task Token
  integration pattern is not supported": any other form is refused at CreateStateMachine (InvalidDefinition);
- parameters are the EMR Serverless API's request members in PascalCase (ApplicationId, ExecutionRoleArn,
  JobDriver.SparkSubmit.EntryPoint, ...), converted to the API's camelCase through botocore's model and checked
  against it (emr_requests.check_request, service "emr-serverless");
- outputs as the page's table documents them (`task_output`);
- `.sync` waits for the documented target state and fails the task otherwise (`job_run_failure`); an aborted
  `.sync` startJobRun (execution stopped, task timed out) is cancelled, best effort (connect-to-resource, "Run a
  Job (.sync)"; emr-serverless-iam grants CancelJobRun to startJobRun.sync for this).

The failure Error/Cause and the output shapes are not verified against AWS (facts §1a): each is built in one
function here, marked inferred, to be corrected in one place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from emr_autopilot.emr_requests import RequestProblem, check_request, describe, service_model, without_nulls
from emr_autopilot_devkit.local.clock import active_clock
from emr_autopilot_devkit.local.moto_patches.sfn_emr_integration import (
    TRANSIENT_CODES,
    StateTaskServiceEmr,
    _TaskError,
)

SERVICE: Final = "emr-serverless"
# connect-emr-serverless, "EMR Serverless service integration APIs": the six APIs, each with .sync.
OPERATIONS: Final[dict[str, str]] = {
    "createApplication": "CreateApplication",
    "startApplication": "StartApplication",
    "stopApplication": "StopApplication",
    "deleteApplication": "DeleteApplication",
    "startJobRun": "StartJobRun",
    "cancelJobRun": "CancelJobRun",
}
RESOURCES: Final[dict[str, frozenset[str | None]]] = {
    api: frozenset({None, ResourceCondition.Sync}) for api in OPERATIONS
}

# Step Functions learns of EMR Serverless state changes through the managed EventBridge rules the IAM page names
# (StepFunctionsGetEventsForEMRServerlessApplicationRule / ...JobRule), so it notices a change promptly; locally the
# .sync task reads GetJobRun/GetApplication every POLL_SECONDS virtual seconds (inferred).
POLL_SECONDS: Final[float] = 10.0

_TASK_FAILED = StatesErrorNameType.StatesTaskFailed.to_name()


# -- the shapes no AWS page pins down (inferred; facts §1a "unverified"): one function each ------------------
def serverless_task_error(code: str, message: str, status: int) -> tuple[str, str]:
    """The Error and Cause of a task that EMR Serverless answered with error `code` (inferred: Step Functions names
    a service's error "<Service>.<Exception>", with the AWS SDK for Java v2's service name and message format,
    e.g. "EmrServerless.ValidationException")."""
    cause = f"{message} (Service: EmrServerless, Status Code: {status}, Request ID: {uuid.uuid4()})"
    return f"EmrServerless.{code}", cause


def job_run_failure(job_run: Mapping[str, Any]) -> tuple[str, str]:
    """The Error and Cause of a startJobRun.sync whose run ended FAILED or CANCELLED, or a cancelJobRun.sync whose
    run ended otherwise (inferred, facts §1a: Glue, Batch and EMR addStep .sync fail with States.TaskFailed and a
    JSON Cause). The Cause is GetJobRun's `jobRun` object as the API returns it (camelCase members; times in epoch
    seconds): `state`, `stateDetails`, `applicationId`, `jobRunId`, `arn`, `totalExecutionDurationSeconds`,
    `billedResourceUtilization`, ..."""
    return _TASK_FAILED, json.dumps(_plain(job_run))


def application_failure(application: Mapping[str, Any]) -> tuple[str, str]:
    """The Error and Cause of an application .sync task whose application reached a state it cannot leave for the
    awaited one (inferred, as job_run_failure): GetApplication's `application` object."""
    return _TASK_FAILED, json.dumps(_plain(application))


def task_output(api: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """The task's output, per connect-emr-serverless's table (the same for .sync): createApplication and startJobRun
    return the API's response ("no differences"), in PascalCase (inferred, as every optimized integration's output);
    start/stop/deleteApplication return {"ApplicationId"} (the APIs return nothing); cancelJobRun the API's
    response. startJobRun.sync returns the StartJobRun response, not GetJobRun's (facts §1a: unverified)."""
    if api == "createApplication":
        return {"ApplicationId": response["applicationId"], "Name": response.get("name"), "Arn": response["arn"]}
    if api == "startJobRun":
        return {"ApplicationId": response["applicationId"], "JobRunId": response["jobRunId"], "Arn": response["arn"]}
    if api == "cancelJobRun":
        return {"ApplicationId": response["applicationId"], "JobRunId": response["jobRunId"]}
    return {"ApplicationId": params["applicationId"]}


# -- PascalCase <-> the API's members --------------------------------------------------------------------------
def to_api(shape: Any, value: Any, path: str = "", problems: list[RequestProblem] | None = None) -> Any:
    """The integration's PascalCase request as the API's members, through botocore's model: structure members are
    renamed (map keys, e.g. tags and Spark properties, are data and stay). A name that is not the PascalCase form of
    a member, the API's own camelCase included, is kept as given and added to `problems` (inferred: the integration's
    schema is PascalCase, so EMR Serverless never sees such a member)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members
        pascal = {name[:1].upper() + name[1:]: name for name in members}
        converted: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            name = pascal.get(str(key))
            if name is None:
                if problems is not None:
                    hint = f" (did you mean {key[:1].upper() + key[1:]!r}?)" if str(key) in members else ""
                    problems.append(RequestProblem(where, f"is not a {shape.name} field{hint}"))
                converted[str(key)] = item
                continue
            converted[name] = to_api(members[name], item, where, problems)
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [to_api(shape.member, item, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {key: to_api(shape.value, item, f"{path}.{key}", problems) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    # The REST-JSON API returns timestamps as epoch seconds.
    return json.loads(json.dumps(value, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)))


class StateTaskServiceEmrServerless(StateTaskServiceEmr):
    """Shares the EMR integration's error plumbing (States.Runtime, TaskFailed events); everything EMR Serverless
    specific is here."""

    SERVICE_LABEL = "EMR Serverless"

    # -- create time -------------------------------------------------------------------------
    def _validate_service_integration_is_supported(self) -> None:
        forms = RESOURCES.get(self.resource.api_action)
        if forms is None or self.resource.condition not in forms:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized. "
                "The value is not a valid resource ARN, or the resource is not available in this region."
            )

    def _get_supported_parameters(self) -> set[str] | None:
        operation = OPERATIONS.get(self.resource.api_action)
        if operation is None:
            return None
        shape: Any = service_model(SERVICE).operation_model(operation).input_shape
        return {name[:1].upper() + name[1:] for name in shape.members}

    def _eval_parameters(self, env: Any) -> Any:
        # Every field is kept and checked against the model (moto would drop the unknown ones silently).
        parameters: Any = {}
        if self.parargs is not None:
            self.parargs.eval(env=env)
            parameters = env.stack.pop()
        return parameters

    # -- errors ------------------------------------------------------------------------------
    def _task_error(self, code: str, message: str, status: int) -> tuple[str, str]:
        return serverless_task_error(code, message, status)

    # -- Request Response ---------------------------------------------------------------------
    def _client(self, resource_runtime_part: Any, credentials: Any) -> Any:
        return boto_client_for(region=resource_runtime_part.region, service=SERVICE, state_credentials=credentials)

    def _request(self, normalised_parameters: Any, problems: list[RequestProblem]) -> dict[str, Any]:
        """The API request of this task: camelCase, nulls dropped, clientToken filled in when absent; names outside
        the integration's PascalCase schema go to `problems`."""
        operation = OPERATIONS[self.resource.api_action]
        shape: Any = service_model(SERVICE).operation_model(operation).input_shape
        params: Any = to_api(shape, without_nulls(normalised_parameters or {}), "", problems)
        if isinstance(params, dict) and "clientToken" in shape.members and "clientToken" not in params:
            # clientToken is required by the model but an idempotencyToken the SDK fills in; the integration's
            # examples omit it, so Step Functions fills it in (inferred: one new token per call).
            params["clientToken"] = str(uuid.uuid4())
        return params if isinstance(params, dict) else {}

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        api = self.resource.api_action
        operation = OPERATIONS[api]
        problems: list[RequestProblem] = []
        params = self._request(normalised_parameters, problems)
        problems = problems or check_request(operation, params, service=SERVICE)
        if problems:
            # A request that breaks the API's model is refused by EMR Serverless: 400 ValidationException (the
            # message wording is inferred).
            raise _TaskError(*serverless_task_error("ValidationException", describe(problems), 400))
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, _snake(operation))(**params)
        env.stack.append(task_output(api, params, response))

    # -- .sync -------------------------------------------------------------------------------
    def _eval_integration_pattern(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        submitted = env.stack.pop()
        client = self._client(resource_runtime_part, state_credentials)
        poll = self._serverless_poll(self.resource.api_action, client, submitted)
        clock = active_clock()

        def stopped(real_timeout: float) -> bool:
            env.program_state_event.wait(real_timeout)
            return not env.is_running()

        while env.is_running():
            if clock.wait_for(stopped, POLL_SECONDS):
                break
            result = poll()
            if result is not None:
                env.stack.append(result)
                return
        if self.resource.api_action == "startJobRun":
            _cancel_abandoned_run(client, submitted["ApplicationId"], submitted["JobRunId"])
        env.stack.append(None)  # stopped or timed out: as sfn_emr_integration

    def _serverless_poll(self, api: str, client: Any, submitted: Mapping[str, Any]) -> Callable[[], Any]:
        def described(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
                    return None  # try again at the next poll
                raise

        application_id = submitted["ApplicationId"]
        if api in ("startJobRun", "cancelJobRun"):
            job_run_id = submitted["JobRunId"]
            # startJobRun.sync: the run reaches SUCCESS; cancelJobRun.sync: CANCELLED (connect-emr-serverless).
            wanted = "SUCCESS" if api == "startJobRun" else "CANCELLED"

            def job_done() -> Any:
                answer = described(lambda: client.get_job_run(applicationId=application_id, jobRunId=job_run_id))
                if answer is None:
                    return None
                job_run = answer["jobRun"]
                if job_run["state"] == wanted:
                    return submitted
                if job_run["state"] in ("SUCCESS", "FAILED", "CANCELLED"):
                    raise _TaskError(*job_run_failure(job_run))
                return None

            return job_done

        # createApplication.sync: CREATED; startApplication.sync: STARTED; stopApplication.sync: STOPPED;
        # deleteApplication.sync: TERMINATED (connect-emr-serverless). An application that reaches a state it only
        # leaves by another request fails the task (inferred). createApplication.sync also accepts the states
        # after CREATED (a job's auto-start may pass CREATED between two polls; inferred); stopApplication.sync
        # accepts CREATED (never started: nothing to stop; inferred).
        targets: dict[str, tuple[frozenset[str], frozenset[str]]] = {
            "createApplication": (
                frozenset({"CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"}),
                frozenset({"TERMINATED"}),
            ),
            "startApplication": (frozenset({"STARTED"}), frozenset({"STOPPING", "STOPPED", "TERMINATED", "CREATED"})),
            "stopApplication": (frozenset({"STOPPED", "CREATED"}), frozenset({"TERMINATED"})),
            "deleteApplication": (frozenset({"TERMINATED"}), frozenset()),
        }
        done, failed = targets[api]

        def application_done() -> Any:
            answer = described(lambda: client.get_application(applicationId=application_id))
            if answer is None:
                return None
            application = answer["application"]
            if application["state"] in done:
                return submitted
            if application["state"] in failed:
                raise _TaskError(*application_failure(application))
            return None

        return application_done


def _cancel_abandoned_run(client: Any, application_id: str, job_run_id: str) -> None:
    # connect-to-resource, "Run a Job (.sync)": an aborted task is cancelled, best effort.
    try:
        client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
    except Exception:  # best effort: whatever EMR Serverless answers, the task is over
        return


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def install() -> None:
    """Idempotent; after sfn.install(): `emr-serverless` tasks are served here."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    current = state_task_factory.state_task_service_for
    if getattr(current, "_emr_serverless", False):
        return

    def state_task_service_for(service_name: str) -> Any:
        if service_name == SERVICE:
            return StateTaskServiceEmrServerless()
        return current(service_name)

    state_task_service_for._emr_serverless = True  # type: ignore[attr-defined]
    state_task_factory.state_task_service_for = state_task_service_for
