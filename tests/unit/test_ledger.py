"""The run ledger's reads (what `emr-autopilot runs` shows) against moto DynamoDB, on the template's table."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emr_autopilot import ledger
from tests.helpers.ledger_table import moto_ledger_table

TABLE = "ledger"
T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from moto_ledger_table(monkeypatch, TABLE)


def _cluster(cluster_id: str, at: datetime, state: str = "RUNNING") -> None:
    change = ledger.ClusterChange(cluster_id=cluster_id, state=state, at=at, event_id=f"ev-{cluster_id}-{state}")
    ledger.record_cluster_change(TABLE, change)


def test_runs_are_listed_newest_first(table: str) -> None:
    # Given three clusters first seen an hour apart
    for hours, cluster_id in enumerate(["j-OLDEST", "j-MIDDLE", "j-NEWEST"]):
        _cluster(cluster_id, T0 + timedelta(hours=hours))
    # When the runs are listed
    listed = [item["pk"] for item in ledger.list_runs(table)]
    # Then the newest comes first
    assert listed == ["CLUSTER#j-NEWEST", "CLUSTER#j-MIDDLE", "CLUSTER#j-OLDEST"]


def test_since_keeps_only_runs_first_seen_at_or_after_it(table: str) -> None:
    # Given three clusters first seen an hour apart, the oldest one still changing state later
    for hours, cluster_id in enumerate(["j-OLDEST", "j-MIDDLE", "j-NEWEST"]):
        _cluster(cluster_id, T0 + timedelta(hours=hours))
    _cluster("j-OLDEST", T0 + timedelta(hours=5), state="TERMINATED")
    # When the runs since the middle one's creation are listed
    listed = [item["pk"] for item in ledger.list_runs(table, since=T0 + timedelta(hours=1))]
    # Then the oldest is left out (its place is its creation, not its last change)
    assert listed == ["CLUSTER#j-NEWEST", "CLUSTER#j-MIDDLE"]


def test_a_clusters_items_are_only_its_own(table: str) -> None:
    # Given two clusters, one with a step
    _cluster("j-ONE", T0)
    _cluster("j-TWO", T0)
    ledger.record_step_change(TABLE, ledger.StepChange(cluster_id="j-ONE", step_id="s-1", state="RUNNING", at=T0))
    # When one cluster's items are read
    items = ledger.cluster_items(table, "j-ONE")
    # Then they are its META and its step, nothing of the other cluster
    assert {item["pk"] for item in items} == {"CLUSTER#j-ONE"}
    assert {"META", "STEP#s-1"} <= {item["sk"] for item in items}
