"""The EMR simulator's cluster life cycle and events, driven with boto3 against the local runtime (fast clock).

Sources (the archived Amazon EMR Management Guide, awsdocs/amazon-emr-management-guide doc_source/*.md, and the
EMR API reference):
- emr-overview.md, "Understanding the cluster lifecycle": STARTING -> BOOTSTRAPPING -> RUNNING (steps run in
  order) -> WAITING; auto-terminating clusters go TERMINATING -> TERMINATED; failures end TERMINATED_WITH_ERRORS.
- emr-plan-longrunning-transient.md: with KeepJobFlowAliveWhenNoSteps false, "As soon as the last step
  completes, Amazon EMR terminates the cluster".
- API_StepConfig, ActionOnFailure: TERMINATE_CLUSTER / TERMINATE_JOB_FLOW shut the cluster down,
  CANCEL_AND_WAIT cancels pending steps and returns to WAITING, CONTINUE runs the next step; with
  StepConcurrencyLevel > 1, AddJobFlowSteps refuses CANCEL_AND_WAIT and TERMINATE_CLUSTER.
- UsingEMR_TerminationProtection.md: CANCEL_AND_WAIT with step execution on terminates the cluster without
  running the later steps.
- emr-concurrent-steps.md: pending steps start in the order they were submitted.
- emr-cancel-steps.md / API_CancelSteps: a running step can be cancelled (5.28.0+); SEND_INTERRUPT (default)
  sends SIGTERM, TERMINATE_PROCESS sends SIGKILL; cancelling does not trigger ActionOnFailure.
- emr-manage-cloudwatch-events.md: the Cluster State Change and Step Status Change tables (states, severities,
  messages); TERMINATED_WITH_ERRORS is CRITICAL; no event for BOOTSTRAPPING, TERMINATING or INTERRUPTED.
- emr-service-limits-cloudwatch-events.md: a full event, with "stateChangeReason": "{\"code\":\"\"}".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.conformance import wait_until

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
ENDED = {"TERMINATED", "TERMINATED_WITH_ERRORS"}
STEP_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"}


class Lifecycle:
    """A local runtime whose EMR events are also recorded here, in the order the simulator sent them."""

    def __init__(self, stack: LocalRuntime) -> None:
        self.stack = stack
        self.emr = stack.client("emr")
        self.events: list[tuple[str, dict[str, Any]]] = []
        send = stack.simulator.emit

        def record(detail_type: str, resource: str, detail: dict[str, Any]) -> None:
            self.events.append((detail_type, dict(detail)))
            send(detail_type, resource, detail)

        stack.simulator.emit = record

    def start(
        self, *, keep_alive: bool, steps: list[dict[str, Any]] | None = None, name: str = "lifecycle", **extra: Any
    ) -> str:
        request: dict[str, Any] = {
            "Name": f"{name}-{uuid.uuid4().hex[:8]}",
            "ReleaseLabel": "emr-7.5.0",
            "ServiceRole": "EMR_DefaultRole",
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "Instances": {
                "KeepJobFlowAliveWhenNoSteps": keep_alive,
                "InstanceGroups": [
                    {"Name": "master", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                    {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
                ],
                **extra.pop("instances", {}),
            },
            **extra,
        }
        if steps:
            request["Steps"] = steps
        cluster_id: str = self.emr.run_job_flow(**request)["JobFlowId"]
        return cluster_id

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        cluster: dict[str, Any] = self.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        return cluster

    def state(self, cluster_id: str) -> str:
        state: str = self.cluster(cluster_id)["Status"]["State"]
        return state

    def steps(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cluster's steps in the order they were submitted (ListSteps answers newest first)."""
        steps: list[dict[str, Any]] = self.emr.list_steps(ClusterId=cluster_id)["Steps"]
        return list(reversed(steps))

    def wait_ended(self, cluster_id: str) -> dict[str, Any]:
        wait_until(lambda: self.state(cluster_id) in ENDED, timeout=30)
        return self.cluster(cluster_id)

    def wait_steps_ended(self, cluster_id: str) -> list[dict[str, Any]]:
        wait_until(lambda: all(s["Status"]["State"] in STEP_ENDED for s in self.steps(cluster_id)), timeout=30)
        return self.steps(cluster_id)

    def wait_idle(self, cluster_id: str) -> None:
        """Every step ended and the cluster back in WAITING (after its WAITING event)."""
        self.wait_steps_ended(cluster_id)
        wait_until(lambda: self.cluster_states(cluster_id)[-1:] == ["WAITING"], timeout=30)

    def cluster_events(self, cluster_id: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == "EMR Cluster State Change" and d["clusterId"] == cluster_id]

    def cluster_states(self, cluster_id: str) -> list[str]:
        return [d["state"] for d in self.cluster_events(cluster_id)]

    def step_events(self, cluster_id: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == "EMR Step Status Change" and d["clusterId"] == cluster_id]

    def step_states(self, cluster_id: str, step_id: str) -> list[str]:
        return [d["state"] for d in self.step_events(cluster_id) if d["stepId"] == step_id]

    def timeline(self, cluster_id: str) -> list[str]:
        """Cluster and step events of one cluster in order: "cluster:RUNNING", "<step name>:COMPLETED", ..."""
        found = []
        for detail_type, detail in self.events:
            if detail.get("clusterId") != cluster_id:
                continue
            if detail_type == "EMR Cluster State Change":
                found.append(f"cluster:{detail['state']}")
            elif detail_type == "EMR Step Status Change":
                found.append(f"{detail['name']}:{detail['state']}")
        return found


@pytest.fixture(scope="module")
def emr() -> Iterator[Lifecycle]:
    stack = LocalRuntime().start()
    try:
        yield Lifecycle(stack)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def no_faults(emr: Lifecycle) -> Iterator[None]:
    yield
    emr.stack.simulator.faults.bootstrap_failure.clear()
    emr.stack.simulator.faults.spot_capacity_timeout.clear()


def step(name: str, command: str, action: str = "CONTINUE") -> dict[str, Any]:
    """A command-runner.jar step that runs `bash -c command` for real on this machine."""
    return {
        "Name": name,
        "ActionOnFailure": action,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["bash", "-c", command]},
    }


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return loaded


# -- transient clusters: the classic boto3 run_job_flow with Steps --------------------------------------------
def test_the_classic_transient_cluster_runs_its_steps_in_order_then_terminates(emr: Lifecycle) -> None:
    """emr-plan-longrunning-transient.md ("Configure a cluster to terminate after step execution") and
    emr-overview.md ("Understanding the cluster lifecycle"): the cluster starts, bootstraps, is RUNNING while
    it "sequentially runs any steps that you specified when you created the cluster", and "As soon as the last
    step completes, Amazon EMR terminates the cluster". Events: emr-manage-cloudwatch-events.md."""
    # Given the classic transient call: RunJobFlow with two Steps, KeepJobFlowAliveWhenNoSteps false and
    # ActionOnFailure TERMINATE_CLUSTER
    cluster_id = emr.start(
        keep_alive=False,
        steps=[step("first", "exit 0", "TERMINATE_CLUSTER"), step("second", "exit 0", "TERMINATE_CLUSTER")],
    )

    # When the cluster runs to its end
    cluster = emr.wait_ended(cluster_id)

    # Then both steps completed, the second starting only after the first had ended
    first, second = emr.steps(cluster_id)
    assert [first["Name"], second["Name"]] == ["first", "second"]
    assert [first["Status"]["State"], second["Status"]["State"]] == ["COMPLETED", "COMPLETED"]
    assert second["Status"]["Timeline"]["StartDateTime"] >= first["Status"]["Timeline"]["EndDateTime"]

    # And the cluster ended TERMINATED because all its steps completed
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    assert cluster["AutoTerminate"] is True

    # And the events came in EMR's order: STARTING, the steps pending, RUNNING ("began running steps"),
    # each step RUNNING then COMPLETED, and TERMINATED, with no WAITING in between
    assert emr.timeline(cluster_id) == [
        "cluster:STARTING",
        "first:PENDING",
        "second:PENDING",
        "cluster:RUNNING",
        "first:RUNNING",
        "first:COMPLETED",
        "second:RUNNING",
        "second:COMPLETED",
        "cluster:TERMINATED",
    ]
    running = emr.cluster_events(cluster_id)[1]
    assert running["message"].startswith(f"Amazon EMR cluster {cluster_id} (")
    assert " began running steps at " in running["message"]
    terminated = emr.cluster_events(cluster_id)[-1]
    assert terminated["severity"] == "INFO"
    assert json.loads(terminated["stateChangeReason"])["code"] == "ALL_STEPS_COMPLETED"
    assert terminated["message"].endswith(" with a reason of ALL_STEPS_COMPLETED.")


@pytest.mark.parametrize("action", ["TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"])
def test_a_step_failing_under_terminate_cluster_ends_the_cluster_with_step_failure(emr: Lifecycle, action: str) -> None:
    """API_StepConfig: TERMINATE_CLUSTER (and TERMINATE_JOB_FLOW, "provided for backward compatibility") "Shuts
    down the cluster"; emr-overview.md: a cluster ended by a failure is TERMINATED_WITH_ERRORS;
    emr-manage-cloudwatch-events.md: that event is CRITICAL, "has terminated with errors at Time with a reason
    of StateChangeReason:Code". A real event for this case carries
    {"code":"STEP_FAILURE","message":"Shut down as step failed"} (compact JSON)."""
    # Given a transient cluster whose first step fails under `action`, with a second step behind it
    cluster_id = emr.start(keep_alive=False, steps=[step("fails", "exit 3", action), step("never runs", "exit 0")])

    # When the cluster runs to its end
    cluster = emr.wait_ended(cluster_id)

    # Then the first step failed, the second was cancelled without running, and the cluster ended with errors
    failed, cancelled = emr.steps(cluster_id)
    assert (failed["Status"]["State"], cancelled["Status"]["State"]) == ("FAILED", "CANCELLED")
    assert cancelled["Status"]["Timeline"].get("StartDateTime") is None
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    assert cluster["Status"]["StateChangeReason"] == {"Code": "STEP_FAILURE", "Message": "Shut down as step failed"}

    # And its last event is the CRITICAL TERMINATED_WITH_ERRORS one, reason as compact JSON
    assert emr.timeline(cluster_id)[-4:] == [
        "fails:RUNNING",
        "fails:FAILED",
        "never runs:CANCELLED",
        "cluster:TERMINATED_WITH_ERRORS",
    ]
    last = emr.cluster_events(cluster_id)[-1]
    assert last["severity"] == "CRITICAL"
    assert last["stateChangeReason"] == '{"code":"STEP_FAILURE","message":"Shut down as step failed"}'
    assert " has terminated with errors at " in last["message"]
    assert last["message"].endswith(" with a reason of STEP_FAILURE.")
    failed_event = next(d for d in emr.step_events(cluster_id) if d["state"] == "FAILED")
    assert (failed_event["severity"], failed_event["actionOnFailure"]) == ("ERROR", action)


def test_the_terminated_with_errors_event_has_the_fields_and_severity_of_its_fixture(emr: Lifecycle) -> None:
    """emr-manage-cloudwatch-events.md: TERMINATED_WITH_ERRORS has severity CRITICAL; the fixture
    events/emr_cluster_state_change_terminated_with_errors.json is the project's copy of that event."""
    # Given a cluster whose bootstrap action fails, as the fixture's does
    fixture = load_event("emr_cluster_state_change_terminated_with_errors.json")["detail"]
    emr.stack.simulator.faults.bootstrap_failure.append("bootstrap-fails-")
    cluster_id = emr.start(keep_alive=True, name="bootstrap-fails")

    # When it ends
    cluster = emr.wait_ended(cluster_id)

    # Then its event has the fixture's fields, severity and reason code, and nothing ran or waited
    assert cluster["Status"]["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
    assert emr.cluster_states(cluster_id) == ["STARTING", "TERMINATED_WITH_ERRORS"]
    event = emr.cluster_events(cluster_id)[-1]
    assert set(event) == set(fixture)
    assert event["severity"] == fixture["severity"] == "CRITICAL"
    assert json.loads(event["stateChangeReason"])["code"] == json.loads(fixture["stateChangeReason"])["code"]
    assert event["stateChangeReason"] == json.dumps(json.loads(event["stateChangeReason"]), separators=(",", ":"))


# -- long-running clusters ---------------------------------------------------------------------------------------
def test_a_long_running_cluster_waits_when_idle_and_runs_added_steps(emr: Lifecycle) -> None:
    """emr-overview.md: after bootstrapping the cluster runs steps, then "goes into a WAITING state"; a cluster
    configured to wait stays up. emr-manage-cloudwatch-events.md: WAITING "was created at Time and is ready for
    use" / "finished running all pending steps at Time"; RUNNING "began running steps at Time"; no event for
    BOOTSTRAPPING. emr-service-limits-cloudwatch-events.md: no reason is "{\"code\":\"\"}"."""
    # Given a cluster started with KeepJobFlowAliveWhenNoSteps true and no steps
    cluster_id = emr.start(keep_alive=True)

    # When it is ready
    wait_until(lambda: emr.state(cluster_id) == "WAITING", timeout=30)

    # Then it went STARTING then WAITING ("ready for use") only, never RUNNING without a step
    assert emr.cluster_states(cluster_id) == ["STARTING", "WAITING"]
    starting, waiting = emr.cluster_events(cluster_id)
    assert " was requested at " in starting["message"] and starting["message"].endswith(" and is being created.")
    assert waiting["message"].endswith(" and is ready for use.")
    assert [e["stateChangeReason"] for e in (starting, waiting)] == ['{"code":""}', '{"code":""}']
    assert [e["severity"] for e in (starting, waiting)] == ["INFO", "INFO"]

    # When a step is added through AddJobFlowSteps and runs
    step_id = emr.emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("added", "exit 0")])["StepIds"][0]
    emr.wait_idle(cluster_id)

    # Then the cluster was RUNNING while the step ran and is WAITING again, still up
    assert emr.timeline(cluster_id)[2:] == [
        "added:PENDING",
        "cluster:RUNNING",
        "added:RUNNING",
        "added:COMPLETED",
        "cluster:WAITING",
    ]
    assert " finished running all pending steps at " in emr.cluster_events(cluster_id)[-1]["message"]
    assert emr.state(cluster_id) == "WAITING"
    assert emr.emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"] == "COMPLETED"
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_steps_given_at_run_job_flow_run_before_a_long_running_cluster_waits(emr: Lifecycle) -> None:
    """emr-overview.md: once RUNNING, "the cluster sequentially runs any steps that you specified when you
    created the cluster", then goes into WAITING (KeepJobFlowAliveWhenNoSteps true)."""
    # Given a long-running cluster created with one step
    cluster_id = emr.start(keep_alive=True, steps=[step("at start", "exit 0")])

    # When it has run it
    emr.wait_idle(cluster_id)

    # Then the step ran once the cluster was RUNNING, and the cluster then waited (it did not terminate)
    assert emr.timeline(cluster_id) == [
        "cluster:STARTING",
        "at start:PENDING",
        "cluster:RUNNING",
        "at start:RUNNING",
        "at start:COMPLETED",
        "cluster:WAITING",
    ]
    assert emr.state(cluster_id) == "WAITING"
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_cancel_and_wait_cancels_the_pending_steps_and_the_cluster_waits(emr: Lifecycle) -> None:
    """API_StepConfig: CANCEL_AND_WAIT "Cancels any pending steps and returns the cluster to the WAITING
    state"."""
    # Given a long-running cluster whose first step fails under CANCEL_AND_WAIT, with another step behind it
    cluster_id = emr.start(
        keep_alive=True, steps=[step("fails", "exit 1", "CANCEL_AND_WAIT"), step("cancelled", "exit 0")]
    )

    # When the steps have ended
    emr.wait_idle(cluster_id)

    # Then the second step was cancelled without running, and the cluster is WAITING
    assert [s["Status"]["State"] for s in emr.steps(cluster_id)] == ["FAILED", "CANCELLED"]
    assert emr.state(cluster_id) == "WAITING"
    assert emr.timeline(cluster_id)[-4:] == ["fails:RUNNING", "fails:FAILED", "cancelled:CANCELLED", "cluster:WAITING"]
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_cancel_and_wait_on_a_transient_cluster_terminates_it_without_the_later_steps(emr: Lifecycle) -> None:
    """UsingEMR_TerminationProtection.md ("Termination protection and step execution"): "If a step fails that
    is configured with ActionOnFailure set to CANCEL_AND_WAIT, if step execution is enabled, the cluster
    terminates without executing subsequent steps"."""
    # Given a transient cluster whose first step fails under CANCEL_AND_WAIT, with another step behind it
    cluster_id = emr.start(
        keep_alive=False, steps=[step("fails", "exit 1", "CANCEL_AND_WAIT"), step("cancelled", "exit 0")]
    )

    # When it ends
    cluster = emr.wait_ended(cluster_id)

    # Then the second step never ran and the cluster terminated (no step left to run; not a STEP_FAILURE)
    assert [s["Status"]["State"] for s in emr.steps(cluster_id)] == ["FAILED", "CANCELLED"]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    assert "cluster:WAITING" not in emr.timeline(cluster_id)


def test_continue_runs_the_next_step_after_a_failure(emr: Lifecycle) -> None:
    """API_StepConfig: CONTINUE "Continues to the next step in the queue"."""
    # Given a transient cluster whose first step fails under CONTINUE
    cluster_id = emr.start(keep_alive=False, steps=[step("fails", "exit 1", "CONTINUE"), step("runs", "exit 0")])

    # When it ends
    cluster = emr.wait_ended(cluster_id)

    # Then the second step ran and completed, and the cluster ended after its last step, not for the failure
    assert [s["Status"]["State"] for s in emr.steps(cluster_id)] == ["FAILED", "COMPLETED"]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"


# -- step concurrency ----------------------------------------------------------------------------------------------
def test_step_concurrency_level_runs_that_many_steps_at_once_in_submission_order(emr: Lifecycle) -> None:
    """RunJobFlow StepConcurrencyLevel (emr-5.28.0+); emr-concurrent-steps.md: "pending steps in queue
    transition to running state in the order they were submitted"."""
    # Given a cluster running at most two steps at once, given three steps that each take a moment
    steps = [step(f"step {n}", "sleep 0.3") for n in (1, 2, 3)]
    cluster_id = emr.start(keep_alive=True, steps=steps, StepConcurrencyLevel=2)

    # When they have run
    emr.wait_idle(cluster_id)

    # Then two ran together, never three, and they started in the order they were submitted
    running, most = 0, 0
    started = []
    for event in emr.step_events(cluster_id):
        if event["state"] == "RUNNING":
            running += 1
            started.append(event["name"])
        elif event["state"] in STEP_ENDED:
            running -= 1
        most = max(most, running)
    assert most == 2
    assert started == ["step 1", "step 2", "step 3"]
    assert [s["Status"]["State"] for s in emr.steps(cluster_id)] == ["COMPLETED"] * 3
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_add_job_flow_steps_refuses_terminate_cluster_when_steps_run_concurrently(emr: Lifecycle) -> None:
    """API_StepConfig: "If a cluster's StepConcurrencyLevel is greater than 1, do not use AddJobFlowSteps to
    submit a step with this parameter set to CANCEL_AND_WAIT or TERMINATE_CLUSTER. The step is not submitted
    and the action fails with a message that the ActionOnFailure setting is not valid"."""
    # Given a cluster with StepConcurrencyLevel 2
    cluster_id = emr.start(keep_alive=True, StepConcurrencyLevel=2)

    for action in ("TERMINATE_CLUSTER", "CANCEL_AND_WAIT"):
        # When a step with that ActionOnFailure is added
        with pytest.raises(ClientError) as refused:
            emr.emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step("refused", "exit 0", action)])

        # Then EMR refuses it, naming the setting, and no step was submitted
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "ActionOnFailure" in refused.value.response["Error"]["Message"]
    assert emr.steps(cluster_id) == []
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


# -- CancelSteps on a running step ---------------------------------------------------------------------------------
TRAPPING_STEP = (
    # Says it started, then waits; on SIGTERM it writes a marker and exits.
    "trap 'echo interrupted > {marker}; exit 143' TERM; echo started > {started}; "
    "for i in $(seq 1 600); do sleep 0.1; done"
)


@pytest.mark.parametrize(("option", "sigterm_seen"), [("SEND_INTERRUPT", True), ("TERMINATE_PROCESS", False)])
def test_cancel_steps_cancels_a_running_step_through_cancel_pending(
    emr: Lifecycle, tmp_path: Path, option: str, sigterm_seen: bool
) -> None:
    """API_CancelSteps and emr-cancel-steps.md: with EMR 5.28.0 and later a running step can be cancelled;
    SEND_INTERRUPT (the default) sends SIGTERM, TERMINATE_PROCESS sends SIGKILL to the step and its descendant
    processes; "Canceling a running step does not trigger the step ActionOnFailure".
    emr-manage-cloudwatch-events.md: CANCEL_PENDING (WARN) "was cancelled at Time and is pending
    cancellation", then CANCELLED (WARN) "Cancellation request has succeeded"."""
    # Given a long-running cluster whose TERMINATE_CLUSTER step is running for real
    marker, started = tmp_path / "interrupted", tmp_path / "started"
    command = TRAPPING_STEP.format(marker=marker, started=started)
    cluster_id = emr.start(keep_alive=True, steps=[step("long", command, "TERMINATE_CLUSTER")])
    step_id = emr.steps(cluster_id)[0]["Id"]
    wait_until(started.exists, timeout=30)

    # When CancelSteps asks for it to be cancelled
    answer = emr.emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption=option)

    # Then the request was accepted, and the step went CANCEL_PENDING then CANCELLED once its process ended
    assert answer["CancelStepsInfoList"] == [{"StepId": step_id, "Status": "SUBMITTED", "Reason": ""}]
    emr.wait_idle(cluster_id)
    assert emr.steps(cluster_id)[0]["Status"]["State"] == "CANCELLED"
    assert emr.step_states(cluster_id, step_id) == ["PENDING", "RUNNING", "CANCEL_PENDING", "CANCELLED"]
    pending, cancelled = [d for d in emr.step_events(cluster_id) if d["state"] in ("CANCEL_PENDING", "CANCELLED")]
    assert (pending["severity"], cancelled["severity"]) == ("WARN", "WARN")
    assert pending["message"].endswith(" and is pending cancellation.")
    assert cancelled["message"].startswith("Cancellation request has succeeded for cluster step ")

    # And the process got SIGTERM (which it can catch) or SIGKILL (which it cannot)
    assert marker.exists() is sigterm_seen

    # And its ActionOnFailure did not act: the cluster is WAITING, not terminating
    assert emr.state(cluster_id) == "WAITING"
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_cancelling_a_pending_step_cancels_it_at_once(emr: Lifecycle) -> None:
    """emr-work-with-steps.md: pending steps can be cancelled (4.8.0+); emr-manage-cloudwatch-events.md: the
    CANCELLED event, severity WARN."""
    # Given a cluster still starting, with a step pending
    cluster_id = emr.start(keep_alive=True, steps=[step("pending", "exit 0")])
    step_id = emr.steps(cluster_id)[0]["Id"]

    # When the step is cancelled
    answer = emr.emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id])

    # Then it is CANCELLED without running, and the cluster waits once ready
    assert answer["CancelStepsInfoList"][0]["Status"] == "SUBMITTED"
    assert emr.steps(cluster_id)[0]["Status"]["State"] == "CANCELLED"
    wait_until(lambda: emr.state(cluster_id) == "WAITING", timeout=30)
    assert emr.step_states(cluster_id, step_id) == ["PENDING", "CANCELLED"]
    assert emr.cluster_states(cluster_id) == ["STARTING", "WAITING"]
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])


# -- termination by request, and capacity ---------------------------------------------------------------------------
def test_terminating_a_cluster_interrupts_its_running_step_without_an_interrupted_event(emr: Lifecycle) -> None:
    """emr-overview.md: a manually shut down cluster goes TERMINATING then TERMINATED; API_StepStatus lists
    INTERRUPTED among step states, but emr-manage-cloudwatch-events.md documents no Step Status Change event for
    it (nor a cluster event for TERMINATING). emr-manage-cloudwatch-events.md: TERMINATED "has terminated at Time
    with a reason of StateChangeReason:Code"."""
    # Given a long-running cluster running a long step, with another pending behind it
    cluster_id = emr.start(keep_alive=True, steps=[step("long", "sleep 60"), step("pending", "exit 0")])
    running_id, pending_id = (s["Id"] for s in emr.steps(cluster_id))
    wait_until(lambda: emr.steps(cluster_id)[0]["Status"]["State"] == "RUNNING", timeout=30)

    # When it is terminated by request
    emr.emr.terminate_job_flows(JobFlowIds=[cluster_id])
    cluster = emr.wait_ended(cluster_id)

    # Then the running step is INTERRUPTED and the pending one CANCELLED; the cluster TERMINATED by USER_REQUEST
    assert [s["Status"]["State"] for s in emr.steps(cluster_id)] == ["INTERRUPTED", "CANCELLED"]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "USER_REQUEST"

    # And no INTERRUPTED step event was sent, the pending step's CANCELLED was, and TERMINATED is INFO
    assert emr.step_states(cluster_id, running_id) == ["PENDING", "RUNNING"]
    assert emr.step_states(cluster_id, pending_id) == ["PENDING", "CANCELLED"]
    last = emr.cluster_events(cluster_id)[-1]
    assert (last["state"], last["severity"]) == ("TERMINATED", "INFO")
    assert last["stateChangeReason"] == '{"code":"USER_REQUEST","message":"Terminated by user request"}'
    assert " has terminated at " in last["message"] and last["message"].endswith(" with a reason of USER_REQUEST.")


def test_a_spot_provisioning_timeout_names_the_fleet_and_ends_the_cluster(emr: Lifecycle) -> None:
    """API_ClusterStateChangeReason: INSTANCE_FLEET_TIMEOUT; emr-provisioning-timeout-launch: a Spot timeout
    with TimeoutAction TERMINATE_CLUSTER ends the cluster. The event's fields follow
    events/emr_instance_fleet_provisioning_timeout.json (inferred: the registry schema could not be read)."""
    # Given a fleet cluster whose CORE fleet wants Spot capacity with a 15-minute TERMINATE_CLUSTER timeout,
    # and EMR cannot find that capacity
    fixture = load_event("emr_instance_fleet_provisioning_timeout.json")
    emr.stack.simulator.faults.spot_capacity_timeout.append("no-spot-")
    fleets = [
        {
            "InstanceFleetType": "MASTER",
            "TargetOnDemandCapacity": 1,
            "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
        },
        {
            "InstanceFleetType": "CORE",
            "TargetSpotCapacity": 2,
            "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
            "LaunchSpecifications": {
                "SpotSpecification": {"TimeoutDurationMinutes": 15, "TimeoutAction": "TERMINATE_CLUSTER"}
            },
        },
    ]
    cluster_id = emr.emr.run_job_flow(
        Name=f"no-spot-{uuid.uuid4().hex[:8]}",
        ReleaseLabel="emr-7.5.0",
        ServiceRole="EMR_DefaultRole",
        JobFlowRole="EMR_EC2_DefaultRole",
        Instances={"KeepJobFlowAliveWhenNoSteps": True, "InstanceFleets": fleets},
    )["JobFlowId"]

    # When the provisioning timeout passes
    cluster = emr.wait_ended(cluster_id)

    # Then one provisioning event names the CORE fleet (an if- id), its timeout and action, with the fixture's fields
    events = [(t, d) for t, d in emr.events if t == "EMR Instance Fleet Provisioning" and d["clusterId"] == cluster_id]
    assert len(events) == 1
    detail = events[0][1]
    assert set(detail) == set(fixture["detail"])
    assert detail["instanceFleetType"] == "CORE"
    assert detail["instanceFleetId"].startswith("if-") and len(detail["instanceFleetId"]) == 16
    assert (detail["timeoutAction"], detail["timeoutDurationMinutes"]) == ("TERMINATE_CLUSTER", "15")
    assert (detail["eventCode"], detail["severity"]) == (fixture["detail"]["eventCode"], fixture["detail"]["severity"])

    # And the cluster ended with errors for INSTANCE_FLEET_TIMEOUT
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FLEET_TIMEOUT"
    assert emr.cluster_states(cluster_id) == ["STARTING", "TERMINATED_WITH_ERRORS"]
