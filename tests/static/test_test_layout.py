"""The tests' own layout: shared helpers live in tests/helpers/, and no test module imports another test module
or a conftest (pytest loads those itself; importing one runs it twice under two names and couples the tests)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HELPERS = "tests.helpers"


def imported_modules(source: str, module: str) -> list[str]:
    """Every module an import statement of `source` (the module `module`) names, relative imports resolved."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            names.append(base)
            # `from tests.unit import test_x` imports the module test_x
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(source: str, module: str) -> list[str]:
    """The test modules and conftests `source` imports (from anywhere but tests.helpers)."""
    found = set()
    for name in imported_modules(source, module):
        if name == HELPERS or name.startswith(HELPERS + "."):
            continue
        parts = name.split(".")
        if parts[0] != "tests" and len(parts) > 1:
            continue  # another package's module
        for index, part in enumerate(parts):
            if part == "conftest" or part.startswith("test_"):
                found.add(".".join(parts[: index + 1]))
                break
    return sorted(found)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def test_no_test_imports_another_test_module_or_a_conftest() -> None:
    # Given every Python file under tests/
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")):
        # When its imports are read
        found = forbidden_imports(path.read_text(encoding="utf-8"), _module_name(path))
        if found:
            offenders[str(path.relative_to(TESTS.parent))] = found
    # Then none of them is a test module or a conftest
    assert offenders == {}, f"move shared helpers to tests/helpers/: {offenders}"


def test_helpers_hold_no_tests_or_fixtures() -> None:
    # Given the helper modules
    for path in sorted((TESTS / "helpers").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # When their top-level functions are read
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        # Then none is a test (pytest would not collect it there) or a fixture (pytest would not find it)
        assert not [f.name for f in functions if f.name.startswith("test_")], path
        assert not [f.name for f in functions if any("fixture" in ast.unparse(d) for d in f.decorator_list)], path


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from tests.integration.conftest import only", "tests.integration.test_a", ["tests.integration.conftest"]),
        ("from tests.static.test_template import load_template", "tests.unit.test_a", ["tests.static.test_template"]),
        ("import tests.unit.test_b", "tests.unit.test_a", ["tests.unit.test_b"]),
        ("from tests.unit import test_b", "tests.unit.test_a", ["tests.unit.test_b"]),
        ("from .conftest import Runner", "tests.conformance.test_a", ["tests.conformance.conftest"]),
        ("from . import test_b", "tests.unit.test_a", ["tests.unit.test_b"]),
        ("from conftest import x", "tests.unit.test_a", ["conftest"]),
        ("from tests.helpers.integration import only", "tests.integration.test_a", []),
        ("from tests.helpers import fuzzing", "tests.unit.test_a", []),
        ("import json\nfrom emr_autopilot.jobs import load_jobs", "tests.unit.test_a", []),
    ],
)
def test_the_check_tells_test_modules_and_conftests_from_helpers(source: str, module: str, expected: list[str]) -> None:
    # Given an import statement / When it is checked / Then only test modules and conftests are flagged
    assert forbidden_imports(source, module) == expected
