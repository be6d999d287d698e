"""Serverless job definitions (compute: emr-serverless): the sample loads, the serverless section's fields are
checked in the job file's words, each compute target refuses the other's fields, and `jobs validate` checks the
StartJobRun and CreateApplication requests against EMR Serverless's API model."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.job_checks import example_context, request_problems
from emr_autopilot.jobs import JobCatalog, JobDefinition, load_job_file, load_jobs
from emr_autopilot_devkit.cli import main
from tests.helpers.job_files import (
    NOT_USER_WORDS,
    REPO_JOBS,
    problems_of,
    repo_sample,
    sample_jobs_dir,
    write,
)

SAMPLE = "red-violations-serverless"
EC2_SAMPLE = "red-violations-spark"


def sample(name: str = SAMPLE) -> dict[str, Any]:
    return repo_sample(name)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    return sample_jobs_dir(tmp_path)


def test_the_serverless_sample_loads_with_its_documented_defaults() -> None:
    # Given the repository's serverless sample job
    # When it is loaded
    job = load_job_file(REPO_JOBS / f"{SAMPLE}.yaml", REPO_JOBS)

    # Then it runs on EMR Serverless, on a managed ARM64 application, with no cluster
    assert job.compute == "emr-serverless"
    assert job.cluster is None
    assert job.serverless is not None and job.serverless.application is not None
    assert job.serverless.application.architecture == "ARM64"
    assert job.serverless.application.initial_capacity is not None
    executor = job.serverless.application.initial_capacity.executor
    assert executor is not None and (executor.count, executor.cpu, executor.memory) == (2, "4 vCPU", "8 GB")
    # and the defaults: the stack's role, S3 logs, one job run at a time, started by auto-start
    assert job.serverless.execution_role is None
    assert job.serverless.logs.s3 is True and job.serverless.logs.s3_uri is None
    assert job.serverless.concurrency == 1
    assert job.serverless.start_first is False
    assert job.serverless.stop_application_after_run is True
    # and it uploads the same PySpark application as the EC2 variant (and no bootstrap action: there are no nodes)
    assert job.local_files() == ["red_violations/red_violations_spark.py"]
    assert job.steps[0].script == load_job_file(REPO_JOBS / f"{EC2_SAMPLE}.yaml", REPO_JOBS).steps[0].script


def test_an_ec2_job_is_written_to_the_catalog_as_before_and_a_serverless_job_reads_back_the_same() -> None:
    # Given the EC2 and serverless samples
    ec2 = load_job_file(REPO_JOBS / f"{EC2_SAMPLE}.yaml", REPO_JOBS)
    serverless = load_job_file(REPO_JOBS / f"{SAMPLE}.yaml", REPO_JOBS)

    # When they are written as the deployed catalog writes them
    ec2_json = ec2.model_dump(mode="json", by_alias=True)
    catalog = JobCatalog(jobs=[ec2, serverless])
    body = catalog.model_dump_json(by_alias=True)

    # Then the EC2 job carries no serverless-only keys, and its step no hive fields
    assert {"compute", "serverless"} & set(ec2_json) == set()
    assert {"query", "init_file", "parameters"} & set(ec2_json["steps"][0]) == set()
    # and a catalog without managed applications has no applications key (an older run starter reads it)
    assert set(json.loads(body)) == {"jobs"}
    # and the serverless job reads back equal (no cluster-only step field was written)
    assert JobCatalog.model_validate_json(body) == catalog


def test_a_catalog_names_the_application_a_serverless_job_runs_on() -> None:
    # Given the serverless sample without and with its deployed managed application, and one on an existing one
    job = JobDefinition.model_validate(sample())
    existing = JobDefinition.model_validate(
        {**sample(), "name": "on-existing", "serverless": {"application_id": "00fabc123example"}}
    )
    bare = JobCatalog(jobs=[job, existing])
    deployed = JobCatalog.model_validate(
        {
            "jobs": [job.model_dump(mode="json"), existing.model_dump(mode="json")],
            "applications": {SAMPLE: {"application_id": "00deployed", "config": "abc"}},
        }
    )

    # When the application of each is asked for
    # Then the existing application is the job's own, and the managed one comes from the catalog
    assert bare.application_id(existing) == "00fabc123example"
    assert deployed.application_id(job) == "00deployed"
    # and a catalog without it says to deploy
    from emr_autopilot.errors import CatalogNotDeployed

    with pytest.raises(CatalogNotDeployed, match="run `emr-autopilot jobs deploy`, which creates it"):
        bare.application_id(job)


# -- the serverless section's fields, in the job file's words ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda d: d["serverless"].update(application_id="00fabc123example"),
            "serverless.application_id: read both: set exactly one of application_id (an existing application) or "
            "application (one `jobs deploy` manages for this job). Allowed: one of them; e.g. application: "
            "{release_label: emr-7.5.0}",
            id="application-and-application-id",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"].update(release_label="emr-6.5.0"),
            "serverless.application.release_label: read 'emr-6.5.0': EMR Serverless runs emr-6.6.0 and later. "
            "Allowed: emr-6.6.0 or later; e.g. release_label: emr-7.5.0",
            id="release-before-serverless",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"].update(architecture="ARM"),
            "serverless.application.architecture: read 'ARM': not one of the allowed values; did you mean ARM64? "
            "Allowed: X86_64, ARM64",
            id="architecture-misspelt",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"]["initial_capacity"]["executor"].update(cpu=3),
            "serverless.application.initial_capacity.executor.cpu: read '3 vCPU': a worker has 1, 2, 4, 8 or 16 "
            "vCPU. Allowed: 1, 2, 4, 8 or 16; e.g. cpu: 4",
            id="worker-cpu",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"]["initial_capacity"]["driver"].update(memory="lots"),
            "serverless.application.initial_capacity.driver.memory: read 'lots': not an amount in GB. Allowed: a "
            "whole number of GB, with or without the unit; e.g. memory: 16",
            id="worker-memory-in-words",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"]["auto_stop"].update(idle_timeout="8d"),
            "serverless.application.auto_stop.idle_timeout: read '8d', which is 8d. Allowed: 1m to 7d "
            "(EMR Serverless's range); e.g. idle_timeout: 15m",
            id="idle-timeout-too-long",
        ),
        pytest.param(
            lambda d: d["serverless"]["application"].update(tags={"emr-autopilot:job": "x"}),
            "serverless.application.tags: read tag key(s) emr-autopilot:job: tag keys ['emr-autopilot:job'] are "
            "reserved for the pipeline. Allowed: any other key; e.g. team: data-platform",
            id="reserved-tag",
        ),
        pytest.param(
            lambda d: d["serverless"].update(execution_role="my-role"),
            "serverless.execution_role: read 'my-role': not in the expected form. Allowed: an IAM role ARN; "
            "e.g. execution_role: arn:aws:iam::123456789012:role/emr-autopilot-serverless-jobs",
            id="execution-role-not-an-arn",
        ),
        pytest.param(
            lambda d: d["serverless"].update(logs={"s3": False, "s3_uri": "s3://my-logs/x/"}),
            "serverless.logs.s3_uri: read 's3://my-logs/x/' with s3: false: there are no S3 logs to place. "
            "Allowed: s3: true with an s3_uri, or no s3_uri",
            id="s3-uri-with-s3-off",
        ),
        pytest.param(
            lambda d: d["serverless"].update(concurrency=0),
            "serverless.concurrency: read 0: must be >= 1. Allowed: a whole number from 1 to 256; e.g. concurrency: 1",
            id="concurrency-zero",
        ),
        pytest.param(
            lambda d: d["serverless"].update(aplication={}),
            "serverless.aplication: unknown field 'aplication'; did you mean 'application'? Fields here: "
            "application_id, application, execution_role, start_application_first, stop_application_after_run, "
            "logs, concurrency, tags",
            id="misspelt-field",
        ),
    ],
)
def test_serverless_fields_are_refused_in_the_job_files_words(jobs_dir: Path, change: Any, expected: str) -> None:
    # Given the serverless sample with one field wrong
    data = copy.deepcopy(sample())
    change(data)
    path = write(jobs_dir, data)

    # When it is loaded
    lines = problems_of(path)

    # Then the message names the file and the field, quotes what was read and says what is allowed
    assert lines == [f"{path}: {expected}"]
    for word in NOT_USER_WORDS:
        assert word not in lines[0]


# -- each compute target refuses the other's fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda: {**sample(), "cluster": sample(EC2_SAMPLE)["cluster"]},
            "cluster: read a cluster section on an emr-serverless job: EMR Serverless runs on an application, not a "
            "cluster. Allowed: a serverless section instead, or compute: emr-ec2; e.g. serverless: {application: "
            "{release_label: emr-7.5.0}}",
            id="cluster-on-serverless",
        ),
        pytest.param(
            lambda: {key: value for key, value in sample().items() if key != "serverless"},
            "serverless: missing: an emr-serverless job needs a serverless section. Allowed: application_id (an "
            "existing application) or application (one this tool manages); e.g. serverless: {application: "
            "{release_label: emr-7.5.0}}",
            id="serverless-without-section",
        ),
        pytest.param(
            lambda: {**sample(EC2_SAMPLE), "name": SAMPLE, "serverless": sample()["serverless"]},
            "serverless: read a serverless section on an emr-ec2 job: it applies to compute: emr-serverless only. "
            "Allowed: no serverless section, or compute: emr-serverless (and no cluster)",
            id="serverless-on-ec2",
        ),
        pytest.param(
            lambda: {key: value for key, value in {**sample(EC2_SAMPLE), "name": SAMPLE}.items() if key != "cluster"},
            "cluster: missing: cluster is required for compute: emr-ec2 (the default). Allowed: the cluster's "
            "settings, or compute: emr-serverless with a serverless section; e.g. cluster: {release_label: "
            "emr-7.5.0, instance_groups: [...]}",
            id="ec2-without-cluster",
        ),
        pytest.param(
            lambda: {
                **sample(EC2_SAMPLE),
                "name": SAMPLE,
                "steps": [{"name": "q", "type": "hive", "query": "s3://my-bucket/q.sql"}],
            },
            "steps.0.type: read 'hive': hive steps run on EMR Serverless only (compute: emr-serverless). Allowed on "
            "a cluster: spark-submit, script, command; e.g. type: command with args: [hive-script, "
            "--run-hive-script, --args, -f, s3://my-bucket/query.q]",
            id="hive-on-ec2",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{"name": "s", "type": "script", "script": "s3://my-bucket/run.sh"}]},
            "steps.0.type: read 'script': EMR Serverless runs Spark and Hive jobs, not script steps (there is no "
            "node to run a script on). Allowed: spark-submit, hive, or compute: emr-ec2; e.g. type: spark-submit",
            id="script-on-serverless",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{"name": "c", "type": "command", "args": ["echo", "hi"]}]},
            "steps.0.type: read 'command': EMR Serverless runs Spark and Hive jobs, not command steps (there is no "
            "node to run a command on). Allowed: spark-submit, hive, or compute: emr-ec2; e.g. type: spark-submit",
            id="command-on-serverless",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{**sample()["steps"][0], "action_on_failure": "CONTINUE"}]},
            "steps.0.action_on_failure: read action_on_failure on an emr-serverless job: it is an EMR cluster step "
            "setting; a failed job run fails the run. Allowed: no action_on_failure",
            id="action-on-failure-on-serverless",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{**sample()["steps"][0], "simulate": True}]},
            "steps.0.simulate: read true on an emr-serverless job: simulate puts an echo step on a cluster in place "
            "of the step, and EMR Serverless has no such step. Allowed: false (or no simulate)",
            id="simulate-on-serverless",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{**sample()["steps"][0], "spark_args": ["--conf", "a=b c"]}]},
            "steps.0.spark_args: read 'a=b c': on EMR Serverless spark_args become one string "
            "(sparkSubmitParameters), so a word cannot hold a space. Allowed: one word per item; e.g. spark_args: "
            "[--conf, spark.executor.cores=4]",
            id="spark-arg-with-a-space",
        ),
        pytest.param(
            lambda: {
                **sample(),
                "steps": [sample()["steps"][0], {"name": "q", "type": "hive", "query": "s3://my-bucket/q.sql"}],
            },
            "steps: read hive and spark-submit steps: a managed application runs one engine (SPARK or HIVE). "
            "Allowed: steps of one type, or one job per engine",
            id="two-engines-on-one-managed-application",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{"name": "q", "type": "hive"}]},
            "steps.0.query: missing: a hive step needs 'query' (its query file). Allowed: an s3:// URI or a path "
            "relative to jobs/; e.g. query: my_job/query.sql",
            id="hive-without-query",
        ),
        pytest.param(
            lambda: {**sample(), "steps": [{**sample()["steps"][0], "query": "s3://my-bucket/q.sql"}]},
            "steps.0.query: read query on a spark-submit step: query, init_file and parameters belong to hive "
            "steps. Allowed: type hive, or the values in args",
            id="query-on-spark-step",
        ),
        pytest.param(
            lambda: {**sample(), "compute": "emr-containers"},
            "compute: read 'emr-containers': not one of the allowed values; did you mean emr-eks? Allowed: emr-ec2, "
            "emr-serverless, emr-eks",
            id="unknown-target",
        ),
    ],
)
def test_each_target_refuses_the_other_targets_fields(jobs_dir: Path, make: Any, expected: str) -> None:
    # Given a job that mixes the targets' fields
    path = write(jobs_dir, make())

    # When it is loaded
    lines = problems_of(path)

    # Then the one message names the field and what the job's target allows instead
    assert lines == [f"{path}: {expected}"]


def test_a_hive_job_on_an_existing_application_loads_with_its_files() -> None:
    # Given a serverless hive job on an existing application, with its query and init file under jobs/
    data = {
        **sample(),
        "serverless": {"application_id": "00fabc123example"},
        "steps": [
            {
                "name": "Load",
                "type": "hive",
                "query": "red_violations/count_red_violations.py",
                "init_file": "s3://my-bucket/init.sql",
                "parameters": ["--hiveconf", "hive.exec.scratchdir=s3://{curated_bucket}/scratch"],
            }
        ],
    }

    # When it is validated
    job = JobDefinition.model_validate(data)

    # Then the query (a path under jobs/) is a file to upload, and the init file (s3://) is not
    assert job.local_files() == ["red_violations/count_red_violations.py"]
    assert job.steps[0].parameters == ["--hiveconf", "hive.exec.scratchdir=s3://{curated_bucket}/scratch"]


# -- the requests, against EMR Serverless's model (jobs validate) ---------------------------------------------


def test_the_samples_requests_pass_emr_serverless_model() -> None:
    # Given the serverless sample
    job = JobDefinition.model_validate(sample())

    # When its StartJobRun and CreateApplication requests are checked against the model
    # Then there is no problem
    assert request_problems(job, example_context()) == []


def test_a_request_the_model_refuses_fails_at_validate_time_naming_the_field() -> None:
    # Given a serverless job whose job-run tag value is longer than the API takes (TagValue: at most 256)
    data = sample()
    data["serverless"]["tags"] = {"owner": "x" * 257}
    job = JobDefinition.model_validate(data)

    # When its requests are checked
    lines = request_problems(job, example_context())

    # Then the problem is named once, in the job file's field, as EMR Serverless would refuse it
    assert lines == [
        'serverless.tags: EMR Serverless would refuse this job\'s job runs: StartJobRun tags["owner"] must have at '
        "most 256 characters; got 257"
    ]


def test_a_step_too_long_for_the_api_is_named_by_its_step() -> None:
    # Given a serverless step with more entry point arguments than StartJobRun takes (at most 1024)
    data = sample()
    data["steps"][0]["args"] = ["x"] * 1025
    job = JobDefinition.model_validate(data)

    # When its requests are checked
    lines = request_problems(job, example_context())

    # Then the line names the step and its args
    assert lines == [
        "steps.0.args: EMR Serverless would refuse this job run: StartJobRun "
        "jobDriver.sparkSubmit.entryPointArguments must have at most 1024 items; got 1025"
    ]


def test_a_stack_without_the_serverless_state_machine_refuses_a_serverless_job() -> None:
    # Given a stack deployed before serverless runs existed (no serverless outputs)
    context = example_context().model_copy(
        update={"serverless_state_machine_arn": None, "serverless_execution_role_arn": None}
    )
    job = JobDefinition.model_validate(sample())

    # When the job is checked against it
    lines = request_problems(job, context)

    # Then the one line names the missing output and what to do
    assert lines == [
        "compute: read 'emr-serverless': job 'red-violations-serverless' runs on EMR Serverless (compute: "
        "emr-serverless), but the stack has no serverless state machine: stack output "
        "ServerlessPipelineStateMachineArn is missing (the run starter's SERVERLESS_STATE_MACHINE_ARN is unset). "
        "Deploy the current template (sam deploy), or set compute: emr-ec2"
    ]


def test_jobs_validate_lists_the_serverless_job(jobs_dir: Path) -> None:
    # Given a jobs directory with the serverless sample
    shutil.copy(REPO_JOBS / f"{SAMPLE}.yaml", jobs_dir)

    # When `jobs validate` runs on it
    result = CliRunner().invoke(main, ["jobs", "validate", "--jobs-dir", str(jobs_dir)])

    # Then it is valid, and the line says where it runs
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ok  red-violations-serverless: 1 step(s), EMR Serverless emr-7.5.0 (managed application), run timeout 1h, "
        "triggers: manual only",
        "1 job(s) valid.",
    ]


def test_jobs_validate_fails_on_a_serverless_job_with_a_bad_field(jobs_dir: Path) -> None:
    # Given a jobs directory whose serverless job names a cluster too
    data = {**sample(), "cluster": sample(EC2_SAMPLE)["cluster"]}
    path = write(jobs_dir, data)

    # When `jobs validate` runs on it
    result = CliRunner().invoke(main, ["jobs", "validate", "--jobs-dir", str(jobs_dir)])

    # Then it fails, naming the file and the field
    assert result.exit_code == 1
    assert f"{path}: cluster: read a cluster section on an emr-serverless job" in result.output
    with pytest.raises(JobDefinitionError):
        load_jobs(jobs_dir)
