"""EMR on EKS job definitions (compute: emr-eks): the sample loads, the eks section's fields are checked in the job
file's words, each compute target refuses the others' sections, `jobs validate` checks the StartJobRun requests
against EMR on EKS's API model (botocore, emr-containers), and each target's models load only for a catalog that needs
them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emr_autopilot.job_checks import example_context, request_problems
from emr_autopilot.jobs import JobCatalog, JobDefinition, load_job_file
from emr_autopilot_devkit.cli import main
from tests.helpers.job_files import (
    NOT_USER_WORDS,
    REPO_JOBS,
    catalog_load,
    problems_of,
    repo_sample,
    sample_jobs_dir,
    write,
)

SAMPLE = "red-violations-eks"


def sample(name: str = SAMPLE) -> dict[str, Any]:
    return repo_sample(name)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    return sample_jobs_dir(tmp_path)


def with_eks(**changes: Any) -> dict[str, Any]:
    data = sample()
    data["eks"] = {**data["eks"], **changes}
    return data


def test_the_eks_sample_loads_with_its_settings() -> None:
    # Given the repository's EMR on EKS sample job
    # When it is loaded
    job = load_job_file(REPO_JOBS / f"{SAMPLE}.yaml", REPO_JOBS)

    # Then it runs on EMR on EKS, on its virtual cluster, with no cluster or serverless section
    assert job.compute == "emr-eks"
    assert job.cluster is None and job.serverless is None
    assert job.eks is not None
    assert job.eks.virtual_cluster_id == "emrautopilotdemo0eks000001"
    assert job.eks.release_label == "emr-7.5.0-latest"
    assert job.eks.retry_max_attempts == 2
    # and YAML numbers in spark_properties are read as the strings EMR takes
    assert job.eks.spark_properties["spark.executor.instances"] == "2"
    assert [step.type for step in job.steps] == ["spark-submit"]
    # and it reads back from the catalog as it was written, with no other target's section
    dumped = job.model_dump(mode="json", by_alias=True)
    assert "cluster" not in dumped and "serverless" not in dumped
    assert JobCatalog.model_validate({"jobs": [dumped]}).jobs[0] == job


def test_ec2_and_serverless_jobs_read_as_before_eks_jobs_existed() -> None:
    # Given the EC2 and serverless samples
    for name in ("red-violations-spark", "red-violations-serverless"):
        # When one is written to the catalog
        dumped = load_job_file(REPO_JOBS / f"{name}.yaml", REPO_JOBS).model_dump(mode="json", by_alias=True)
        # Then it has no eks key
        assert "eks" not in dumped


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {**sample(), "cluster": sample("red-violations-spark")["cluster"]},
            "cluster: read a cluster section on an emr-eks job: EMR on EKS runs on a virtual cluster",
        ),
        (
            {**sample(), "serverless": sample("red-violations-serverless")["serverless"]},
            "serverless: read a serverless section on an emr-eks job: it applies to compute: emr-serverless only",
        ),
        (
            {key: value for key, value in sample().items() if key != "eks"},
            "eks: missing: an emr-eks job needs an eks section",
        ),
        (
            {**sample("red-violations-spark"), "eks": sample()["eks"]},
            "eks: read an eks section on an emr-ec2 job: it applies to compute: emr-eks only",
        ),
        (
            {**sample("red-violations-serverless"), "eks": sample()["eks"]},
            "eks: read an eks section on an emr-serverless job: it applies to compute: emr-eks only",
        ),
    ],
    ids=["cluster-on-eks", "serverless-on-eks", "no-eks-section", "eks-on-ec2", "eks-on-serverless"],
)
def test_each_target_refuses_the_other_targets_sections(jobs_dir: Path, data: dict[str, Any], expected: str) -> None:
    # Given a job with a section of another compute target (or without its own)
    path = write(jobs_dir, data)

    # When it is loaded
    problems = problems_of(path)

    # Then the problem names the field and why, in the job file's words
    assert any(expected in line for line in problems), problems
    assert not any(word in line for line in problems for word in NOT_USER_WORDS), problems


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"name": "q", "type": "hive", "query": "red_violations/count_red_violations.py"},
            "steps.0.type: read 'hive': this tool runs spark-submit job runs on EMR on EKS",
        ),
        (
            {"name": "c", "type": "command", "args": ["echo", "hi"]},
            "steps.0.type: read 'command'",
        ),
        (
            {
                "name": "s",
                "type": "spark-submit",
                "script": "red_violations/red_violations_spark.py",
                "action_on_failure": "CONTINUE",
            },
            "steps.0.action_on_failure: read action_on_failure on an emr-eks job",
        ),
        (
            {"name": "s", "type": "spark-submit", "script": "red_violations/red_violations_spark.py", "simulate": True},
            "steps.0.simulate: read true on an emr-eks job",
        ),
        (
            {
                "name": "s",
                "type": "spark-submit",
                "script": "red_violations/red_violations_spark.py",
                "spark_args": ["--conf", "spark.app.name=two words"],
            },
            "steps.0.spark_args: read 'spark.app.name=two words': on EMR on EKS spark_args become one string",
        ),
    ],
    ids=["hive", "command", "action-on-failure", "simulate", "spaced-spark-arg"],
)
def test_cluster_and_serverless_step_fields_are_refused(jobs_dir: Path, step: dict[str, Any], expected: str) -> None:
    # Given an EKS job with a step field EMR on EKS has no use for
    path = write(jobs_dir, {**sample(), "steps": [step]})

    # When it is loaded
    problems = problems_of(path)

    # Then the step's field is named with the reason
    assert any(expected in line for line in problems), problems


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"virtual_cluster_id": "Not-An-Id"}, "eks.virtual_cluster_id: read 'Not-An-Id': not in the expected form"),
        ({"release_label": "emr-7.5.0"}, "eks.release_label: read 'emr-7.5.0': not in the expected form"),
        ({"execution_role": None}, "eks.execution_role: missing: an emr-eks job without job_template_id needs"),
        ({"retry_max_attempts": 0}, "eks.retry_max_attempts: read 0: must be >= 1"),
        (
            {"release_label": "emr-6.8.0-latest"},
            "eks.retry_max_attempts: read 2 with emr-6.8.0-latest: job retry policies need EMR on EKS 6.9.0",
        ),
        (
            {"job_template_parameters": {"Region": "{region}"}},
            "eks.job_template_parameters: read job_template_parameters without job_template_id",
        ),
        ({"tags": {"emr-autopilot:job": "x"}}, "reserved for the pipeline"),
        ({"cluster_id": "x"}, "eks.cluster_id: unknown field 'cluster_id'"),
    ],
    ids=["id", "release", "no-role", "retries", "retries-release", "template-params", "reserved-tag", "unknown"],
)
def test_the_eks_sections_fields_are_checked_in_the_job_files_words(
    jobs_dir: Path, changes: dict[str, Any], expected: str
) -> None:
    # Given an EKS job with one bad eks field
    path = write(jobs_dir, with_eks(**changes))

    # When it is loaded
    problems = problems_of(path)

    # Then the field is named, with what was read and what is allowed
    assert any(expected in line for line in problems), problems
    assert not any(word in line for line in problems for word in NOT_USER_WORDS), problems


def test_a_job_template_may_supply_the_role_and_release(jobs_dir: Path) -> None:
    # Given an EKS job that names a job template instead of a role and a release
    data = with_eks(execution_role=None, release_label=None, retry_max_attempts=None)
    data["eks"].update(job_template_id="0abcdef123456789", job_template_parameters={"Day": "{run_date}"})
    path = write(jobs_dir, data)

    # When it is loaded
    job = load_job_file(path)

    # Then it is valid
    assert job.eks is not None and job.eks.job_template_id == "0abcdef123456789"


def test_jobs_validate_checks_start_job_run_against_the_emr_containers_model() -> None:
    # Given the sample, and a copy whose spark property key is longer than the API's 1024 characters
    job = load_job_file(REPO_JOBS / f"{SAMPLE}.yaml", REPO_JOBS)
    long_key = JobDefinition.model_validate(with_eks(spark_properties={"k" * 1025: "1"}))

    # When their StartJobRun requests are checked against the emr-containers model
    good, bad = request_problems(job, example_context()), request_problems(long_key, example_context())

    # Then the sample passes, and the long key is named by its job field and the API's member
    assert good == []
    assert len(bad) == 1
    assert bad[0].startswith("eks.spark_properties: EMR on EKS would refuse this job's job runs: StartJobRun ")
    assert "configurationOverrides.applicationConfiguration[0].properties" in bad[0]
    assert "at most 1024 characters" in bad[0]


def test_a_stack_without_the_eks_state_machine_is_a_validation_problem() -> None:
    # Given a stack deployed before EKS runs existed
    old_stack = example_context().model_copy(update={"eks_state_machine_arn": None})
    job = load_job_file(REPO_JOBS / f"{SAMPLE}.yaml", REPO_JOBS)

    # When the job is checked against it
    problems = request_problems(job, old_stack)

    # Then the missing output is named
    assert len(problems) == 1
    assert problems[0].startswith("compute: read 'emr-eks':")
    assert "EksPipelineStateMachineArn is missing" in problems[0]


def test_jobs_validate_accepts_the_repositorys_jobs_with_the_eks_sample(jobs_dir: Path) -> None:
    # Given a jobs directory with the EKS sample
    shutil.copy(REPO_JOBS / f"{SAMPLE}.yaml", jobs_dir)

    # When `jobs validate` runs
    result = CliRunner().invoke(main, ["jobs", "validate", "--jobs-dir", str(jobs_dir)])

    # Then it passes, and says where the job runs
    assert result.exit_code == 0, result.output
    assert (
        "ok  red-violations-eks: 1 step(s), EMR on EKS emr-7.5.0-latest on virtual cluster emrautopilotdemo0eks000001"
        in result.output
    )


@pytest.mark.parametrize(
    ("module", "names", "loads"),
    [
        ("emr_autopilot.serverless_jobs", ("red-violations-spark", "red-violations"), False),
        ("emr_autopilot.serverless_jobs", ("red-violations-spark", "red-violations-serverless"), True),
        ("emr_autopilot.eks_jobs", ("red-violations-spark", "red-violations-serverless"), False),
        ("emr_autopilot.eks_jobs", ("red-violations-spark", SAMPLE), True),
    ],
    ids=["ec2-only", "with-a-serverless-job", "without-an-eks-job", "with-an-eks-job"],
)
def test_a_targets_models_load_only_for_a_catalog_that_has_one_of_its_jobs(
    module: str, names: tuple[str, ...], loads: bool
) -> None:
    # Given a deployed catalog of these jobs, as the run starter reads it
    catalog = JobCatalog(jobs=[JobDefinition.model_validate(sample(name)) for name in names])

    # When a fresh interpreter loads it
    seen = catalog_load(catalog, module)

    # Then the target's models (serverless_jobs, eks_jobs) were defined only when a job needs them (the run
    # starter's cold start)
    assert len(seen["jobs"]) == len(names)
    assert seen["loaded"] is loads
