"""The idle reaper on the local runtime: its schedule fires the real handler, EMR is simulated, IsIdle
comes from the simulator, and EMR's answers (including throttling) come through moto in server mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from click.testing import CliRunner

from emr_autopilot import aws
from emr_autopilot_devkit import cli
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime
from emr_autopilot_devkit.reap import write_local_clock
from tests.helpers.integration import RuntimeFactory, wait_until

IDLE_FOR = 75 * 60  # virtual seconds; the default threshold is 60 minutes


def start_cluster(
    stack: LocalRuntime, name: str, *, protected: bool = False, tags: dict[str, str] | None = None
) -> str:
    cluster_id: str = stack.client("emr").run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.5.0",
        Instances={
            "InstanceGroups": [{"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}],
            "KeepJobFlowAliveWhenNoSteps": True,
            "TerminationProtected": protected,
        },
        JobFlowRole=stack.outputs["EmrInstanceRoleName"],
        ServiceRole=stack.outputs["EmrServiceRoleName"],
        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )["JobFlowId"]
    return cluster_id


def state(stack: LocalRuntime, cluster_id: str) -> str:
    return str(stack.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])


def leave_idle(stack: LocalRuntime, clusters: list[str]) -> None:
    """Let the clusters reach WAITING, then jump the clock past the threshold and publish IsIdle."""
    wait_until(lambda: all(state(stack, c) == "WAITING" for c in clusters))
    stack.clock.advance(IDLE_FOR)
    assert stack.simulator.publish_idle_metrics() > 0


def fire_reaper(stack: LocalRuntime, dry_run: bool = False) -> dict[str, Any]:
    stack.functions["IdleReaperFunction"].environment["REAPER_DRY_RUN"] = "true" if dry_run else "false"
    invocation = stack.fire_function_schedule("IdleReaperFunction")
    stack.settle(timeout=30)
    assert invocation.error is None, invocation.error
    result: dict[str, Any] = invocation.result
    return result


def test_the_scheduled_reaper_terminates_the_idle_cluster_and_leaves_the_others(local_runtime: RuntimeFactory) -> None:
    # Given three clusters started by hand and left idle past the threshold: plain, protected, opted out
    stack = local_runtime()
    idle = start_cluster(stack, "adhoc")
    protected = start_cluster(stack, "notebooks", protected=True)
    opted_out = start_cluster(stack, "backfill", tags={"emr-autopilot:reaper": "skip"})
    leave_idle(stack, [idle, protected, opted_out])

    # When the reaper's schedule fires (live)
    result = fire_reaper(stack)

    # Then only the plain cluster is terminated; the others still run and the result says why
    assert (state(stack, idle), state(stack, protected), state(stack, opted_out)) == (
        "TERMINATED",
        "WAITING",
        "WAITING",
    )
    codes = {row["cluster_id"]: row["code"] for row in result["clusters"]}
    assert codes == {idle: "idle", protected: "protected", opted_out: "opted-out"}
    # And one summary notification names the terminated and the protected cluster
    (note,) = [n for n in stack.notifications if n.attributes.get("event_type") == "IDLE_REAPER"]
    assert note.attributes["severity"] == "WARNING"
    assert idle in note.message
    assert protected in note.message
    # And every decision is in the run ledger
    table = aws.resource("dynamodb").Table(stack.outputs["RunLedgerTableName"])
    for cluster_id, code in codes.items():
        items = table.query(
            KeyConditionExpression=Key("pk").eq(f"CLUSTER#{cluster_id}") & Key("sk").begins_with("DECISION#")
        )
        assert [item["code"] for item in items["Items"]] == [code]
    # And the metrics are in the function's EMF output
    emf = [json.loads(line) for line in stack.log_buffer.getvalue().splitlines() if '"ClustersTerminatedIdle"' in line]
    assert [entry["ClustersTerminatedIdle"] for entry in emf] == [[1.0]]


def test_throttled_emr_calls_are_retried_by_the_reapers_client(local_runtime: RuntimeFactory) -> None:
    # Given an idle cluster, and EMR throttling the first call of each API the reaper uses
    stack = local_runtime()
    idle = start_cluster(stack, "adhoc")
    leave_idle(stack, [idle])
    throttled = ["list_clusters", "terminate_job_flows"]  # the first and the last EMR call of a scan
    stack.simulator.faults.throttle = dict.fromkeys(throttled, 1)

    # When the reaper runs
    result = fire_reaper(stack)

    # Then every throttle was met and retried, and the cluster is terminated without an error
    assert stack.simulator.faults.throttle == dict.fromkeys(throttled, 0)
    assert result["terminated"] == [idle]
    assert result["errors"] == []
    assert state(stack, idle) == "TERMINATED"


def test_reap_dry_run_cli_against_the_local_runtime(
    local_runtime: RuntimeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local runtime as `local up` leaves it (stack.json, the shared clock) with an idle cluster
    stack = local_runtime()
    idle = start_cluster(stack, "adhoc")
    leave_idle(stack, [idle])
    monkeypatch.chdir(tmp_path)
    state_dir = tmp_path / ".local-runtime"
    state_dir.mkdir()
    (state_dir / "stack.json").write_text(
        json.dumps({"endpoint": stack.endpoint, "region": REGION, "outputs": stack.outputs}), encoding="utf-8"
    )
    write_local_clock(stack.clock, state_dir / "clock.json")

    # When `emr-autopilot reap --dry-run --local --json` runs
    outcome = CliRunner().invoke(cli.main, ["reap", "--dry-run", "--local", "--json"])

    # Then it says it would terminate the idle cluster, and terminated nothing
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.output)
    assert report["would_terminate"] == [idle]
    assert report["dry_run"] is True
    assert state(stack, idle) == "WAITING"
