"""What a Spark job run asks Kubernetes for: the vCPU and memory of its driver and executor pods (EMR on EKS).

EMR on EKS prices the vCPU and memory a pod requests (run_costs.eks_run_cost), so this reads them from the job
run's spark properties (DescribeJobRun): `--conf k=v` and spark-submit's own flags in
jobDriver.sparkSubmitJobDriver.sparkSubmitParameters over configurationOverrides' `spark-defaults` (Spark's
documented order, "Dynamically Loading Spark Properties": spark-submit flags, then spark-defaults.conf; that
EMR on EKS keeps the order is inferred). Unset properties take Spark's defaults (Spark configuration docs and
"Running on Kubernetes"); whether EMR on EKS's images set other defaults is not documented: inferred that they do
not. Hand-written: no library reads spark-submit arguments into properties.
"""

import math
import re
import shlex
from collections.abc import Mapping
from typing import Any, NamedTuple

# spark-submit's flags that are properties under another name (spark-submit --help, "Spark properties").
_FLAGS = {
    "--driver-memory": "spark.driver.memory",
    "--driver-cores": "spark.driver.cores",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
}
# Spark's defaults (configuration docs): 1 core and 1g for the driver and each executor; 2 executors
# (spark.executor.instances, as Kubernetes and YARN start them without dynamic allocation).
_DEFAULTS = {
    "spark.driver.cores": "1",
    "spark.driver.memory": "1g",
    "spark.executor.cores": "1",
    "spark.executor.memory": "1g",
    "spark.executor.instances": "2",
}
MIN_OVERHEAD_MIB = 384  # spark.{driver,executor}.memoryOverhead: factor x memory, at least 384 MiB
_UNITS = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024, "p": 1024**3}


class PodRequests(NamedTuple):
    """What the job run's pods request, all together: vCPU and memory (GiB, priced as GB)."""

    vcpu: float
    memory_gb: float
    executors: int
    notes: tuple[str, ...] = ()  # what was assumed (dynamic allocation, defaults)


def spark_properties(job_run: Mapping[str, Any]) -> dict[str, str]:
    """The job run's spark properties: spark-defaults, then sparkSubmitParameters over them."""
    properties: dict[str, str] = {}
    overrides = job_run.get("configurationOverrides") or {}
    for configuration in overrides.get("applicationConfiguration") or []:
        if configuration.get("classification") == "spark-defaults":
            properties.update({str(k): str(v) for k, v in (configuration.get("properties") or {}).items()})
    driver = (job_run.get("jobDriver") or {}).get("sparkSubmitJobDriver") or {}
    properties.update(_submit_parameters(str(driver.get("sparkSubmitParameters") or "")))
    return properties


def _submit_parameters(parameters: str) -> dict[str, str]:
    try:
        words = shlex.split(parameters)
    except ValueError:  # an unbalanced quote: read it as plain words
        words = parameters.split()
    found: dict[str, str] = {}
    for flag, value in zip(words, [*words[1:], ""], strict=False):  # each word with the next ("" after the last)
        if flag == "--conf" and "=" in value:
            key, _, setting = value.partition("=")
            found[key.strip()] = setting.strip()
        elif flag in _FLAGS and value:
            found[_FLAGS[flag]] = value
    return found


def memory_mib(value: str) -> float:
    """A JVM memory string (512m, 2g, 2048) in MiB; no unit means MiB (Spark's spark.*.memory)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*", value.lower())
    if not match:
        raise ValueError(f"not a memory size: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "m"]


def pod_requests(job_run: Mapping[str, Any]) -> PodRequests:
    """The driver's and the executors' vCPU and memory requests (memory with its overhead)."""
    given = spark_properties(job_run)
    properties = {**_DEFAULTS, **given}
    entry = str(((job_run.get("jobDriver") or {}).get("sparkSubmitJobDriver") or {}).get("entryPoint") or "")
    # memoryOverheadFactor defaults to 0.10, and to 0.40 for non-JVM jobs (PySpark, R) on Kubernetes (Spark
    # configuration docs, spark.driver.memoryOverheadFactor).
    factor = 0.4 if entry.endswith((".py", ".R", ".r")) else 0.1
    executors, notes = _executors(properties, "spark.executor.instances" in given)
    driver_cpu, driver_mib = _pod(properties, "driver", factor)
    executor_cpu, executor_mib = _pod(properties, "executor", factor)
    unset = [key for key in _DEFAULTS if key not in given]
    if unset:
        notes = (*notes, "Spark defaults for " + ", ".join(key.removeprefix("spark.") for key in unset))
    return PodRequests(
        vcpu=driver_cpu + executors * executor_cpu,
        memory_gb=(driver_mib + executors * executor_mib) / 1024,
        executors=executors,
        notes=notes,
    )


def _pod(properties: Mapping[str, str], role: str, factor: float) -> tuple[float, float]:
    """(vCPU, MiB) one pod requests. spark.kubernetes.<role>.request.cores, when set, is the pod's CPU request
    ("Running on Kubernetes"); a Kubernetes quantity like 500m is milli-cores."""
    cores = properties.get(f"spark.kubernetes.{role}.request.cores") or properties[f"spark.{role}.cores"]
    vcpu = float(cores[:-1]) / 1000 if cores.endswith("m") else float(cores)
    memory = memory_mib(properties[f"spark.{role}.memory"])
    overhead = properties.get(f"spark.{role}.memoryOverhead")
    # The factor a job sets: spark.<role>.memoryOverheadFactor, or the older spark.kubernetes.memoryOverheadFactor.
    factor = float(
        properties.get(f"spark.{role}.memoryOverheadFactor")
        or properties.get("spark.kubernetes.memoryOverheadFactor")
        or factor
    )
    extra = memory_mib(overhead) if overhead else max(MIN_OVERHEAD_MIB, math.ceil(factor * memory))
    return vcpu, memory + extra


def _executors(properties: Mapping[str, str], instances_set: bool) -> tuple[int, tuple[str, ...]]:
    """How many executors: spark.executor.instances; with dynamic allocation the count moves, so its initial
    count is priced: the largest of initialExecutors, minExecutors and, when set, instances (Spark configuration
    docs, spark.dynamicAllocation.initialExecutors)."""
    instances = int(properties["spark.executor.instances"])
    if properties.get("spark.dynamicAllocation.enabled", "false").lower() != "true":
        return instances, ()
    start = max(
        int(properties.get("spark.dynamicAllocation.initialExecutors") or 0),
        int(properties.get("spark.dynamicAllocation.minExecutors") or 0),
        instances if instances_set else 0,
    )
    return start, (f"dynamic allocation: priced at its initial {start} executor(s), the real count varies",)
