"""`emr-autopilot runs show`'s timeline against moto DynamoDB, on the template's ledger table: entries that
share a second are in lifecycle order, whatever their event ids."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from emr_autopilot import ledger
from emr_autopilot_devkit.runs_view import RunLocations, format_timeline
from tests.helpers.ledger_table import moto_ledger_table

TABLE = "ledger"
CLUSTER = "j-SAMESECOND"
CLUSTER_EVENT = "EMR Cluster State Change"
STEP_EVENT = "EMR Step Status Change"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from moto_ledger_table(monkeypatch, TABLE)


def _record(second: int, event_id: str, detail_type: str, state: str, step_id: str | None = None) -> None:
    # EMR events carry whole seconds (the envelope's "time"), so several share one.
    at = datetime(2026, 12, 7, 8, 0, second, tzinfo=UTC)
    summary = {"state": state, **({"stepId": step_id} if step_id else {})}
    ledger.record_event(TABLE, CLUSTER, at, event_id, detail_type, summary)


def _timeline(table: str) -> list[str]:
    lines = format_timeline(table, CLUSTER).splitlines()
    return [line.split("  ", 2)[2] for line in lines[lines.index("Timeline:") + 1 :]]


def test_same_second_entries_follow_the_lifecycle_not_their_event_ids(table: str) -> None:
    # Given a run's events where several share a second, with event ids that sort against the lifecycle
    _record(1, "a", CLUSTER_EVENT, "STARTING")
    _record(2, "a", CLUSTER_EVENT, "WAITING")
    _record(2, "b", CLUSTER_EVENT, "RUNNING")
    _record(2, "c", CLUSTER_EVENT, "BOOTSTRAPPING")
    _record(5, "a", STEP_EVENT, "RUNNING", "s-1")
    _record(5, "b", CLUSTER_EVENT, "RUNNING")
    _record(5, "c", STEP_EVENT, "PENDING", "s-1")
    _record(9, "a", CLUSTER_EVENT, "WAITING")
    _record(9, "b", STEP_EVENT, "COMPLETED", "s-1")
    _record(12, "a", CLUSTER_EVENT, "TERMINATED")
    _record(12, "b", CLUSTER_EVENT, "TERMINATING")
    ledger.record_decision(
        TABLE, CLUSTER, "reap", {"decision": "terminate"}, datetime(2026, 12, 7, 8, 0, 12, 900000, tzinfo=UTC)
    )

    # When `runs show` formats the timeline
    timeline = _timeline(table)

    # Then time comes first; within a second, the decision, then the states in lifecycle order
    assert timeline == [
        f"{CLUSTER_EVENT}: STARTING",
        f"{CLUSTER_EVENT}: BOOTSTRAPPING",
        f"{CLUSTER_EVENT}: RUNNING",
        f"{CLUSTER_EVENT}: WAITING",
        f"{STEP_EVENT}: s-1 PENDING",
        f"{CLUSTER_EVENT}: RUNNING",
        f"{STEP_EVENT}: s-1 RUNNING",
        f"{STEP_EVENT}: s-1 COMPLETED",
        f"{CLUSTER_EVENT}: WAITING",
        "decision: reap: terminate",
        f"{CLUSTER_EVENT}: TERMINATING",
        f"{CLUSTER_EVENT}: TERMINATED",
    ]


def test_a_run_whose_input_and_output_are_unknown_shows_dashes(table: str) -> None:
    # Given a ledger entry whose execution was not found (Step Functions keeps it 90 days), and one that was
    _record(1, "a", CLUSTER_EVENT, "STARTING")
    unknown, known = RunLocations(), RunLocations("s3://in/x.csv", "s3://out/x/", "s3://logs/j-1/")

    # When `runs show` formats each
    lines = {
        name: format_timeline(table, CLUSTER, where).splitlines()
        for name, where in [("unknown", unknown), ("known", known)]
    }

    # Then the input, output and logs lines say "-", or where they are
    assert lines["unknown"][2:5] == ["Input  -", "Output -", "Logs   -"]
    assert lines["known"][2:5] == ["Input  s3://in/x.csv", "Output s3://out/x/", "Logs   s3://logs/j-1/"]
