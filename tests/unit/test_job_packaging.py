"""`jobs package` and `jobs deploy` for a job's Python project: the target (Python, architecture) read from the job,
the zip and the packed environment (built by pip with the target's --platform tags, then venv-pack), a dependency
without a wheel for the target refused by name, and content-addressed uploads (real moto) that a second deploy
skips.

No network: pip reads only a wheelhouse the tests write (PIP_NO_INDEX, PIP_FIND_LINKS)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from emr_autopilot.catalog import CATALOG_KEY
from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobCatalog, JobDefinition
from emr_autopilot.runs import build_run_input
from emr_autopilot_devkit.cli import main as cli
from emr_autopilot_devkit.deploy_jobs import StackOutputs, deploy_jobs
from emr_autopilot_devkit.packaging import (
    PackageBuildError,
    Target,
    build_environment,
    is_graviton,
    requirements_of,
    source_zip,
    target_for,
)
from tests.helpers.deploy_outputs import BUCKET, REGION, stack_outputs
from tests.helpers.wheels import wheel

REPO_JOBS = Path(__file__).resolve().parents[2] / "jobs"
JOB = "red-violations-packaged"
SOURCE = "red_violations_packaged"
OUTPUTS = stack_outputs()
GRAVITON_PY39 = Target("3.9", "aarch64", (2, 34), "/usr", "a test target")


@pytest.fixture
def wheelhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only these: a pure-Python wheel, one built for x86_64 Linux only, and an sdist only."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    wheel(folder, "purefixture", "py3-none-any")
    wheel(folder, "x86fixture", "cp39-cp39-manylinux2014_x86_64")
    with tarfile.open(folder / "sdistfixture-1.0.tar.gz", "w:gz") as sdist:
        info = tarfile.TarInfo("sdistfixture-1.0/PKG-INFO")
        sdist.addfile(info)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # no machine-wide index or links
    return folder


def jobs_dir(tmp_path: Path, requirements: str = "purefixture==1.0\n", **package: Any) -> Path:
    """The packaged sample and its project, with the given requirements."""
    target = tmp_path / "jobs"
    target.mkdir()
    shutil.copytree(REPO_JOBS / SOURCE, target / SOURCE, ignore=shutil.ignore_patterns("__pycache__"))
    (target / SOURCE / "requirements.txt").write_text(requirements, encoding="utf-8")
    raw = yaml.safe_load((REPO_JOBS / f"{JOB}.yaml").read_text(encoding="utf-8"))
    raw["package"].update(package)
    (target / f"{JOB}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


def sample(**changes: Any) -> JobDefinition:
    raw = yaml.safe_load((REPO_JOBS / f"{JOB}.yaml").read_text(encoding="utf-8"))
    raw.update(changes)
    return JobDefinition.model_validate(raw)


@pytest.mark.parametrize(
    ("instance_type", "graviton"),
    [
        *[("m6g.xlarge", True), ("r7gd.2xlarge", True), ("c7gn.large", True), ("x2gd.xlarge", True)],
        *[("m5.xlarge", False), ("g4dn.xlarge", False), ("g5.xlarge", False), ("m7i-flex.large", False)],
    ],
)
def test_graviton_instance_types_are_told_from_x86_ones(instance_type: str, graviton: bool) -> None:
    # Given an instance type / When its family is read / Then a "g" after the generation digit means Graviton
    assert is_graviton(instance_type) is graviton


def test_the_target_comes_from_the_release_and_the_instance_types() -> None:
    # Given the Graviton-only packaged sample on emr-7.5.0
    target = target_for(sample())
    # Then it is Python 3.9 on aarch64 with Amazon Linux 2023's glibc, and pip asks for those wheels only
    assert (target.python, target.platform, target.glibc, target.python_prefix) == ("3.9", "aarch64", (2, 34), "/usr")
    options = target.pip_options()
    assert "--only-binary=:all:" in options and "manylinux_2_34_aarch64" in options
    assert options[options.index("--python-version") + 1] == "3.9"
    assert not any("x86_64" in word for word in options)


def test_a_cluster_of_both_architectures_takes_pure_python_wheels_only() -> None:
    # Given the sample with an x86 type added to its core fleet
    raw = yaml.safe_load((REPO_JOBS / f"{JOB}.yaml").read_text(encoding="utf-8"))
    raw["cluster"]["instance_fleets"][1]["instance_types"].append({"instance_type": "m5.xlarge"})
    # When its target is read / Then it is "any": a wheel for one architecture would not run on the other
    target = target_for(JobDefinition.model_validate(raw))
    assert target.platform == "any"
    assert target.pip_options()[-2:] == ["--platform", "any"]


def test_the_source_zip_is_a_digest_of_the_projects_files(tmp_path: Path) -> None:
    # Given the sample's project, zipped twice, then with one module changed and a bytecode cache added
    jobs = jobs_dir(tmp_path)
    package = sample().package
    assert package is not None
    first, second = source_zip(jobs, package), source_zip(jobs, package)
    (jobs / SOURCE / "violations" / "__pycache__").mkdir()
    (jobs / SOURCE / "violations" / "__pycache__" / "columns.cpython-311.pyc").write_bytes(b"\0")
    unchanged = source_zip(jobs, package)
    (jobs / SOURCE / "violations" / "columns.py").write_text("REQUIRED = ()\n", encoding="utf-8")
    changed = source_zip(jobs, package)
    # Then the same files give the same bytes, a cache changes nothing, and a changed module changes the zip
    assert first == second == unchanged
    assert changed != first
    names = zipfile.ZipFile(__import__("io").BytesIO(first)).namelist()
    assert {"main.py", "violations/columns.py", "violations/counting.py"} <= set(names)
    assert not any("__pycache__" in name for name in names)


def test_requirements_come_from_the_file_or_the_pyprojects_dependencies_and_take_no_pip_options(
    tmp_path: Path,
) -> None:
    # Given a requirements file with comments, a pyproject.toml, and a requirements file with a pip option
    jobs = jobs_dir(tmp_path, "# pinned\ntoolz==1.0.0  # functional helpers\n\n")
    (jobs / SOURCE / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\ndependencies = ["toolz==1.0.0", "attrs>=23"]\n', encoding="utf-8"
    )
    package = sample().package
    assert package is not None
    # When each is read / Then the requirement lines are the inputs, and an option is refused by name
    assert requirements_of(jobs, package) == ["toolz==1.0.0"]
    as_pyproject = package.model_copy(update={"requirements": f"{SOURCE}/pyproject.toml"})
    assert requirements_of(jobs, as_pyproject) == ["toolz==1.0.0", "attrs>=23"]
    (jobs / SOURCE / "requirements.txt").write_text("-r other.txt\n", encoding="utf-8")
    with pytest.raises(JobDefinitionError, match=r"read '-r other\.txt'"):
        requirements_of(jobs, package)


def test_an_environment_is_built_for_the_targets_python_and_packed_with_its_interpreter(
    tmp_path: Path, wheelhouse: Path
) -> None:
    # Given a pure-Python requirement and a Graviton Python 3.9 target
    output = tmp_path / "environment.tar.gz"
    # When the environment is built
    build_environment(JOB, ["purefixture==1.0"], GRAVITON_PY39, output)
    # Then the package is in the target's site-packages, and bin/python is the target's interpreter
    with tarfile.open(output) as archive:
        members = {member.name: member for member in archive.getmembers()}
        config = archive.extractfile("pyvenv.cfg")
        assert config is not None
        pyvenv = config.read().decode()
    assert "lib/python3.9/site-packages/purefixture/__init__.py" in members
    assert members["bin/python"].issym() and members["bin/python"].linkname == "/usr/bin/python3.9"
    assert "home = /usr/bin" in pyvenv and "include-system-site-packages = false" in pyvenv
    assert [name for name in members if name == "pyvenv.cfg"] == ["pyvenv.cfg"]


def test_a_dependency_with_wheels_for_x86_only_is_refused_for_graviton_by_name(
    tmp_path: Path, wheelhouse: Path
) -> None:
    # Given a dependency published only for x86_64 Linux, and a Graviton target
    # When the environment is built / Then it fails naming the package and the target
    with pytest.raises(PackageBuildError) as caught:
        build_environment(JOB, ["purefixture==1.0", "x86fixture==1.0"], GRAVITON_PY39, tmp_path / "environment.tar.gz")
    problem = caught.value.problems[0]
    assert problem.startswith("package.requirements: x86fixture has no wheel for the target")
    assert "linux aarch64" in problem and "Python 3.9" in problem
    assert not (tmp_path / "environment.tar.gz").exists()


def test_jobs_package_fails_naming_the_package_without_a_wheel(tmp_path: Path, wheelhouse: Path) -> None:
    # Given the Graviton sample whose requirements name a package published as source only (nothing can build it
    # for the target's interpreter here)
    jobs = jobs_dir(tmp_path, "sdistfixture==1.0\n")
    # When `jobs package` runs
    result = CliRunner().invoke(cli, ["jobs", "package", "--jobs-dir", str(jobs)])
    # Then it fails, naming the package and the target, and packaged nothing
    assert result.exit_code == 1, result.output
    assert "sdistfixture has no wheel for the target" in result.output and "linux aarch64" in result.output
    assert "nothing was packaged" in result.output


class Aws:
    def __init__(self, tmp_path: Path) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        self.scheduler.create_schedule_group(Name=OUTPUTS["ScheduleGroupName"])
        self.outputs = StackOutputs(dict(OUTPUTS), notified_buckets=frozenset([OUTPUTS["LandingBucketName"]]))
        self.build = tmp_path / "build"

    def deploy(self, jobs: Path, **options: Any) -> Any:
        return deploy_jobs(jobs, self.outputs, self.s3, self.scheduler, build_dir=self.build, **options)

    def keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="packages/").get("Contents", [])
        return sorted(obj["Key"] for obj in listing)

    def catalog(self) -> JobCatalog:
        body = self.s3.get_object(Bucket=BUCKET, Key=CATALOG_KEY)["Body"].read()
        return JobCatalog.model_validate_json(body)


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield Aws(tmp_path)


def test_a_deploy_uploads_the_package_once_and_runs_use_what_it_recorded(
    tmp_path: Path, wheelhouse: Path, aws: Aws
) -> None:
    # Given the packaged sample's project
    jobs = jobs_dir(tmp_path)
    # When it is deployed twice
    first = aws.deploy(jobs)
    keys = aws.keys()
    second = aws.deploy(jobs)
    # Then the first deploy uploaded the zip, the entry point and the environment under content-addressed keys
    assert len(first.package_uploads) == 3 and first.packages[0].built
    assert sorted(key.rsplit("/", 1)[-1] for key in keys) == sorted(["environment.tar.gz", "main.py", f"{JOB}.zip"])
    # And the second uploaded nothing and built nothing, and planned no change
    assert second.package_uploads == [] and not second.packages[0].built
    assert second.plan.unchanged == [JOB]
    # And the catalog records the keys and digests, and a run's step ships exactly those
    artifacts = aws.catalog().get(JOB).package.artifacts  # type: ignore[union-attr]
    assert artifacts is not None and artifacts.environment_sha256
    zip_object = aws.s3.get_object(Bucket=BUCKET, Key=artifacts.py_files_uri.split(BUCKET + "/")[1])
    assert hashlib.sha256(zip_object["Body"].read()).hexdigest() == artifacts.py_files_sha256
    run = build_run_input(aws.catalog().get(JOB), _trigger(), _context(), "run-1")
    args = run["steps"][0]["Step"]["HadoopJarStep"]["Args"]
    assert artifacts.py_files_uri in args and f"{artifacts.environment_uri}#environment" in args
    assert artifacts.entry_points[f"{SOURCE}/main.py"] in args


def test_a_changed_module_uploads_a_new_zip_and_keeps_the_environment(
    tmp_path: Path, wheelhouse: Path, aws: Aws
) -> None:
    # Given the sample deployed once
    jobs = jobs_dir(tmp_path)
    aws.deploy(jobs)
    before = aws.catalog().get(JOB).package.artifacts  # type: ignore[union-attr]
    # When one of its modules changes and it is deployed again
    (jobs / SOURCE / "violations" / "columns.py").write_text("REQUIRED = ('name',)\n", encoding="utf-8")
    report = aws.deploy(jobs)
    after = aws.catalog().get(JOB).package.artifacts  # type: ignore[union-attr]
    # Then only the new zip and entry point go up; the environment (same inputs) is not rebuilt nor uploaded
    assert before is not None and after is not None
    assert after.py_files_uri != before.py_files_uri and after.environment_uri == before.environment_uri
    assert len(report.package_uploads) == 2 and not any("environment" in uri for uri in report.package_uploads)
    assert report.plan.changed == {JOB: ["package"]}


def test_a_deploy_whose_package_cannot_be_built_changes_nothing(tmp_path: Path, wheelhouse: Path, aws: Aws) -> None:
    # Given the Graviton sample needing a package built for x86_64 only
    jobs = jobs_dir(tmp_path, "x86fixture==1.0\n")
    # When it is deployed / Then the deploy fails naming the package, and nothing is in the bucket
    with pytest.raises(JobDefinitionError, match="x86fixture has no wheel"):
        aws.deploy(jobs)
    assert aws.keys() == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET)


def _trigger() -> Any:
    from datetime import UTC, datetime

    from emr_autopilot.runs import Trigger

    return Trigger(kind="manual", time=datetime(2026, 1, 31, tzinfo=UTC), input_uri="s3://landing/in.csv")


def _context() -> Any:
    from emr_autopilot.runs import StackContext

    return StackContext.from_stack_outputs(OUTPUTS, REGION)
