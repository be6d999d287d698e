"""Fault-matrix cells for `step_completion: events` (issue 21): the pipeline waits for EMR's Step Status Change.

Each cell runs the TransientClusterPipeline with the job's cluster set to `step_completion: events`; the matrix's
own checks apply (one execution ending as expected, no cluster left running, exactly one terminal notice, the
ledger agrees with EMR, the fault acted). The faults act on the event's way to the pipeline:

- event_lost: the step's terminal Step Status Change never reaches the EMR event handler. WaitForStepEnd's
  WaitSeconds (its TimeoutSeconds) ends the wait with States.Timeout, StepEndRecheck sends it back, and the step
  end wait function finds the step ended (a StepEndRecheck state entered is the proof).
- event_twice: EventBridge delivers every EMR event twice (at-least-once delivery).
- event_before_token: the step ends, and its event is handled (finding no token), before the step end wait
  function stores the token; its one look at the step completes the wait.
- event_after_abort: the run is stopped while its step runs; the step's end (CANCELLED when the execution janitor
  terminates the cluster) reaches the handler after the task closed: SendTask* answers TaskTimedOut, ignored.
- handler_throttled: Step Functions throttles the handler's first two SendTask* calls; it raises, and Lambda's
  asynchronous retry sends it again.

Arrange functions take the reliability harness's Run (not imported: reliability imports this module).
"""

from __future__ import annotations

import time
from typing import Any

from emr_autopilot_devkit.local.emr_simulator import Timings

EVENTS = "EmrEventFunction"
WAIT = "StepEndWaitFunction"
STEP_STATUS = "EMR Step Status Change"
STEP_ENDS = frozenset({"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"})
EVENTS_JOB = {"step_completion": "events"}
_RUNNING_LONG = Timings(starting=60, bootstrapping=30, terminating=30, simulated_step=3600)

# Armed by handler_throttled: SendTask* calls left to throttle, process-wide (one cell runs at a time per process).
_throttle_left = {"count": 0, "fired": 0}
_installed = False


def _step_end(event: Any) -> str | None:
    """The step id of a terminal Step Status Change event, else None."""
    if not isinstance(event, dict) or event.get("detail-type") != STEP_STATUS:
        return None
    detail = event.get("detail") or {}
    return str(detail.get("stepId")) if detail.get("state") in STEP_ENDS else None


def _nothing(run: Any) -> None:
    return None


def _event_lost(run: Any) -> None:
    dropped: set[str] = set()
    original = run.enqueue

    def enqueue(deliver: Any, function: str, event: dict[str, Any]) -> None:
        step = _step_end(event) if function == EVENTS else None
        if step is not None and step not in dropped:
            dropped.add(step)
            run.hits["event_lost"] += 1
            return
        original(deliver, function, event)

    run.enqueue = enqueue
    run.proof(lambda: "StepEndRecheck" in run.entered, "the wait's recheck ran")


def _event_before_token(run: Any) -> None:
    handled: set[str] = set()
    held = {"done": False}
    original = run.invoke

    def invoke(call: Any, function: str, event: Any) -> Any:
        if function == WAIT and not held["done"]:
            held["done"] = True
            # Let the step run out (the clock runs at wall speed while a task's Lambda runs) and its event be
            # handled, while this function has not stored the token yet.
            deadline = time.monotonic() + 60
            while not handled and time.monotonic() < deadline:
                run.stack.clock.advance(30)
                time.sleep(0.02)
            if handled:
                run.hits["event_before_token"] += 1
        answer = original(call, function, event)
        step = _step_end(event) if function == EVENTS else None
        if step is not None:
            handled.add(step)
        return answer

    run.invoke = invoke


def _event_after_abort(run: Any) -> None:
    """Stopped while its step runs; once the cluster is gone, the step's end arrives late (a new event id, the
    state EMR shows), after the task closed: the handler's SendTask* must meet TaskTimedOut and shrug."""
    original = run.invoke

    def invoke(call: Any, function: str, event: Any) -> Any:
        answer = original(call, function, event)
        if function == EVENTS and _step_end(event) is not None and run._ended:
            run.hits["event_after_abort"] += 1
            metrics = [name for name, _, _ in (answer or {}).get("metrics", [])]
            if "StepTokensAlreadyClosed" in metrics:
                run.hits["token_already_closed"] += 1
        return answer

    def steps() -> list[Any]:
        return [(c, s) for c in list(run.stack.simulator.backend.clusters.values()) for s in list(c.steps)]

    def late_end() -> None:
        for cluster, step in steps():
            state = run.stack.steps(cluster.id)[0]["Status"]["State"]
            detail = {
                "severity": "WARN",
                "actionOnFailure": "CONTINUE",
                "stepId": step.id,
                "name": step.name,
                "clusterId": cluster.id,
                "state": state,
                "message": f"Step {step.id} ended {state} (late)",
            }
            run.stack.emit(STEP_STATUS, cluster.id, detail)

    run.invoke = invoke
    run.when(lambda: any(s.state == "RUNNING" for _, s in steps()), run.stop_execution, "step running")
    run.when(
        lambda: run._ended and all(c.state.startswith("TERMINATED") for c, _ in steps()), late_end, "late step end"
    )
    run.proof(lambda: run.hits["token_already_closed"] > 0, "the late end met a closed token")


def _install_throttle() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for name in ("send_task_success", "send_task_failure"):
        original = getattr(StepFunctionsParserBackend, name)

        def call(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if _throttle_left["count"] > 0:
                _throttle_left["count"] -= 1
                _throttle_left["fired"] += 1
                raise AWSError("Rate exceeded (injected)", exception_type="ThrottlingException", status=400)
            return _original(self, *args, **kwargs)

        setattr(StepFunctionsParserBackend, name, call)


def _handler_throttled(run: Any) -> None:
    _install_throttle()
    _throttle_left.update(count=0, fired=0)
    armed = {"done": False}
    original = run.invoke

    def invoke(call: Any, function: str, event: Any) -> Any:
        if function == EVENTS and _step_end(event) is not None and not armed["done"]:
            armed["done"] = True  # once, for the step's end: its first two SendTask* calls are throttled
            _throttle_left["count"] = 2
        return original(call, function, event)

    run.invoke = invoke
    run.proof(lambda: _throttle_left["fired"] == 2, "two SendTask* calls were throttled")


def _with(*arrangements: Any) -> Any:
    def arrange(run: Any) -> None:
        for each in arrangements:
            each(run)

    return arrange


def _spec(fault: str, state: str, expect: str, arrange: Any, **extra: Any) -> dict[str, Any]:
    return {"fault": fault, "state": state, "expect": expect, "arrange": arrange, "variant": "events",
            "job": EVENTS_JOB, "must_enter": ("AddStepRequest", "WaitForStepEnd"), **extra}  # fmt: skip


CELLS: list[dict[str, Any]] = [
    _spec("none", "-", "SUCCEEDED", _nothing),
    _spec("event_lost", "RunSteps", "SUCCEEDED", _event_lost, in_slice=True),
    _spec("event_twice", EVENTS, "SUCCEEDED", lambda run: run.duplicate(2, frozenset({EVENTS}))),
    _spec("event_before_token", "RunSteps", "SUCCEEDED", _event_before_token),
    _spec("event_after_abort", "RunSteps", "ABORTED", _event_after_abort, timings=_RUNNING_LONG),
    _spec("handler_throttled", EVENTS, "SUCCEEDED", _handler_throttled),
]
