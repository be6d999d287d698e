"""Parts 1 to 3: inspection records land in S3 (a good file and a bad one), and the run ledger shows both."""

from __future__ import annotations

from collections.abc import Callable

from emr_autopilot_devkit.demo.runs import Printer, RunReport
from emr_autopilot_devkit.local.runtime import LocalRuntime


def landing(stack: LocalRuntime, key: str, body: str) -> tuple[str, Callable[[], object]]:
    """A run started the usual way: an object lands under inspections/ in the landing bucket."""
    return f"s3://{stack.outputs['LandingBucketName']}/{key}", lambda: stack.put_object(key, body)


def show_ledger(stack: LocalRuntime, say: Printer, good: RunReport, bad: RunReport) -> None:
    """What `emr-autopilot runs` and `runs show` print for these runs."""
    from emr_autopilot_devkit.runs_view import format_table, format_timeline, list_runs

    table = stack.outputs["RunLedgerTableName"]
    rows = list_runs(table)
    say("\n3. The run ledger (emr-autopilot runs):")
    for line in format_table(rows).splitlines():
        say(f"   {line}")
    statuses = {row.run_id: row.status for row in rows}
    good.checks["ledger shows the run SUCCEEDED"] = statuses.get(good.execution_name) == "SUCCEEDED"  # not SIMULATED
    bad.checks["ledger shows the run FAILED"] = statuses.get(bad.execution_name) == "FAILED"
    if bad.cluster_id:
        say(f"\n   emr-autopilot runs show {bad.execution_name}:")
        for line in format_timeline(table, bad.cluster_id).splitlines():
            say(f"   {line}")
    step_notes = [n for n in bad.notifications if n["attributes"].get("event_type") == "STEP_FAILED"]
    bad.checks["step failure notice has the reason and stderr tail"] = any(
        "missing required column" in n["message"] and "Last lines of" in n["message"] for n in step_notes
    )
