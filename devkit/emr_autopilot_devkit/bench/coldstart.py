"""Figure 1, cold start: how long each function's handler module takes to import in a fresh interpreter,
next to a bare handler that imports only boto3 from the same layer (a ratio, interleaved).

As in Lambda:
- the function's code directory first on sys.path, then the layer's `python/` directory, then the
  standard library: the interpreter runs with -S, so nothing of this venv's site-packages is visible
  (the script checks that boto3 came from the layer);
- no bytecode: `sam build` ships the layer without .pyc files and /opt is read-only in Lambda, so every
  cold start compiles what it imports. The timing layer is installed with --no-compile and the
  interpreter runs with -B;
- the template's environment for the function, with the parameter defaults (EnableTracing=false, so
  POWERTOOLS_TRACE_DISABLED=true), plus the variables the Lambda runtime sets.

The `sam build` layer holds arm64 (aarch64) wheels that cannot be imported on an x86_64 machine, so the
timing uses an x86 copy: `pip install -r layers/shared/requirements.txt -t .bench-cache/...` with this
venv's pip, plus a copy of layers/shared/emr_autopilot. The interpreter is this venv's python3.11.
"""

from __future__ import annotations

import hashlib
import platform
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from emr_autopilot_devkit.bench.common import CACHE_DIR, REPO_ROOT, FunctionSpec, functions, say
from emr_autopilot_devkit.bench.report import Figure, median

SECTION = "1. Cold start (handler import, fresh interpreter, no .pyc; ratio to a bare boto3 handler)"
SECTION_TRACING = "1b. Cold start with EnableTracing=true (informational; same method and denominator)"
BUDGET_RATIO = 1.5
REQUIREMENTS = REPO_ROOT / "layers" / "shared" / "requirements.txt"
PACKAGE = REPO_ROOT / "layers" / "shared" / "emr_autopilot"

# Runs in the fresh interpreter: times the import of the handler module and nothing else.
_PROBE = """
import sys, time
code, layer, module = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [code, layer]
start = time.perf_counter()
__import__(module)
elapsed = time.perf_counter() - start
import boto3
if not boto3.__file__.startswith(layer):
    raise SystemExit("boto3 came from " + boto3.__file__ + ", not the layer")
print(repr(elapsed * 1000.0))
"""

_HANDLER = "\n\ndef handler(event, context):\n    return {}\n"
# The baselines, each a handler module of its own.
BASELINES = {
    "bare": ("bare handler: import boto3", "import boto3\n" + _HANDLER),
    "floor": (
        "floor: import boto3, pydantic, powertools Logger/Metrics",
        "import boto3\nimport pydantic\nfrom aws_lambda_powertools import Logger, Metrics\n" + _HANDLER,
    ),
    "floor_objects": (
        "floor + Logger() and Metrics() objects, pydantic BaseModel",
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics\nfrom pydantic import BaseModel\n\n"
        "logger = Logger()\nmetrics = Metrics()\n" + _HANDLER,
    ),
    "skeleton": (
        "skeleton: that + one pydantic model with a Field (every handler here has one)",
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics\nfrom pydantic import BaseModel, Field\n\n"
        "logger = Logger()\nmetrics = Metrics()\n\n\nclass Event(BaseModel):\n"
        "    id: str = Field(min_length=1)\n" + _HANDLER,
    ),
}


@dataclass(frozen=True)
class Variant:
    key: str
    code_dir: Path
    module: str
    env: dict[str, str]


def layer_dir() -> Path:
    """The x86 timing copy of the layer: third-party packages cached by requirements hash, the
    application package copied fresh every run (it is what changes)."""
    root = CACHE_DIR / f"layer-{platform.machine()}"
    python = root / "python"
    stamp = root / "requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != digest:
        say(f"    building the timing layer: pip install -r requirements.txt -t {python.relative_to(REPO_ROOT)}")
        shutil.rmtree(root, ignore_errors=True)
        python.mkdir(parents=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
                "-t",
                str(python),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        stamp.write_text(digest + "\n")
    _no_bytecode_copy(PACKAGE, python / "emr_autopilot")
    leftovers = sorted(str(p.relative_to(python)) for p in python.rglob("*.pyc"))
    if leftovers:  # pip compiles nothing with --no-compile; a stray .pyc would skew the timing
        for path in leftovers:
            (python / path).unlink()
    return python


def _no_bytecode_copy(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _lambda_env(spec_env: dict[str, str], name: str, code_dir: Path, memory_mb: int) -> dict[str, str]:
    """What the Lambda runtime sets, plus the template's variables; nothing else from this shell."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": "app.handler",
        **spec_env,
    }


def _variants(layer: Path) -> tuple[list[Variant], list[FunctionSpec]]:
    work = CACHE_DIR / "handlers"
    default, traced = functions(), {f.logical_id: f for f in functions({"EnableTracing": "true"})}
    variants = []
    for spec in default:
        code = work / spec.logical_id
        _no_bytecode_copy(spec.code_dir, code)
        variants.append(
            Variant(spec.logical_id, code, spec.module, _lambda_env(spec.environment, spec.logical_id, code, 256))
        )
        tracing = traced[spec.logical_id]
        variants.append(
            Variant(
                f"{spec.logical_id}+tracing",
                code,
                spec.module,
                _lambda_env(tracing.environment, spec.logical_id, code, 256),
            )
        )
    # The baselines get the Globals environment (POWERTOOLS_*), as any function of this template would.
    globals_env = {k: v for k, v in default[0].environment.items() if k.startswith("POWERTOOLS_")}
    for key, (_, source) in BASELINES.items():
        code = work / f"_{key}"
        shutil.rmtree(code, ignore_errors=True)
        code.mkdir(parents=True)
        (code / "app.py").write_text(source, encoding="utf-8")
        variants.append(Variant(key, code, "app", _lambda_env(globals_env, f"bench-{key}", code, 256)))
    return variants, default


def _probe(variant: Variant, layer: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-S", "-B", "-c", _PROBE, str(variant.code_dir), str(layer), variant.module],
        env=variant.env,
        cwd=variant.code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe of {variant.key} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(rounds: int = 9, seed: int = 7) -> list[Figure]:
    layer = layer_dir()
    variants, specs = _variants(layer)
    say(f"    {len(variants)} variants x ({rounds} rounds + 1 warm-up), shuffled within each round")
    for variant in variants:  # warm-up: the page cache, not the interpreter (each probe is a new one)
        _probe(variant, layer)
    samples: dict[str, list[float]] = {v.key: [] for v in variants}
    for number in range(rounds):
        order = list(variants)
        random.Random(seed + number).shuffle(order)
        for variant in order:
            samples[variant.key].append(_probe(variant, layer))
        say(f"    round {number + 1}/{rounds}: bare {samples['bare'][-1]:.0f} ms")

    bare = samples["bare"]

    def ratios(key: str) -> list[float]:
        return [value / base for value, base in zip(samples[key], bare, strict=True)]

    common = {
        "rounds": rounds,
        "interpreter": f"{sys.executable} -S -B (Python {platform.python_version()})",
        "layer": f"{layer.relative_to(REPO_ROOT)} ({platform.machine()} wheels; the sam build layer is arm64)",
    }
    figures = [
        Figure(
            id="cold_start.bare_ms",
            section=SECTION,
            name="bare handler (import boto3), median: the denominator",
            value=round(median(bare), 1),
            unit="ms",
            note="The denominator of every ratio below.",
            detail={**common, "samples_ms": [round(v, 1) for v in bare]},
        ),
    ]
    for key, (label, source) in BASELINES.items():
        if key == "bare":
            continue
        figures.append(
            Figure(
                id=f"cold_start.{key}.ratio",
                section=SECTION,
                name=f"{label} (median {median(samples[key]):.0f} ms)",
                value=round(median(ratios(key)), 3),
                unit="x",
                note="a baseline: what a handler of this stack pays before its own code; informational",
                detail={
                    "source": source,
                    "median_ms": round(median(samples[key]), 1),
                    "ratios": [round(v, 3) for v in ratios(key)],
                    "samples_ms": [round(v, 1) for v in samples[key]],
                },
            )
        )
    for spec in specs:
        key = spec.logical_id
        figures.append(
            Figure(
                id=f"cold_start.{key}.ratio",
                section=SECTION,
                name=f"{key} (median {median(samples[key]):.0f} ms)",
                value=round(median(ratios(key)), 3),
                unit="x",
                budget=BUDGET_RATIO,
                note="median of per-round ratios (function import / bare import in the same round)",
                detail={
                    "median_ms": round(median(samples[key]), 1),
                    "ratio_of_medians": round(median(samples[key]) / median(bare), 3),
                    "over_skeleton_ms": round(median(samples[key]) - median(samples["skeleton"]), 1),
                    "ratios": [round(v, 3) for v in ratios(key)],
                    "samples_ms": [round(v, 1) for v in samples[key]],
                    "POWERTOOLS_TRACE_DISABLED": spec.environment.get("POWERTOOLS_TRACE_DISABLED"),
                },
            )
        )
    for spec in specs:
        key = f"{spec.logical_id}+tracing"
        figures.append(
            Figure(
                id=f"cold_start.{spec.logical_id}.tracing_ratio",
                section=SECTION_TRACING,
                name=f"{spec.logical_id} (tracing on; median {median(samples[key]):.0f} ms)",
                value=round(median(ratios(key)), 3),
                unit="x",
                note="EnableTracing=true: the real powertools Tracer and the X-Ray SDK; informational, no budget.",
                detail={
                    "median_ms": round(median(samples[key]), 1),
                    "ratios": [round(v, 3) for v in ratios(key)],
                    "samples_ms": [round(v, 1) for v in samples[key]],
                },
            )
        )
    figures[0].detail.update(common)
    return figures
