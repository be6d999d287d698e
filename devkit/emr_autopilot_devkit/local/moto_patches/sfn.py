"""Extensions to moto's Step Functions interpreter (pinned moto 5.2.5).

- the optimized elasticmapreduce integrations (sfn_emr_integration);
- lambda:invoke, served by the in-process handlers (sfn_lambda_integration);
- JSONata, evaluated by jsonata-python (moto ships the hook but no evaluator);
- the fast clock for Wait states, Retry intervals, task timeouts and execution timeouts;
- a hook when an execution ends, to emit "Step Functions Execution Status Change".
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import Any

from emr_autopilot_devkit.local.clock import active_clock

_on_execution_end: Callable[[Any], None] | None = None
_stop_request = threading.local()  # StopExecution's error and cause, see install


def on_execution_end(callback: Callable[[Any], None] | None) -> None:
    global _on_execution_end
    _on_execution_end = callback


class _ScaledEvent(threading.Event):
    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        return active_clock().wait_for(super().wait, timeout) or self.is_set()


class _ScaledThread(threading.Thread):
    def join(self, timeout: float | None = None) -> None:
        if timeout is None:
            super().join()
            return

        def joined(real: float) -> bool:
            super(_ScaledThread, self).join(real)
            return not self.is_alive()

        active_clock().wait_for(joined, timeout)


def _threading_with(**overrides: Any) -> types.SimpleNamespace:
    namespace = types.SimpleNamespace(
        **{name: getattr(threading, name) for name in dir(threading) if not name.startswith("__")}
    )
    for key, value in overrides.items():
        setattr(namespace, key, value)
    return namespace


@functools.cache  # installs once per process
def install() -> None:
    from emr_autopilot_devkit.local.moto_patches import checks  # validation, AWS limits, concurrency, Unicode

    checks.install()

    import jsonata
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    from moto.stepfunctions.parser.backend import execution as moto_execution

    from emr_autopilot_devkit.local.moto_patches import asl_validation, sfn_error_semantics
    from emr_autopilot_devkit.local.moto_patches.sfn_emr_integration import StateTaskServiceEmr
    from emr_autopilot_devkit.local.moto_patches.sfn_lambda_integration import StateTaskServiceLocalLambda

    asl_validation.install()  # CreateStateMachine/UpdateStateMachine refuse what AWS refuses
    from emr_autopilot_devkit.local.moto_patches import sfn_callback

    sfn_callback.install()  # task tokens: HeartbeatSeconds on the fast clock, closed tokens, SendTaskFailure's cause
    sfn_error_semantics.install()  # States.ALL skips States.Runtime; JSONata failures are QueryEvaluationError

    original_factory = state_task_factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "elasticmapreduce":
            return StateTaskServiceEmr()
        if service_name == "lambda":  # lambda:invoke runs the in-process handler, not moto's Docker-based one
            return StateTaskServiceLocalLambda()
        return original_factory(service_name)

    state_task_factory.state_task_service_for = state_task_service_for

    moto_jsonata._eval_jsonata = lambda expression: jsonata.Jsonata(expression).evaluate(None)

    original_error_name_init = CustomErrorName.__init__

    def error_name_init(self: Any, error_name: str | None) -> None:
        # moto refuses "States.*" names wherever it re-wraps an error (a Map iteration, a Parallel
        # branch, a Fail state's ErrorPath); AWS propagates them, e.g. States.TaskFailed from a step.
        if error_name is not None and error_name.startswith("States."):
            ErrorName.__init__(self, error_name=error_name)
        else:
            original_error_name_init(self, error_name)

    CustomErrorName.__init__ = error_name_init  # type: ignore[method-assign]

    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: active_clock().sleep(seconds))  # type: ignore[assignment]
    execute_state.threading = _threading_with(Event=_ScaledEvent)  # type: ignore[assignment]
    program.threading = _threading_with(Thread=_ScaledThread)  # type: ignore[assignment]

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            active_clock().wait_for(env.program_state_event.wait, wait_seconds)

    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]

    original_set_error = Environment.set_error

    def set_error(self: Any, error: Any) -> None:
        # StopExecution is final. moto lets an error raised while a stopped program unwinds (e.g. from a
        # Map iteration it aborts) replace the stopped state, so the execution ended FAILED, not ABORTED.
        with self._state_mutex:
            if isinstance(self._program_state, ProgramStopped):
                return
        original_set_error(self, error)

    Environment.set_error = set_error  # type: ignore[method-assign]

    communication = moto_execution.BaseExecutionWorkerCommunication
    original_terminated = communication.terminated

    def terminated(self: Any) -> None:
        original_terminated(self)
        self.execution.stop_date = active_clock().now()  # moto uses the wall clock; see execution_init
        if _on_execution_end is not None:
            _on_execution_end(self.execution)

    communication.terminated = terminated  # type: ignore[method-assign]

    original_init = moto_execution.Execution.__init__

    def execution_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # moto stamps startDate with the wall clock; the run starter places the run's deadline at
        # startDate + run_timeout and the local runtime fires deadlines on the fast clock.
        self.start_date = active_clock().now()

    moto_execution.Execution.__init__ = execution_init  # type: ignore[method-assign]

    original_stop = moto_execution.Execution.stop

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        # moto drops StopExecution's error and cause; AWS reports them for ABORTED executions.
        requested = getattr(_stop_request, "error_cause", None)
        if requested is not None:
            error, cause = requested
        self.error, self.cause = error, cause
        original_stop(self, stop_date, error, cause)

    moto_execution.Execution.stop = stop  # type: ignore[method-assign]

    from moto.stepfunctions.responses import StepFunctionResponse

    original_stop_response = StepFunctionResponse.stop_execution

    def stop_execution_response(self: Any) -> Any:
        # The response layer passes only the ARN on (the backend then stops with error="" and
        # cause=""); hand the request's error and cause to the patched Execution.stop above.
        _stop_request.error_cause = (self._get_param("error"), self._get_param("cause"))
        try:
            return original_stop_response(self)
        finally:
            _stop_request.error_cause = None

    StepFunctionResponse.stop_execution = stop_execution_response  # type: ignore[method-assign]
