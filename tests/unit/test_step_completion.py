"""step_completion: the token a `step_completion: events` run waits on, stored, looked up and completed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import pytest
from botocore.exceptions import ClientError

from emr_autopilot import aws, emr, ledger, step_completion
from emr_autopilot.errors import InvalidEvent
from tests.helpers.ledger_table import moto_ledger_table

TABLE = "ledger"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from moto_ledger_table(monkeypatch, TABLE)


def _cluster_with_step() -> tuple[str, str]:
    client = emr.client()
    cluster_id = client.run_job_flow(
        Name="c",
        ReleaseLabel="emr-7.5.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    step = {"Name": "s", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["x"]}}
    step_id = client.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])["StepIds"][0]
    return cluster_id, step_id


def _sfn_answering(monkeypatch: pytest.MonkeyPatch, code: str | None) -> MagicMock:
    """A Step Functions client whose SendTask* answers `code` (None: success): fault injection only."""
    sfn = MagicMock()
    if code is not None:
        error = ClientError({"Error": {"Code": code, "Message": "x"}}, "SendTaskSuccess")
        sfn.send_task_success.side_effect = error
        sfn.send_task_failure.side_effect = error
    real = aws.client

    def client(service: str) -> Any:
        return sfn if service == "stepfunctions" else real(service)  # type: ignore[call-overload]

    monkeypatch.setattr(aws, "client", client)
    return sfn


def test_a_running_step_stores_the_token_and_sends_nothing(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a step that is still running
    cluster_id, step_id = _cluster_with_step()
    sfn = _sfn_answering(monkeypatch, None)

    # When the wait registers its token
    sent = step_completion.register_and_check(table, cluster_id, step_id, "token-1")

    # Then the token is stored for this step, and no task is completed yet
    assert sent == "running"
    assert ledger.step_token(table, cluster_id, step_id) == "token-1"
    assert ledger.step_token(table, cluster_id, "s-OTHER") is None
    sfn.send_task_success.assert_not_called()
    sfn.send_task_failure.assert_not_called()


def test_a_step_end_completes_the_stored_token_and_one_without_a_token_is_left(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stored token for a step, and a step nobody waits for
    cluster_id, step_id = _cluster_with_step()
    sfn = _sfn_answering(monkeypatch, None)
    ledger.record_step_token(table, cluster_id, step_id, "token-2", 2_000_000_000)

    # When each step's end arrives (and a RUNNING change, which is no end)
    running = step_completion.complete_from_event(table, cluster_id, step_id, "RUNNING")
    waited = step_completion.complete_from_event(table, cluster_id, step_id, "COMPLETED")
    unwaited = step_completion.complete_from_event(table, cluster_id, "s-NOBODY", "COMPLETED")

    # Then only the waited-for step's token is completed, with addStep.sync's output
    assert (running, waited, unwaited) == (None, "completed", "no-token")
    sfn.send_task_success.assert_called_once_with(taskToken="token-2", output=f'{{"StepId": "{step_id}"}}')


def test_a_failure_is_sent_with_the_step_as_cause_once_describe_step_shows_it(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stored token for a step EMR still shows RUNNING, then FAILED
    cluster_id, step_id = _cluster_with_step()
    sfn = _sfn_answering(monkeypatch, None)
    ledger.record_step_token(table, cluster_id, step_id, "token-3", 2_000_000_000)
    described: dict[str, Any] = {"Id": step_id, "Name": "s", "Status": {"State": "RUNNING"}}
    monkeypatch.setattr(emr, "describe_step", lambda cluster, step: described)

    # When its FAILED event arrives before DescribeStep shows the end, then again after
    early = step_completion.complete_from_event(table, cluster_id, step_id, "FAILED")
    described["Status"] = {"State": "FAILED", "FailureDetails": {"Reason": "boom"}}
    late = step_completion.complete_from_event(table, cluster_id, step_id, "FAILED")

    # Then nothing is sent early (the wait's recheck would catch it), and the failure carries the step
    assert (early, late) == ("running", "completed")
    sfn.send_task_failure.assert_called_once()
    kwargs = sfn.send_task_failure.call_args.kwargs
    assert kwargs["taskToken"] == "token-3"
    assert kwargs["error"] == "States.TaskFailed"
    assert '"Reason": "boom"' in kwargs["cause"]


@pytest.mark.parametrize("code", sorted(step_completion.CLOSED_TOKEN_CODES))
def test_a_closed_token_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    # Given Step Functions says the task no longer waits
    _sfn_answering(monkeypatch, code)
    step = {"Id": "s-1", "Status": {"State": "COMPLETED"}}

    # When the outcome is sent / Then it is "closed"
    assert step_completion.send_outcome("t", "s-1", step) == "closed"


def test_throttling_is_raised_for_lambdas_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Step Functions throttles SendTaskSuccess
    _sfn_answering(monkeypatch, "ThrottlingException")

    # When the outcome is sent / Then the error goes up, so the invocation is retried
    with pytest.raises(ClientError):
        step_completion.send_outcome("t", "s-1", {"Id": "s-1", "Status": {"State": "COMPLETED"}})


@pytest.mark.parametrize(
    "payload",
    [{}, {"cluster_id": "j-1", "step_id": "s-1"}, {"cluster_id": "x", "step_id": "s-1", "task_token": "t"},
     {"cluster_id": "j-1", "step_id": "s-1", "task_token": "t", "extra": 1}],
)  # fmt: skip
def test_a_malformed_wait_payload_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent):
        step_completion.parse_wait_request(payload)


def test_an_end_learnt_from_describe_step_keeps_when_the_step_started(table: str) -> None:
    # Given a quick step whose end the wait function learnt from DescribeStep before its RUNNING event came
    started, ended = datetime(2026, 12, 7, 10, 0, 5, tzinfo=UTC), datetime(2026, 12, 7, 10, 0, 9, tzinfo=UTC)
    step = {
        "Id": "s-QUICK",
        "Name": "echo really run",
        "ActionOnFailure": "CONTINUE",
        "Status": {"State": "COMPLETED", "Timeline": {"StartDateTime": started, "EndDateTime": ended}},
    }
    step_completion.record_end(table, "j-QUICK", step)

    # When the step's RUNNING event arrives after it
    late = ledger.record_step_change(table, ledger.StepChange("j-QUICK", "s-QUICK", "RUNNING", started))

    # Then the late event changes nothing, and the ledger still knows when the step started and ended
    assert late is None
    (item,) = [i for i in ledger.cluster_items(table, "j-QUICK") if i["sk"] == "STEP#s-QUICK"]
    assert (item["state"], item["started_at"], item["ended_at"]) == (
        "COMPLETED",
        "2026-12-07T10:00:05.000000Z",
        "2026-12-07T10:00:09.000000Z",
    )
