"""What a cluster's instances were, for its bill: NormalizedInstanceHours and the instance groups' timelines.

EMR API reference, Cluster.NormalizedInstanceHours: "An approximation of the cost of the cluster, represented in
m1.small/10 hours. This value is incremented one time for every hour an m1.small instance runs. Larger instances
are weighted more heavily". The weights are the EMR Management Guide's normalization factors ("Normalized
instance hours": nano 0.25, micro 0.5, small 1, medium 2, large 4, xlarge 8, and 8 per xlarge above that).
Every started hour counts as a whole one (inferred from "incremented one time for every hour"). A fleet's
instances are counted as its first instance type, enough of them to meet its target capacity (inferred: EMR
picks among the types by its allocation strategy, which the local runtime does not model).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_FACTORS = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
_MULTIPLE = re.compile(r"^(\d+)xlarge$")


def normalization_factor(instance_type: str) -> float | None:
    """m5.2xlarge -> 16; None for a size the guide gives no factor for (metal, for one)."""
    size = instance_type.rsplit(".", 1)[-1]
    if size in _FACTORS:
        return _FACTORS[size]
    multiple = _MULTIPLE.match(size)
    return 8.0 * int(multiple.group(1)) if multiple else None


def requested_instances(request: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(instance type, count) the RunJobFlow request asks for: groups, fleets, or the classic three fields."""
    instances = request.get("Instances") or {}
    if instances.get("InstanceGroups"):
        return [(g["InstanceType"], int(g.get("InstanceCount", 1))) for g in instances["InstanceGroups"]]
    if instances.get("InstanceFleets"):
        found = []
        for fleet in instances["InstanceFleets"]:
            first = (fleet.get("InstanceTypeConfigs") or [{}])[0]
            capacity = int(fleet.get("TargetOnDemandCapacity", 0)) + int(fleet.get("TargetSpotCapacity", 0))
            weight = int(first.get("WeightedCapacity", 1)) or 1
            if first.get("InstanceType") and capacity:
                found.append((first["InstanceType"], math.ceil(capacity / weight)))
        return found
    count = int(instances.get("InstanceCount", 1))
    master = str(instances.get("MasterInstanceType") or "")
    core = str(instances.get("SlaveInstanceType") or master)
    return [(kind, n) for kind, n in ((master, 1), (core, count - 1)) if kind and n > 0]


def normalized_instance_hours(request: Mapping[str, Any], seconds_up: float) -> int:
    hours = max(1, math.ceil(seconds_up / 3600))
    total = sum(
        (normalization_factor(kind) or 0.0) * count * hours for kind, count in requested_instances(request) if kind
    )
    return math.ceil(total)
