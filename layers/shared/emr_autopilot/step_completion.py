"""Event-driven step completion (a job's `step_completion: events`): the alternative to addStep.sync's polling.

The pipeline adds the step with the request-response addStep, then waits in a lambda:invoke.waitForTaskToken
task (connect-to-resource, "Wait for a Callback with Task Token"). That task's function (register_and_check)
stores the token in the run ledger, keyed by cluster and step, then looks at the step once: a step that ended
before the token was stored (its event already handled, finding no token) is completed here. The EMR event
handler completes the token on the step's terminal Step Status Change (complete_from_event). A lost event is
caught by the task's TimeoutSeconds (the run input's WaitSeconds, 240 s): States.Timeout sends the pipeline back
to the register task, which stores a new token and looks again, until the step's own TimeoutSeconds are spent;
the last wait's States.Timeout then fails the step, as addStep.sync's TimeoutSeconds does.

The outcome is the one addStep.sync gives: {"StepId": ...} when COMPLETED; otherwise States.TaskFailed with
the last DescribeStep's Step as the Cause (the local runtime's .sync does the same, sfn_emr_integration
_task_failed; the Cause's shape is inferred there), so the run's failure notice reads as today's.

Completing a token twice is harmless: the second SendTask* finds the task closed (TaskTimedOut, InvalidToken
or TaskDoesNotExist, API_SendTaskSuccess "Errors") and is counted, not raised. Throttling and faults are
raised, so Lambda's retry sends it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emr_autopilot import aws, emr, ledger
from emr_autopilot.env_settings import EnvSettings
from emr_autopilot.errors import InvalidEvent
from emr_autopilot.simulation import is_simulated_name

# A step's ends (API_StepStatus State): COMPLETED succeeds the task, the others fail it, as addStep.sync does.
STEP_ENDS: Final = frozenset({"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"})
# API_SendTaskSuccess / API_SendTaskFailure "Errors": the task is no longer waiting for this token.
CLOSED_TOKEN_CODES: Final = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# A stored token outlives any run (the pipeline's own TimeoutSeconds is 7 days); DynamoDB's TTL removes it.
TOKEN_TTL_SECONDS: Final = 8 * 86400
# SendTaskFailure's cause is at most 32768 characters (API_SendTaskFailure).
_CAUSE_MAX: Final = 32768

Sent = Literal["completed", "closed", "running", "no-token"]


class WaitRequest(BaseModel):
    """The WaitForStepEnd task's payload (statemachines/transient_cluster_pipeline.asl.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster_id: str = Field(pattern=r"^j-[0-9A-Z]{1,64}$")
    step_id: str = Field(pattern=r"^s-[0-9A-Z]{1,64}$")
    task_token: str = Field(min_length=1, max_length=2048)  # API_SendTaskSuccess taskToken


class StepWaitSettings(EnvSettings):
    ledger_table_name: str


def parse_wait_request(event: Any) -> WaitRequest:
    try:
        return WaitRequest.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent.from_validation("WaitRequest", exc) from exc


def _plain(value: Any) -> Any:
    # As the EMR API returns them (API_DescribeStep: timestamps are epoch seconds).
    return json.loads(json.dumps(value, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)))


def send_outcome(token: str, step_id: str, step: Mapping[str, Any]) -> Sent:
    """Complete the task waiting on `token` with the step's end; "closed" when it no longer waits."""
    sfn = aws.client("stepfunctions")
    try:
        if step["Status"]["State"] == "COMPLETED":
            sfn.send_task_success(taskToken=token, output=json.dumps({"StepId": step_id}))
        else:
            cause = json.dumps(_plain(step))[:_CAUSE_MAX]
            sfn.send_task_failure(taskToken=token, error="States.TaskFailed", cause=cause)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in CLOSED_TOKEN_CODES:
            return "closed"  # a duplicate or late event, or a run already stopped: nothing waits
        raise
    return "completed"


def register_and_check(table_name: str, cluster_id: str, step_id: str, token: str) -> Sent:
    """Store the token, then look at the step once (it may have ended before the token was stored)."""
    ledger.record_step_token(table_name, cluster_id, step_id, token, int(time.time()) + TOKEN_TTL_SECONDS)
    step = emr.describe_step(cluster_id, step_id)
    if step["Status"]["State"] not in STEP_ENDS:
        return "running"
    record_end(table_name, cluster_id, step)  # its event may be lost: the ledger learns the end here too
    return send_outcome(token, step_id, step)


def record_end(table_name: str, cluster_id: str, step: Mapping[str, Any]) -> None:
    """The step's end in the run ledger, from DescribeStep (for an end no event reported)."""
    status = step["Status"]
    failure = status.get("FailureDetails") or {}
    timeline = status.get("Timeline", {})
    ended, started = timeline.get("EndDateTime"), timeline.get("StartDateTime")
    ledger.record_step_change(
        table_name,
        ledger.StepChange(
            cluster_id=cluster_id,
            step_id=str(step["Id"]),
            state=str(status["State"]),
            at=ended if isinstance(ended, datetime) else datetime.now(UTC),
            name=step.get("Name"),
            action_on_failure=step.get("ActionOnFailure"),
            failure_reason=failure.get("Reason"),
            failure_message=failure.get("Message"),
            log_file=failure.get("LogFile"),
            simulated=is_simulated_name(step.get("Name")),
            started_at=started if isinstance(started, datetime) else None,
        ),
    )


def complete_from_event(table_name: str, cluster_id: str, step_id: str, state: str) -> Sent | None:
    """The EMR event handler's part: a step's end completes its stored token. None: not an end."""
    if state not in STEP_ENDS:
        return None
    token = ledger.step_token(table_name, cluster_id, step_id)
    if token is None:
        return "no-token"  # a polling run's step, or the token is not stored yet: register_and_check will look
    if state == "COMPLETED":  # the output names the step only: no DescribeStep needed
        return send_outcome(token, step_id, {"Id": step_id, "Status": {"State": state}})
    # The Cause is the step as DescribeStep gives it, as addStep.sync's is. Should DescribeStep not show the end yet
    # (inferred: no page promises it is consistent with the event), the wait's recheck completes the wait.
    step = emr.describe_step(cluster_id, step_id)
    if step["Status"]["State"] not in STEP_ENDS:
        return "running"
    return send_outcome(token, step_id, step)
