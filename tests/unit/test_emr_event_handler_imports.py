"""The EMR event handler's cold start leaves what only a step's or a cluster's end needs for those events."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.fresh_interpreter import fresh_interpreter

DEFERRED = [
    "emr_autopilot.pricing",
    "emr_autopilot.run_cost_estimate",
    "emr_autopilot.run_costs",
    "emr_autopilot.step_completion",
]
_IMPORT_ONLY = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
print(json.dumps({"loaded": sorted(m for m in sys.modules if m.startswith("emr_autopilot."))}))
"""


def test_the_handler_imports_the_step_and_cost_modules_only_when_an_event_needs_them(repo_root: Path) -> None:
    # Given a fresh interpreter, as Lambda's init phase
    # When the EMR event handler's module is imported
    loaded = fresh_interpreter("EmrEventFunction", _IMPORT_ONLY, repo_root)["loaded"]

    # Then its reactions are loaded, but not the modules for a step's end or a cluster's cost
    assert "emr_autopilot.emr_event_reactions.decisions" in loaded
    assert [name for name in DEFERRED if name in loaded] == []
