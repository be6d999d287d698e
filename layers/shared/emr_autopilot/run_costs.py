"""What one finished run cost: an ESTIMATE, always labelled so, from dated list prices shipped as data.

- EMR Serverless: the job run's billedResourceUtilization (GetJobRun: vCPU-hours, memory GB-hours and
  storage GB-hours, already with the 1-minute minimum per worker) at data/emr_serverless_prices.json.
- EMR on EC2: each instance's lifetime (ListInstances timelines) at data/ec2_on_demand_prices.json,
  per second with a 1-minute minimum ("Amazon EMR pricing": billed per second, one-minute minimum);
  Spot priced at on-demand (an upper bound). Without instance lifetimes, the cluster's
  NormalizedInstanceHours at the table's per-normalized-hour rate.
"""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from emr_autopilot.pricing import PriceTable, price_table

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


@cache
def serverless_prices(path: Path = SERVERLESS_PRICES_PATH) -> ServerlessPrices:
    data = json.loads(path.read_text(encoding="utf-8"))
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
        return RunCost(round(usd, 4), table.label, f"{why}{normalized_instance_hours} normalized instance-hours")
    return RunCost(None, table.label, "no instance lifetimes and no NormalizedInstanceHours")
