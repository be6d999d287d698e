"""What the fuzz tests share: hypothesis settings by profile, strategies for bad input, and the counts.

FUZZ_PROFILE=fast (the default, `make test`): few examples, derandomized, so a run is quick and
repeatable. FUZZ_PROFILE=deep (`make reliability`): many random examples. FUZZ_REPORT=<file> adds
this run's counts per target to that JSON file.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("FUZZ_PROFILE", "fast")
EXAMPLES = {"fast": 15, "deep": 300}[PROFILE]


def fuzz_settings(examples: int | None = None) -> settings:
    return settings(
        max_examples=examples or EXAMPLES,
        derandomize=PROFILE == "fast",  # the same examples on every `make test`
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# -- bad input ------------------------------------------------------------------------------------
MISSING = object()  # "delete this key"
HUGE = "x" * 300_000  # more than SQS, SNS or an EventBridge event accepts
WEIRD_STRINGS = [
    "",
    " ",
    "\x00\x01\x7f",
    "é∂ ünïcødé 🙂 漢字",
    "\u202eevil",
    "../../etc/passwd",
    "{input_uri}{{}}",
    "${AWS::Region}",
    "null",
    "9" * 400,
    "2026-13-45T99:99:99Z",
    "j-" + "A" * 300,
    "é" * 70_000,
    HUGE,
]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(WEIRD_STRINGS)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
replacements = st.just(MISSING) | st.none() | json_values | st.sampled_from(WEIRD_STRINGS)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document: dict keys and list indexes, the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _put(document: Any, path: tuple[Any, ...], value: Any) -> None:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if value is MISSING:
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = None
    else:
        parent[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to three places deleted, nulled, or given a value of another type or size."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        _put(document, draw(st.sampled_from(paths)), draw(replacements))
    return document


def bad_events(*bases: Any) -> st.SearchStrategy[Any]:
    """Samples mutated, unknown detail-types, any JSON at all, and the samples themselves."""
    typed = [base for base in bases if isinstance(base, dict) and "detail-type" in base]
    unknown = [{**base, "detail-type": "Something EMR Adds Next Year"} for base in typed]
    return st.one_of(
        st.sampled_from(bases),
        st.one_of(*(mutated(base) for base in bases)),
        st.sampled_from(unknown) if unknown else st.nothing(),
        json_values,
    )


# -- counting ---------------------------------------------------------------------------------------
class Tally:
    """Per target: examples seen and how each ended. `unhandled` and `lost` must stay 0."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}

    def add(self, target: str, outcome: str) -> None:
        self.counts.setdefault(target, Counter())[outcome] += 1
        self.counts[target]["examples"] += 1

    def write(self, kind: str) -> None:
        path = os.environ.get("FUZZ_REPORT")
        if not path:
            return
        report = Path(path)
        existing = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
        existing.setdefault(kind, {}).update(
            {
                target: {"unhandled": 0, "lost": 0, **dict(counts), "profile": PROFILE}
                for target, counts in sorted(self.counts.items())
            }
        )
        report.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
