"""Job definitions the benchmarks deploy into a local runtime: `command` steps of a command this machine
does not have, marked `simulate: true`, so each takes Timings.simulated_step virtual seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Not on this machine: the steps are marked `simulate: true` (no process runs; the runtime fails it otherwise).
SIMULATED_COMMAND = ["hadoop", "jar", "/usr/lib/hadoop-mapreduce/hadoop-mapreduce-examples.jar", "pi", "10", "100"]


def command_job(
    name: str,
    steps: int,
    *,
    run_timeout: str = "1d",
    trigger_prefix: str | None = None,
    step_completion: str | None = None,
) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": name,
        "description": "benchmark job (make bench)",
        "cluster": {
            "release_label": "emr-7.5.0",
            "applications": ["Hadoop"],
            "instance_groups": [{"role": "MASTER", "instance_type": "m5.xlarge"}],
            # Longer than any gap between two benchmark steps: the backstop must not end a run.
            "idle_timeout": "2h",
        },
        "steps": [
            {"name": f"step {number}", "type": "command", "args": list(SIMULATED_COMMAND), "simulate": True}
            for number in range(1, steps + 1)
        ],
        "run_timeout": run_timeout,
    }
    if step_completion is not None:
        job["cluster"]["step_completion"] = step_completion
    if trigger_prefix is not None:
        job["triggers"] = {"s3": [{"bucket": "landing", "prefix": trigger_prefix, "suffix": ".csv"}]}
    return job


def write_jobs(directory: Path, jobs: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        (directory / f"{job['name']}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return directory
