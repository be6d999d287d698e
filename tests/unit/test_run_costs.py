"""A finished run's cost estimate, for both compute targets, from the price tables shipped as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emr_autopilot.pricing import price_table
from emr_autopilot.run_costs import InstanceLifetime, cluster_run_cost, serverless_prices, serverless_run_cost

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_a_serverless_run_costs_its_billed_utilization_at_the_tables_rates() -> None:
    # Given a job run billed 2 vCPU-hours, 8 GB-hours of memory and 40 GB-hours of storage on x86
    billed = {"vCPUHour": 2.0, "memoryGBHour": 8.0, "storageGBHour": 40.0}
    rate = serverless_prices().rates["X86_64"]

    # When its cost is estimated
    cost = serverless_run_cost(billed, "X86_64")

    # Then it is the sum of each quantity at its list price, labelled an estimate with the table's date
    expected = 2 * rate["vcpu_hour"] + 8 * rate["memory_gb_hour"] + 40 * rate["storage_gb_hour"]
    assert cost.usd == round(expected, 4)
    assert cost.label == f"estimate: EMR Serverless us-east-1 list prices as of {serverless_prices().as_of}"
    assert cost.line().startswith(f"Cost: ~${expected:.4f} (estimate: ")


def test_graviton_runs_cost_less_than_x86_runs_with_the_same_utilization() -> None:
    # Given the same billed utilization on both architectures
    billed = {"vCPUHour": 4.0, "memoryGBHour": 16.0, "storageGBHour": 0.0}

    # When both are estimated
    arm, x86 = serverless_run_cost(billed, "ARM64"), serverless_run_cost(billed, "X86_64")

    # Then the ARM64 rates apply to the ARM64 run
    assert arm.usd is not None and x86.usd is not None
    assert arm.usd < x86.usd


def test_a_run_without_billed_utilization_has_no_cost_rather_than_zero() -> None:
    # Given a job run that has not ended (GetJobRun has no billedResourceUtilization yet)
    # When its cost is estimated
    cost = serverless_run_cost(None)

    # Then the cost is unknown, and the line says why instead of printing $0
    assert cost.usd is None
    assert cost.line() == "Cost: unknown (no billedResourceUtilization (the job run has not ended))"


def test_a_cluster_run_costs_each_instances_lifetime_with_a_one_minute_minimum() -> None:
    # Given a cluster whose primary ran 30 minutes and whose one core node lived 20 seconds
    table = price_table()
    instances = [
        InstanceLifetime("m5.xlarge", "ON_DEMAND", T0, T0 + timedelta(minutes=30)),
        InstanceLifetime("m5.xlarge", "ON_DEMAND", T0, T0 + timedelta(seconds=20)),
    ]

    # When the run's cost is estimated
    cost = cluster_run_cost(instances, table=table)

    # Then each instance is billed per second, the short one for the one-minute minimum
    hourly = table.hourly["m5.xlarge"]
    assert cost.usd == round(hourly * (1800 + 60) / 3600, 4)
    assert cost.detail == "0.52 instance-hours"


def test_an_unpriced_instance_type_falls_back_to_normalized_instance_hours() -> None:
    # Given a cluster with an instance type the price table does not know
    table = price_table()
    instances = [InstanceLifetime("z9.mega", "SPOT", T0, T0 + timedelta(hours=1))]

    # When the run's cost is estimated with the cluster's NormalizedInstanceHours
    cost = cluster_run_cost(instances, normalized_instance_hours=16, table=table)

    # Then the estimate uses the normalized rate and names the unknown type instead of pricing it at 0
    assert cost.usd == round(16 * table.normalized_instance_hour_usd, 4)
    assert "z9.mega" in cost.detail
