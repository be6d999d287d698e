"""What the job definition tests of each compute target share: the repository's sample jobs, a jobs folder with the
sample code, and the problems a job file is refused with."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobCatalog, JobDefinition, load_job_file

REPO_JOBS = Path(__file__).resolve().parents[2] / "jobs"
# Words of the libraries underneath that a job file's author should never read in a problem.
NOT_USER_WORDS = ("pydantic", "http", "Input should", "Value error", "should match pattern", "Extra inputs", "^(")


def repo_job(name: str) -> JobDefinition:
    """A sample job of the repository's jobs/, loaded as `jobs deploy` loads it."""
    return load_job_file(REPO_JOBS / f"{name}.yaml", REPO_JOBS)


def repo_sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_JOBS / f"{name}.yaml").read_text(encoding="utf-8"))
    return loaded


def sample_jobs_dir(tmp_path: Path) -> Path:
    """A jobs folder with the samples' code (red_violations/) and no job file yet (the tests' jobs_dir fixture)."""
    target = tmp_path / "jobs"
    target.mkdir()
    shutil.copytree(REPO_JOBS / "red_violations", target / "red_violations")
    return target


def write(jobs_dir: Path, data: dict[str, Any]) -> Path:
    path = jobs_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(JobDefinitionError) as caught:
        load_job_file(path)
    return str(caught.value).splitlines()


_LOADS_A_CATALOG = """
import json, sys
from emr_autopilot.jobs import JobCatalog
catalog = JobCatalog.model_validate_json(sys.stdin.read())
print(json.dumps({"jobs": [job.compute for job in catalog.jobs], "loaded": sys.argv[1] in sys.modules}))
"""


def catalog_load(catalog: JobCatalog, module: str) -> dict[str, Any]:
    """A fresh interpreter loads the deployed catalog, as the run starter reads it: {"jobs": each job's compute,
    "loaded": whether `module` was imported}."""
    result = subprocess.run(
        [sys.executable, "-c", _LOADS_A_CATALOG, module],
        input=catalog.model_dump_json(by_alias=True),
        capture_output=True,
        text=True,
        check=True,
    )
    seen: dict[str, Any] = json.loads(result.stdout)
    return seen
