"""The reaper's notice: plain functions from a report to its subject, body and severity."""

from collections.abc import Callable

from emr_autopilot import notifications
from emr_autopilot.reaper.report import NOTABLE_SKIPS, ClusterDecision, ReapReport

NAMED = 20  # clusters named in the notice's line of those not examined


def subject(report: ReapReport) -> str:
    return f"[emr-autopilot] Idle reaper{_mode(report)}: {report.summary_line()}"


def severity(report: ReapReport) -> notifications.Severity:
    if report.with_action("error"):
        return "ERROR"
    return "WARNING" if report.left_running else "INFO"


def first_cluster(report: ReapReport) -> str | None:
    """The cluster a notice is filed under: the first acted on, else the first left running or failed."""
    first = (report.acted + report.left_running + report.with_action("error"))[:1]
    return first[0].cluster_id if first else None


def body(report: ReapReport) -> str:
    config = report.config
    lines = [
        f"Idle reaper{_mode(report)} at {report.scanned_at:%Y-%m-%d %H:%M}Z: {report.summary_line()}.",
        f"Rules: {config.describe()}.",
    ]
    lines += _acted(report)
    examined = [d for d in report.left_running if not d.unexamined]
    lines += _section("Idle but left running:", examined, lambda d: d.reason)
    lines += _not_examined([d for d in report.left_running if d.unexamined], report.config.max_terminations)
    lines += _section("Errors (the scan went on):", report.with_action("error"), lambda d: d.reason)
    lines += _section("Auto-termination policy (heal mode):", report.healed, lambda d: d.heal or "")
    lines += _applications(report)
    others = {code: n for code, n in report.skip_counts().items() if code not in NOTABLE_SKIPS}
    if others:
        lines += ["", "Other skips: " + ", ".join(f"{code} {n}" for code, n in sorted(others.items()))]
    return "\n".join(lines)


def _not_examined(decisions: list[ClusterDecision], cap: int) -> list[str]:
    """The clusters the cap kept the scan from describing: counted and named in one line, longest idle first."""
    if not decisions:
        return []
    ranked = sorted(decisions, key=lambda d: (-(d.idle_minutes or 0.0), d.cluster_id))
    named = ", ".join(d.cluster_id for d in ranked[:NAMED])
    more = f" and {len(ranked) - NAMED} more" if len(ranked) > NAMED else ""
    return [
        "",
        f"Idle by IsIdle, not examined ({len(ranked)}): the cap of {cap} terminations per run was reached first, "
        "so their tags and steps were not read (some may be out of scope, opted out, protected or busy):",
        f"  {named}{more}",
    ]


def _mode(report: ReapReport) -> str:
    return " (dry run)" if report.config.dry_run else ""


def _acted(report: ReapReport) -> list[str]:
    if not report.acted:
        return []
    verb = "Would terminate" if report.config.dry_run else "Terminated"
    lines = ["", f"{verb} (idle minutes; hourly cost, {report.cost_label}):"]
    for d in report.acted:
        cost = f"~${d.estimated_hourly_usd:.2f}/h" if d.estimated_hourly_usd is not None else "cost unknown"
        lines.append(f"  {d.cluster_id} {d.name}: idle {d.idle_minutes:.0f} min, {cost} ({d.cost_basis})")
        lines.append(f"    {notifications.console_cluster_url(report.config.region, d.cluster_id)}")
    lines.append(f"Estimated hourly cost avoided: ~${report.hourly_cost_avoided:.2f}/h ({report.cost_label}).")
    return lines


def _applications(report: ReapReport) -> list[str]:
    """EMR Serverless applications: those stopped (or that would be), errors, and those whose auto-stop is off."""
    verb = "Would stop" if report.config.dry_run else "Stopped"
    lines = [
        f"  {d.application_id} {d.name}: {d.reason}" for d in report.applications_with("stopped", "would stop", "error")
    ]
    if lines:
        lines.insert(0, f"EMR Serverless applications ({verb.lower()} when STARTED with no job run; errors):")
        lines.insert(0, "")
    off = report.auto_stop_off
    if off:
        lines += ["", "EMR Serverless applications with auto-stop OFF (they bill until stopped):"]
        lines += [f"  {d.application_id} {d.name}" for d in off]
    return lines


def _section(title: str, decisions: list[ClusterDecision], text: Callable[[ClusterDecision], str]) -> list[str]:
    if not decisions:
        return []
    return ["", title, *(f"  {d.cluster_id} {d.name}: {text(d)}" for d in decisions)]
