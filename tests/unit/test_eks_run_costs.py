"""The EMR on EKS cost estimate: the pods' requested vCPU and memory from the job run's spark properties
(spark_requests), times its duration, per second with a 1-minute minimum, at the dated price table
(run_costs.eks_run_cost). Plain arithmetic on DescribeJobRun-shaped dicts: no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emr_autopilot import run_costs, spark_requests
from emr_autopilot.run_costs import EksPrices

PRICES = EksPrices("us-east-1", "2026-12-07", vcpu_hour=0.01, memory_gb_hour=0.001)
START = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def job_run(
    seconds: float | None, parameters: str = "", defaults: dict[str, str] | None = None, entry: str = "a.jar"
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "createdAt": START,
        "jobDriver": {
            "sparkSubmitJobDriver": {"entryPoint": f"s3://artifacts/{entry}", "sparkSubmitParameters": parameters}
        },
        "configurationOverrides": {
            "applicationConfiguration": [{"classification": "spark-defaults", "properties": defaults or {}}]
        },
    }
    if seconds is not None:
        run["finishedAt"] = START + timedelta(seconds=seconds)
    return run


# 2 cores/4g driver + 3 executors of 2 cores/8g, JVM (overhead max(384 MiB, 10%)): 8 vCPU;
# memory (4096 + 410) + 3 x (8192 + 820) = 31542 MiB = 30.802734375 GB.
SIZED = (
    "--conf spark.driver.cores=2 --driver-memory 4g --num-executors 3 --conf spark.executor.cores=2"
    " --executor-memory 8g"
)
SIZED_GB = 31542 / 1024


def test_requests_come_from_submit_parameters_over_spark_defaults() -> None:
    # Given spark-defaults that a sparkSubmitParameters flag overrides
    run = job_run(600, SIZED, defaults={"spark.executor.instances": "10", "spark.executor.cores": "4"})
    # When the pods' requests are read / Then the spark-submit values win (Spark's documented order)
    requests = spark_requests.pod_requests(run)
    assert (requests.vcpu, requests.executors, requests.memory_gb) == (8, 3, pytest.approx(SIZED_GB))
    assert requests.notes == ()


def test_a_run_over_a_minute_is_priced_per_second() -> None:
    # Given the sized job run that ran 90.2 s / When its cost is estimated
    cost = run_costs.eks_run_cost(job_run(90.2, SIZED), PRICES)
    # Then it is 91 billed seconds of 8 vCPU and 30.80 GB
    expected = (8 * 0.01 + SIZED_GB * 0.001) * 91 / 3600
    assert cost.usd == round(expected, 4) and "requested for 91 s" in cost.detail


def test_a_run_under_a_minute_is_priced_as_one_minute() -> None:
    # Given the sized job run that ran 12 s / When its cost is estimated
    short = run_costs.eks_run_cost(job_run(12, SIZED), PRICES)
    minute = run_costs.eks_run_cost(job_run(60, SIZED), PRICES)
    # Then it costs what a 60 s run costs (the 1-minute minimum)
    assert short.usd == minute.usd == round((8 * 0.01 + SIZED_GB * 0.001) * 60 / 3600, 4)
    assert "requested for 60 s" in short.detail


def test_unset_properties_take_spark_defaults_and_pyspark_gets_the_larger_overhead() -> None:
    # Given a PySpark job run that sets nothing
    requests = spark_requests.pod_requests(job_run(60, entry="count.py"))
    # Then 1 driver and 2 executors of 1 core and 1g, each with max(384 MiB, 40%) overhead, are priced
    assert (requests.vcpu, requests.executors) == (3, 2)
    assert requests.memory_gb == pytest.approx(3 * (1024 + 410) / 1024)
    assert requests.notes == (
        "Spark defaults for driver.cores, driver.memory, executor.cores, executor.memory, executor.instances",
    )


def test_dynamic_allocation_is_priced_at_its_initial_executors_and_says_so() -> None:
    # Given dynamic allocation starting at 5 executors, and a pod CPU request below the cores
    defaults = {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.initialExecutors": "5",
        "spark.kubernetes.executor.request.cores": "500m",
    }
    requests = spark_requests.pod_requests(job_run(60, defaults=defaults))
    # Then 5 executors of half a vCPU are priced, with a note that the count varies
    assert (requests.executors, requests.vcpu) == (5, 1 + 5 * 0.5)
    assert requests.notes[0] == "dynamic allocation: priced at its initial 5 executor(s), the real count varies"


def test_a_job_run_that_has_not_ended_has_no_cost_yet() -> None:
    # Given a job run without finishedAt / When its cost is estimated / Then it is unknown, saying why
    cost = run_costs.eks_run_cost(job_run(None), PRICES)
    assert cost.usd is None and cost.line() == "Cost: unknown (no createdAt/finishedAt (the job run has not ended))"


def test_the_line_says_estimate_and_that_the_eks_nodes_are_billed_separately() -> None:
    # Given the shipped price table / When a run's cost line is written
    line = run_costs.eks_run_cost(job_run(600, SIZED)).line()
    # Then it is labelled an estimate, dated, and says the nodes' bill is not in it
    prices = run_costs.eks_prices()
    assert line.startswith("Cost: ~$") and f"(estimate: EMR on EKS us-east-1 list prices as of {prices.as_of};" in line
    assert "the EKS nodes (EC2 or Fargate) are billed separately, not included" in line
    assert (prices.vcpu_hour, prices.memory_gb_hour) == (0.01012, 0.00111125)


def test_a_run_total_sums_its_job_runs_and_names_the_unknown_ones() -> None:
    # Given a run's JOBRUN items: two priced, one whose cost is unknown
    label = PRICES.label
    items: list[dict[str, Any]] = [
        {"cost_usd": 0.5, "cost_label": label},
        {"cost_usd": 0.25, "cost_label": label},
        {"cost_label": label},
    ]
    # When the run's total is taken / Then it is the sum, a lower bound that says so
    total = run_costs.eks_run_total(items)
    assert total is not None and total.usd == 0.75
    assert (
        total.detail
        == "2 job run(s), requested vCPU and memory x duration; a lower bound: 1 job run(s) with an unknown cost"
    )
    assert run_costs.eks_run_total([{"state": "RUNNING"}]) is None


def test_a_set_overhead_or_factor_replaces_the_default_overhead() -> None:
    # Given a JVM job run with the executors' overhead set and the driver's overhead factor set
    defaults = {"spark.executor.memoryOverhead": "1g", "spark.driver.memoryOverheadFactor": "0.5"}
    requests = spark_requests.pod_requests(job_run(60, "--driver-memory 2g", defaults=defaults))
    # Then the driver asks 2g + 50% and each of the 2 executors 1g + 1g
    assert requests.memory_gb == pytest.approx((2048 + 1024 + 2 * (1024 + 1024)) / 1024)


def test_spark_properties_that_cannot_be_read_give_an_unknown_cost_that_says_why() -> None:
    # Given a job run whose executor memory is not a size
    cost = run_costs.eks_run_cost(job_run(600, "--executor-memory lots"), PRICES)
    # When its cost is estimated / Then it is unknown, naming the value
    assert cost.usd is None and "not a memory size: 'lots'" in cost.detail
