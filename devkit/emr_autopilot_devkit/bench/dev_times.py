"""Figure 7, `make demo` and `make test` wall time, each run as a subprocess from the repository root.

`--skip-test-time` does not run `make test` (about five minutes): the figure is then "not measured",
and carries the last measured value from the previous bench-results.json for reference, as such.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from emr_autopilot_devkit.bench.common import REPO_ROOT, say, subprocess_env
from emr_autopilot_devkit.bench.report import Figure

SECTION = "7. Developer loop (wall time, subprocess)"
# The demo runs real Spark jobs on local PySpark (each JVM start costs 10-20 s on 2 cores), so its budget is
# what a newcomer's first run may take, not a number for the emulator alone; make test's is the guide's 15 min
# with room for a loaded machine.
BUDGETS = {"demo": 180.0, "test": 600.0}
NOTES = {
    "demo": "make demo: the sample job twice, the ledger, the reaper, and the Spark, Livy and EMR Serverless parts "
    "on local PySpark, on the local runtime",
    "test": "make test: lint, types, template checks, unit and integration tests",
}


def run_make(target: str) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(
        ["make", target],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return time.monotonic() - started, done.returncode, tail


def measure(skip_test: bool, previous: dict[str, Any]) -> list[Figure]:
    figures = []
    for target in ("demo", "test"):
        figure_id = f"dev_time.make_{target}"
        if target == "test" and skip_test:
            last = previous.get(figure_id, {})
            last_value = last.get("value") if last.get("measured") else last.get("detail", {}).get("last_measured")
            figures.append(
                Figure(
                    id=figure_id,
                    section=SECTION,
                    name="make test",
                    value=None,
                    unit="s",
                    budget=BUDGETS[target],
                    measured=False,
                    note="--skip-test-time: not run"
                    + (f"; last measured {last_value:.0f} s (not this run)" if last_value is not None else ""),
                    detail={"last_measured": last_value},
                )
            )
            continue
        say(f"    make {target} ...")
        seconds, code, tail = run_make(target)
        say(f"    make {target}: {seconds:.0f}s, exit {code}")
        figures.append(
            Figure(
                id=figure_id,
                section=SECTION,
                name=f"make {target}" + ("" if code == 0 else f" (exit {code}: FAILED)"),
                value=round(seconds, 1),
                unit="s",
                budget=BUDGETS[target],
                note=NOTES[target],
                error=None if code == 0 else f"make {target} exited {code}",
                detail={"exit_code": code, "output_tail": tail},
            )
        )
    return figures
