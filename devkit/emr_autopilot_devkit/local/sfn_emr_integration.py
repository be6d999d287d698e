"""The optimized `arn:aws:states:::elasticmapreduce:*` integrations for moto's ASL interpreter.

moto (pinned 5.2.5) lists elasticmapreduce as unsupported. This adds createCluster, addStep,
cancelStep, terminateCluster and setClusterTerminationProtection, each with its `.sync` form,
built like moto's own Glue integration but polling on the fast clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from emr_autopilot_devkit.local.clock import active_clock

# Virtual seconds between Describe* polls; Step Functions itself reacts to EMR's events in seconds.
SYNC_POLL_SECONDS: Final[float] = 15.0

CLUSTER_READY = {"WAITING", "RUNNING"}
CLUSTER_ENDED = {"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"}
CLUSTER_GONE = {"TERMINATED", "TERMINATED_WITH_ERRORS"}
STEP_FAILED = {"FAILED", "CANCELLED", "INTERRUPTED"}


def _input_members(operation: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("emr")
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    return set(shape.members)


_PARAMETERS: Final[dict[str, set[str]]] = {
    "createcluster": _input_members("RunJobFlow"),
    "addstep": {"ClusterId", "Step", "ExecutionRoleArn"},
    "cancelstep": {"ClusterId", "StepId", "StepCancellationOption"},
    "terminatecluster": {"ClusterId"},
    "setclusterterminationprotection": {"ClusterId", "TerminationProtected"},
}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


class StateTaskServiceEmr(StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})  # type: ignore[arg-type]

    def _get_supported_parameters(self) -> set[str] | None:
        return _PARAMETERS.get(self.resource.api_action.lower())

    def _client(self, resource_runtime_part: Any, credentials: Any) -> Any:
        return boto_client_for(region=resource_runtime_part.region, service="emr", state_credentials=credentials)

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            error = f"EMR.{ex.response['Error']['Code']}"
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=ex.response["Error"].get("Message", ""),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _task_failed(self, env: Any, cause: Any) -> FailureEventException:
        return FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=json.dumps(_plain(cause)),
                    )
                ),
            )
        )

    # -- the plain calls -------------------------------------------------------------------
    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        emr = self._client(resource_runtime_part, state_credentials)
        params = normalised_parameters
        action = self.resource.api_action.lower()
        if action == "createcluster":
            response = emr.run_job_flow(**params)
            output = {"ClusterId": response["JobFlowId"], "ClusterArn": response.get("ClusterArn")}
        elif action == "addstep":
            response = emr.add_job_flow_steps(JobFlowId=params["ClusterId"], Steps=[params["Step"]])
            output = {"StepId": response["StepIds"][0], "ClusterId": params["ClusterId"]}
        elif action == "cancelstep":
            response = emr.cancel_steps(ClusterId=params["ClusterId"], StepIds=[params["StepId"]])
            output = _plain(response["CancelStepsInfoList"][0])
        elif action == "terminatecluster":
            emr.terminate_job_flows(JobFlowIds=[params["ClusterId"]])
            output = {"ClusterId": params["ClusterId"]}
        elif action == "setclusterterminationprotection":
            emr.set_termination_protection(
                JobFlowIds=[params["ClusterId"]], TerminationProtected=bool(params["TerminationProtected"])
            )
            output = {}
        else:  # pragma: no cover - rejected by _get_supported_parameters at parse time
            raise ValueError(f"unsupported elasticmapreduce action {self.resource.api_action}")
        env.stack.append(output)

    # -- .sync -----------------------------------------------------------------------------
    def _eval_integration_pattern(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        # Replaces moto's version, which shares a task-token callback endpoint between Retry
        # attempts (a retried .sync task then fails at once with States.Timeout).
        resolver = self._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
        clock = active_clock()
        while env.is_running():
            result = resolver()
            if result is not None:
                env.stack.append(result)
                return
            # Wakes early when the execution is stopped, as a Wait state does.
            clock.wait_for(env.program_state_event.wait, SYNC_POLL_SECONDS)
        # Stopped (StopExecution) or out of time: yield an empty result, as moto's own .sync loop does.
        # Returning nothing would leave the task's input on the stack as its "result", and the states
        # after it would run on that and fail the execution (States.Runtime) instead of ending ABORTED.
        env.stack.append(None)

    def _build_sync_resolver(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> Callable[[], Any]:
        submitted = env.stack.pop()
        emr = self._client(resource_runtime_part, state_credentials)
        action = self.resource.api_action.lower()

        def describe(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except ClientError as exc:
                # Step Functions' own polling is not subject to the caller's throttling: try again later.
                if exc.response["Error"]["Code"] in ("ThrottlingException", "InternalServerError"):
                    return None
                raise

        if action == "createcluster":
            cluster_id = submitted["ClusterId"]

            def created() -> Any:
                described = describe(lambda: emr.describe_cluster(ClusterId=cluster_id))
                if described is None:
                    return None
                state = described["Cluster"]["Status"]["State"]
                if state in CLUSTER_READY:
                    return submitted
                if state in CLUSTER_ENDED:
                    raise self._task_failed(env, described["Cluster"])
                return None

            return created
        if action == "addstep":
            cluster_id, step_id = submitted["ClusterId"], submitted["StepId"]

            def finished() -> Any:
                described = describe(lambda: emr.describe_step(ClusterId=cluster_id, StepId=step_id))
                if described is None:
                    return None
                step = described["Step"]
                state = step["Status"]["State"]
                if state == "COMPLETED":
                    return _plain(step)
                if state in STEP_FAILED:
                    raise self._task_failed(env, step)
                return None

            return finished
        if action == "terminatecluster":
            cluster_id = submitted["ClusterId"]

            def terminated() -> Any:
                described = describe(lambda: emr.describe_cluster(ClusterId=cluster_id))
                if described is None:
                    return None
                state = described["Cluster"]["Status"]["State"]
                return {"ClusterId": cluster_id, "State": state} if state in CLUSTER_GONE else None

            return terminated
        raise RuntimeError(f"Unsupported .sync callback procedure in resource {self.resource.resource_arn}")
