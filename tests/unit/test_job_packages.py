"""A job's Python project (`package:`): what a job file may declare, and the spark-submit form each target gets
from the artifacts `jobs deploy` recorded (EC2 step args, EMR Serverless and EMR on EKS sparkSubmitParameters)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from emr_autopilot.eks_runs import build_eks_run_input
from emr_autopilot.errors import CatalogNotDeployed
from emr_autopilot.job_packages import PackageArtifacts
from emr_autopilot.jobs import JobCatalog, JobDefinition, describe_errors
from emr_autopilot.runs import Trigger, build_run_input
from emr_autopilot.serverless_runs import build_serverless_run_input
from tests.helpers.stack_contexts import stack_context

REPO_JOBS = Path(__file__).resolve().parents[2] / "jobs"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:emr-autopilot-TransientClusterPipeline"
ZIP = "s3://artifacts/packages/job/" + "a" * 64 + "/job.zip"
ENTRY = "s3://artifacts/packages/job/" + "a" * 64 + "/main.py"
ENV = "s3://artifacts/packages/job/" + "b" * 64 + "/environment.tar.gz"
TRIGGER = Trigger(kind="manual", time=datetime(2026, 1, 31, 6, 0, tzinfo=UTC), input_uri="s3://landing/in.csv")


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_JOBS / f"{name}.yaml").read_text(encoding="utf-8"))
    return loaded


def artifacts() -> dict[str, Any]:
    return PackageArtifacts(
        py_files_uri=ZIP,
        py_files_sha256="a" * 64,
        environment_uri=ENV,
        environment_inputs_sha256="b" * 64,
        environment_sha256="c" * 64,
        entry_points={"red_violations_packaged/main.py": ENTRY},
        python="3.9",
        platform="aarch64",
    ).model_dump()


def deployed(name: str) -> JobDefinition:
    raw = sample(name)
    raw["package"]["artifacts"] = artifacts()
    return JobDefinition.model_validate(raw)


def context() -> Any:
    return stack_context(MACHINE).model_copy(
        update={
            "serverless_state_machine_arn": MACHINE.replace("TransientClusterPipeline", "Serverless"),
            "serverless_execution_role_arn": "arn:aws:iam::123456789012:role/serverless",
            "eks_state_machine_arn": MACHINE.replace("TransientClusterPipeline", "Eks"),
        }
    )


def errors_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        JobDefinition.model_validate(raw)
    return describe_errors(caught.value)


def test_the_sample_declares_its_project_and_a_job_without_one_reads_as_before() -> None:
    # Given the packaged sample and a job without a package
    packaged = JobDefinition.model_validate(sample("red-violations-packaged"))
    plain = JobDefinition.model_validate(sample("red-violations-spark"))
    # Then the package is read, and only the packaged job's catalog entry has one
    assert packaged.package is not None and packaged.package.source == "red_violations_packaged"
    assert packaged.package.requirements == "red_violations_packaged/requirements.txt"
    assert "package" not in plain.model_dump(mode="json", by_alias=True)
    # And a catalog with recorded artifacts reads back the same
    catalog = JobCatalog(jobs=[deployed("red-violations-packaged")])
    assert JobCatalog.model_validate_json(catalog.model_dump_json(by_alias=True)) == catalog


def test_a_step_entry_point_outside_the_project_is_refused() -> None:
    # Given the packaged sample whose step runs a script outside its source folder
    raw = sample("red-violations-packaged")
    raw["steps"][0]["script"] = "red_violations/red_violations_spark.py"
    # When it is validated / Then the step's script is the error, naming the folder
    lines = errors_of(raw)
    assert any(line.startswith("steps.0.script:") and "red_violations_packaged/" in line for line in lines), lines


def test_a_packaged_cluster_step_in_client_mode_is_refused() -> None:
    # Given a packaged EC2 step asking for client mode (YARN unpacks the archive in the containers only)
    raw = sample("red-violations-packaged")
    raw["steps"][0]["spark_args"] = ["--deploy-mode", "client"]
    # When it is validated / Then its spark_args are the error
    lines = errors_of(raw)
    assert any(line.startswith("steps.0.spark_args:") and "cluster" in line for line in lines), lines


def test_a_package_takes_a_requirements_file_or_a_pyproject_only() -> None:
    # Given a package whose dependencies are named by another kind of file
    raw = sample("red-violations-packaged")
    raw["package"]["requirements"] = "red_violations_packaged/Pipfile"
    # When it is validated / Then package.requirements is the error
    lines = errors_of(raw)
    assert any(line.startswith("package.requirements:") for line in lines), lines


def test_an_ec2_step_ships_the_recorded_zip_and_environment_in_cluster_mode() -> None:
    # Given the packaged EC2 sample with its recorded artifacts
    job = deployed("red-violations-packaged")
    # When a run's input is rendered
    args = build_run_input(job, TRIGGER, context(), "run-1")["steps"][0]["Step"]["HadoopJarStep"]["Args"]
    # Then spark-submit gets the zip, the environment as ./environment, both Pythons, and the recorded entry point
    assert args[:7] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--py-files",
        ZIP,
        "--archives",
        f"{ENV}#environment",
    ]
    assert "spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python" in args
    assert "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in args
    assert args[args.index("--input") - 1] == ENTRY


def test_a_serverless_job_run_ships_them_in_spark_submit_parameters() -> None:
    # Given the packaged serverless sample with its recorded artifacts
    job = deployed("red-violations-packaged-serverless")
    # When a run's input is rendered
    run_input = build_serverless_run_input(job, TRIGGER, context(), "run-1", "00app")
    spark = run_input["job_runs"][0]["Request"]["JobDriver"]["SparkSubmit"]
    # Then the entry point is the recorded one and the parameters carry the zip, the environment and the Pythons
    assert spark["EntryPoint"] == ENTRY
    words = spark["SparkSubmitParameters"].split()
    assert f"spark.submit.pyFiles={ZIP}" in words and f"spark.archives={ENV}#environment" in words
    assert "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in words
    assert "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in words
    assert spark["EntryPointArguments"][0] == "--input"


def test_an_eks_job_run_ships_them_with_the_driver_pods_python() -> None:
    # Given the EKS sample made a packaged job with recorded artifacts
    raw = sample("red-violations-eks")
    raw["package"] = {"source": "red_violations_packaged", "artifacts": artifacts()}
    raw["steps"][0]["script"] = "red_violations_packaged/main.py"
    job = JobDefinition.model_validate(raw)
    # When a run's input is rendered
    request = build_eks_run_input(job, TRIGGER, context(), "run-1")["job_runs"][0]["Request"]
    spark = request["JobDriver"]["SparkSubmitJobDriver"]
    # Then the driver pod's and executors' Python are the environment's, before the job's own spark_args
    words = spark["SparkSubmitParameters"].split()
    assert spark["EntryPoint"] == ENTRY
    assert "spark.kubernetes.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in words
    assert f"spark.archives={ENV}#environment" in words
    assert words[-1] == "spark.sql.adaptive.enabled=true"


def test_a_packaged_job_without_recorded_artifacts_does_not_start() -> None:
    # Given the packaged sample as its file reads (nothing deployed)
    job = JobDefinition.model_validate(sample("red-violations-packaged"))
    # When a run's input is rendered / Then it says to deploy, rather than run without the package
    with pytest.raises(CatalogNotDeployed, match="jobs deploy"):
        build_run_input(job, TRIGGER, context(), "run-1")
