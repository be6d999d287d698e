"""Figure 1, cold start: how long each function's handler module takes to import in a fresh interpreter,
next to a bare handler that imports only boto3 from the same layer (a ratio, interleaved; informational).

The budget is on what this project controls (section 1d): each handler's own code, imported after the
libraries' floor (boto3, pydantic, powertools with idempotency, a Logger, a Metrics, one model) has run in
the same interpreter, as a share of that floor's own cold start measured in the same rounds. The ratio to
a bare boto3 handler cannot hold a budget: the floor alone is about 1.45x of it, and both move with the
machine's load, whereas the share moves only when our code does.

As in Lambda:
- the function's code directory first on sys.path, then the layer's `python/` directory, then the
  standard library: the interpreter runs with -S, so nothing of this venv's site-packages is visible
  (the script checks that boto3 came from the layer);
- the layer as `sam build` ships it: layers/shared/Makefile installs the wheels and compiles every
  module to hash-based .pyc files, so nothing in the layer is compiled at a cold start. The function's
  own directory (SAM's python builder) holds no bytecode, and the interpreter runs with -B, so app.py
  is compiled at every cold start, as on /var/task;
- the template's environment for the function, with the parameter defaults (EnableTracing=false, so
  POWERTOOLS_TRACE_DISABLED=true), plus the variables the Lambda runtime sets.

- at a random Python stack depth (0-255 frames, seeded, a new one for every probe). CPython 3.11 keeps
  frames in 16 KiB chunks and frees a chunk as soon as its first frame returns (python/cpython#142183,
  fixed in 3.13, not in 3.11): a hot loop that straddles a chunk boundary maps and unmaps memory on
  every call. Which loops straddle one depends on the depth the import starts at; at one fixed depth a
  harmless one-line change to app.py moved a function by 15-20 ms (measured: about 3,400 mmap calls
  instead of 240). Lambda's bootstrap imports the handler at a depth of its own, so no single depth
  stands for it; the median over random depths does. Each probe's minor page faults are recorded
  beside its time, to show the effect.

The `sam build` layer holds arm64 (aarch64) wheels that cannot be imported on an x86_64 machine, so the
timing layer is built by the same Makefile targets with PLATFORM set to this machine's, by this venv's
python3.11. An informational figure times the same layer without bytecode, as SAM's python builder
shipped it before. Another (1d) times each handler's import after the guide floor's handler has run in
the same interpreter: this project's own code alone, where a regression of a few ms shows plainly.
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

SECTION = (
    "1. Cold start (handler import, fresh interpreter, layer as built; ratio to a bare boto3 handler, informational)"
)
SECTION_NO_BYTECODE = "1c. Cold start without the layer's bytecode (informational: SAM's python builder ships none)"
SECTION_OWN = (
    "1d. This project's own code: the handler's import after the libraries' floor is loaded, as a share of the "
    "floor's cold start (the budget)"
)
SECTION_TRACING = "1b. Cold start with EnableTracing=true (informational; same method and denominator)"
# Own code over the libraries' floor, per function, in percent. Measured at 2-6% on a quiet machine
# (3-11 ms over ~190 ms) and on a loaded one (5-17 ms over ~310 ms) alike: 8% leaves room for a
# rerun's wobble and fails when a function's own import grows by about half.
BUDGET_OWN_SHARE_PCT = 8.0
LAYER_SOURCE = REPO_ROOT / "layers" / "shared"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}

# Runs in the fresh interpreter: times the import of the handler module and nothing else.
_PROBE = """
import resource, sys, time
code, layer, module, depth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path[:0] = [code, layer]
if len(sys.argv) > 5:  # a baseline handler to load first: only what the handler adds over it is timed
    with open(sys.argv[5], encoding="utf-8") as source:
        exec(compile(source.read(), sys.argv[5], "exec"), {"__name__": "_preloaded"})

def at_depth(frames):
    if frames:
        return at_depth(frames - 1)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    __import__(module)
    elapsed = time.perf_counter() - start
    return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

elapsed, faults = at_depth(depth)
loaded_sdk = "boto3" in sys.modules
import boto3
if not boto3.__file__.startswith(layer):
    raise SystemExit("boto3 came from " + boto3.__file__ + ", not the layer")
print(repr(elapsed * 1000.0), faults, int(loaded_sdk))
"""
MAX_DEPTH = 256  # frames: more than one 16 KiB chunk of the probe's small frames

_HANDLER = "\n\ndef handler(event, context):\n    return {}\n"
_GUIDE_FLOOR_IMPORTS = "import boto3\nfrom aws_lambda_powertools import Logger, Metrics\n"
_GUIDE_FLOOR_BODY = """from pydantic import BaseModel, ConfigDict, Field

logger = Logger()
metrics = Metrics()


class Event(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str = Field(min_length=1)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return {}
"""
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
    # What the developers' guide asks of every handler, built the way ours are (defer_build), and nothing
    # of this project: the floor under our functions' ratios.
    "guide_floor": (
        "guide floor: boto3, Logger/Metrics decorating the handler, one deferred pydantic model with a Field",
        _GUIDE_FLOOR_IMPORTS + _GUIDE_FLOOR_BODY,
    ),
    "guide_floor_idempotency": (
        "guide floor + powertools idempotency (4 of our 10 functions use it)",
        _GUIDE_FLOOR_IMPORTS
        + "from aws_lambda_powertools.utilities.idempotency import idempotent_function  # noqa: F401\n"
        + _GUIDE_FLOOR_BODY,
    ),
}
# Loaded before the handler in section 1d: what is left is this project's code, measured without the
# third-party floor whose run-to-run wobble hides a few milliseconds of regression in the ratios.
OWN_CODE_FLOOR = "guide_floor_idempotency"


@dataclass(frozen=True)
class Variant:
    key: str
    code_dir: Path
    module: str
    env: dict[str, str]
    layer: Path
    preload: Path | None = None  # a baseline's app.py, run before the timed import


def layer_dir() -> Path:
    """The timing copy of the layer, built by layers/shared/Makefile with this machine's wheels. The
    dependencies are cached by the hash of requirements.txt and the Makefile; the application package
    is rebuilt every run (it is what changes)."""
    root = CACHE_DIR / f"layer-{platform.machine()}-built"
    stamp = root / "inputs.sha256"
    digest = hashlib.sha256(
        (LAYER_SOURCE / "requirements.txt").read_bytes() + (LAYER_SOURCE / "Makefile").read_bytes()
    ).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != digest:
        say(f"    building the timing layer with layers/shared/Makefile into {root.relative_to(REPO_ROOT)}")
        shutil.rmtree(root, ignore_errors=True)
        _make(root, "layer-dependencies")
        stamp.write_text(digest + "\n")
    _make(root, "layer-package")
    return root / "python"


def _make(root: Path, target: str) -> None:
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(LAYER_SOURCE),
            target,
            f"ARTIFACTS_DIR={root}",
            f"PYTHON={sys.executable}",
            f"PLATFORM={PLATFORMS[platform.machine()]}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"make {target} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def without_bytecode(layer: Path) -> Path:
    """The same layer with every .pyc left out: what SAM's python3.11 builder shipped."""
    target = layer.parent.parent / f"{layer.parent.name}-no-bytecode" / "python"
    _no_bytecode_copy(layer, target)
    return target


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


def _variants(layer: Path, plain_layer: Path) -> tuple[list[Variant], list[FunctionSpec]]:
    work = CACHE_DIR / "handlers"
    default, traced = functions(), {f.logical_id: f for f in functions({"EnableTracing": "true"})}
    baseline_code = {key: work / f"_{key}" for key in BASELINES}
    for key, (_, source) in BASELINES.items():
        shutil.rmtree(baseline_code[key], ignore_errors=True)
        baseline_code[key].mkdir(parents=True)
        (baseline_code[key] / "app.py").write_text(source, encoding="utf-8")
    variants = []
    for spec in default:
        code = work / spec.logical_id
        _no_bytecode_copy(spec.code_dir, code)
        env = _lambda_env(spec.environment, spec.logical_id, code, 256)
        variants.append(Variant(spec.logical_id, code, spec.module, env, layer))
        variants.append(Variant(f"{spec.logical_id}:no-bytecode", code, spec.module, env, plain_layer))
        own_floor = baseline_code[OWN_CODE_FLOOR] / "app.py"
        variants.append(Variant(f"{spec.logical_id}:own", code, spec.module, env, layer, own_floor))
        tracing = traced[spec.logical_id]
        variants.append(
            Variant(
                f"{spec.logical_id}+tracing",
                code,
                spec.module,
                _lambda_env(tracing.environment, spec.logical_id, code, 256),
                layer,
            )
        )
    # The baselines get the Globals environment (POWERTOOLS_*, PYDANTIC_*), as any function of this template would.
    globals_env = {k: v for k, v in default[0].environment.items() if k.startswith(("POWERTOOLS_", "PYDANTIC_"))}
    for key, code in baseline_code.items():
        env = _lambda_env(globals_env, f"bench-{key}", code, 256)
        variants.append(Variant(key, code, "app", env, layer))
        if key == "bare":
            variants.append(Variant("bare:no-bytecode", code, "app", env, plain_layer))
    return variants, default


@dataclass(frozen=True)
class Sample:
    ms: float
    page_faults: int
    loaded_boto3: bool


def _probe(variant: Variant, depth: int = 0) -> Sample:
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-B",
            "-c",
            _PROBE,
            str(variant.code_dir),
            str(variant.layer),
            variant.module,
            str(depth),
            *([str(variant.preload)] if variant.preload else []),
        ],
        env=variant.env,
        cwd=variant.code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe of {variant.key} failed:\n{done.stderr[-2000:]}")
    ms, faults, loaded = done.stdout.strip().splitlines()[-1].split()
    return Sample(float(ms), int(faults), loaded == "1")


def measure(rounds: int = 15, seed: int = 7) -> list[Figure]:
    layer = layer_dir()
    variants, specs = _variants(layer, without_bytecode(layer))
    say(
        f"    {len(variants)} variants x ({rounds} rounds + 1 warm-up), shuffled within each round, "
        f"each probe at a random stack depth below {MAX_DEPTH}"
    )
    # Warm-up: the page cache, not the interpreter (each probe is a new one). It also records which
    # handlers load boto3 at import (the Livy HTTP tasks do not: they call AWS only when Livy is down).
    loads_boto3 = {variant.key: _probe(variant).loaded_boto3 for variant in variants}
    samples: dict[str, list[float]] = {v.key: [] for v in variants}
    faults: dict[str, list[int]] = {v.key: [] for v in variants}
    depths = random.Random(seed)
    for number in range(rounds):
        order = list(variants)
        random.Random(seed + number).shuffle(order)
        for variant in order:
            sample = _probe(variant, depths.randrange(MAX_DEPTH))
            samples[variant.key].append(sample.ms)
            faults[variant.key].append(sample.page_faults)
        say(f"    round {number + 1}/{rounds}: bare {samples['bare'][-1]:.0f} ms")

    bare = samples["bare"]

    def ratios(key: str, denominator: str = "bare") -> list[float]:
        """Per-round ratios: each sample over the denominator's sample of the same round."""
        return [value / base for value, base in zip(samples[key], samples[denominator], strict=True)]

    def recorded(key: str) -> dict[str, object]:
        return {
            "samples_ms": [round(v, 1) for v in samples[key]],
            "page_faults_median": round(median([float(v) for v in faults[key]])),
        }

    def ratio_detail(key: str) -> dict[str, object]:
        return {
            "median_ms": round(median(samples[key]), 1),
            "ratios": [round(v, 3) for v in ratios(key)],
            **recorded(key),
        }

    common = {
        "rounds": rounds,
        "stack_depth": f"random, 0-{MAX_DEPTH - 1} frames per probe (CPython 3.11 stack chunks: python/cpython#142183)",
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
            detail={**common, **recorded("bare")},
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
                detail={"source": source, **ratio_detail(key)},
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
                note="informational (the budget is on own code, 1d): median of per-round ratios "
                "(function import / bare import in the same round)"
                + ("" if loads_boto3[key] else "; imports no boto3: it talks only to Livy unless Livy is down"),
                detail={
                    **ratio_detail(key),
                    "ratio_of_medians": round(median(samples[key]) / median(bare), 3),
                    "over_skeleton_ms": round(median(samples[key]) - median(samples["skeleton"]), 1),
                    "loads_boto3_at_import": loads_boto3[key],
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
                detail=ratio_detail(key),
            )
        )
    plain_bare = samples["bare:no-bytecode"]
    figures.append(
        Figure(
            id="cold_start.no_bytecode.bare_ms",
            section=SECTION_NO_BYTECODE,
            name=f"bare handler without the layer's .pyc (with: {median(bare):.0f} ms)",
            value=round(median(plain_bare), 1),
            unit="ms",
            note="informational: what shipping bytecode saves every cold start",
            detail=recorded("bare:no-bytecode"),
        )
    )
    for spec in specs:
        key = f"{spec.logical_id}:no-bytecode"
        plain_ratios = ratios(key, "bare:no-bytecode")
        figures.append(
            Figure(
                id=f"cold_start.{spec.logical_id}.no_bytecode_ms",
                section=SECTION_NO_BYTECODE,
                name=f"{spec.logical_id} without the layer's .pyc (with: {median(samples[spec.logical_id]):.0f} ms; "
                f"ratio to the bare handler without: {median(plain_ratios):.2f}x)",
                value=round(median(samples[key]), 1),
                unit="ms",
                note="informational",
                detail={
                    "ratio_to_bare_without_bytecode": round(median(plain_ratios), 3),
                    **recorded(key),
                },
            )
        )
    floor = samples[OWN_CODE_FLOOR]
    figures.append(
        Figure(
            id="cold_start.libraries_floor_ms",
            section=SECTION_OWN,
            name=f"the libraries' floor ('{OWN_CODE_FLOOR}' handler, fresh interpreter), median: the denominator",
            value=round(median(floor), 1),
            unit="ms",
            note="the denominator of every share below, measured in the same rounds",
            detail={"source": BASELINES[OWN_CODE_FLOOR][1], **recorded(OWN_CODE_FLOOR)},
        )
    )
    for spec in specs:
        key = f"{spec.logical_id}:own"
        shares = [100.0 * own / base for own, base in zip(samples[key], floor, strict=True)]
        figures.append(
            Figure(
                id=f"cold_start.{spec.logical_id}.own_code_share",
                section=SECTION_OWN,
                name=f"{spec.logical_id}: app.py and the emr_autopilot modules it imports "
                f"(median {median(samples[key]):.1f} ms)",
                value=round(median(shares), 2),
                unit="%",
                budget=BUDGET_OWN_SHARE_PCT,
                note=f"median of per-round shares: the handler's import after the '{OWN_CODE_FLOOR}' handler has "
                f"run (boto3, pydantic, powertools and idempotency loaded, a Logger, a Metrics and one model defined) "
                f"/ that handler's own cold start in the same round",
                detail={
                    "preloaded": BASELINES[OWN_CODE_FLOOR][1],
                    "own_code_median_ms": round(median(samples[key]), 1),
                    "floor_median_ms": round(median(floor), 1),
                    "shares_pct": [round(v, 2) for v in shares],
                    **recorded(key),
                },
            )
        )
    return figures
