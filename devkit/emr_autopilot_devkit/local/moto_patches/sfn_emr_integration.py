"""The optimized `arn:aws:states:::elasticmapreduce:*` integration for moto's ASL interpreter.

moto (pinned 5.2.5) lists elasticmapreduce as unsupported. This follows the Step Functions developer
guide, "Call Amazon EMR with Step Functions" (connect-emr), table "Optimized Amazon EMR APIs":

- exactly its ten resources; any other form is refused at CreateStateMachine;
- requests checked against botocore's EMR model (emr_requests) and the integration's own rules;
- outputs as the table documents them;
- `.sync` polled on the fast clock at the documented cadence;
- errors named as AWS names them (see `emr_task_error`).

Each emulated behaviour names its source; "inferred" marks what no AWS page states.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from emr_autopilot.emr import TERMINATED
from emr_autopilot.emr_requests import (
    check_integration_request,
    check_integration_rules,
    describe,
    integration_fields,
    service_model,
    without_nulls,
)
from emr_autopilot_devkit.local.clock import active_clock

# connect-emr (and AWS's ASL schema, aws/amazon-states-language-service task_state.json): the ten resources.
# None is the Request Response form. connect-emr "Key features": "The Run a Job (.sync) integration pattern
# is supported"; no page documents .waitForTaskToken for EMR, nor .sync for the other four.
RESOURCES: Final[dict[str, frozenset[str | None]]] = {
    "createCluster": frozenset({None, ResourceCondition.Sync}),
    "setClusterTerminationProtection": frozenset({None}),
    "terminateCluster": frozenset({None, ResourceCondition.Sync}),
    "addStep": frozenset({None, ResourceCondition.Sync}),
    "cancelStep": frozenset({None}),
    "modifyInstanceFleetByName": frozenset({None}),
    "modifyInstanceGroupByName": frozenset({None}),
}

# connect-emr: "Step Functions has a hard-coded 60 seconds job polling frequency for the first 10 minutes
# and 300 seconds after that." (AWS also listens to EMR's events through the managed rules the IAM
# templates name, e.g. StepFunctionsGetEventForEMRAddJobFlowStepsRule, so it may notice sooner: the polling
# cadence is the documented worst case, inferred.)
POLL_FIRST_SECONDS: Final[float] = 60.0
POLL_LATER_SECONDS: Final[float] = 300.0
POLL_SWITCH_AFTER_SECONDS: Final[float] = 600.0

# createCluster.sync "waits for the cluster to reach the WAITING state" (connect-emr). It fails once the
# cluster has ended. TERMINATING is not an end: EMR emits no event for it (emr-manage-cloudwatch-events lists
# STARTING, RUNNING, WAITING, TERMINATED, TERMINATED_WITH_ERRORS), so the failure carries the final state and
# reason (inferred).
CLUSTER_ENDED: Final = frozenset(TERMINATED)
# addStep.sync "waits for the step to complete" (connect-emr); a step that ends otherwise fails the task.
STEP_ENDED_BADLY: Final = frozenset({"FAILED", "CANCELLED", "INTERRUPTED"})
# Step Functions' own polling backs off on these instead of failing the task (inferred).
TRANSIENT_CODES: Final = frozenset({"ThrottlingException", "InternalServerError", "InternalServerException"})

_RUNTIME = StatesErrorNameType.StatesRuntime.to_name()
# How the local moto server's request_validation middleware marks a backend crash (InternalFailure, HTTP 500).
EMULATOR_FAULT: Final = "fault of the emulator"


def poll_interval(elapsed: float) -> float:
    """Virtual seconds to the next Describe* poll of a .sync task that has waited `elapsed` (see above)."""
    return POLL_FIRST_SECONDS if elapsed < POLL_SWITCH_AFTER_SECONDS else POLL_LATER_SECONDS


def emr_task_error(code: str, message: str, status: int) -> tuple[str, str]:
    """The Error and Cause of a task that EMR answered with error `code`.

    A real AWS trace (aws/aws-cdk#13735, addStep with a bad cluster id): Error "EMR.AmazonElasticMapReduceException",
    Cause "jobFlowId '...' is not valid. (Service: AmazonElasticMapReduce; Status Code: 400; Error Code:
    ValidationException; Request ID: ...; Proxy: null)": "EMR." + the AWS SDK for Java v1 exception class, and
    that SDK's message format. The SDK has one class per error shape of EMR's model (botocore declares
    InternalServerError, InternalServerException, InvalidRequestException), named with an "Exception" suffix
    where the shape lacks one (the PHP SDK also names InternalServerError's class InternalServerErrorException);
    every other code is unmarshalled as the service's base class, AmazonElasticMapReduceException (inferred).
    """
    modeled = {shape.name for shape in service_model().error_shapes}
    if code in modeled:
        name = code if code.endswith("Exception") else f"{code}Exception"
    else:
        name = "AmazonElasticMapReduceException"
    cause = (
        f"{message} (Service: AmazonElasticMapReduce; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return f"EMR.{name}", cause


class _TaskError(Exception):
    """Fails the task with this error and cause (TaskFailed)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error, self.cause = error, cause


class _StatesRuntime(Exception):
    """Step Functions' own States.Runtime: the execution fails, whatever the state's Retry or Catch.
    concepts-error-handling, States.ALL: it "cannot catch States.DataLimitExceeded terminal error or Runtime
    error types"; States.Runtime: "isn't retriable, and will always cause the execution to fail"."""


def _plain(value: Any) -> Any:
    # The EMR API returns timestamps as epoch seconds (API_DescribeStep: "CreationDateTime": number).
    return json.loads(json.dumps(value, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)))


class StateTaskServiceEmr(StateTaskServiceCallback):
    SERVICE_LABEL = "EMR"  # how a local-runtime fault names the service
    # API -> its integration patterns (None: Request Response); each service's subclass names its own.
    RESOURCES: ClassVar[Mapping[str, frozenset[str | None]]] = RESOURCES

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})  # type: ignore[arg-type]

    # -- create time -------------------------------------------------------------------------
    def _validate_service_integration_is_supported(self) -> None:
        # Called while the definition is parsed, so CreateStateMachine answers InvalidDefinition.
        # The message is the one moto (after AWS) gives for an unknown resource.
        forms = self.RESOURCES.get(self.resource.api_action)
        if forms is None or self.resource.condition not in forms:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized. "
                "The value is not a valid resource ARN, or the resource is not available in this region."
            )

    def _get_supported_parameters(self) -> set[str] | None:
        # The integration's request fields (connect-emr table); None refuses the resource, as moto expects.
        api = self.resource.api_action
        return set(integration_fields(api)) if api in RESOURCES else None

    # -- parameters --------------------------------------------------------------------------
    def _all_parameters(self, env: Any) -> Any:
        # moto silently drops top-level fields outside _get_supported_parameters; the service would refuse them,
        # so everything is kept and checked.
        parameters: Any = {}
        if self.parargs is not None:
            self.parargs.eval(env=env)
            parameters = env.stack.pop()
        return parameters

    def _eval_parameters(self, env: Any) -> Any:
        parameters = self._all_parameters(env)
        # The integration's own rules (e.g. createCluster's KeepJobFlowAliveWhenNoSteps, Steps) are Step
        # Functions' check, made before EMR is called: States.Runtime (the lead's decided contract; inferred).
        broken = check_integration_rules(self.resource.api_action, parameters)
        if broken:
            raise _StatesRuntime(
                f"The request of elasticmapreduce:{self.resource.api_action} breaks the integration's rules: "
                f"{describe(broken)}"
            )
        return parameters

    # -- errors ------------------------------------------------------------------------------
    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, _StatesRuntime):
            return self._failure(env, _RUNTIME, str(ex))
        if isinstance(ex, _TaskError):
            return self._failure(env, ex.error, ex.cause)
        if isinstance(ex, ClientError):
            code = str(ex.response.get("Error", {}).get("Code", ""))
            status = int(ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            message = str(ex.response.get("Error", {}).get("Message", ""))
            if code.isdigit() or (code == "InternalFailure" and EMULATOR_FAULT in message):
                # The local emulator (moto) crashed or lacks the operation: an HTTP status with no service error,
                # or request_validation's InternalFailure naming the exception. Not an answer AWS gives: fail
                # loudly (States.Runtime: no Retry or Catch handles it) rather than pass it off as the service's.
                label = self.SERVICE_LABEL
                detail = message if code == "InternalFailure" else f"HTTP {status} without an {label} error"
                return self._failure(
                    env,
                    _RUNTIME,
                    f"The local runtime cannot serve {label} {ex.operation_name} ({detail}); "
                    "this is a limit of the local runtime, not an AWS answer.",
                )
            return self._failure(env, *self._task_error(code, message, status))
        return super()._from_error(env=env, ex=ex)

    def _task_error(self, code: str, message: str, status: int) -> tuple[str, str]:
        """The Error and Cause Step Functions reports for the service's error (one function per service)."""
        return emr_task_error(code, message, status)

    def _failure(self, env: Any, error: str, cause: str) -> FailureEvent:
        name: Any
        if error == _RUNTIME:
            name = StatesErrorName(typ=StatesErrorNameType.StatesRuntime)
        elif error == StatesErrorNameType.StatesTaskFailed.to_name():
            name = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
        else:
            name = CustomErrorName(error)
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    @staticmethod
    def _is_runtime(failure_event: FailureEvent) -> bool:
        return failure_event.error_name is not None and failure_event.error_name.error_name == _RUNTIME

    def _handle_retry(self, env: Any, failure_event: FailureEvent) -> RetryOutcome:
        if self._is_runtime(failure_event):  # see _StatesRuntime
            return RetryOutcome.CannotRetry
        outcome: RetryOutcome = super()._handle_retry(env, failure_event)
        return outcome

    def _handle_catch(self, env: Any, failure_event: FailureEvent) -> None:
        if self._is_runtime(failure_event):  # see _StatesRuntime
            env.stack.append(CatchOutcome.NotCaught)
            return
        super()._handle_catch(env, failure_event)

    def _task_failed(self, cause: Any) -> _TaskError:
        # connect-to-resource "Run a Job (.sync)" / concepts-error-handling: "States.TaskFailed: A Task state
        # failed during the execution". The Cause is the last Describe* object (undocumented shape, inferred).
        return _TaskError(StatesErrorNameType.StatesTaskFailed.to_name(), json.dumps(_plain(cause)))

    # -- Request Response ---------------------------------------------------------------------
    def _client(self, resource_runtime_part: Any, credentials: Any) -> Any:
        return boto_client_for(region=resource_runtime_part.region, service="emr", state_credentials=credentials)

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        api = self.resource.api_action
        # A null member is taken as not set (inferred: awslabs/aws-emr-launch 2.0.1 passes None for every unused
        # RunJobFlow field through createCluster, and strips them only on its boto3 path; see emr_requests).
        params: Any = without_nulls(normalised_parameters)
        problems = check_integration_request(api, params)
        if problems:
            # A request that breaks EMR's API model is refused by EMR: a 400 ValidationException
            # (the lead's decided contract; the message wording is inferred).
            raise _TaskError(*emr_task_error("ValidationException", describe(problems), 400))
        emr = self._client(resource_runtime_part, state_credentials)
        env.stack.append(self._call(api, emr, params))

    def _call(self, api: str, emr: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        """One EMR call per resource, and the output connect-emr's table documents."""
        if api == "createCluster":
            # "Response is this: {"ClusterId": "string"}". moto also returns ClusterArn; not passed on, so a
            # state machine that read it locally would not break on AWS, where no page promises it.
            return {"ClusterId": emr.run_job_flow(**params)["JobFlowId"]}
        if api == "addStep":
            # "Request uses the key ClusterId ... a single step"; "Response is this: {"StepId": "string"}".
            extra = {"ExecutionRoleArn": params["ExecutionRoleArn"]} if "ExecutionRoleArn" in params else {}
            response = emr.add_job_flow_steps(JobFlowId=params["ClusterId"], Steps=[params["Step"]], **extra)
            return {"StepId": response["StepIds"][0]}
        if api == "cancelStep":
            # "Response is this: {"CancelStepsInfo": <CancelStepsInfo object>}".
            option = params.get("StepCancellationOption")
            extra = {"StepCancellationOption": option} if option else {}
            response = emr.cancel_steps(ClusterId=params["ClusterId"], StepIds=[params["StepId"]], **extra)
            infos = response.get("CancelStepsInfoList") or [{}]
            return {"CancelStepsInfo": _plain(infos[0])}
        if api == "terminateCluster":
            # TerminateJobFlows returns nothing and no output is documented: {} (inferred).
            emr.terminate_job_flows(JobFlowIds=[params["ClusterId"]])
            return {}
        if api == "setClusterTerminationProtection":
            emr.set_termination_protection(
                JobFlowIds=[params["ClusterId"]], TerminationProtected=params["TerminationProtected"]
            )
            return {}
        if api == "modifyInstanceGroupByName":
            # "At runtime the InstanceGroupId is determined automatically by the service integration by calling
            # ListInstanceGroups and parsing the result" (connect-emr). ModifyInstanceGroups returns nothing: {}.
            group_id = self._id_by_name(
                emr.list_instance_groups, "InstanceGroups", params["ClusterId"], params["InstanceGroupName"], "group"
            )
            group = {**params["InstanceGroup"], "InstanceGroupId": group_id}
            emr.modify_instance_groups(ClusterId=params["ClusterId"], InstanceGroups=[group])
            return {}
        if api == "modifyInstanceFleetByName":
            # The same through ListInstanceFleets and ModifyInstanceFleet (inferred by analogy). moto 5.2.5
            # implements neither: locally this ends in the States.Runtime of _from_error, naming the operation.
            fleet_id = self._id_by_name(
                emr.list_instance_fleets, "InstanceFleets", params["ClusterId"], params["InstanceFleetName"], "fleet"
            )
            fleet = {**params["InstanceFleet"], "InstanceFleetId": fleet_id}
            emr.modify_instance_fleet(ClusterId=params["ClusterId"], InstanceFleet=fleet)
            return {}
        raise ValueError(f"unsupported elasticmapreduce resource {api}")  # refused at create time

    @staticmethod
    def _id_by_name(list_call: Callable[..., Any], key: str, cluster_id: str, name: str, kind: str) -> str:
        marker: str | None = None
        while True:
            page = list_call(ClusterId=cluster_id, **({"Marker": marker} if marker else {}))
            for item in page.get(key, []):
                if item.get("Name") == name:
                    found: str = item["Id"]
                    return found
            marker = page.get("Marker")
            if not marker:
                # No page says how AWS reports an unknown name: a task failure (inferred).
                raise _TaskError(
                    StatesErrorNameType.StatesTaskFailed.to_name(),
                    f"No instance {kind} named '{name}' in cluster '{cluster_id}'.",
                )

    # -- .sync -------------------------------------------------------------------------------
    def _eval_integration_pattern(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        # Replaces moto's version, which shares a task-token callback endpoint between Retry attempts (a
        # retried .sync task then fails at once with States.Timeout) and polls every 0.5 wall seconds.
        submitted = env.stack.pop()
        emr = self._client(resource_runtime_part, state_credentials)
        api = self.resource.api_action
        poll = self._sync_poll(api, emr, submitted, normalised_parameters)
        clock = active_clock()
        started = clock.timestamp()

        def stopped(real_timeout: float) -> bool:
            # Wakes early when the execution is stopped or the task times out, as a Wait state does.
            env.program_state_event.wait(real_timeout)
            return not env.is_running()

        while env.is_running():
            if clock.wait_for(stopped, poll_interval(clock.timestamp() - started)):
                break
            result = poll()
            if result is not None:
                env.stack.append(result)
                return
        if api == "addStep":
            self._cancel_abandoned_step(emr, normalised_parameters["ClusterId"], submitted["StepId"])
        # Stopped or timed out: an empty result, as moto's own .sync loop gives. Returning nothing would leave
        # the task's input on the stack as its "result", and the states after it would run on that.
        env.stack.append(None)

    @staticmethod
    def _cancel_abandoned_step(emr: Any, cluster_id: str, step_id: str) -> None:
        # connect-to-resource, "Run a Job (.sync)": "If a task using this pattern is aborted ... Step Functions
        # will make a best-effort attempt to cancel the task"; emr-iam grants CancelSteps to addStep for this.
        try:
            emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id])
        except Exception:  # best effort: whatever EMR answers, the task is over
            return

    def _sync_poll(self, api: str, emr: Any, submitted: Any, params: Mapping[str, Any]) -> Callable[[], Any]:
        def described(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
                    return None  # try again at the next poll
                raise

        if api == "createCluster":
            cluster_id = submitted["ClusterId"]

            def created() -> Any:
                answer = described(lambda: emr.describe_cluster(ClusterId=cluster_id))
                if answer is None:
                    return None
                state = answer["Cluster"]["Status"]["State"]
                if state == "WAITING":
                    return submitted  # "The same as createCluster, but waits": {ClusterId}
                if state in CLUSTER_ENDED:
                    raise self._task_failed(answer["Cluster"])
                return None

            return created
        if api == "addStep":
            cluster_id, step_id = params["ClusterId"], submitted["StepId"]

            def finished() -> Any:
                answer = described(lambda: emr.describe_step(ClusterId=cluster_id, StepId=step_id))
                if answer is None:
                    return None
                state = answer["Step"]["Status"]["State"]
                if state == "COMPLETED":
                    return submitted  # "The same as addStep, but waits for the step to complete": {StepId}
                if state in STEP_ENDED_BADLY:
                    raise self._task_failed(answer["Step"])
                return None

            return finished
        if api == "terminateCluster":
            cluster_id = params["ClusterId"]

            def terminated() -> Any:
                answer = described(lambda: emr.describe_cluster(ClusterId=cluster_id))
                if answer is None:
                    return None
                return submitted if answer["Cluster"]["Status"]["State"] in CLUSTER_ENDED else None

            return terminated
        raise ValueError(f"elasticmapreduce:{api}.sync is not a resource")  # refused at create time
