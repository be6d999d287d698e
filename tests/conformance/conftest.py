"""The conformance tests' fixture: one local runtime per test module (fast clock), wrapped in the Runner
of tests/helpers/conformance.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.conformance import Runner


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runner]:
    """A started local runtime (moto server, EMR simulator, fast clock), shared by a module's tests."""
    stack = LocalRuntime().start()
    try:
        yield Runner(stack)
    finally:
        stack.stop()
