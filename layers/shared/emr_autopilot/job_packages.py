"""A job's Python project (`package:`): its source folder under jobs/, its dependencies, and the artifacts
`emr-autopilot jobs deploy` recorded for it; and how each compute target's spark-submit takes them.

The dev kit builds the artifacts (emr_autopilot_devkit.packaging: a zip of the project's modules for --py-files,
and a venv-pack archive of its dependencies for --archives ...#environment) and writes their S3 URIs and digests
here, in the catalog's copy of the job. This module only renders what was recorded, so the run starter ships no
build tool, and a run uses exactly the artifacts the deploy recorded (their keys are content digests).

The entry point of each spark-submit step is its `script`, a file inside the source folder; it is uploaded with
the zip, under the same content-addressed prefix.
"""

import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, Field

from emr_autopilot.errors import CatalogNotDeployed
from emr_autopilot.job_fields import Location, _FieldError, _Model

# Where the packed environment is unpacked in each container's working directory (the archive's #fragment), and
# the interpreter inside it: the form of the EMR Serverless User Guide ("Using Python libraries with EMR
# Serverless") and of awslabs/amazon-emr-cli, for every target.
ENVIRONMENT_ALIAS = "environment"
ENVIRONMENT_PYTHON = f"./{ENVIRONMENT_ALIAS}/bin/python"
_PYTHON = r"^3\.\d{1,2}$"


def _check_folder(value: str) -> str:
    path = PurePosixPath(value)
    if value.startswith("s3:") or path.is_absolute() or ".." in path.parts or "\\" in value or not path.parts:
        raise ValueError(
            f"read {value!r}: not a folder inside jobs/. Allowed: a path relative to jobs/ (no leading '/', no '..', "
            "no s3://); e.g. source: my_job"
        )
    return path.as_posix()


def _check_requirements(value: str) -> str:
    name = PurePosixPath(value).name
    if value.startswith("s3:") or not (name == "pyproject.toml" or name.endswith(".txt")):
        raise ValueError(
            f"read {value!r}: dependencies come from a requirements file (*.txt) or a pyproject.toml under jobs/. "
            "Allowed: a path relative to jobs/; e.g. requirements: my_job/requirements.txt"
        )
    return value


class PackageArtifacts(_Model):
    """What `jobs deploy` uploaded for a packaged job: content-addressed S3 objects and their sha256 digests."""

    py_files_uri: str
    py_files_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    environment_uri: str
    # The digest of what the environment was built from (requirements, target Python and platform, tools); its
    # S3 key holds it, so an unchanged project finds its environment already uploaded.
    environment_inputs_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    # The archive's own sha256 (None only in a plan that built nothing, e.g. `jobs validate` or a dry run).
    environment_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # Step script (relative to jobs/) -> its content-addressed copy.
    entry_points: dict[str, str]
    python: str = Field(pattern=_PYTHON)
    platform: str = Field(description="x86_64, aarch64 or any (pure-Python wheels only: a cluster of both).")


class PythonPackage(_Model):
    """A job's Python project: its modules ship as a zip (--py-files), its dependencies as a packed virtual
    environment (--archives ...#environment) built for the target's architecture and Python."""

    source: Annotated[str, AfterValidator(_check_folder)] = Field(
        description="The project's folder under jobs/: its modules (and the steps' entry points)."
    )
    requirements: Annotated[Location, AfterValidator(_check_requirements)] | None = Field(
        default=None, description="A requirements file or pyproject.toml under jobs/; none: no third-party packages."
    )
    python: str | None = Field(
        default=None,
        pattern=_PYTHON,
        description="The target's Python (default: the release's, e.g. 3.9 for EMR 7.x); needed when the job "
        "names no release (an existing EMR Serverless application, an EMR on EKS job template).",
    )
    architecture: Literal["x86_64", "arm64"] | None = Field(
        default=None,
        description="The target's architecture (default: the cluster's instance types, the managed application's "
        "architecture, x86_64 on EMR on EKS).",
    )
    artifacts: PackageArtifacts | None = Field(
        default=None, description="Written by `jobs deploy` into the deployed catalog; not part of a job file."
    )


if TYPE_CHECKING:  # for the type checker only: defining Protocol classes costs every cold start

    class _Step(Protocol):
        @property
        def type(self) -> str: ...
        @property
        def script(self) -> str | None: ...
        @property
        def spark_args(self) -> Sequence[str]: ...

    class _Job(Protocol):
        @property
        def name(self) -> str: ...
        @property
        def compute(self) -> str: ...
        @property
        def package(self) -> PythonPackage | None: ...
        @property
        def steps(self) -> Sequence[_Step]: ...


def check_package(job: "_Job") -> None:
    """Raise _FieldError for the first step a packaged job cannot run with its package."""
    package = job.package
    if package is None:
        return
    spark_steps = [(index, step) for index, step in enumerate(job.steps) if step.type == "spark-submit"]
    if not spark_steps:
        raise _FieldError(
            "package",
            "read a package on a job without spark-submit steps: the package ships to spark-submit (--py-files, "
            "--archives). Allowed: a spark-submit step, or no package",
        )
    folder = package.source.rstrip("/") + "/"
    for index, step in spark_steps:
        script = step.script or ""
        if not script.startswith(folder):
            raise _FieldError(
                f"steps.{index}.script",
                f"read {script!r}: a packaged job's spark-submit step runs an entry point of its project, a file "
                f"under {folder}. Allowed: a file under {folder}; e.g. script: {folder}main.py",
            )
        if job.compute == "emr-ec2":
            _check_deploy_mode(index, step.spark_args)


def _check_deploy_mode(index: int, spark_args: Sequence[str]) -> None:
    words = list(spark_args)
    for position, word in enumerate(words):
        mode = word.partition("=")[2] if word.startswith("--deploy-mode=") else None
        if word == "--deploy-mode" and position + 1 < len(words):
            mode = words[position + 1]
        if mode is not None and mode != "cluster":
            # On YARN an archive reaches the containers, not a client-mode driver on the primary node (SPARK-36088;
            # awslabs/amazon-emr-cli refuses the same), so the driver would miss the environment.
            raise _FieldError(
                f"steps.{index}.spark_args",
                f"read --deploy-mode {mode}: a packaged job's driver needs the environment archive, which YARN "
                "unpacks in the containers only (client mode runs the driver on the primary node). Allowed: "
                "--deploy-mode cluster (the default for a packaged job), or no --deploy-mode",
            )


def _artifacts(job: "_Job") -> PackageArtifacts:
    package = job.package
    assert package is not None
    if package.artifacts is None:
        raise CatalogNotDeployed(
            f"job {job.name!r} has a Python package, and the catalog records no artifacts for it; run "
            "`emr-autopilot jobs deploy`, which builds and uploads them"
        )
    return package.artifacts


def with_example_artifacts(job: Any, bucket: str) -> Any:
    """The job with example artifacts when it has a package and none recorded: for checking the shape of the
    requests it renders (`jobs validate` without a deploy), never for a run (their digests are zeros)."""
    package = job.package
    if package is None or package.artifacts is not None:
        return job
    code = f"s3://{bucket}/packages/{job.name}/{'0' * 64}"
    folder = package.source.rstrip("/") + "/"
    scripts = {step.script for step in job.steps if step.type == "spark-submit" and step.script}
    example = PackageArtifacts(
        py_files_uri=f"{code}/{job.name}.zip",
        py_files_sha256="0" * 64,
        environment_uri=f"s3://{bucket}/packages/{job.name}/{'1' * 64}/environment.tar.gz",
        environment_inputs_sha256="1" * 64,
        entry_points={script: f"{code}/{script.removeprefix(folder)}" for script in scripts},
        python=package.python or "3.9",
        platform="x86_64",
    )
    return job.model_copy(update={"package": package.model_copy(update={"artifacts": example})})


def entry_point(job: "_Job", script: str) -> str:
    """The content-addressed copy of a packaged step's entry point."""
    artifacts = _artifacts(job)
    try:
        return artifacts.entry_points[script]
    except KeyError:
        raise CatalogNotDeployed(
            f"job {job.name!r}: the deployed package has no entry point {script!r}; run `emr-autopilot jobs deploy`"
        ) from None


def ec2_spark_options(job: "_Job", spark_args: Sequence[str]) -> list[str]:
    """spark-submit options for an EMR on EC2 step (YARN): the driver runs in the application master, in cluster
    mode, so spark.yarn.appMasterEnv names its Python (Spark "Running on YARN"; awslabs/amazon-emr-cli)."""
    artifacts = _artifacts(job)
    mode = [] if any(re.match(r"--deploy-mode(=|$)", arg) for arg in spark_args) else ["--deploy-mode", "cluster"]
    return [
        *mode,
        "--py-files",
        artifacts.py_files_uri,
        "--archives",
        f"{artifacts.environment_uri}#{ENVIRONMENT_ALIAS}",
        "--conf",
        f"spark.yarn.appMasterEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
        "--conf",
        f"spark.executorEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
    ]


def serverless_spark_options(job: "_Job") -> list[str]:
    """sparkSubmitParameters words for EMR Serverless (EMR Serverless User Guide, "Using Python libraries with EMR
    Serverless": spark.archives, and the driver's and executors' PYSPARK_PYTHON)."""
    artifacts = _artifacts(job)
    return [
        "--conf",
        f"spark.submit.pyFiles={artifacts.py_files_uri}",
        "--conf",
        f"spark.archives={artifacts.environment_uri}#{ENVIRONMENT_ALIAS}",
        "--conf",
        f"spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={ENVIRONMENT_PYTHON}",
        "--conf",
        f"spark.emr-serverless.driverEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
        "--conf",
        f"spark.executorEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
    ]


def eks_spark_options(job: "_Job") -> list[str]:
    """sparkSubmitParameters words for EMR on EKS: Spark on Kubernetes sets the driver pod's environment with
    spark.kubernetes.driverEnv.* (Spark "Running on Kubernetes"); the rest as on EMR Serverless (inferred: the
    EMR on EKS guide documents no Python-environment form of its own)."""
    artifacts = _artifacts(job)
    return [
        "--conf",
        f"spark.submit.pyFiles={artifacts.py_files_uri}",
        "--conf",
        f"spark.archives={artifacts.environment_uri}#{ENVIRONMENT_ALIAS}",
        "--conf",
        f"spark.kubernetes.driverEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
        "--conf",
        f"spark.executorEnv.PYSPARK_PYTHON={ENVIRONMENT_PYTHON}",
    ]
