"""Job definitions: the sample job loads, and every invalid file is refused with file, field and reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import (
    ClusterSpec,
    Configuration,
    JobDefinition,
    Step,
    format_duration,
    load_job_file,
    load_jobs,
)


def valid_job(name: str = "sample") -> dict[str, Any]:
    return {
        "name": name,
        "cluster": {
            "release_label": "emr-7.5.0",
            "instance_groups": [{"role": "MASTER", "instance_type": "m5.xlarge"}],
        },
        "steps": [
            {"name": "run", "type": "script", "script": "sample/run.sh", "args": ["--input", "{input_uri}"]},
        ],
        "run_timeout": "1h",
    }


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "jobs"
    (directory / "sample").mkdir(parents=True)
    (directory / "sample" / "run.sh").write_text("#!/bin/sh\necho ok\n", encoding="utf-8")
    return directory


def write_job(jobs_dir: Path, data: dict[str, Any], file_name: str | None = None) -> Path:
    path = jobs_dir / (file_name or f"{data['name']}.yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problem_lines(error: JobDefinitionError) -> list[str]:
    return str(error).splitlines()


def assert_reported(error: JobDefinitionError, path: Path, field: str, reason: str) -> None:
    lines = problem_lines(error)
    assert any(str(path) in line and field in line and reason in line for line in lines), lines


# --- the sample job -----------------------------------------------------------------------------


def test_sample_job_loads_from_the_jobs_directory(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the repository's jobs/ directory, read from the repo root as the CLI does
    monkeypatch.chdir(repo_root)

    # When the catalog is loaded
    catalog = load_jobs(Path("jobs"))

    # Then the sample job is in it, with the definition the docs describe
    job = catalog.get("red-violations")
    assert job.triggers.s3[0].bucket == "landing"
    assert (job.triggers.s3[0].prefix, job.triggers.s3[0].suffix) == ("inspections/", ".csv")
    assert job.triggers.schedule == "cron(0 6 * * ? *)"
    assert job.triggers.schedule_input_uri == "s3://{landing_bucket}/inspections/latest.csv"
    cluster = job.cluster
    assert cluster.release_label == "emr-7.5.0"
    assert cluster.applications == ["Hadoop", "Spark"]
    assert cluster.instance_groups is None
    assert [fleet.role for fleet in cluster.instance_fleets or []] == ["MASTER", "CORE", "TASK"]
    task = (cluster.instance_fleets or [])[2]
    assert task.target_spot_capacity == 4
    assert task.spot is not None and task.spot.timeout_minutes == 10
    assert cluster.managed_scaling is not None
    assert (cluster.managed_scaling.unit_type, cluster.managed_scaling.minimum) == ("InstanceFleetUnits", 3)
    assert (cluster.managed_scaling.maximum, cluster.managed_scaling.maximum_on_demand) == (12, 4)
    assert cluster.configurations[0].properties == {"spark.sql.adaptive.enabled": "true"}
    assert cluster.tags == {"team": "data-platform", "cost-center": "analytics"}
    assert cluster.idle_timeout == timedelta(minutes=30)
    assert job.run_timeout == timedelta(hours=1)
    assert [(step.name, step.type, step.timeout) for step in job.steps] == [
        ("Count red violations", "script", timedelta(minutes=30))
    ]
    assert job.local_files() == [
        "red_violations/bootstrap/install-deps.sh",
        "red_violations/count_red_violations.py",
    ]


def test_sample_job_loads_as_a_single_file(repo_root: Path) -> None:
    # Given the sample job file on its own
    path = repo_root / "jobs" / "red-violations.yaml"

    # When it is loaded without naming the jobs directory
    job = load_job_file(path)

    # Then its local files are looked up next to it, and it validates
    assert job.name == "red-violations"


# --- invalid definitions ------------------------------------------------------------------------


def test_unknown_field_is_named(jobs_dir: Path) -> None:
    # Given a job with a misspelt cluster field
    data = valid_job()
    data["cluster"]["idle_timout"] = "30m"
    path = write_job(jobs_dir, data)

    # When the catalog is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the error names the file, the field and the reason
    assert_reported(
        caught.value, path, "cluster.idle_timout", "unknown field 'idle_timout'; did you mean 'idle_timeout'?"
    )


def test_bad_release_label_is_named(jobs_dir: Path) -> None:
    # Given a job whose release label lacks the patch number
    data = valid_job()
    data["cluster"]["release_label"] = "emr-7.5"
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the release label field is blamed
    assert_reported(caught.value, path, "cluster.release_label", "read 'emr-7.5': not in the expected form")
    assert_reported(caught.value, path, "cluster.release_label", "Allowed: emr-<major>.<minor>.<patch>")


def test_groups_and_fleets_together_are_refused(jobs_dir: Path) -> None:
    # Given a cluster with both instance groups and instance fleets
    data = valid_job()
    data["cluster"]["instance_fleets"] = [
        {"role": "MASTER", "target_on_demand_capacity": 1, "instance_types": [{"instance_type": "m5.xlarge"}]}
    ]
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the cluster is blamed and the reason names both fields
    assert_reported(caught.value, path, "cluster", "set exactly one of instance_groups or instance_fleets")


def test_unknown_placeholder_in_args_is_named(jobs_dir: Path) -> None:
    # Given a step arg with a misspelt placeholder
    data = valid_job()
    data["steps"][0]["args"] = ["--input", "{inptu_uri}"]
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the exact arg is blamed and the unknown name is quoted
    assert_reported(caught.value, path, "steps.0.args.1", "unknown placeholder {inptu_uri}; did you mean {input_uri}?")


def test_step_timeout_longer_than_run_timeout_is_refused(jobs_dir: Path) -> None:
    # Given a step allowed 2h in a job allowed 1h
    data = valid_job()
    data["steps"][0]["timeout"] = "2h"
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the step's timeout is blamed, with both durations
    assert_reported(caught.value, path, "steps.0.timeout", "2h (step 'run') is longer than the job's run_timeout (1h)")


def test_name_must_match_file_name(jobs_dir: Path) -> None:
    # Given a job called "sample" saved as other.yaml
    path = write_job(jobs_dir, valid_job(), file_name="other.yaml")

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the name field is blamed
    assert_reported(caught.value, path, "name", "read 'sample': it must match the file name 'other'. Allowed: other")


def test_missing_local_script_is_named(jobs_dir: Path) -> None:
    # Given a step whose script is not under jobs/
    data = valid_job()
    data["steps"][0]["script"] = "sample/not_there.py"
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the step's script field and the missing path are named
    assert_reported(caught.value, path, "steps.0.script", "file not found")
    assert_reported(caught.value, path, "steps.0.script", "sample/not_there.py")


def test_missing_bootstrap_script_is_named(jobs_dir: Path) -> None:
    # Given a bootstrap action whose script does not exist
    data = valid_job()
    data["cluster"]["bootstrap_actions"] = [{"name": "deps", "path": "sample/missing.sh"}]
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the bootstrap action's path field is named
    assert_reported(caught.value, path, "cluster.bootstrap_actions.0.path", "sample/missing.sh")


def test_s3_script_needs_no_local_file(jobs_dir: Path) -> None:
    # Given a step whose script is already on S3
    data = valid_job()
    data["steps"][0]["script"] = "s3://some-bucket/scripts/run.sh"
    write_job(jobs_dir, data)

    # When it is loaded
    job = load_jobs(jobs_dir).get("sample")

    # Then nothing local has to be uploaded
    assert job.local_files() == []


def test_invalid_yaml_is_reported(jobs_dir: Path) -> None:
    # Given a file that is not YAML
    path = jobs_dir / "broken.yaml"
    path.write_text("name: broken\nsteps: [unclosed\n", encoding="utf-8")

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the file is named as not valid YAML
    assert_reported(caught.value, path, "", "not valid YAML")


def test_yaml_that_is_not_a_mapping_is_reported(jobs_dir: Path) -> None:
    # Given a YAML list instead of a mapping
    path = jobs_dir / "listy.yaml"
    path.write_text("- name: listy\n", encoding="utf-8")

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the top level is blamed
    assert_reported(caught.value, path, "(top level)", "expected a mapping")


def test_file_that_is_not_utf8_is_reported(jobs_dir: Path) -> None:
    # Given a job file saved as Latin-1
    path = jobs_dir / "sample.yaml"
    path.write_bytes("name: sample\ndescription: café\n".encode("latin-1"))

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then it is a JobDefinitionError naming the file, not a UnicodeDecodeError
    assert_reported(caught.value, path, "(file)", "UTF-8")


def test_every_invalid_file_is_reported_at_once(jobs_dir: Path) -> None:
    # Given two broken files
    first = valid_job("first")
    first["cluster"]["release_label"] = "7.5.0"
    second = valid_job("second")
    second["steps"][0]["args"] = ["{nope}"]
    first_path, second_path = write_job(jobs_dir, first), write_job(jobs_dir, second)

    # When the catalog is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then both files' problems are in the one error
    assert_reported(caught.value, first_path, "cluster.release_label", "read '7.5.0'")
    assert_reported(caught.value, second_path, "steps.0.args.0", "unknown placeholder")


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            lambda d: d["steps"][0]["args"].append("{run_date:%Y}"),
            "steps.0.args.2",
            "cannot be rendered",
            id="format-spec-that-fails-at-render-time",
        ),
        pytest.param(
            lambda d: d.update(output_uri="s3://bucket/{output_uri}/"),
            "output_uri",
            "output_uri cannot use {output_uri}",
            id="output-uri-refers-to-itself",
        ),
        pytest.param(
            lambda d: d.update(triggers={"schedule": "rate(1 day)", "schedule_input_uri": "{input_uri}"}),
            "triggers.schedule_input_uri",
            "schedule_input_uri cannot use {input_uri}",
            id="schedule-input-refers-to-input",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(script="../outside.sh"),
            "steps.0.script",
            "read '../outside.sh': not inside jobs/",
            id="script-outside-jobs",
        ),
        pytest.param(
            lambda d: d["steps"][0].update(script="/usr/local/bin/run.sh"),
            "steps.0.script",
            "read '/usr/local/bin/run.sh': not inside jobs/",
            id="absolute-script-path",
        ),
        pytest.param(
            lambda d: d.update(triggers={"schedule": "cron(0 6 * * ?)"}),
            "triggers.schedule",
            "5 field(s); a cron expression has 6",
            id="cron-with-five-fields",
        ),
        pytest.param(
            lambda d: d["cluster"].update(idle_timeout="30s"),
            "cluster.idle_timeout",
            "read '30s', which is 30s. Allowed: 1m to 7d",
            id="idle-timeout-too-short",
        ),
        pytest.param(
            lambda d: d["cluster"].update(
                managed_scaling={"unit_type": "InstanceFleetUnits", "minimum": 1, "maximum": 4}
            ),
            "cluster",
            "instance groups scale in Instances or VCPU",
            id="groups-with-fleet-units",
        ),
        pytest.param(
            lambda d: d["cluster"].update(
                managed_scaling={"unit_type": "Instances", "minimum": 1, "maximum": 4, "maximum_on_demand": 5}
            ),
            "cluster.managed_scaling",
            "maximum_on_demand must be <= maximum",
            id="on-demand-limit-above-maximum",
        ),
        pytest.param(
            lambda d: d["cluster"].update(tags={"emr-autopilot:job": "x"}),
            "cluster.tags",
            "reserved for the pipeline",
            id="reserved-tag",
        ),
    ],
)
def test_other_invalid_definitions_are_named(jobs_dir: Path, change: Any, field: str, reason: str) -> None:
    # Given a valid job with one thing wrong
    data = valid_job()
    change(data)
    path = write_job(jobs_dir, data)

    # When it is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the error names the file, the field and the reason
    assert_reported(caught.value, path, field, reason)


def test_two_fleets_with_one_role_are_refused() -> None:
    # Given two TASK fleets
    fleet = {"role": "TASK", "target_spot_capacity": 1, "instance_types": [{"instance_type": "m5.xlarge"}]}
    master = {"role": "MASTER", "target_on_demand_capacity": 1, "instance_types": [{"instance_type": "m5.xlarge"}]}

    # When the cluster is validated
    with pytest.raises(ValueError, match=r"at most one instance fleet per role; repeated: \['TASK'\]"):
        ClusterSpec.model_validate({"release_label": "emr-7.5.0", "instance_fleets": [master, fleet, fleet]})


# --- durations and values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("2h", 7200), ("3600", 3600), ("PT1H", 3600), (" 75 s ", 75), ("1d", 86400), (600, 600)],
)
def test_durations_parse(text: str | int, seconds: int) -> None:
    # Given a step timeout written in one of the accepted forms
    # When the step is validated
    step = Step(name="s", type="command", args=["true"], timeout=text)

    # Then it is that many seconds
    assert step.timeout == timedelta(seconds=seconds)


def test_duration_in_a_yaml_file_as_quoted_seconds(jobs_dir: Path) -> None:
    # Given run_timeout written as a quoted number of seconds
    data = valid_job()
    data["run_timeout"] = "3600"
    write_job(jobs_dir, data)

    # When the job is loaded
    job = load_jobs(jobs_dir).get("sample")

    # Then it is one hour
    assert job.run_timeout == timedelta(hours=1)


@pytest.mark.parametrize("text", ["90 minutes", "1.5h", "-5m", "h"])
def test_unreadable_durations_are_refused(text: str) -> None:
    # Given a duration in a form nobody defined
    # When the step is validated
    # Then it is refused
    with pytest.raises(ValueError, match="timeout"):
        Step(name="s", type="command", args=["true"], timeout=text)


@pytest.mark.parametrize(("seconds", "text"), [(5400, "90m"), (7200, "2h"), (86400, "1d"), (45, "45s"), (0, "0s")])
def test_format_duration(seconds: int, text: str) -> None:
    # Given a duration / When it is formatted / Then it is the shortest whole unit
    assert format_duration(timedelta(seconds=seconds)) == text


def test_yaml_scalars_in_configuration_properties_become_strings() -> None:
    # Given properties that YAML reads as a bool, an int and a float
    raw = yaml.safe_load(
        "Classification: spark-defaults\n"
        "Properties:\n  spark.sql.adaptive.enabled: true\n  spark.executor.instances: 4\n  spark.x: 0.5\n"
    )

    # When the configuration is validated
    config = Configuration.model_validate(raw)

    # Then EMR gets the strings it expects
    assert config.properties == {
        "spark.sql.adaptive.enabled": "true",
        "spark.executor.instances": "4",
        "spark.x": "0.5",
    }


def test_placeholders_with_escaped_braces_are_accepted() -> None:
    # Given an arg with literal braces escaped as {{ }}
    # When the job is validated
    job = JobDefinition.model_validate(
        {**valid_job(), "steps": [{"name": "c", "type": "command", "args": ["echo", "{{literal}}", "{run_id}"]}]}
    )

    # Then it keeps the text as written
    assert job.steps[0].args == ["echo", "{{literal}}", "{run_id}"]


# --- the catalog --------------------------------------------------------------------------------


def test_two_files_with_one_name_fail_the_catalog(jobs_dir: Path) -> None:
    # Given the same job name in sample.yaml and sample.yml (each valid on its own)
    write_job(jobs_dir, valid_job(), "sample.yaml")
    write_job(jobs_dir, valid_job(), "sample.yml")

    # When the catalog is loaded
    with pytest.raises(JobDefinitionError) as caught:
        load_jobs(jobs_dir)

    # Then the error names the directory, the name and both files
    assert_reported(caught.value, jobs_dir, "name", "'sample' is defined by sample.yaml, sample.yml")
    assert any("job names must be unique" in line for line in problem_lines(caught.value))


def test_catalog_get_unknown_job_raises_key_error(jobs_dir: Path) -> None:
    # Given a catalog with one job
    write_job(jobs_dir, valid_job())
    catalog = load_jobs(jobs_dir)

    # When an unknown job is asked for / Then KeyError names it
    with pytest.raises(KeyError, match="nope"):
        catalog.get("nope")
    assert [job.name for job in catalog.jobs] == ["sample"]
