"""What the benchmarks share: paths, the template's functions and their environment, timing helpers."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.local.template import Resolver, load_template, merged_function

REPO_ROOT = Path(__file__).resolve().parents[3]
CACHE_DIR = REPO_ROOT / ".bench-cache"
RESULTS_PATH = REPO_ROOT / "bench-results.json"
STACK_NAME = "emr-autopilot-bench"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def stopwatch(label: str) -> Iterator[None]:
    started = time.monotonic()
    say(f"--> {label}")
    try:
        yield
    finally:
        say(f"    {label}: {time.monotonic() - started:.1f}s")


class _AnyResolver(Resolver):
    """Resolves every Ref and GetAtt to a plausible name: only the environment's shape matters here."""

    def ref(self, name: str) -> Any:
        try:
            return super().ref(name)
        except KeyError:
            return f"{STACK_NAME}-{name}"

    def _get_att(self, arg: Any) -> Any:
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if attribute == "Arn":
            return f"arn:aws:bench:{REGION}:{ACCOUNT_ID}:{STACK_NAME}-{logical}"
        return f"{STACK_NAME}-{logical}-{attribute}"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]
    memory_mb: int


def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def functions(parameters: dict[str, str] | None = None) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with Globals merged and its environment resolved against the
    template's parameter defaults (overridden by `parameters`, e.g. EnableTracing=true)."""
    tpl = template()
    values: dict[str, Any] = {}
    for name, spec in tpl.get("Parameters", {}).items():
        default = spec.get("Default", "")
        values[name] = str(default).split(",") if spec.get("Type") == "CommaDelimitedList" else default
    values.update(parameters or {})
    resolver = _AnyResolver(
        parameters=values,
        pseudo={
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        },
    )
    for name, expression in tpl.get("Conditions", {}).items():
        resolver.conditions[name] = bool(resolver.resolve(expression))
    found = []
    for logical, resource in tpl["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = merged_function(tpl, logical)
        module, handler = props["Handler"].rsplit(".", 1)
        env = {key: str(resolver.resolve(value)) for key, value in props["Environment"]["Variables"].items()}
        found.append(
            FunctionSpec(
                logical_id=logical,
                code_dir=REPO_ROOT / props["CodeUri"],
                module=module,
                handler=handler,
                environment=env,
                memory_mb=int(props.get("MemorySize", 128)),
            )
        )
    return found


def transitions(history: list[dict[str, Any]]) -> int:
    """States entered in an execution's history, Map iterations included: what Step Functions bills."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def entered_states(history: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")
    )


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def venv_bin() -> Path:
    return Path(sys.executable).parent


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment minus what a local runtime in this process set for itself."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_ENDPOINT_URL", "MOTO_PORT") and not key.startswith("POWERTOOLS_")
    }
    env.update(extra or {})
    return env
