"""Part 4: idle clusters started by hand, and the idle reaper's decisions on them."""

from __future__ import annotations

import time

from emr_autopilot_devkit.demo.runs import Printer, RunReport, cluster_state, elapsed, notice_of
from emr_autopilot_devkit.local.runtime import LocalRuntime


def reap_idle_clusters(stack: LocalRuntime, say: Printer) -> RunReport:
    """Three clusters started by hand and left idle: the reaper ends the plain one, and leaves the
    termination-protected and the opted-out one running, saying why."""
    report = RunReport(label="4. idle clusters started by hand")
    say("\n4. Three clusters started by hand (not by the pipeline) are left idle for 75 minutes:")
    emr = stack.client("emr")

    def start(name: str, protected: bool = False, tags: dict[str, str] | None = None) -> str:
        cluster_id: str = emr.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.5.0",
            Applications=[{"Name": "Spark"}],
            Instances={
                "InstanceGroups": [
                    {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                    {"InstanceRole": "CORE", "InstanceType": "r5.2xlarge", "InstanceCount": 2},
                ],
                "KeepJobFlowAliveWhenNoSteps": True,
                "TerminationProtected": protected,
            },
            JobFlowRole=stack.outputs["EmrInstanceRoleName"],
            ServiceRole=stack.outputs["EmrServiceRoleName"],
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )["JobFlowId"]
        return cluster_id

    idle = start("adhoc-analysis")
    protected = start("shared-notebooks", protected=True)
    opted_out = start("nightly-backfill", tags={"emr-autopilot:reaper": "skip"})
    names = {idle: "plain", protected: "termination-protected", opted_out: "tagged emr-autopilot:reaper=skip"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(cluster_state(stack, cid) != "WAITING" for cid in names):
        time.sleep(0.02)  # starting and bootstrapping take six virtual minutes
    stack.clock.advance(75 * 60)
    written = stack.simulator.publish_idle_metrics()
    for cluster_id, what in names.items():
        say(f"   {cluster_id} ({what}): {cluster_state(stack, cluster_id)}")
    say(f"   {written} IsIdle datapoints in CloudWatch (AWS/ElasticMapReduce, 5-minute periods).")

    # The template's default is a dry run; the demo shows the live reaper.
    stack.functions["IdleReaperFunction"].environment["REAPER_DRY_RUN"] = "false"
    seen_notifications, seen_timeline = len(stack.notifications), len(stack.timeline)
    t0 = stack.clock.now()
    invocation = stack.fire_function_schedule("IdleReaperFunction")
    stack.settle(timeout=30)
    say("   The reaper's schedule fires (stack.fire_function_schedule('IdleReaperFunction')):")
    for entry in stack.timeline[seen_timeline:]:
        say(f"   +{elapsed(t0, entry.time)}  {entry.text}")
    result = invocation.result if isinstance(invocation.result, dict) else {}
    decisions = {row["cluster_id"]: row for row in result.get("clusters", [])}
    say("   Decisions:")
    for cluster_id in names:
        row = decisions.get(cluster_id, {})
        say(f"     {cluster_id}  {row.get('action', '?'):<10}  {row.get('reason', 'not scanned')}")
    notes = [n for n in stack.notifications[seen_notifications:] if n.attributes.get("event_type") == "IDLE_REAPER"]
    report.notifications = [notice_of(n) for n in notes]
    for note in notes:
        say(f"   Notification ({note.attributes.get('severity')}): {note.subject}")
        for line in note.message.splitlines():
            say(f"     {line}")

    report.cluster_id, report.cluster_state = idle, cluster_state(stack, idle)
    report.status = str(result.get("reaper_summary", invocation.error or ""))
    report.checks["idle cluster TERMINATED by the reaper"] = report.cluster_state == "TERMINATED"
    report.checks["protected cluster left running, reported skipped"] = (
        cluster_state(stack, protected) == "WAITING" and decisions.get(protected, {}).get("code") == "protected"
    )
    report.checks["opted-out cluster left running, reported skipped"] = (
        cluster_state(stack, opted_out) == "WAITING" and decisions.get(opted_out, {}).get("code") == "opted-out"
    )
    report.checks["summary notification names the terminated cluster"] = any(idle in n.message for n in notes)
    return report
