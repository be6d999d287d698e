"""Job validation as strict as AWS, in the job file's words: the cases the issue found, the EMR requests a
run would send, trigger buckets, and the CLI's answers (`jobs validate`, `reap --threshold`)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.job_checks import example_context, request_problems, trigger_bucket_problems
from emr_autopilot.jobs import JobDefinition, job_files, load_jobs
from emr_autopilot_devkit.cli import main
from emr_autopilot_devkit.deploy_jobs import StackOutputs, buckets_in_pattern
from tests.helpers.template import load_template

REPO_JOBS = Path(__file__).resolve().parents[2] / "jobs"
SAMPLE = "red-violations"
# What a message must never show: pydantic's words, its documentation links, regexes.
NOT_USER_WORDS = ("pydantic", "http", "Input should", "Value error", "should match pattern", "Extra inputs", "^(")


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    """A jobs/ directory with the sample job and its files."""
    target = tmp_path / "jobs"
    target.mkdir()
    shutil.copy(REPO_JOBS / f"{SAMPLE}.yaml", target)
    shutil.copytree(REPO_JOBS / "red_violations", target / "red_violations")
    return target


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_JOBS / f"{SAMPLE}.yaml").read_text(encoding="utf-8"))
    return loaded


def write(jobs_dir: Path, data: dict[str, Any]) -> Path:
    path = jobs_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems_of(jobs_dir: Path) -> list[str]:
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)
    return str(caught.value).splitlines()


def assert_user_words(lines: list[str]) -> None:
    for line in lines:
        for word in NOT_USER_WORDS:
            assert word not in line, f"{word!r} in {line!r}"


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        pytest.param(
            lambda d: d["triggers"].update(schedule="cron(0 25 * * ? *)"),
            "triggers.schedule",
            ["read 'cron(0 25 * * ? *)'", "hours (the 2nd field) is '25'", "Allowed: cron(", "e.g. cron(0 6 * * ? *)"],
            id="bad-cron-hour",
        ),
        pytest.param(
            lambda d: d["triggers"].update(schedule="rate(1 minutes)"),
            "triggers.schedule",
            ["read 'rate(1 minutes)'", "singular", "write rate(1 minute)"],
            id="rate-1-minutes",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(timeout="twenty minutes"),
            "steps.0.timeout",
            ["read 'twenty minutes': not a duration", "Allowed: a number and a unit", "e.g. timeout: 30m"],
            id="timeout-in-words",
        ),
        pytest.param(
            lambda d: d["cluster"].update(idle_timeout=30),
            "cluster.idle_timeout",
            ["read 30: a number without a unit is seconds, so 30s", "Allowed: 1m to 7d", "e.g. idle_timeout: 30m"],
            id="idle-timeout-read-as-seconds",
        ),
        pytest.param(
            lambda d: d.update(output_uri="s3:/{curated_bucket}/wc/"),
            "output_uri",
            [
                "read 's3:/{curated_bucket}/wc/'",
                "an S3 URI starts with 's3://'",
                "Allowed: s3://<bucket>/<prefix>",
                "e.g. output_uri: s3://{curated_bucket}/",
            ],
            id="output-uri-with-one-slash",
        ),
        pytest.param(
            lambda d: d.update(output_uri="s3://Curated_Bucket/wc/"),
            "output_uri",
            ["read 's3://Curated_Bucket/wc/'", "bucket 'Curated_Bucket'", "lower-case"],
            id="output-uri-bad-bucket-name",
        ),
        pytest.param(
            lambda d: d["triggers"].update(schedule_input_uri="{landing_bucket}/inspections/latest.csv"),
            "triggers.schedule_input_uri",
            ["read '{landing_bucket}/inspections/latest.csv'", "an S3 URI starts with 's3://'"],
            id="schedule-input-without-scheme",
        ),
        pytest.param(
            lambda d: d["steps"][0]["args"].append("s3:/{curated_bucket}/extra/"),
            "steps.0.args.4",
            ["read 's3:/{curated_bucket}/extra/'", "an S3 URI starts with 's3://'"],
            id="s3-arg-with-one-slash",
        ),
        pytest.param(
            lambda d: d["steps"][0]["args"].append("--out={curated_bukcet}"),
            "steps.0.args.4",
            ["unknown placeholder {curated_bukcet}; did you mean {curated_bucket}?", "Allowed: {artifacts_bucket}"],
            id="misspelt-placeholder",
        ),
        pytest.param(
            lambda d: d["cluster"].update(idle_timout="30m"),
            "cluster.idle_timout",
            ["unknown field 'idle_timout'; did you mean 'idle_timeout'?", "Fields here: release_label"],
            id="misspelt-field",
        ),
        pytest.param(
            lambda d: d.update(idle_timeout="30m"),
            "idle_timeout",
            ["unknown field 'idle_timeout'; it is a field of cluster, not here (cluster.idle_timeout)"],
            id="field-at-the-wrong-level",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(type="spark_submit"),
            "steps.0.type",
            ["read 'spark_submit'", "did you mean spark-submit?", "Allowed: spark-submit, script, command"],
            id="misspelt-value",
        ),
        pytest.param(
            lambda d: d["triggers"]["s3"][0].update(bucket="My_Landing"),
            "triggers.s3.0.bucket",
            ["read 'My_Landing': not a bucket name", "e.g. bucket: landing"],
            id="bad-trigger-bucket-name",
        ),
        pytest.param(
            lambda d: d["cluster"].update(release_label="emr-7.5"),
            "cluster.release_label",
            ["read 'emr-7.5': not in the expected form", "Allowed: emr-<major>.<minor>.<patch>", "emr-7.5.0"],
            id="release-label-form",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(script="s3://only-a-bucket"),
            "steps.0.script",
            ["read 's3://only-a-bucket'", "names a bucket but no object"],
            id="script-uri-without-key",
        ),
        pytest.param(
            lambda d: d["cluster"].update(log_uri="s3:/logs/emr/"),
            "cluster.log_uri",
            ["read 's3:/logs/emr/'", "e.g. log_uri: s3://"],
            id="log-uri-with-one-slash",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(timeout="9" * 400),
            "steps.0.timeout",
            ["far too long. Allowed: a number and a unit"],
            id="duration-beyond-a-timedelta",
        ),
        pytest.param(
            lambda d: d.update(run_timeout=60),
            "run_timeout",
            ["read 60: a number without a unit is seconds, so 1m", "Allowed: 5m to 7d"],
            id="run-timeout-read-as-seconds",
        ),
        pytest.param(
            lambda d: d["cluster"]["instance_fleets"][1].update(target_on_demand_capacity="two"),
            "cluster.instance_fleets.1.target_on_demand_capacity",
            ["read 'two': expected a whole number", "Allowed: a whole number of 0 or more"],
            id="number-in-words",
        ),
    ],
)
def test_a_mistake_is_named_in_the_job_files_words(
    jobs_dir: Path, change: Any, field: str, expected: list[str]
) -> None:
    # Given the sample job with one mistake of the kind the issue found
    data = copy.deepcopy(sample())
    change(data)
    path = write(jobs_dir, data)

    # When the jobs directory is loaded
    lines = problems_of(jobs_dir)

    # Then one line names the file and the field, quotes what was read and says what is allowed
    line = next((line for line in lines if line.startswith(f"{path}: {field}: ")), None)
    assert line is not None, lines
    for text in expected:
        assert text in line, line
    # and no line is in pydantic's or a regex's words
    assert_user_words(lines)


# --- the EMR requests a run sends -----------------------------------------------------------------


def test_a_cluster_emr_would_refuse_is_named_by_its_job_field() -> None:
    # Given a job valid field by field whose instance type is longer than EMR's InstanceType (256 chars)
    data = copy.deepcopy(sample())
    data["cluster"]["instance_fleets"][2]["instance_types"][1]["instance_type"] = "r" * 300
    job = JobDefinition.model_validate(data)

    # When its rendered createCluster request is checked against EMR's API model
    lines = request_problems(job, example_context())

    # Then the job field and the request member are named, with the limit
    assert lines == [
        "cluster.instance_fleets.2: EMR would refuse the cluster this job creates: RunJobFlow "
        "Instances.InstanceFleets[2].InstanceTypeConfigs[1].InstanceType must have at most 256 characters; got 300"
    ]


def test_a_step_emr_would_refuse_is_named_by_its_step() -> None:
    # Given a step whose arg is longer than EMR's XmlString (10280 characters)
    data = copy.deepcopy(sample())
    data["steps"][0]["args"].append("x" * 10_281)
    job = JobDefinition.model_validate(data)

    # When each addStep request is checked
    lines = request_problems(job, example_context())

    # Then the step's args are blamed
    assert len(lines) == 1, lines
    assert lines[0].startswith("steps.0.args: EMR would refuse this step: HadoopJarStep.Args[")
    assert "at most 10280 characters" in lines[0]


def test_the_sample_jobs_render_requests_emr_accepts() -> None:
    # Given the repository's jobs / When their requests are checked / Then EMR's model has nothing to say
    for job in load_jobs(REPO_JOBS).jobs:
        assert request_problems(job, example_context()) == [], job.name


# --- trigger buckets ----------------------------------------------------------------------------


def test_a_trigger_on_a_bucket_the_stack_does_not_listen_on_is_refused() -> None:
    # Given a job triggered by new objects in a bucket that is not the landing bucket
    data = copy.deepcopy(sample())
    data["triggers"]["s3"][0]["bucket"] = "partner-drop"
    job = JobDefinition.model_validate(data)
    context = example_context()

    # When it is checked against a stack that listens on its landing bucket only
    lines = trigger_bucket_problems(job, {context.landing_bucket}, context)

    # Then the trigger is refused: it would never fire, and the message says how to make it fire
    assert len(lines) == 1
    assert lines[0].startswith("triggers.s3.0.bucket: read 'partner-drop': the stack does not start runs")
    assert f"Allowed: landing ({context.landing_bucket})" in lines[0]
    assert "ExtraTriggerBucketNames" in lines[0]
    # And once the stack listens on it too, nothing is said
    assert trigger_bucket_problems(job, {context.landing_bucket, "partner-drop"}, context) == []


def test_the_buckets_a_stack_notifies_on_are_its_landing_bucket_and_extra_trigger_buckets() -> None:
    # Given the template's run starter rule (what StackOutputs.trigger_buckets mirrors for a deployed stack)
    function = load_template()["Resources"]["RunStarterFunction"]["Properties"]
    pattern = function["Events"]["ObjectCreated"]["Properties"]["Pattern"]

    # When its bucket names are read
    names = pattern["detail"]["bucket"]["name"]

    # Then they are LandingBucket plus the ExtraTriggerBucketNames parameter, nothing else
    assert (pattern["source"], pattern["detail-type"]) == (["aws.s3"], ["Object Created"])
    assert names == {
        "Fn::If": [
            "HasExtraTriggerBuckets",
            {
                "Fn::Split": [
                    ",",
                    {
                        "Fn::Join": [
                            ",",
                            [{"Ref": "LandingBucket"}, {"Fn::Join": [",", {"Ref": "ExtraTriggerBucketNames"}]}],
                        ]
                    },
                ]
            },
            [{"Ref": "LandingBucket"}],
        ]
    }
    # and a deployed stack's outputs and parameters give that list
    outputs = StackOutputs({"LandingBucketName": "land"}, {"ExtraTriggerBucketNames": "a-bucket, b-bucket"})
    assert outputs.trigger_buckets == {"land", "a-bucket", "b-bucket"}
    assert StackOutputs({"LandingBucketName": "land"}, {"ExtraTriggerBucketNames": ""}).trigger_buckets == {"land"}


def test_only_s3_object_created_patterns_name_trigger_buckets() -> None:
    s3 = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": ["a", "b"]}}}
    emr = {"source": ["aws.emr"], "detail-type": ["EMR Step Status Change"]}
    assert buckets_in_pattern(s3) == {"a", "b"}
    assert buckets_in_pattern(emr) == frozenset()


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("EMR_AUTOPILOT_STACK", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return CliRunner()


@pytest.mark.parametrize(("make", "reason"), [("empty", "no job files"), ("missing", "does not exist")])
def test_jobs_validate_without_jobs_exits_non_zero(runner: CliRunner, tmp_path: Path, make: str, reason: str) -> None:
    # Given a jobs directory that is empty, or not there at all (run from the wrong directory)
    target = tmp_path / "jobs"
    if make == "empty":
        target.mkdir()

    # When `jobs validate` runs on it
    result = runner.invoke(main, ["jobs", "validate", "--jobs-dir", str(target)])

    # Then it fails, saying why, and never says "0 job(s) valid"
    assert result.exit_code == 1, result.output
    assert reason in result.output
    assert "valid." not in result.output


def test_jobs_validate_names_every_mistake_and_exits_non_zero(runner: CliRunner, jobs_dir: Path) -> None:
    # Given the sample job with a bad schedule and a bad output URI
    data = copy.deepcopy(sample())
    data["triggers"]["schedule"] = "cron(0 6 * * * *)"
    data["output_uri"] = "s3:/{curated_bucket}/wc/"
    write(jobs_dir, data)

    # When it is validated
    result = runner.invoke(main, ["jobs", "validate", "--jobs-dir", str(jobs_dir)])

    # Then both are named, with what to write instead, and the command fails
    assert result.exit_code == 1
    assert "triggers.schedule: read 'cron(0 6 * * * *)'" in result.output
    assert "write cron(0 6 * * ? *)" in result.output
    assert "output_uri: read 's3:/{curated_bucket}/wc/'" in result.output
    assert_user_words(result.output.splitlines())


def test_jobs_validate_says_which_trigger_buckets_it_could_not_check(runner: CliRunner, jobs_dir: Path) -> None:
    # Given a valid job triggered by another bucket, and no stack named
    data = copy.deepcopy(sample())
    data["triggers"]["s3"][0]["bucket"] = "partner-drop"
    write(jobs_dir, data)

    # When it is validated
    result = runner.invoke(main, ["jobs", "validate", "--jobs-dir", str(jobs_dir)])

    # Then it is valid, but the output says the bucket was not checked and how to check it
    assert result.exit_code == 0, result.output
    assert "note: trigger bucket(s) partner-drop not checked against a stack; pass --stack-name" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--threshold", "1h30m"], "--threshold: read '1h30m': not a duration"),
        (["--threshold", "1h30m"], "e.g. --threshold 90m (one unit: 1h30m is 90m)"),
        (["--grace", "ten minutes"], "--grace: read 'ten minutes': not a duration. Allowed: a number and a unit"),
        (["--grace", "9" * 40], "--grace: read '9999999999999999999999999999999999999999': not a duration"),
    ],
)
def test_reap_names_a_bad_duration_option_in_plain_words(runner: CliRunner, args: list[str], expected: str) -> None:
    # Given a duration the reaper cannot read
    # When `reap` runs with it (no stack needed to refuse an option)
    result = runner.invoke(main, ["reap", "--dry-run", *args])

    # Then it fails with the option, what was read and what to write, and no pydantic link
    assert result.exit_code == 1
    assert expected in result.output
    assert_user_words(result.output.splitlines())


def test_reap_option_out_of_range_is_named_by_its_option() -> None:
    # Given reaper settings outside their ranges
    from datetime import timedelta

    from pydantic import ValidationError

    from emr_autopilot.reaper import ReaperConfig
    from emr_autopilot_devkit.reap import describe_config_error

    with pytest.raises(ValidationError) as caught:
        ReaperConfig(idle_threshold=timedelta(minutes=1), grace=timedelta(minutes=-5), scope="=x")

    # When the error is described / Then each line is an option, what was read and an example
    assert describe_config_error(caught.value).splitlines() == [
        "--threshold: read 1m: must be between 5m and 7d; e.g. --threshold 90m",
        "--grace: read -5m: must not be negative; e.g. --grace 30m",
        "--scope-tag: read '': a tag key must not be empty; e.g. --scope-tag team=data-platform",
    ]


def test_a_jobs_dir_name_the_file_system_cannot_hold_is_a_clear_error(tmp_path: Path) -> None:
    """Found by the deep fuzz profile: `jobs validate --jobs-dir <400 characters>` ended in OSError (File name too
    long), a traceback instead of a reason."""
    # Given a jobs directory name longer than the file system allows
    jobs_dir = tmp_path / ("9" * 400)

    # When its job files are listed
    with pytest.raises(JobDefinitionError) as refused:
        job_files(jobs_dir)

    # Then the error says it cannot be read, and why
    assert "cannot be read (File name too long)" in str(refused.value)


def test_a_jobs_dir_name_with_a_nul_byte_is_a_clear_error() -> None:
    """Found by the deep fuzz profile: a NUL byte in --jobs-dir ended in ValueError('embedded null byte'), a
    traceback from click's own path check."""
    # Given a --jobs-dir with a NUL byte
    # When jobs validate runs with it
    result = CliRunner().invoke(main, ["jobs", "validate", "--jobs-dir", "jo\x00bs"])

    # Then it is a usage error that says why, not a traceback
    assert result.exit_code == 2
    assert "contains a NUL byte" in result.output
