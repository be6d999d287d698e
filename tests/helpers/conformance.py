"""Helpers for the conformance tests: a runner for small ad-hoc state machines created through the local
runtime's own Step Functions endpoint, and one-state EMR tasks."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, LocalRuntime
from tests.helpers.integration import wait_until

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/StepFunctionsConformance"
EMR_ARN = "arn:aws:states:::elasticmapreduce:"

# A small instance-group cluster that breaks none of createCluster's rules.
CLUSTER_REQUEST: dict[str, Any] = {
    "Name": "conformance",
    "ReleaseLabel": "emr-7.0.0",
    "Applications": [{"Name": "Hadoop"}],
    "ServiceRole": "EMR_DefaultRole",
    "JobFlowRole": "EMR_EC2_DefaultRole",
    "Instances": {
        "KeepJobFlowAliveWhenNoSteps": True,
        "InstanceGroups": [
            {"Name": "master", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
    },
}


@dataclass
class Run:
    execution: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def status(self) -> str:
        status: str = self.execution["status"]
        return status

    @property
    def output(self) -> Any:
        return json.loads(self.execution.get("output") or "null")

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The details of every history event of one type, e.g. "TaskFailed"."""
        key = kind[0].lower() + kind[1:] + "EventDetails"
        return [event.get(key, {}) for event in self.history if event["type"] == kind]


class Runner:
    def __init__(self, stack: LocalRuntime) -> None:
        self.stack = stack
        self.sfn = stack.client("stepfunctions")
        self.emr = stack.client("emr")

    def create(self, definition: dict[str, Any] | str, name: str | None = None) -> str:
        body = definition if isinstance(definition, str) else json.dumps(definition)
        created = self.sfn.create_state_machine(
            name=name or f"conformance-{uuid.uuid4().hex[:12]}", definition=body, roleArn=ROLE_ARN
        )
        arn: str = created["stateMachineArn"]
        return arn

    def create_unchecked(self, definition: dict[str, Any]) -> str:
        """Store a definition through moto's backend, past the create-time checks of the response layer
        (asl_validation): for testing the run-time checks behind them, for requests AWS's deploy-time schema
        check would already refuse."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        from emr_autopilot_devkit.local.runtime import REGION

        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        machine = backend.create_state_machine(
            name=f"conformance-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE_ARN
        )
        arn: str = machine.arn
        return arn

    def start(self, definition: dict[str, Any] | str, execution_input: Any = None, *, unchecked: bool = False) -> str:
        machine = self.create_unchecked(definition) if unchecked else self.create(definition)  # type: ignore[arg-type]
        started = self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input or {}))
        arn: str = started["executionArn"]
        return arn

    def wait(self, execution_arn: str, timeout: float = 60.0) -> Run:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] != "RUNNING":
                return Run(execution, self.stack.history(execution_arn))
            if time.monotonic() > deadline:
                raise AssertionError(f"execution still RUNNING after {timeout}s: {execution_arn}")
            time.sleep(0.02)

    def run(self, definition: dict[str, Any] | str, execution_input: Any = None, *, unchecked: bool = False) -> Run:
        return self.wait(self.start(definition, execution_input, unchecked=unchecked))

    def cluster(self, request: dict[str, Any] | None = None) -> str:
        """A cluster started directly through EMR (not through a state machine)."""
        cluster_id: str = self.emr.run_job_flow(**(request or CLUSTER_REQUEST))["JobFlowId"]
        return cluster_id

    def wait_for_cluster(self, cluster_id: str, states: set[str], timeout: float = 30.0) -> dict[str, Any]:
        return wait_until(
            lambda: _in_state(self.emr.describe_cluster(ClusterId=cluster_id)["Cluster"], states), timeout
        )

    def wait_for_step(self, cluster_id: str, step_id: str, states: set[str], timeout: float = 30.0) -> dict[str, Any]:
        return wait_until(
            lambda: _in_state(self.emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"], states), timeout
        )


def _in_state(item: dict[str, Any], states: set[str]) -> dict[str, Any] | None:
    return item if item["Status"]["State"] in states else None


def task(resource: str, parameters: Any, **fields: Any) -> dict[str, Any]:
    """A one-state machine: a Task on `arn:aws:states:::elasticmapreduce:<resource>`."""
    state: dict[str, Any] = {"Type": "Task", "Resource": EMR_ARN + resource, "End": True}
    if parameters is not None:
        state["Parameters"] = parameters
    state.update(fields)
    return {"StartAt": "Task", "States": {"Task": state}}


@contextlib.contextmanager
def recorded_events(simulator: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The events a simulator emits while the block runs, in order as (detail-type, detail); they are still
    delivered to EventBridge."""
    original = simulator.emit
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(detail_type: str, resource: str, detail: dict[str, Any]) -> None:
        seen.append((detail_type, dict(detail)))
        original(detail_type, resource, detail)

    simulator.emit = record
    try:
        yield seen
    finally:
        simulator.emit = original


@contextlib.contextmanager
def held_phase(timings: Any, phase: str) -> Iterator[None]:
    """Job runs stay in one phase of a simulator's timings (e.g. "submitted") while the block runs."""
    held = getattr(timings, phase)
    setattr(timings, phase, 10**7)
    try:
        yield
    finally:
        setattr(timings, phase, held)
