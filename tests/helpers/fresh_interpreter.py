"""A function's code run in a fresh interpreter, as a cold Lambda runs it: its folder and the layer's package on
sys.path, and the template's environment for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.bench.common import FunctionSpec, functions


@cache
def _specs() -> dict[str, FunctionSpec]:
    return {spec.logical_id: spec for spec in functions()}


def fresh_interpreter(logical_id: str, script: str, repo_root: Path, stdin: str = "") -> dict[str, Any]:
    """Run `script` for a function, with the template's environment for it; its last line, parsed."""
    spec = _specs()[logical_id]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        **spec.environment,
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(spec.code_dir), str(repo_root / "layers" / "shared")],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer
