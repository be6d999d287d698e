"""Figure 3c, state transitions per EMR on EKS run (EksPipeline; Standard workflows bill per transition).

Measured as job_run_transitions says, on a virtual cluster registered on the local runtime first (an EKS cluster's
namespace: its id is EMR's to choose). EMR on EKS has no application to start or stop: every state but the
failure path runs.
"""

from __future__ import annotations

from typing import Any

from emr_autopilot_devkit.bench import job_run_transitions
from emr_autopilot_devkit.bench.job_run_transitions import Target
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.account import ACCOUNT_ID
from emr_autopilot_devkit.local.eks_clusters import register_virtual_cluster
from emr_autopilot_devkit.local.runtime import LocalRuntime

SECTION = "3c. State transitions per EMR on EKS run (StateEntered events)"
STEP_COUNTS = (1, 3)


def eks_job(name: str, steps: int, stack: LocalRuntime) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark job (make bench)",
        "compute": "emr-eks",
        "eks": {
            "virtual_cluster_id": register_virtual_cluster(stack, "bench"),
            "execution_role": f"arn:aws:iam::{ACCOUNT_ID}:role/emr-autopilot-eks-jobs",
            "release_label": "emr-7.5.0-latest",
        },
        "steps": job_run_transitions.steps(steps),
        "run_timeout": "1h",
    }


TARGET = Target("eks", SECTION, "EksPipeline, k={k} job runs (budget 2k+8)", eks_job)


def measure(step_counts: tuple[int, ...] = STEP_COUNTS) -> list[Figure]:
    return job_run_transitions.measure(TARGET, step_counts)
