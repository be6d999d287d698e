"""The whole application on the local runtime: moto in server mode, the template deployed into it,
the real handlers and the real ASL, EMR simulated on a fast clock. No AWS account, no mocks."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.integration import JOBS_DIR, SAMPLE_JOB, RuntimeFactory


@pytest.fixture
def local_runtime() -> Iterator[RuntimeFactory]:
    """Start a fresh local runtime (a new moto account) with the given jobs deployed; stopped after the test."""
    started: list[LocalRuntime] = []

    def start(jobs_dir: Path | None = None, timings: Timings | None = None) -> LocalRuntime:
        stack = LocalRuntime(timings=timings).start()
        started.append(stack)
        stack.deploy_jobs(jobs_dir)
        return stack

    yield start
    for stack in started:
        stack.stop()


@pytest.fixture
def stack(local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]) -> LocalRuntime:
    """A started local runtime with the sample job deployed."""
    return local_runtime(jobs_dir())


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a jobs/ directory: the sample job (and its files) plus the given extra job definitions.

    Only the sample job is copied from the repository, so other jobs added there cannot change what runs.
    """

    def write(*jobs: dict[str, Any]) -> Path:
        target = tmp_path / "jobs"
        target.mkdir(exist_ok=True)
        shutil.copy(JOBS_DIR / f"{SAMPLE_JOB}.yaml", target)
        shutil.copytree(
            JOBS_DIR / SAMPLE_JOB.replace("-", "_"), target / SAMPLE_JOB.replace("-", "_"), dirs_exist_ok=True
        )
        for job in jobs:
            (target / f"{job['name']}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
        return target

    return write
