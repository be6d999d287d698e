"""The Makefile: `make help` lists every target, and no two targets of `make test` run the same command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
# A rule for a named target: `name: prerequisites`, not a variable (`:=`) or a file target ($(VENV)/...).
_RULE = re.compile(r"^([a-z][a-z-]*):(?!=)([^#\n]*)", re.MULTILINE)


def targets(makefile: str) -> dict[str, list[str]]:
    """Each named target with its prerequisites."""
    return {match[1]: match[2].split() for match in _RULE.finditer(makefile)}


def recipes(makefile: str) -> dict[str, list[str]]:
    """Each named target's recipe lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in makefile.splitlines():
        rule = _RULE.match(line)
        if rule:
            current = found.setdefault(rule[1], [])
        elif line.startswith("\t") and current is not None:
            current.append(line.strip())
        elif not line.startswith("\t"):
            current = None
    return found


def listed_in_help(help_text: str) -> set[str]:
    return set(re.findall(r"^make ([a-z][a-z-]*)\s", help_text, re.MULTILINE))


def test_make_help_lists_every_target() -> None:
    # Given the Makefile's targets / When `make help` runs
    shown = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    # Then it names each of them, and nothing else
    assert listed_in_help(shown) == set(targets(MAKEFILE))


def test_no_two_targets_run_the_same_command() -> None:
    # Given every named target's recipe
    owners: dict[str, list[str]] = {}
    for target, lines in recipes(MAKEFILE).items():
        for line in lines:
            owners.setdefault(line, []).append(target)
    # Then each command belongs to one target (validate and static used to run one script each)
    assert {line: names for line, names in owners.items() if len(names) > 1} == {}


def test_make_test_runs_every_gate_once() -> None:
    # Given `make test`'s prerequisites
    prerequisites = targets(MAKEFILE)["test"]
    # Then the complexity gate, the template checks and the static tests are among them, once each
    assert [prerequisites.count(gate) for gate in ("complex", "validate", "static")] == [1, 1, 1], prerequisites


def test_the_checks_read_what_they_should() -> None:
    # Given a small Makefile / When it is read / Then targets, recipes and help lines come out as written
    makefile = (
        "X := 1\n$(V)/.ok: a\n\ttouch $@\nhelp: ## list\n\t@awk\ntest: a b ## all\na:\n\tbash s.sh\nb:\n\tbash s.sh\n"
    )
    assert targets(makefile) == {"help": [], "test": ["a", "b"], "a": [], "b": []}
    rules = recipes(makefile)
    assert rules["a"] == rules["b"] == ["bash s.sh"]
    assert listed_in_help("make help   list\nmake test   all\n  more text\n") == {"help", "test"}
