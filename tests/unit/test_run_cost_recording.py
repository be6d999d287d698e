"""A finished run's cost estimate, recorded in the ledger and its failure notice by the event reactions, for both
compute targets, against moto in-process.

moto 5.2.5 leaves an EMR instance's Status.Timeline.EndDateTime empty and NormalizedInstanceHours at 0 after its
cluster ends, and returns no architecture from GetApplication. Where a test needs what AWS would answer, its Given
step sets it on moto's backend object (as tests/unit/test_emr_serverless_reactions.py does for job runs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moto.emr.models import emr_backends
from moto.emrserverless.models import emrserverless_backends

from emr_autopilot import aws, ledger
from emr_autopilot.emr_event_reactions import decisions as emr_decisions
from emr_autopilot.emr_events import parse_emr_event
from emr_autopilot.emr_serverless_reactions import decisions as serverless_decisions
from emr_autopilot.pricing import price_table
from emr_autopilot.run_costs import RunCost, cost_fields, cost_line, serverless_prices
from emr_autopilot.tags import TAG_JOB, TAG_MANAGED, TAG_RUN_ID
from emr_autopilot_devkit.runs_view import cost_by_job, format_costs
from tests.helpers.ledger_table import moto_ledger_table
from tests.helpers.serverless_world import RUN_ID, ServerlessWorld

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
ACCOUNT, REGION, TABLE = "123456789012", "us-east-1", "ledger"
DETAILS = "Job failed, please check complete logs in configured logging destination. ExitCode: 1."
FAILED = "emr_serverless_job_run_failed.json"
SUCCEEDED = "emr_serverless_job_run_succeeded.json"


World = ServerlessWorld  # the ledger table comes from the fixture (moto_ledger_table)


T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_REGION", REGION)
    emr_decisions.described_cluster.cache_clear()
    serverless_decisions.application_architecture.cache_clear()
    for _ in moto_ledger_table(monkeypatch, TABLE):  # inside mock_aws while the test runs
        yield World()


# -- EMR on EC2 ------------------------------------------------------------------------------------------
def _cluster(core: int = 2, core_type: str = "m5.xlarge") -> str:
    """A tagged cluster of one m5.xlarge primary and `core` core instances."""
    cluster_id: str = aws.client("emr").run_job_flow(
        Name=f"{RUN_ID}",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": core_type, "InstanceCount": core},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[
            {"Key": TAG_JOB, "Value": "red-violations"},
            {"Key": TAG_RUN_ID, "Value": RUN_ID},
            {"Key": TAG_MANAGED, "Value": "true"},
        ],
    )["JobFlowId"]
    return cluster_id


def _instances_ended(cluster_id: str, lifetimes: dict[str, timedelta]) -> None:
    """As ListInstances answers after the cluster ended: each group's instances created at T0, ended after
    its lifetime (moto's instances take their timeline from their group)."""
    for group in emr_backends[ACCOUNT][REGION].clusters[cluster_id].instance_groups:
        group.creation_date_time, group.end_date_time = T0, T0 + lifetimes[group.role]
        group.state = "TERMINATED"


def _terminated_with_errors(world: World, cluster_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "emr_cluster_state_change_terminated_with_errors.json").read_text())
    event["detail"]["clusterId"] = cluster_id
    envelope, detail = parse_emr_event(event)
    return emr_decisions.react(envelope, detail, world.settings).as_dict()


def _meta(cluster_id: str) -> dict[str, Any]:
    return ledger.get_cluster(TABLE, cluster_id) or {}


def test_an_ended_cluster_costs_each_instances_lifetime_in_its_ledger_and_failure_notice(world: World) -> None:
    # Given a cluster whose primary lived 30 minutes and whose two core instances lived 20 minutes
    cluster_id = _cluster(core=2)
    _instances_ended(cluster_id, {"MASTER": timedelta(minutes=30), "CORE": timedelta(minutes=20)})

    # When it ends with errors
    _terminated_with_errors(world, cluster_id)

    # Then its META holds the estimate: 70 instance-minutes at the table's m5.xlarge price, labelled and dated
    table = price_table()
    expected = round(table.hourly["m5.xlarge"] * 70 / 60, 4)
    meta = _meta(cluster_id)
    assert meta["cost_usd"] == Decimal(str(expected))
    assert meta["cost_label"] == f"estimate: us-east-1 on-demand list prices as of {table.as_of}"
    assert meta["cost_detail"] == "1.17 instance-hours"
    # And the failure notice carries the same cost line the CLI and the demo print
    (notice,) = world.notices()
    assert cost_line(meta) == f"Cost: ~${expected:.4f} ({meta['cost_label']}; 1.17 instance-hours)"
    assert cost_line(meta) in notice["Message"].splitlines()


def test_without_instance_end_times_the_cost_comes_from_normalized_instance_hours(world: World) -> None:
    # Given a cluster whose instances have no end time (moto's answer), with 24 NormalizedInstanceHours
    cluster_id = _cluster(core=1)
    emr_backends[ACCOUNT][REGION].clusters[cluster_id].normalized_instance_hours = 24

    # When it ends with errors
    _terminated_with_errors(world, cluster_id)

    # Then the estimate is the normalized hours at the table's rate, and says so
    meta = _meta(cluster_id)
    assert meta["cost_usd"] == Decimal(str(round(24 * price_table().normalized_instance_hour_usd, 4)))
    assert meta["cost_detail"] == "24 normalized instance-hours (whole hours: an upper bound)"


def test_a_cluster_whose_cost_cannot_be_estimated_records_why_and_no_number(world: World) -> None:
    # Given a cluster with no instance end times and no NormalizedInstanceHours (moto's answer, untouched)
    cluster_id = _cluster(core=1)

    # When it ends with errors
    _terminated_with_errors(world, cluster_id)

    # Then no cost_usd is recorded (never a $0), and the line says why
    meta = _meta(cluster_id)
    assert "cost_usd" not in meta
    assert cost_line(meta) == "Cost: unknown (no instance lifetimes and no NormalizedInstanceHours)"
    (notice,) = world.notices()
    assert "Cost: unknown (no instance lifetimes and no NormalizedInstanceHours)" in notice["Message"]


def test_an_instance_type_missing_from_the_price_table_is_named_not_priced_at_zero(world: World) -> None:
    # Given a cluster with core instances of a type the table lacks, ended, and 8 NormalizedInstanceHours
    cluster_id = _cluster(core=1, core_type="x2iedn.xlarge")
    _instances_ended(cluster_id, {"MASTER": timedelta(minutes=30), "CORE": timedelta(minutes=30)})
    emr_backends[ACCOUNT][REGION].clusters[cluster_id].normalized_instance_hours = 8

    # When it ends with errors
    _terminated_with_errors(world, cluster_id)

    # Then the estimate falls back to the normalized hours and names the unpriced type
    meta = _meta(cluster_id)
    assert meta["cost_usd"] == Decimal(str(round(8 * price_table().normalized_instance_hour_usd, 4)))
    assert "x2iedn.xlarge" in meta["cost_detail"]


def test_a_cluster_emr_does_not_know_is_costed_unknown_without_asking_emr_again(world: World) -> None:
    # Given the sample's cluster, which this account's EMR does not know (DescribeCluster: InvalidRequest)
    cluster_id = "j-2AXXXXXXGAPLF"

    # When its TERMINATED_WITH_ERRORS event arrives
    _terminated_with_errors(world, cluster_id)

    # Then the cost is recorded as unknown, saying why, and the failure is still notified with that line
    assert cost_line(_meta(cluster_id)) == "Cost: unknown (EMR does not know the cluster (DescribeCluster))"
    (notice,) = world.notices()
    assert "Cost: unknown (EMR does not know the cluster (DescribeCluster))" in notice["Message"]


def test_a_cluster_that_has_not_ended_has_no_cost(world: World) -> None:
    # Given a running cluster
    cluster_id = _cluster(core=1)
    event: dict[str, Any] = json.loads((EVENTS / "emr_cluster_state_change_running.json").read_text())
    event["detail"]["clusterId"] = cluster_id

    # When its RUNNING event arrives
    envelope, detail = parse_emr_event(event)
    emr_decisions.react(envelope, detail, world.settings)

    # Then nothing about cost is recorded yet
    assert not {"cost_usd", "cost_label", "cost_detail"} & set(_meta(cluster_id))


# -- EMR Serverless ----------------------------------------------------------------------------------------
BILLED = {"vCPUHour": 0.5, "memoryGBHour": 2.0, "storageGBHour": 10.0}


def _x86(billed: dict[str, float]) -> float:
    rate = serverless_prices().rates["X86_64"]
    return sum(
        billed[k] * rate[r] for k, r in zip(BILLED, ("vcpu_hour", "memory_gb_hour", "storage_gb_hour"), strict=True)
    )


def test_a_failed_job_run_records_its_cost_and_the_notice_says_it(world: World) -> None:
    # Given a failed job run billed 0.5 vCPU-h, 2 GB-h memory and 10 GB-h storage on an ARM64 application
    emrserverless_backends[ACCOUNT][REGION].applications[world.app].architecture = "ARM64"  # GetApplication's
    job_run = world.job_run(state="FAILED", state_details=DETAILS, billed_resource_utilization=BILLED)

    # When its FAILED event arrives
    world.react(world.event(FAILED, job_run))

    # Then the job run's cost is priced at the ARM64 rates, and the run's META holds the same sum
    rate = serverless_prices().rates["ARM64"]
    expected = round(0.5 * rate["vcpu_hour"] + 2 * rate["memory_gb_hour"] + 10 * rate["storage_gb_hour"], 4)
    item = world.item(f"RUN#{RUN_ID}", f"JOBRUN#{job_run}")
    assert (item["cost_usd"], item["architecture"]) == (Decimal(str(expected)), "ARM64")
    assert item["cost_detail"] == "0.5 vCPU-h, 2 GB-h memory, 10 GB-h storage, ARM64"
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert meta["cost_usd"] == Decimal(str(expected))
    assert meta["cost_label"] == serverless_prices().label
    assert meta["cost_detail"] == "1 job run(s): 0.5 vCPU-h, 2 GB-h memory, 10 GB-h storage, ARM64"
    # And the failure notice has the job run's cost line
    (notice,) = world.notices()
    assert f"Cost: ~${expected:.4f} ({serverless_prices().label}; {item['cost_detail']})" in notice["Message"]


def test_a_run_costs_the_sum_of_its_job_runs_and_an_unknown_architecture_is_said(world: World) -> None:
    # Given two job runs of one run that succeeded, on an application GetApplication gives no architecture for
    # (set on moto's object: the local runtime's patch, when loaded in this process, answers one)
    emrserverless_backends[ACCOUNT][REGION].applications[world.app].architecture = None
    other = {"vCPUHour": 1.0, "memoryGBHour": 4.0, "storageGBHour": 0.0}
    first = world.job_run(0, billed_resource_utilization=BILLED)
    second = world.job_run(1, billed_resource_utilization=other)

    # When both SUCCESS events arrive
    world.react(world.event(SUCCEEDED, first, "e-1"))
    world.react(world.event(SUCCEEDED, second, "e-2"))

    # Then the run's META is the sum of both, priced as X86_64, and says the architecture was assumed
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert float(meta["cost_usd"]) == pytest.approx(round(_x86(BILLED), 4) + round(_x86(other), 4), abs=1e-4)
    assert meta["cost_detail"] == (
        "2 job run(s): 1.5 vCPU-h, 6 GB-h memory, 10 GB-h storage, "
        "X86_64 (assumed: the application's architecture is unknown)"
    )
    assert world.notices() == []


def test_a_job_run_that_ended_without_billed_utilization_leaves_the_run_cost_unknown(world: World) -> None:
    # Given a succeeded job run GetJobRun gives no billedResourceUtilization for
    job_run = world.job_run(billed_resource_utilization=None)

    # When its SUCCESS event arrives
    world.react(world.event(SUCCEEDED, job_run))

    # Then the run has a labelled cost of unknown, saying why, and no number
    meta = world.item(f"RUN#{RUN_ID}", "META")
    assert "cost_usd" not in meta
    assert cost_line(meta) == "Cost: unknown (1 job run(s) without billedResourceUtilization)"


def test_a_run_with_no_cost_fields_reads_as_not_recorded() -> None:
    # Given a META item from before costs were kept
    meta = {"pk": "CLUSTER#j-OLD", "sk": "META", "state": "TERMINATED"}
    # When its cost line is asked for
    line = cost_line(meta)
    # Then it says the cost was not recorded, never $0
    assert line.startswith("Cost: unknown (not recorded")


# -- cost by job (`runs --cost`) ----------------------------------------------------------------------------
def _finished_cluster(cluster_id: str, job: str, state: str, cost: RunCost | None) -> None:
    change = ledger.ClusterChange(cluster_id, state, T0, f"e-{cluster_id}", job=job, run_id=f"{job}-{cluster_id}")
    ledger.record_cluster_change(TABLE, change)
    if cost is not None:
        ledger.record_cost(TABLE, f"CLUSTER#{cluster_id}", cost_fields(cost))


def test_cost_by_job_sums_finished_runs_counts_unknowns_and_leaves_running_runs_out(world: World) -> None:
    # Given two finished runs of one job (one estimated, one unknown), a running one, and a serverless run
    label = price_table().label
    _finished_cluster("j-A", "nightly", "TERMINATED", RunCost(0.25, label, "1 instance-hours"))
    _finished_cluster("j-B", "nightly", "TERMINATED_WITH_ERRORS", RunCost(None, label, "no lifetimes"))
    _finished_cluster("j-C", "nightly", "RUNNING", None)
    job_run = world.job_run(billed_resource_utilization=BILLED)
    world.react(world.event(SUCCEEDED, job_run))

    # When the cost by job is asked for
    costs, running = cost_by_job(TABLE, since=None)
    text = format_costs(costs, running, since=None)

    # Then each job and target has its finished runs, the sum of the known estimates and the unknown count
    rows = [(c.job, c.compute, c.runs, round(c.usd, 4), c.unknown) for c in costs]
    assert rows == [
        ("nightly", "emr-ec2", 2, 0.25, 1),
        ("red-violations", "emr-serverless", 1, round(_x86(BILLED), 4), 0),
    ]
    assert running == 1
    # And the text is labelled an estimate, with the price tables' dates, and says what was left out
    assert text.splitlines()[0] == "Cost by job, all runs in the ledger: ESTIMATES from list prices, not a bill."
    assert f"Prices: {serverless_prices().label}; {label}." in text
    assert "1 run(s) still running: not counted." in text
    total = 0.25 + round(_x86(BILLED), 4)
    assert text.splitlines()[4].split() == ["TOTAL", "3", f"~${total:.4f}", "1"]
