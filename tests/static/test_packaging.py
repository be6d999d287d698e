"""Packaging: the operator CLI installs and runs without the local runtime's dependencies (moto and its
server), which are the `local` extra; every declared dependency is used and pinned in requirements-dev.lock."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements-dev.lock"
# What only the local runtime (the `local` extra) or Spark (the `spark` extra) brings.
LOCAL_ONLY = ("moto", "flask", "werkzeug", "jsonata", "pyspark", "emr_autopilot_devkit.local")
# The distribution each declared dependency is imported as.
IMPORT_NAMES = {"aws-lambda-powertools": "aws_lambda_powertools", "pyyaml": "yaml", "jsonata-python": "jsonata"}
# pyspark is found with importlib.util.find_spec (the local step runner runs its spark-submit), not imported.
# Runs the CLI in a fresh interpreter and prints which of LOCAL_ONLY it loaded.
_PROBE = """
import json, sys
for blocked in json.loads(sys.argv[1]):
    sys.modules[blocked] = None  # as if not installed
if sys.argv[2]:
    __import__(sys.argv[2])
from emr_autopilot_devkit.cli import main
code = 0
try:
    main(json.loads(sys.argv[3]), prog_name="emr-autopilot")
except SystemExit as exit:
    code = exit.code
local_only = json.loads(sys.argv[4])
loaded = sorted({name for name in local_only for module in sys.modules if (module + ".").startswith(name + ".")})
print(json.dumps({"exit": code, "loaded": loaded}))
"""


@dataclass(frozen=True)
class CliRun:
    exit: object
    loaded: list[str]
    stderr: str


def run_cli(args: list[str], *, preload: str = "", blocked: tuple[str, ...] = ()) -> CliRun:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(blocked), preload, json.dumps(args), json.dumps(LOCAL_ONLY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return CliRun(result["exit"], result["loaded"], done.stderr)


def _dependencies(extra: str | None = None) -> list[Requirement]:
    project = PYPROJECT["project"]
    declared = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(line) for line in declared]


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements-dev.lock: not an exact pin: {line!r}"
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["jobs", "validate", "--jobs-dir", "jobs"],
        ["jobs", "deploy", "--help"],
        ["run", "--help"],
        ["runs", "--help"],
        ["reap", "--help"],
        ["local", "--help"],
    ],
    ids=" ".join,
)
def test_the_operator_cli_imports_nothing_of_the_local_runtime(args: list[str]) -> None:
    # Given a fresh interpreter / When the CLI runs a command that is not a local runtime's
    result = run_cli(args)
    # Then it succeeds without loading moto, its server, JSONata, Spark or the local runtime
    assert result.exit == 0, result.stderr
    assert result.loaded == []


def test_the_probe_sees_the_local_runtime_when_it_is_loaded() -> None:
    # Given a fresh interpreter that has loaded moto / When the CLI prints its help
    result = run_cli(["--help"], preload="moto")
    # Then the probe reports moto: the test above can fail
    assert "moto" in result.loaded


def test_a_local_command_without_the_extra_names_the_extra() -> None:
    # Given an environment without moto / When a local runtime command runs
    result = run_cli(["local", "demo"], blocked=("moto",))
    # Then it fails with what to install, not with an ImportError's traceback
    assert result.exit == 1
    assert "pip install 'emr-autopilot[local]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_runtime_dependencies_leave_the_local_runtime_to_its_extra() -> None:
    # Given the declared dependencies / Then the CLI's own name no local runtime library, and the extra does
    runtime = {req.name.lower() for req in _dependencies()}
    local = {req.name.lower() for req in _dependencies("local")}
    assert runtime.isdisjoint({"moto", "jsonata-python", "flask", "werkzeug", "pyspark"}), runtime
    assert "moto" in local


@pytest.mark.parametrize("extra", [None, "local", "spark"])
def test_every_declared_dependency_is_imported_somewhere(extra: str | None) -> None:
    # Given the code of the layer, the functions and the dev kit
    sources = [
        path.read_text(encoding="utf-8")
        for tree in ("layers/shared", "functions", "devkit")
        for path in (ROOT / tree).rglob("*.py")
    ]
    for req in _dependencies(extra):
        module = IMPORT_NAMES.get(req.name.lower(), req.name.lower().replace("-", "_"))
        # When its import name is searched / Then some module imports it (else it is an unused dependency)
        assert any(
            f"import {module}" in source or f"from {module}" in source or f'find_spec("{module}")' in source
            for source in sources
        ), f"{req.name} is declared but never imported"


@pytest.mark.parametrize("extra", [None, "local", "spark"])
def test_every_declared_dependency_is_pinned_in_the_lock_within_its_range(extra: str | None) -> None:
    # Given the lock / When each declared dependency is looked up / Then it is pinned to a version it allows
    pins = _lock()
    for req in _dependencies(extra):
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} is not in requirements-dev.lock"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} is outside {req.specifier}"


def test_the_lock_pins_the_structure_gates() -> None:
    # Given the lock / Then `make complex` (radon, xenon) and the import-graph test (grimp) have their tools pinned
    assert {"radon", "xenon", "grimp"} <= set(_lock())
