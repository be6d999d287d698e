"""`emr-autopilot jobs package`: a job's Python project as the artifacts every compute target takes.

For a job with a `package:` section (emr_autopilot.job_packages) this builds

- the project's modules: a zip of its source folder (for --py-files / spark.submit.pyFiles), written the same way
  every time (sorted entries, fixed timestamps), so its sha256 is a digest of the content;
- its dependencies: a virtual environment packed with venv-pack (for --archives / spark.archives ...#environment),
  built for the target's Python and architecture.

The target's interpreter cannot run here (no Docker, often another architecture), so the environment is not made
with `python -m venv` and `pip install` inside it, as the EMR guides do in a container. Instead pip installs wheels
for the target into the environment's lib/python3.X/site-packages (pip install --target with --platform,
--python-version, --implementation cp and --only-binary=:all:, pip's documented way to fetch for another
platform), and venv-pack packs that tree with --python-prefix, so bin/python in the archive points at the target's
interpreter. A dependency with no wheel for the target fails the build, naming the package and the target.

The environment's key is a digest of its inputs (the requirements, the target, the packer's version), so an
unchanged project finds its environment already in S3 and neither builds nor uploads it again.

What is inferred about the targets (no AWS page states all of it): EMR 7.x runs on Amazon Linux 2023, whose
python3 is 3.9 at /usr/bin/python3.9 with glibc 2.34; EMR 6.x on Amazon Linux 2 (python3 3.7, glibc 2.26); EMR
Serverless and EMR on EKS images of a release use the same operating system as its EC2 nodes. The EMR Release
Guide lists "Python 3.9, 3.11" for 7.1 and later ("Application versions in Amazon EMR 7.x releases"); 3.9 is the
one python3 runs. Graviton instance types have a "g" after the generation digit (m6g, r7gd, c7gn, x2gd).
"""

from __future__ import annotations

import hashlib
import io
import json
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.job_packages import PackageArtifacts, PythonPackage
from emr_autopilot.jobs import JobCatalog, JobDefinition

# Bumped when the way an environment is built changes, so old keys are not reused for new builds.
BUILD_FORMAT = 1
PACKAGES_PREFIX = "packages"
ENVIRONMENT_FILE = "environment.tar.gz"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_SKIPPED = ("__pycache__", ".pytest_cache", ".mypy_cache")

# Release major -> (python3, glibc) of the operating system EMR runs it on (see the module docstring; inferred).
_RELEASES = {7: ("3.9", (2, 34)), 6: ("3.7", (2, 26))}
_TARGET_PREFIX = "/usr"  # python3.X is /usr/bin/python3.X on Amazon Linux (inferred)
_FIRST_MANYLINUX = 17  # manylinux_2_17 is manylinux2014, the oldest glibc pip's --platform tags here go down to


@dataclass(frozen=True)
class Target:
    """The Python and platform an environment is built for."""

    python: str  # "3.9"
    platform: str  # x86_64, aarch64, or any (pure-Python wheels only)
    glibc: tuple[int, int] | None  # None: this machine (pip picks its own tags)
    python_prefix: str  # where bin/python3.X is on the target
    why: str  # where the target came from, for messages

    @property
    def host(self) -> bool:
        return self.glibc is None

    def describe(self) -> str:
        where = "this machine" if self.host else f"linux {self.platform}"
        return f"Python {self.python} on {where} ({self.why})"

    def pip_options(self) -> list[str]:
        """pip's options to fetch wheels for the target; --only-binary everywhere, as nothing can be built for a
        foreign target (and a local build must fail where the target's would)."""
        options = ["--only-binary=:all:"]
        if self.host:
            return options
        options += ["--implementation", "cp", "--python-version", self.python]
        if self.platform == "any":
            return [*options, "--platform", "any"]
        assert self.glibc is not None
        newest = self.glibc[1]
        tags = [f"manylinux_2_{minor}_{self.platform}" for minor in range(newest, _FIRST_MANYLINUX - 1, -1)]
        tags.append(f"manylinux2014_{self.platform}")  # pip adds manylinux2010/1 for x86_64 itself
        return [*options, *(word for tag in tags for word in ("--platform", tag))]

    def key(self) -> dict[str, Any]:
        return {"python": self.python, "platform": self.platform, "glibc": self.glibc, "prefix": self.python_prefix}


def host_target() -> Target:
    """This machine: the local runtime runs packaged jobs with environments built for it."""
    machine = host_platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Target(python, arch, None, sys.base_prefix, "the local runtime")


def is_graviton(instance_type: str) -> bool:
    """Graviton families have a "g" after the generation digit (m6g, r7gd, c7gn, x2gd, is4gen); g4dn and g5 are
    x86 GPU instances (inferred from the EC2 instance type names)."""
    family = instance_type.split(".")[0].lower()
    match = re.fullmatch(r"([a-z]+?)(\d+)([a-z-]*)", family)
    return match is not None and "g" in match.group(3)


def target_for(job: JobDefinition) -> Target:
    """The target of a packaged job, from its release and architecture; JobDefinitionError when it cannot be told."""
    package = job.package
    assert package is not None
    release, arch, why = _release_and_arch(job)
    python, glibc = _RELEASES.get(_major(release), (None, None)) if release else (None, None)
    if package.python:
        python = package.python
    if python is None:
        raise JobDefinitionError(
            job.name,
            [
                f"package.python: missing: the job's target ({why}) does not say which Python it runs"
                f"{f' ({release})' if release else ''}. Allowed: the target's Python; e.g. python: '3.9'"
            ],
        )
    if package.architecture:
        arch = "aarch64" if package.architecture == "arm64" else "x86_64"
    return Target(python, arch, glibc or (2, _FIRST_MANYLINUX), _TARGET_PREFIX, why)


def _major(release: str) -> int:
    match = re.match(r"emr-(\d+)\.", release)
    return int(match.group(1)) if match else 0


def _release_and_arch(job: JobDefinition) -> tuple[str | None, str, str]:
    if job.cluster is not None:
        types = [group.instance_type for group in job.cluster.instance_groups or []]
        types += [item.instance_type for fleet in job.cluster.instance_fleets or [] for item in fleet.instance_types]
        kinds = {"aarch64" if is_graviton(name) else "x86_64" for name in types}
        # A fleet of both kinds may put either on any node: only pure-Python wheels run on both.
        arch = kinds.pop() if len(kinds) == 1 else "any"
        return job.cluster.release_label, arch, f"EMR on EC2 {job.cluster.release_label}"
    if job.serverless is not None:
        app = job.serverless.application
        if app is None:
            return None, "x86_64", f"EMR Serverless application {job.serverless.application_id}"
        arch = "aarch64" if app.architecture == "ARM64" else "x86_64"
        return app.release_label, arch, f"EMR Serverless {app.release_label} {app.architecture}"
    assert job.eks is not None
    release = job.eks.release_label
    return release, "x86_64", f"EMR on EKS {release or 'job template ' + str(job.eks.job_template_id)}"


# -- the source zip ----------------------------------------------------------------------------------------
def source_zip(jobs_dir: Path, package: PythonPackage) -> bytes:
    """The project's files under its source folder, as a zip whose bytes depend only on their names and content."""
    root = jobs_dir / package.source
    if not root.is_dir():
        raise JobDefinitionError(
            str(root), [f"package.source: read {package.source!r}: no such folder under {jobs_dir}"]
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or path.suffix == ".pyc" or any(part in _SKIPPED for part in relative.parts):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


# -- the dependencies --------------------------------------------------------------------------------------
def requirements_of(jobs_dir: Path, package: PythonPackage) -> list[str]:
    """The requirement lines: a requirements file's, or [project].dependencies of a pyproject.toml (the project
    itself is shipped as the zip, not installed)."""
    if not package.requirements:
        return []
    path = jobs_dir / package.requirements
    text = path.read_text(encoding="utf-8")
    if path.name == "pyproject.toml":
        try:
            dependencies = tomllib.loads(text).get("project", {}).get("dependencies", [])
        except tomllib.TOMLDecodeError as exc:
            raise JobDefinitionError(str(path), [f"package.requirements: not valid TOML: {exc}"]) from exc
        return [str(item) for item in dependencies]
    lines = [line.split(" #")[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    options = [line for line in lines if line.startswith("-")]
    if options:
        # Its lines are the environment's inputs (and its key's digest); an option could pull in more (-r, -c) or
        # change where packages come from: pip's own configuration (PIP_INDEX_URL, PIP_FIND_LINKS) does that.
        raise JobDefinitionError(
            str(path),
            [
                f"package.requirements: read {options[0]!r}: a packaged job's requirements file holds requirement "
                "lines only, not pip options. Allowed: one requirement per line, pinned; e.g. toolz==1.0.0 (set an "
                "index with PIP_INDEX_URL)"
            ],
        )
    return lines


def environment_digest(requirements: list[str], target: Target) -> str:
    from importlib.metadata import version

    inputs = {
        "format": BUILD_FORMAT,
        "requirements": requirements,
        "target": target.key(),
        "venv-pack": version("venv-pack"),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


class PackageBuildError(JobDefinitionError):
    """An environment could not be built for its target (a dependency without a wheel for it, pip failing)."""


def build_environment(job: str, requirements: list[str], target: Target, output: Path) -> None:
    """Install the requirements' wheels for `target` into a virtual environment's tree and pack it with venv-pack."""
    import venv_pack

    with tempfile.TemporaryDirectory(prefix="emr-autopilot-env-") as workdir:
        env = Path(workdir) / "environment"
        site = env / "lib" / f"python{target.python}" / "site-packages"
        site.mkdir(parents=True)
        (env / "bin").mkdir()
        # The tree as venv makes it, for an interpreter at <build>/bin/python: venv-pack's --python-prefix then
        # points bin/python at <target prefix>/bin/python3.X (it rewrites links to <orig prefix>/bin/python).
        build_prefix = Path(workdir) / "build-python"
        (env / "pyvenv.cfg").write_text(
            f"home = {build_prefix}/bin\ninclude-system-site-packages = false\nversion = {target.python}\n",
            encoding="utf-8",
        )
        (env / "bin" / "python").symlink_to(build_prefix / "bin" / "python")
        for alias in ("python3", f"python{target.python}"):
            (env / "bin" / alias).symlink_to("python")
        if requirements:
            _pip_install(job, requirements, target, site)
        shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts, with this machine's interpreter in them
        output.parent.mkdir(parents=True, exist_ok=True)
        # pyvenv.cfg is left out of the file list: venv-pack 0.2.0 would add it as well as its rewritten copy.
        packed = venv_pack.Env(prefix=str(env)).exclude("pyvenv.cfg")
        packed.pack(output=str(output), python_prefix=target.python_prefix, force=True)


def _pip_install(job: str, requirements: list[str], target: Target, site: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-compile",  # bytecode of this machine's Python is no use to the target's
        "--no-warn-conflicts",  # this interpreter's own packages are not the environment's
        "--no-warn-script-location",
        "--target",
        str(site),
        *target.pip_options(),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    missing = re.search(r"No matching distribution found for (\S+)", result.stderr)
    if missing:
        name = re.split(r"[<>=!~;\[ ]", missing.group(1), maxsplit=1)[0]
        problem = (
            f"package.requirements: {name} has no wheel for the target, {target.describe()} "
            f"(pip: no matching distribution for {missing.group(1)} with {' '.join(target.pip_options())}). "
            "Allowed: a version of it published as a wheel for that platform, or another target"
        )
    else:
        tail = " | ".join(line for line in result.stderr.splitlines() if line.startswith("ERROR"))[:600]
        problem = f"package.requirements: pip could not install them for {target.describe()}: {tail or 'failed'}"
    raise PackageBuildError(job, [problem])


# -- planning, building and uploading -------------------------------------------------------------------------
@dataclass
class Upload:
    key: str
    path: Path | None = None
    body: bytes | None = None
    sha256: str = ""


@dataclass
class PreparedPackage:
    """A packaged job's artifacts: their keys and digests, and what is not yet in the bucket."""

    job: str
    target: Target
    artifacts: PackageArtifacts
    zip_body: bytes
    environment_path: Path
    uploads: list[Upload] = field(default_factory=list)
    built: bool = False  # the environment was built by this call


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def plan_package(job: JobDefinition, jobs_dir: Path, bucket: str, target: Target, build_dir: Path) -> PreparedPackage:
    """Keys and digests of a job's artifacts, from their inputs alone (nothing is built or uploaded)."""
    package = job.package
    assert package is not None
    body = source_zip(jobs_dir, package)
    zip_digest = _digest(body)
    requirements = requirements_of(jobs_dir, package)
    env_digest = environment_digest(requirements, target)
    code = f"{PACKAGES_PREFIX}/{job.name}/{zip_digest}"
    env_key = f"{PACKAGES_PREFIX}/{job.name}/{env_digest}/{ENVIRONMENT_FILE}"
    folder = package.source.rstrip("/") + "/"
    scripts = sorted({step.script for step in job.steps if step.type == "spark-submit" and step.script})
    artifacts = PackageArtifacts(
        py_files_uri=f"s3://{bucket}/{code}/{job.name}.zip",
        py_files_sha256=zip_digest,
        environment_uri=f"s3://{bucket}/{env_key}",
        environment_inputs_sha256=env_digest,
        environment_sha256=None,
        entry_points={script: f"s3://{bucket}/{code}/{script.removeprefix(folder)}" for script in scripts},
        python=target.python,
        platform=target.platform,
    )
    # Environments are kept by their inputs alone: jobs with the same requirements and target share one build.
    return PreparedPackage(
        job.name, target, artifacts, body, build_dir / "environments" / env_digest / ENVIRONMENT_FILE
    )


def build_package(prepared: PreparedPackage, job: JobDefinition, jobs_dir: Path) -> None:
    """Build the environment unless this machine already has it (the zip is built by plan_package)."""
    if prepared.environment_path.is_file():
        return
    assert job.package is not None
    requirements = requirements_of(jobs_dir, job.package)
    prepared.environment_path.parent.mkdir(parents=True, exist_ok=True)
    # Built under a name of its own, then renamed: never a half-written archive under the final name, even with
    # two builds at once (the same inputs give the same environment, so either may win).
    with tempfile.TemporaryDirectory(dir=prepared.environment_path.parent, prefix=".building-") as scratch:
        partial = Path(scratch) / ENVIRONMENT_FILE
        build_environment(job.name, requirements, prepared.target, partial)
        partial.replace(prepared.environment_path)
    prepared.built = True


def write_zip(prepared: PreparedPackage, build_dir: Path) -> Path:
    path = build_dir / prepared.job / prepared.artifacts.py_files_sha256 / f"{prepared.job}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(prepared.zip_body)
    return path


def prepare_uploads(prepared: PreparedPackage, job: JobDefinition, jobs_dir: Path, s3: Any) -> None:
    """What the bucket lacks (an object whose key exists is the same content: the key is its digest), built if
    needed; and the environment's own sha256 (from this build, or from the uploaded object's metadata)."""
    artifacts = prepared.artifacts
    wanted: list[tuple[str, Path | None, bytes | None]] = [(artifacts.py_files_uri, None, prepared.zip_body)]
    wanted += [(uri, jobs_dir / script, None) for script, uri in artifacts.entry_points.items()]
    for uri, path, body in wanted:
        if _metadata(s3, uri) is None:
            data = body if body is not None or path is None else path.read_bytes()
            assert data is not None
            prepared.uploads.append(Upload(_key(uri), body=data, sha256=_digest(data)))
    found = _metadata(s3, artifacts.environment_uri)
    if found is not None and found.get("sha256"):
        env_sha = found["sha256"]
    else:
        build_package(prepared, job, jobs_dir)
        env_sha = _file_digest(prepared.environment_path)
        prepared.uploads.append(Upload(_key(artifacts.environment_uri), path=prepared.environment_path, sha256=env_sha))
    prepared.artifacts = artifacts.model_copy(update={"environment_sha256": env_sha})


def upload(prepared: PreparedPackage, s3: Any, bucket: str) -> list[str]:
    done = []
    for item in prepared.uploads:
        extra = {"Metadata": {"sha256": item.sha256}}
        if item.path is not None:
            s3.upload_file(str(item.path), bucket, item.key, ExtraArgs=extra)
        else:
            s3.put_object(Bucket=bucket, Key=item.key, Body=item.body, **extra)
        done.append(f"s3://{bucket}/{item.key}")
    return done


def _key(uri: str) -> str:
    return uri.removeprefix("s3://").partition("/")[2]


def _metadata(s3: Any, uri: str) -> dict[str, str] | None:
    """The object's user metadata; None when there is no such object."""
    from botocore.exceptions import ClientError

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    metadata: dict[str, str] = head.get("Metadata", {})
    return metadata


def with_artifacts(catalog: JobCatalog, artifacts: dict[str, PackageArtifacts]) -> JobCatalog:
    """The catalog with each packaged job's artifacts recorded in its package section."""
    jobs = []
    for job in catalog.jobs:
        if job.package is not None and job.name in artifacts:
            package = job.package.model_copy(update={"artifacts": artifacts[job.name]})
            job = job.model_copy(update={"package": package})
        jobs.append(job)
    return JobCatalog(jobs=jobs, applications=catalog.applications)


def default_build_dir(jobs_dir: Path) -> Path:
    return jobs_dir.resolve().parent / "build" / "packages"


def package_target(job: JobDefinition, host: bool) -> Target:
    return host_target() if host else target_for(job)
