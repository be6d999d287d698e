"""The reaper's notice text: plain functions of a report, tested without AWS."""

from __future__ import annotations

from datetime import UTC, datetime

from emr_autopilot.reaper import notice
from emr_autopilot.reaper.config import ReaperConfig
from emr_autopilot.reaper.report import BUSY, CAP_REACHED, GRACE, IDLE, PROTECTED, ClusterDecision, ReapReport

AT = datetime(2026, 3, 14, 21, 15, tzinfo=UTC)


def _report(*decisions: ClusterDecision, dry_run: bool = False) -> ReapReport:
    return ReapReport(
        scanned_at=AT,
        config=ReaperConfig(dry_run=dry_run, region="eu-west-1"),
        decisions=list(decisions),
        cost_label="estimate: eu-west-1 on-demand list prices as of 2026-01",
    )


def _terminated(cluster_id: str, cost: float | None = 1.5) -> ClusterDecision:
    decision = ClusterDecision(cluster_id, "nightly", "WAITING", "terminated", IDLE, "idle", 75.0, 60.0)
    decision.estimated_hourly_usd, decision.cost_basis = cost, "instances: 3x m5.xlarge"
    return decision


def _skipped(cluster_id: str, code: str, reason: str) -> ClusterDecision:
    return ClusterDecision(cluster_id, "kept", "WAITING", "skipped", code, reason)


def test_a_live_run_names_each_termination_with_its_cost_and_console_link() -> None:
    # Given a live run that terminated one cluster and skipped one in its grace period
    report = _report(_terminated("j-IDLE"), _skipped("j-NEW", GRACE, "created 5 min ago"))
    # When its notice is written
    body = notice.body(report)
    # Then the subject and body say what was done, what it cost and where to look
    assert notice.subject(report) == "[emr-autopilot] Idle reaper: terminated 1, scanned 2"
    assert "Terminated (idle minutes; hourly cost, estimate: eu-west-1" in body
    assert "  j-IDLE nightly: idle 75 min, ~$1.50/h (instances: 3x m5.xlarge)" in body
    assert "console.aws.amazon.com/emr" in body and "j-IDLE" in body.split("console.aws.amazon.com/emr", 1)[1]
    assert "Estimated hourly cost avoided: ~$1.50/h" in body
    # And the ordinary skip is only counted, not listed
    assert body.endswith("Other skips: grace 1")
    assert "j-NEW" not in body
    assert (notice.severity(report), notice.first_cluster(report)) == ("INFO", "j-IDLE")


def test_a_dry_run_says_would_and_an_unknown_cost_says_so() -> None:
    report = _report(
        ClusterDecision("j-A", "a", "WAITING", "would terminate", IDLE, "idle", 90.0, 60.0, cost_basis="unknown"),
        dry_run=True,
    )
    body = notice.body(report)
    assert notice.subject(report) == "[emr-autopilot] Idle reaper (dry run): would terminate 1, scanned 1"
    assert body.startswith("Idle reaper (dry run) at 2026-03-14 21:15Z: would terminate 1, scanned 1.")
    assert "Would terminate (idle minutes" in body
    assert "j-A a: idle 90 min, cost unknown (unknown)" in body


def test_idle_clusters_left_running_raise_the_severity_to_warning() -> None:
    # Given a protected idle cluster and one over the cap
    report = _report(
        _skipped("j-P", PROTECTED, "idle 80 min but termination-protected"),
        _skipped("j-C", CAP_REACHED, "idle 70 min, but the cap of 0 terminations per run was reached"),
    )
    body = notice.body(report)
    # Then both are listed with their reason, and the notice is a warning filed under the first
    assert "Idle but left running:\n  j-P kept: idle 80 min but termination-protected\n  j-C kept: idle 70" in body
    assert "Other skips" not in body
    assert (notice.severity(report), notice.first_cluster(report)) == ("WARNING", "j-P")


def test_an_error_makes_the_notice_an_error_and_heal_results_are_listed() -> None:
    failed = ClusterDecision("j-E", "broken", "WAITING", "error", "api-error", "DescribeCluster failed: Throttling")
    healed = _skipped("j-H", BUSY, "steps active: 1 RUNNING")
    healed.heal = "added auto-termination (IdleTimeout 3600 s)"
    report = _report(failed, healed)
    body = notice.body(report)
    assert "Errors (the scan went on):\n  j-E broken: DescribeCluster failed: Throttling" in body
    assert "Auto-termination policy (heal mode):\n  j-H kept: added auto-termination (IdleTimeout 3600 s)" in body
    assert notice.severity(report) == "ERROR"
    assert notice.subject(report) == "[emr-autopilot] Idle reaper: terminated 0, healed 1, errors 1, scanned 2"
