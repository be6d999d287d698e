"""What one finished run cost: an ESTIMATE, always labelled so, from dated list prices shipped as data.

- EMR Serverless: the job run's billedResourceUtilization (GetJobRun: vCPU-hours, memory GB-hours and
  storage GB-hours, already with the 1-minute minimum per worker) at data/emr_serverless_prices.json.
- EMR on EC2: each instance's lifetime (ListInstances timelines) at data/ec2_on_demand_prices.json,
  per second with a 1-minute minimum ("Amazon EMR pricing": billed per second, one-minute minimum);
  Spot priced at on-demand (an upper bound). Without instance lifetimes, the cluster's
  NormalizedInstanceHours at the table's per-normalized-hour rate.
- EMR on EKS: the vCPU and memory the job run's pods request (spark_requests, from its spark properties) for
  its createdAt to finishedAt, per second with a 1-minute minimum, at data/emr_eks_prices.json. The EMR uplift
  only: the EKS nodes' own bill (EC2 or Fargate) is separate, and every label says so.

The ledger keeps a finished run's cost on its META item (and a job run's on its JOBRUN item) as three
fields, the contract the CLI, the runs page, the notices and the demo read: ``cost_usd`` (a number; absent
when unknown), ``cost_label`` ("estimate: ... as of <date>") and ``cost_detail`` (what was priced).
cost_fields writes them, cost_line reads them back.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from emr_autopilot.pricing import PriceTable, load_prices, price_table

SERVERLESS_PRICES_PATH = Path(__file__).parent / "data" / "emr_serverless_prices.json"
MINIMUM_SECONDS = 60


class RunCost(NamedTuple):
    usd: float | None
    label: str  # "estimate: ..." with the price table's region and date
    detail: str

    def line(self) -> str:
        """One line for a notice or the CLI: `Cost: ~$0.0123 (estimate: ...; 0.01 vCPU-h, ...)`."""
        if self.usd is None:
            return f"Cost: unknown ({self.detail})"
        return f"Cost: ~${self.usd:.4f} ({self.label}; {self.detail})"

    def as_dict(self) -> dict[str, Any]:
        return {"usd": self.usd, "label": self.label, "detail": self.detail}


class ServerlessPrices(NamedTuple):
    region: str
    as_of: str
    rates: dict[str, dict[str, float]]  # architecture -> vcpu_hour, memory_gb_hour, storage_gb_hour

    @property
    def label(self) -> str:
        return f"estimate: EMR Serverless {self.region} list prices as of {self.as_of}"


def serverless_prices(path: Path = SERVERLESS_PRICES_PATH) -> ServerlessPrices:
    return load_prices(path, _serverless_prices)


def _serverless_prices(data: dict[str, Any]) -> ServerlessPrices:
    rates = {arch: {key: float(value) for key, value in item.items()} for arch, item in data["architectures"].items()}
    return ServerlessPrices(region=data["region"], as_of=data["as_of"], rates=rates)


def serverless_run_cost(
    billed: Mapping[str, Any] | None, architecture: str = "X86_64", prices: ServerlessPrices | None = None
) -> RunCost:
    """billed: GetJobRun's billedResourceUtilization ({vCPUHour, memoryGBHour, storageGBHour})."""
    prices = prices or serverless_prices()
    if not billed:
        return RunCost(None, prices.label, "no billedResourceUtilization (the job run has not ended)")
    rate = prices.rates.get(architecture) or prices.rates["X86_64"]
    vcpu, memory, storage = (float(billed.get(key) or 0) for key in ("vCPUHour", "memoryGBHour", "storageGBHour"))
    usd = vcpu * rate["vcpu_hour"] + memory * rate["memory_gb_hour"] + storage * rate["storage_gb_hour"]
    detail = f"{vcpu:g} vCPU-h, {memory:g} GB-h memory, {storage:g} GB-h storage, {architecture}"
    return RunCost(round(usd, 4), prices.label, detail)


class InstanceLifetime(NamedTuple):
    instance_type: str
    market: str
    started: datetime
    ended: datetime


def cluster_run_cost(
    instances: Iterable[InstanceLifetime], normalized_instance_hours: int = 0, table: PriceTable | None = None
) -> RunCost:
    """The cluster's cost over its life, from each instance's lifetime; else NormalizedInstanceHours."""
    table = table or price_table()
    usd, hours, unpriced, spot = 0.0, 0.0, set(), False
    for instance in instances:
        price = table.hourly.get(instance.instance_type)
        seconds = max(MINIMUM_SECONDS, (instance.ended - instance.started).total_seconds())
        if price is None:
            unpriced.add(instance.instance_type)
            continue
        usd += price * seconds / 3600
        hours += seconds / 3600
        spot = spot or instance.market == "SPOT"
    if hours and not unpriced:
        detail = f"{hours:.2f} instance-hours" + (", Spot priced at on-demand" if spot else "")
        return RunCost(round(usd, 4), table.label, detail)
    if normalized_instance_hours > 0:
        usd = normalized_instance_hours * table.normalized_instance_hour_usd
        why = f"instance type(s) not in the price table: {', '.join(sorted(unpriced))}; " if unpriced else ""
        # EMR counts every started instance-hour whole, so for a short run this is an upper bound.
        detail = f"{why}{normalized_instance_hours} normalized instance-hours (whole hours: an upper bound)"
        return RunCost(round(usd, 4), table.label, detail)
    if unpriced:
        why = f"instance type(s) not in the price table: {', '.join(sorted(unpriced))}"
        return RunCost(None, table.label, f"{why}, and no NormalizedInstanceHours")
    return RunCost(None, table.label, "no instance lifetimes and no NormalizedInstanceHours")


def instance_lifetimes(instances: Iterable[Mapping[str, Any]]) -> list[InstanceLifetime] | None:
    """ListInstances' instances as lifetimes (Status.Timeline CreationDateTime to EndDateTime), or None when
    one has no type or no end yet: then the caller prices NormalizedInstanceHours rather than guess an end."""
    lifetimes = []
    for instance in instances:
        timeline = (instance.get("Status") or {}).get("Timeline") or {}
        started, ended = timeline.get("CreationDateTime"), timeline.get("EndDateTime")
        if not instance.get("InstanceType") or not isinstance(started, datetime) or not isinstance(ended, datetime):
            return None
        lifetimes.append(
            InstanceLifetime(instance["InstanceType"], instance.get("Market") or "ON_DEMAND", started, ended)
        )
    return lifetimes or None


# -- the ledger's three cost fields ----------------------------------------------------------------------
COST_FIELDS = ("cost_usd", "cost_label", "cost_detail")


def cost_fields(cost: RunCost) -> dict[str, Any]:
    """The ledger's fields for a cost (cost_usd None: unknown, to be removed from the item)."""
    usd = None if cost.usd is None else Decimal(str(cost.usd))
    return {"cost_usd": usd, "cost_label": cost.label, "cost_detail": cost.detail}


def recorded_cost(item: Mapping[str, Any]) -> RunCost | None:
    """The cost a ledger item holds, or None when none was recorded (a run that has not ended, or older)."""
    if not item.get("cost_label") and item.get("cost_usd") is None:
        return None
    usd = item.get("cost_usd")
    return RunCost(
        None if usd is None else float(usd),
        str(item.get("cost_label") or "estimate"),
        str(item.get("cost_detail") or ""),
    )


def cost_line(meta: Mapping[str, Any]) -> str:
    """RunCost.line() from a ledger META (or JOBRUN) item's cost fields, for the demo, the CLI and notices."""
    cost = recorded_cost(meta)
    return (
        cost.line() if cost else "Cost: unknown (not recorded: the run has not ended, or ended before costs were kept)"
    )


# -- a serverless run: the sum of its job runs' costs -----------------------------------------------------
_BILLED = ("vCPUHour", "memoryGBHour", "storageGBHour")


def serverless_run_total(job_runs: Iterable[Mapping[str, Any]], ended: Iterable[str]) -> RunCost | None:
    """A serverless run's cost from its JOBRUN items: the sum of the costs recorded as each job run ended.
    None while no job run has ended. A job run that ended without billedResourceUtilization is named, not
    priced at 0 (the sum is then a lower bound)."""
    ended_states = set(ended)
    finished = [item for item in job_runs if item.get("state") in ended_states or item.get("cost_usd") is not None]
    if not finished:
        return None
    priced = [item for item in finished if item.get("cost_usd") is not None]
    label = str(priced[0].get("cost_label")) if priced else serverless_prices().label
    missing = len(finished) - len(priced)
    without = f"{missing} job run(s) without billedResourceUtilization" if missing else ""
    if not priced:
        return RunCost(None, label, without)
    usd = sum(float(item["cost_usd"]) for item in priced)
    totals = {
        key: sum(float((item.get("billed_resource_utilization") or {}).get(key) or 0) for item in priced)
        for key in _BILLED
    }
    architectures = sorted({str(item.get("architecture") or "X86_64") for item in priced})
    detail = (
        f"{len(priced)} job run(s): {totals['vCPUHour']:g} vCPU-h, {totals['memoryGBHour']:g} GB-h memory, "
        f"{totals['storageGBHour']:g} GB-h storage, {', '.join(architectures)}"
    )
    if missing:
        detail += f"; a lower bound: {without}"
    return RunCost(round(usd, 4), label, detail)


# -- an EMR on EKS job run: the vCPU and memory its pods request, for its duration ------------------------
# "Amazon EMR pricing", EMR on EKS: priced on the vCPU and memory the pods request, per second with a
# 1-minute minimum; the EKS nodes (EC2 or Fargate) are billed on top. So the estimate is the EMR uplift only.
EKS_PRICES_PATH = Path(__file__).parent / "data" / "emr_eks_prices.json"
EKS_NODES_SEPARATE = "the EKS nodes (EC2 or Fargate) are billed separately, not included"


class EksPrices(NamedTuple):
    region: str
    as_of: str
    vcpu_hour: float
    memory_gb_hour: float

    @property
    def label(self) -> str:
        return f"estimate: EMR on EKS {self.region} list prices as of {self.as_of}; {EKS_NODES_SEPARATE}"


def eks_prices(path: Path = EKS_PRICES_PATH) -> EksPrices:
    return load_prices(path, _eks_prices)


def _eks_prices(data: dict[str, Any]) -> EksPrices:
    return EksPrices(data["region"], data["as_of"], float(data["vcpu_hour"]), float(data["memory_gb_hour"]))


def eks_cost(
    vcpu: float, memory_gb: float, seconds: float, prices: EksPrices | None = None, notes: Iterable[str] = ()
) -> RunCost:
    """Requested vCPU and GB for `seconds`, per second with the 1-minute minimum."""
    prices = prices or eks_prices()
    billed = max(MINIMUM_SECONDS, math.ceil(seconds))
    usd = (vcpu * prices.vcpu_hour + memory_gb * prices.memory_gb_hour) * billed / 3600
    detail = "; ".join(
        [f"{vcpu:g} vCPU and {memory_gb:.2f} GB requested for {billed} s (the pods for the whole job run)", *notes]
    )
    return RunCost(round(usd, 4), prices.label, detail)


def eks_run_cost(job_run: Mapping[str, Any], prices: EksPrices | None = None) -> RunCost:
    """An ended job run's estimate from DescribeJobRun: its pods' requests (spark_requests) from createdAt to
    finishedAt. Every pod is priced for the whole job run, though executors start later: an upper bound."""
    from emr_autopilot import spark_requests

    prices = prices or eks_prices()
    created, finished = job_run.get("createdAt"), job_run.get("finishedAt")
    if not isinstance(created, datetime) or not isinstance(finished, datetime):
        return RunCost(None, prices.label, "no createdAt/finishedAt (the job run has not ended)")
    try:
        requests = spark_requests.pod_requests(job_run)
    except ValueError as exc:
        return RunCost(None, prices.label, f"the job run's spark properties cannot be read ({exc})")
    seconds = (finished - created).total_seconds()
    executors = f"driver and {requests.executors} executor(s)"
    return eks_cost(requests.vcpu, requests.memory_gb, seconds, prices, (executors, *requests.notes))


def eks_run_total(job_runs: Iterable[Mapping[str, Any]]) -> RunCost | None:
    """An EMR on EKS run's cost from its JOBRUN items: the sum of the costs recorded as each job run ended.
    None while none has a cost; a job run whose cost is unknown is named (the sum is then a lower bound)."""
    costed = [item for item in job_runs if item.get("cost_label")]
    if not costed:
        return None
    priced = [item for item in costed if item.get("cost_usd") is not None]
    label = str(costed[0]["cost_label"])
    missing = len(costed) - len(priced)
    if not priced:
        return RunCost(None, label, f"{missing} job run(s) with an unknown cost")
    usd = sum(float(item["cost_usd"]) for item in priced)
    detail = f"{len(priced)} job run(s), requested vCPU and memory x duration"
    if missing:
        detail += f"; a lower bound: {missing} job run(s) with an unknown cost"
    return RunCost(round(usd, 4), label, detail)
