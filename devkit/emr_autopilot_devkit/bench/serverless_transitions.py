"""Figure 3b, state transitions per EMR Serverless run (ServerlessPipeline; Standard workflows bill per transition).

Measured as job_run_transitions says; the job asks for its application to be started first and stopped after the
run, so every optional state runs.
"""

from __future__ import annotations

from typing import Any

from emr_autopilot_devkit.bench import job_run_transitions
from emr_autopilot_devkit.bench.job_run_transitions import Target
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.runtime import LocalRuntime

SECTION = "3b. State transitions per EMR Serverless run (StateEntered events)"
STEP_COUNTS = (1, 3)


def serverless_job(name: str, steps: int, stack: LocalRuntime | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark job (make bench)",
        "compute": "emr-serverless",
        "serverless": {
            "application": {"release_label": "emr-7.5.0", "auto_start": False},
            "start_application_first": True,
            "stop_application_after_run": True,
        },
        "steps": job_run_transitions.steps(steps),
        "run_timeout": "1h",
    }


TARGET = Target(
    "serverless",
    SECTION,
    "ServerlessPipeline, k={k} job runs, start first and stop after (budget 2k+8)",
    serverless_job,
)


def measure(step_counts: tuple[int, ...] = STEP_COUNTS) -> list[Figure]:
    return job_run_transitions.measure(TARGET, step_counts)
