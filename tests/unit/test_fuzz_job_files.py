"""Job definition files, fuzzed: the sample job mutated field by field, any YAML document, any text.

load_job_file must either return a job or raise JobDefinitionError naming the file and the field;
any other exception is a crash of `jobs validate`/`jobs deploy` with a traceback instead of a reason."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobDefinition, load_job_file
from tests.helpers.fuzzing import WEIRD_STRINGS, Tally, fuzz_settings, json_values, mutated

JOBS = Path(__file__).resolve().parents[2] / "jobs"
SAMPLE = yaml.safe_load((JOBS / "red-violations.yaml").read_text(encoding="utf-8"))
TALLY = Tally()
# Every reason says what was read, what is missing or what is unknown; none is in pydantic's or a regex's words.
USER_MARKS = ("read ", "missing", "unknown field", "cannot be read", "expected a mapping")
NOT_USER_WORDS = ("pydantic", "http", "Input should", "Value error", "pattern", "Extra inputs", "should be", "^(")

# YAML that is valid YAML but not a job: tags, anchors, merges, odd scalars, documents.
ODD_YAML = [
    "",
    "~",
    "[]",
    "- a\n- b\n",
    "name: !!python/object:os.system echo\n",
    "name: &a [*a]\n",
    "a: &x [1, 2]\nb: &y [*x, *x, *x, *x]\nc: [*y, *y, *y, *y]\nname: red-violations\n",
    "<<: {name: red-violations}\n",
    "name: red-violations\nname: again\n",
    "--- \nname: one\n---\nname: two\n",
    "name: red-violations\nrun_timeout: 1e400\n",
    "name: red-violations\nrun_timeout: .inf\n",
    "name: red-violations\nrun_timeout: 2026-11-21\n",
    "\ufeffname: red-violations\n",
    "name: 'unterminated\n",
    "\t- tabs\n",
    "0000-0-0T0:00:00",  # PyYAML raises ValueError, not YAMLError, for year 0
    "name: red-violations\nrun_timeout: 9999-12-31T23:59:59\n",
]


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A jobs/ directory holding the sample job's files, so a valid definition is found valid."""
    target = tmp_path_factory.mktemp("jobs")
    shutil.copytree(JOBS / "red_violations", target / "red_violations")
    yield target
    TALLY.write("job_files")


documents = st.one_of(
    mutated(SAMPLE).map(lambda job: yaml.safe_dump(job, allow_unicode=True, sort_keys=False)),
    json_values.map(lambda value: yaml.safe_dump(value, allow_unicode=True)),
    st.sampled_from(ODD_YAML),
    st.text(max_size=300),
    st.sampled_from(WEIRD_STRINGS),
)


def _name_of(text: str) -> str:
    """The file name a user would give it: the job's name when it has one that is a plain word."""
    try:
        loaded: Any = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
        return "fuzz"
    name = loaded.get("name") if isinstance(loaded, dict) else None
    plain = isinstance(name, str) and len(name) <= 100 and name.isascii() and name.replace("-", "").isalnum()
    return str(name) if plain else "fuzz"


@fuzz_settings(examples=None)
@given(text=documents)
def test_a_job_file_is_either_a_job_or_an_error_that_names_the_problem(jobs_dir: Path, text: str) -> None:
    # Given a job file with any content
    path = jobs_dir / f"{_name_of(text)}.yaml"
    path.write_text(text, encoding="utf-8")

    # When it is loaded
    try:
        job = load_job_file(path, jobs_dir)
    except JobDefinitionError as exc:
        # Then it is refused with the file's name and at least one reason
        TALLY.add("load_job_file", "rejected")
        assert str(path) in str(exc)
        assert exc.problems
        # in the job file's words: what was read or what is missing, never pydantic's words or links
        for problem in exc.problems:
            if "not valid YAML" in problem:  # PyYAML's own report, with its line and column
                continue
            assert any(mark in problem for mark in USER_MARKS), problem
            assert not any(word in problem for word in NOT_USER_WORDS), problem
        return
    except Exception:
        TALLY.add("load_job_file", "unhandled")
        raise
    finally:
        path.unlink()
    # Or it is a job, named as its file is
    TALLY.add("load_job_file", "valid")
    assert isinstance(job, JobDefinition)
    assert job.name == path.stem


def test_the_sample_job_unchanged_is_valid(jobs_dir: Path) -> None:
    # Given the sample job as it is (the one document the strategy above must find valid)
    path = jobs_dir / "red-violations.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(SAMPLE), sort_keys=False), encoding="utf-8")
    # When it is loaded / Then it is a job: the fuzzing above does not only ever see invalid input
    assert load_job_file(path, jobs_dir).name == "red-violations"
