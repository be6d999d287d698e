"""What an EMR cluster costs per hour: an ESTIMATE from its instances and a price table shipped as data.

Always shown labelled as an estimate: one region's list prices (data/ec2_on_demand_prices.json),
Spot instances priced at on-demand (an upper bound), no Savings Plans, Reserved Instances, EBS or
data transfer.
"""

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from emr_autopilot import emr

PRICES_PATH = Path(__file__).parent / "data" / "ec2_on_demand_prices.json"


class PriceTable(NamedTuple):
    region: str
    as_of: str
    hourly: dict[str, float]  # instance type -> EC2 on-demand + EMR, USD per instance-hour
    normalized_instance_hour_usd: float

    @property
    def label(self) -> str:
        return f"estimate: {self.region} on-demand list prices as of {self.as_of}"


Table = TypeVar("Table")


def load_prices(path: Path, parse: Callable[[dict[str, Any]], Table]) -> Table:
    """A dated price table shipped as data (data/*.json), parsed by `parse`: read once per process (a Lambda
    container keeps it). The EC2, EMR Serverless and EMR on EKS tables (run_costs) load alike."""
    table: Table = _load_prices(path, parse)
    return table


@cache
def _load_prices(path: Path, parse: Callable[[dict[str, Any]], Any]) -> Any:
    return parse(json.loads(path.read_text(encoding="utf-8")))


def price_table(path: Path = PRICES_PATH) -> PriceTable:
    return load_prices(path, _price_table)


def _price_table(data: dict[str, Any]) -> PriceTable:
    return PriceTable(
        region=data["region"],
        as_of=data["as_of"],
        hourly={name: float(item["ec2"]) + float(item["emr"]) for name, item in data["instances"].items()},
        normalized_instance_hour_usd=float(data["normalized_instance_hour_usd"]),
    )


class CostEstimate(NamedTuple):
    hourly_usd: float | None
    basis: str  # "instances", "normalized instance hours" or "unknown"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"hourly_usd": self.hourly_usd, "basis": self.basis, "detail": self.detail}


def estimate_from_instances(instances: list[tuple[str, str]], table: PriceTable) -> CostEstimate:
    """instances: (instance type, market) per running instance."""
    counts = Counter(instances)
    priced = 0.0
    parts, unpriced = [], []
    for (instance_type, market), count in sorted(counts.items()):
        price = table.hourly.get(instance_type)
        label = f"{count}x {instance_type}" + (" (Spot, priced at on-demand)" if market == "SPOT" else "")
        if price is None:
            unpriced.append(label)
            continue
        priced += price * count
        parts.append(label)
    detail = ", ".join(parts)
    if unpriced:
        # Counting only what the table knows understates the cost; say so rather than guess.
        detail += ("; " if detail else "") + "not in the price table: " + ", ".join(unpriced)
    return CostEstimate(round(priced, 4) if parts else None, "instances", detail)


def estimate_from_normalized_hours(normalized_hours: int, hours_up: float, table: PriceTable) -> CostEstimate:
    """EMR counts NormalizedInstanceHours per started instance-hour, so divide by whole hours up."""
    if normalized_hours <= 0 or hours_up <= 0:
        return CostEstimate(None, "unknown", "no instance types and no NormalizedInstanceHours")
    per_hour = normalized_hours / max(1, math.ceil(hours_up))
    return CostEstimate(
        round(per_hour * table.normalized_instance_hour_usd, 4),
        "normalized instance hours",
        f"{normalized_hours} normalized instance-hours over {math.ceil(hours_up)} h",
    )


def cluster_instances(cluster: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(type, market) of each running instance: one ListInstanceGroups call, or ListInstances for fleets
    (a fleet's instance types are only known per instance)."""
    cluster_id = cluster["Id"]
    if cluster.get("InstanceCollectionType") == "INSTANCE_FLEET":
        return [
            (i["InstanceType"], i.get("Market", "ON_DEMAND"))
            for i in emr.list_instances(cluster_id, emr.INSTANCE_LIVE)
            if "InstanceType" in i
        ]
    found: list[tuple[str, str]] = []
    for group in emr.list_instance_groups(cluster_id):
        running = int(group.get("RunningInstanceCount", 0))
        found += [(group["InstanceType"], group.get("Market", "ON_DEMAND"))] * running
    return found


def estimate_cluster(cluster: Mapping[str, Any], hours_up: float, table: PriceTable) -> CostEstimate:
    instances = cluster_instances(cluster)
    if instances:
        estimate = estimate_from_instances(instances, table)
        if estimate.hourly_usd is not None:
            return estimate
    return estimate_from_normalized_hours(int(cluster.get("NormalizedInstanceHours") or 0), hours_up, table)
