"""Task tokens (`.waitForTaskToken`) in moto's ASL interpreter, as the Step Functions API documents them.

moto (pinned 5.2.5) runs `.waitForTaskToken` tasks and SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat,
with gaps this fills:

- HeartbeatSeconds and the task's TimeoutSeconds wait in wall seconds: here they read the fast clock, as
  Wait states and `.sync` polls do (moto_patches/sfn.py). The wait for a token ends at the task's own
  timeout, counted from the task's start, not a whole TimeoutSeconds after the invoked function returned.
  `active_clock` is looked up at each wait, so the bench can stand its discrete-event clock in for it
  (bench/step_notice_lag.py).
- A token whose task has ended (completed, failed, timed out, or its execution stopped) is answered as AWS
  answers it: TaskTimedOut, "The task token has either expired or the task associated with the token has
  already been closed" (botocore's Step Functions model, TaskTimedOut). moto accepted a second SendTaskSuccess
  on a completed task silently, and answered InvalidToken once the execution had ended.
- A token completed before the wait begins (by the invoked function itself) ends the task; moto let the
  heartbeat time out over it.
- HeartbeatSeconds fails the task with States.HeartbeatTimeout (moto said States.Timeout), and moto's own
  SendTask* errors reach the client with their code (they arrived with none).
- SendTaskFailure's `cause` reaches the task's failure (moto's response layer passed only `error`):
  API_SendTaskFailure takes both, and the Catch that handles the failure sees both.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from emr_autopilot_devkit.local import clock


def active_clock() -> clock.FastClock:
    return clock.active_clock()


class _ClockEvent(threading.Event):
    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        return active_clock().wait_for(super().wait, timeout) or self.is_set()


_CLOSED = "The task token has either expired or the task associated with the token has already been closed."


def _heartbeat_failure(service: Any, env: Any) -> Any:
    """States.HeartbeatTimeout, where moto gave States.Timeout (its HeartbeatTimeoutError is a TimeoutError).
    state-task, HeartbeatSeconds: "this state fails with a States.HeartbeatTimeout error name";
    concepts-error-handling lists it apart from States.Timeout, so a Catch can tell them apart."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    name = StatesErrorNameType.StatesHeartbeatTimeout
    return FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=name),
        event_type=HistoryEventType.TaskTimedOut,
        event_details=EventDetails(  # type: ignore[typeddict-item]
            taskTimedOutEventDetails=TaskTimedOutEventDetails(
                resourceType=service._get_sfn_resource_type(),
                resource=service._get_sfn_resource(),
                error=name.to_name(),
            )
        ),
    )


@functools.cache  # installs once per process
def install() -> None:
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser import api
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.callback import callback
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    callback.Event = _ClockEvent  # type: ignore[misc]

    def wait_for_token_heartbeat(self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        # moto waited a whole heartbeat before it looked for an outcome, and a token completed before the wait
        # began (by the invoked function itself; its heartbeat endpoint did not exist yet) then timed out. A
        # SendTask* that arrives before the heartbeat deadline ends the task (state-task, HeartbeatSeconds).
        outcome = callback_endpoint.get_outcome()
        while outcome is None and env.is_running():
            received = heartbeat_endpoint.clear_and_wait()
            outcome = callback_endpoint.get_outcome()
            if outcome is None and not received and env.is_running():
                outcome = callback.HeartbeatTimedOut()
        return outcome

    StateTaskServiceCallback._wait_for_task_token_heartbeat = wait_for_token_heartbeat  # type: ignore[method-assign]

    original_execution = StateTaskServiceCallback._eval_execution
    original_wait = StateTaskServiceCallback._eval_wait_for_task_token

    def eval_execution(self: Any, env: Any) -> Any:
        env.task_started_at = active_clock().timestamp()  # when the task's TimeoutSeconds began (ExecutionState)
        return original_execution(self, env)

    def eval_wait_for_task_token(
        self: Any, env: Any, timeout_seconds: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        # A task's TimeoutSeconds counts from the task's start (state-task, TimeoutSeconds), which is when moto's
        # ExecutionState starts its own timer. moto's wait for the token began the whole timeout again after the
        # invoked function returned, so the two disagreed by the invocation's time: a token completed in between
        # met a task the timer had already ended.
        started = getattr(env, "task_started_at", None)
        if heartbeat_endpoint is None and timeout_seconds is not None and started is not None:
            timeout_seconds = max(float(timeout_seconds) - (active_clock().timestamp() - started), 0.0)
        return original_wait(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)

    StateTaskServiceCallback._eval_execution = eval_execution  # type: ignore[method-assign]
    StateTaskServiceCallback._eval_wait_for_task_token = eval_wait_for_task_token  # type: ignore[method-assign]

    original_from_error = StateTaskServiceCallback._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, callback.HeartbeatTimeoutError):
            return _heartbeat_failure(self, env)
        return original_from_error(self, env, ex)

    StateTaskServiceCallback._from_error = from_error  # type: ignore[method-assign]

    original_interrupt = callback.CallbackEndpoint.interrupt_all

    def interrupt_all(self: Any) -> None:
        # Called once the task's outcome is taken (or the task is abandoned): from here the token is closed.
        self.closed = True
        original_interrupt(self)

    callback.CallbackEndpoint.interrupt_all = interrupt_all  # type: ignore[method-assign]

    def closed(backend: Any, token: str) -> bool:
        for execution in backend._get_executions():
            worker = getattr(execution, "exec_worker", None)
            env = getattr(worker, "env", None)
            endpoint = env.callback_pool_manager.get(token) if env is not None else None
            if endpoint is not None:
                return bool(getattr(endpoint, "closed", False)) or str(execution.status) != "RUNNING"
        return False

    def guarded(name: str) -> None:
        original = getattr(StepFunctionsParserBackend, name)

        def call(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            if closed(self, task_token):
                raise AWSError(_CLOSED, exception_type="TaskTimedOut", status=400)
            try:
                return original(self, task_token, *args, **kwargs)
            except (api.TaskTimedOut, api.TaskDoesNotExist, api.InvalidToken) as exc:
                # moto's parser errors carry their code where AWSError wants the HTTP status, so they reached the
                # client with no error code at all: named here as the API names them.
                raise AWSError(str(exc) or type(exc).__name__, exception_type=type(exc).__name__, status=400) from exc

        setattr(StepFunctionsParserBackend, name, call)

    for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        guarded(name)

    def send_task_failure(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
