"""The scheduled run: scan, record each decision in the ledger, and send a notice when there is news."""

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from emr_autopilot import ledger, notifications
from emr_autopilot.reaper.config import ReaperConfig
from emr_autopilot.reaper.notice import body, first_cluster, severity, subject
from emr_autopilot.reaper.report import OUT_OF_SCOPE, ReapReport
from emr_autopilot.reaper.scan import reap

LEDGER_KIND = "reaper"


def reap_and_report(config: ReaperConfig, now: datetime, topic_arn: str, ledger_table: str | None = None) -> ReapReport:
    report = reap(config, now)
    if ledger_table:
        record_decisions(report, ledger_table)
    if report.notable():
        notify(report, topic_arn)
        report.notified = True
    return report


def record_decisions(report: ReapReport, table: str) -> None:
    for decision in report.decisions:
        if decision.code == OUT_OF_SCOPE or (report.config.scope is not None and not decision.tags_read):
            continue  # other teams' clusters (or maybe theirs: tags not read): not the reaper's to keep a history of
        detail = {key: value for key, value in decision.as_dict().items() if key not in ("cluster_id", "state")}
        detail["dry_run"] = report.config.dry_run
        detail["cluster_name"] = detail.pop("name")
        try:
            ledger.record_decision(table, decision.cluster_id, LEDGER_KIND, detail, report.scanned_at)
        except (ClientError, BotoCoreError):
            report.ledger_errors += 1  # the scan's outcome matters more than its record


def notify(report: ReapReport, topic_arn: str) -> str:
    return notifications.publish(
        topic_arn,
        subject(report),
        body(report),
        severity=severity(report),
        event_type="IDLE_REAPER",
        cluster_id=first_cluster(report),
        state="DRY_RUN" if report.config.dry_run else "LIVE",
    )
