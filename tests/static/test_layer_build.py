"""The shared layer's build (layers/shared/Makefile, which `sam build` runs) ships bytecode.

Only the application-package step runs here: the dependency step is pip against the registry, which
`make bench` (package size, cold start) and `make build` exercise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.template import load_template

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "shared"
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


@pytest.fixture(scope="module")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(LAYER_SOURCE),
            "layer-package",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
    return artifacts / "python" / "emr_autopilot"


def test_the_template_builds_the_layer_with_its_makefile() -> None:
    # Given the template
    template = load_template()
    # When the layer's build settings are read
    metadata = template["Resources"]["SharedLayer"]["Metadata"]
    # Then sam build runs layers/shared/Makefile's build-SharedLayer target for arm64
    assert (metadata["BuildMethod"], metadata["BuildArchitecture"]) == ("makefile", "arm64")
    assert "build-SharedLayer:" in (LAYER_SOURCE / "Makefile").read_text()


def test_every_module_ships_with_bytecode_of_its_own_source(built_package: Path) -> None:
    # Given the package step of the layer build (run by the fixture)
    sources = sorted(built_package.rglob("*.py"))
    assert len(sources) == len(list((LAYER_SOURCE / "emr_autopilot").rglob("*.py")))
    for source in sources:
        # When its .pyc is read
        header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
        # Then it is this Python's bytecode, hash-based and unchecked (/opt is read-only, mtimes do not
        # matter), and its hash is the shipped source's
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, source
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), source
