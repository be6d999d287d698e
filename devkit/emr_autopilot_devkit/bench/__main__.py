"""`make bench`: python -m emr_autopilot_devkit.bench [--skip-test-time] [--only NAME ...] [--strict]

Measures the figures, prints the table (stdout; progress goes to stderr) and writes
bench-results.json at the repository root. Exit status: 0 when every benchmark ran (whatever the
budgets say; --strict: 1 when a budget fails), 2 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

from emr_autopilot_devkit.bench import (
    coldstart,
    dev_times,
    eks_transitions,
    event_calls,
    latency,
    package_size,
    reaper_scale,
    serverless_transitions,
    step_notice_lag,
    transitions,
)
from emr_autopilot_devkit.bench.common import RESULTS_PATH, say
from emr_autopilot_devkit.bench.report import Figure, Results, load_previous, render_table

NOTES = [
    "Ratios are measured side by side in one run (interleaved), medians of several runs.",
    "Cold start: the handler module's import in a fresh python3.11 -S -B, the function's code then the layer on "
    "sys.path, the template's environment with its parameter defaults (EnableTracing=false). The layer is timed as "
    "sam build ships it (layers/shared/Makefile: wheels plus hash-based .pyc); the function's own app.py has no "
    "bytecode. The sam build layer is arm64 and cannot be imported on this x86 machine: the timing layer is built "
    "by the same Makefile targets with this machine's wheels (.bench-cache/layer-<machine>-built).",
    "Cold-start budget: each function's own code (1d: its import after the libraries' floor has run) as a share "
    "of that floor's cold start in the same rounds; the ratio to a bare boto3 handler is informational.",
    "Transitions: StateEntered events in the execution history (every state entered, Map iterations included), "
    "which is what Step Functions Standard bills; no retries happen in these runs.",
    "API calls: botocore before-call hooks on the clients emr_autopilot.aws creates, one per call (SDK retries "
    "not counted), against the local runtime (moto in this process).",
    "Local-runtime latencies and wall times are this machine's, not AWS's.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emr_autopilot_devkit.bench", description=__doc__)
    parser.add_argument("--skip-test-time", action="store_true", help="do not run `make test` (~5 min)")
    parser.add_argument("--rounds", type=int, default=15, help="cold start rounds (default 15)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[
            "coldstart",
            "size",
            "transitions",
            "serverless",
            "eks",
            "events",
            "reaper",
            "latency",
            "devloop",
            "lag",
        ],
        help="run only these benchmarks (repeatable); the results file then holds only them",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure fails its budget")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    previous = load_previous(args.output)
    benchmarks: list[tuple[str, str, Callable[[], list[Figure]]]] = [
        ("coldstart", "1. cold start", lambda: coldstart.measure(rounds=args.rounds)),
        ("size", "2. package size (sam build)", package_size.measure),
        ("transitions", "3. state transitions", transitions.measure),
        ("serverless", "3b. state transitions per serverless run", serverless_transitions.measure),
        ("eks", "3c. state transitions per EMR on EKS run", eks_transitions.measure),
        ("events", "4. AWS calls per EMR event", event_calls.measure),
        ("reaper", "5. reaper at scale", reaper_scale.measure),
        ("latency", "6. reaction latency", latency.measure),
        ("devloop", "7. make demo / make test", lambda: dev_times.measure(args.skip_test_time, previous)),
        ("lag", "8. cluster time until a step's end is noticed", step_notice_lag.measure),
    ]
    results = Results(notes=list(NOTES))
    if args.only:
        results.notes.append(f"Partial run: --only {' '.join(args.only)}.")
    broken: list[str] = []
    started = time.monotonic()
    for key, label, run in benchmarks:
        if args.only and key not in args.only:
            continue
        say(f"--> {label}")
        began = time.monotonic()
        try:
            results.extend(run())
        except Exception as exc:  # report what ran; say what did not
            traceback.print_exc()
            broken.append(label)
            results.notes.append(f"{label}: could not run: {type(exc).__name__}: {exc}")
        say(f"    {label}: {time.monotonic() - began:.0f}s")
    results.notes.append(f"make bench took {time.monotonic() - started:.0f}s.")
    results.write(args.output)

    print(render_table(results.figures))
    failing = results.failing()
    print()
    print(
        f"{len(results.figures)} figures, {sum(1 for f in results.figures if f.passed)} within budget, "
        f"{len(failing)} over budget"
        + (f": {', '.join(f.id for f in failing)}" if failing else "")
        + (
            f"; not measured: {', '.join(f.id for f in results.figures if not f.measured)}"
            if not all(f.measured for f in results.figures)
            else ""
        )
        + "."
    )
    if broken:
        print(f"Could not run: {', '.join(broken)}.")
    print(f"Results: {args.output}")
    if broken:
        return 2
    return 1 if args.strict and failing else 0


if __name__ == "__main__":
    sys.exit(main())
