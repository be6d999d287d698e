"""No import cycles in the shared package or the dev kit.

The graph is built by grimp from the source (ast; nothing is imported or run), and counts every import:
top-level, inside a function, and under TYPE_CHECKING. A cycle is any direct import a -> b with a chain
back from b to a."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

PACKAGES = ("emr_autopilot", "emr_autopilot_devkit")


def import_cycles(*packages: str) -> list[str]:
    graph = grimp.build_graph(*packages, cache_dir=None)
    cycles = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycle = (importer, *back)
                start = cycle.index(min(cycle[:-1]))  # one spelling per cycle, whichever edge found it
                cycles.add(" -> ".join((*cycle[start:-1], *cycle[:start], cycle[start])))
    return sorted(cycles)


def test_the_shared_package_and_the_dev_kit_have_no_import_cycle() -> None:
    # Given the import graph of both packages
    # When it is searched for cycles
    cycles = import_cycles(*PACKAGES)
    # Then there is none
    assert cycles == []


@pytest.fixture
def cyclic_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    package = tmp_path / "cyclic_sample"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic_sample import b\n")
    (package / "b.py").write_text("def late():\n    from cyclic_sample.a import x  # a function-level import\n")
    (package / "c.py").write_text("import cyclic_sample.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "cyclic_sample"
    sys.modules.pop("cyclic_sample", None)


def test_the_check_finds_a_cycle_through_a_function_level_import(cyclic_package: str) -> None:
    # Given a package where a imports b at the top and b imports a inside a function
    # When it is searched for cycles
    cycles = import_cycles(cyclic_package)
    # Then the one cycle is reported once, and c (which only imports a) is not in it
    assert cycles == ["cyclic_sample.a -> cyclic_sample.b -> cyclic_sample.a"]
