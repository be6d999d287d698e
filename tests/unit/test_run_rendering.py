"""From a trigger to a state machine input: rendering, execution names and job matching for the sample job."""

from __future__ import annotations

import functools
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonata
import pytest

from emr_autopilot.jobs import ClusterSpec, JobCatalog, JobDefinition, load_jobs
from emr_autopilot.runs import (
    EXECUTION_NAME_MAX,
    TAG_EXECUTION_ARN,
    TAG_JOB,
    TAG_MANAGED,
    TAG_RUN_ID,
    StackContext,
    Trigger,
    build_run_input,
    execution_arn,
    execution_name,
    matching_jobs,
)
from tests.helpers.stack_contexts import stack_context

NAME_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:emr-autopilot-pipeline"
KEY = "inspections/2026-03-14.csv"
WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


@pytest.fixture
def catalog(repo_root: Path) -> JobCatalog:
    return load_jobs(repo_root / "jobs")


@pytest.fixture
def job(catalog: JobCatalog) -> JobDefinition:
    return catalog.get("red-violations")


@pytest.fixture
def context() -> StackContext:
    return stack_context(STATE_MACHINE_ARN)


def s3_trigger(key: str = KEY, version: str = "v1", time: datetime = WHEN) -> Trigger:
    return Trigger(
        kind="s3",
        time=time,
        input_uri=f"s3://acme-landing/{key}",
        identity=f"acme-landing/{key}/{version}",
    )


def tags_of(request: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in request["Tags"]}


# --- build_run_input ----------------------------------------------------------------------------


def test_step_args_have_placeholders_rendered(job: JobDefinition, context: StackContext) -> None:
    # Given an S3 trigger for a new inspections file
    trigger = s3_trigger()
    name = execution_name(job, trigger)

    # When the run input is built
    run_input = build_run_input(job, trigger, context, name)

    # Then the script step runs the uploaded script via script-runner with rendered args
    [step] = run_input["steps"]
    assert step["Step"] == {
        "Name": "Count red violations",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "s3://eu-west-1.elasticmapreduce/libs/script-runner/script-runner.jar",
            "Args": [
                "s3://acme-artifacts/jobs/red_violations/count_red_violations.py",
                "--input",
                f"s3://acme-landing/{KEY}",
                "--output",
                f"s3://acme-curated/red-violations/2026-03-14/{name}/red_violations.csv",
            ],
        },
    }
    assert step["TimeoutSeconds"] == 1800
    assert not any("{" in arg or "}" in arg for arg in step["Step"]["HadoopJarStep"]["Args"])


def test_run_section_describes_the_run(job: JobDefinition, context: StackContext) -> None:
    # Given an S3 trigger
    trigger = s3_trigger()
    name = execution_name(job, trigger)

    # When the run input is built
    run = build_run_input(job, trigger, context, name)["run"]

    # Then it carries the run's identity, URIs and limits
    assert run == {
        "job_name": "red-violations",
        "run_id": name,
        "run_date": "2026-03-14",
        "trigger": "s3",
        "input_uri": f"s3://acme-landing/{KEY}",
        "output_uri": f"s3://acme-curated/red-violations/2026-03-14/{name}/",
        "notification_topic_arn": "arn:aws:sns:eu-west-1:123456789012:emr-autopilot-runs",
        "run_timeout_seconds": 3600,
        "step_concurrency": 1,
        "step_count": 1,
        "outcome": "SUCCEEDED",
        "outcome_detail": "SUCCEEDED",
        "simulated_steps": [],
    }


def test_a_step_marked_simulate_is_rendered_as_an_echo_and_the_run_says_simulated(
    job: JobDefinition, context: StackContext
) -> None:
    # Given the sample job with its script step marked simulate: true
    simulated = job.model_copy(update={"steps": [job.steps[0].model_copy(update={"simulate": True})]})
    trigger = s3_trigger()
    name = execution_name(simulated, trigger)

    # When the run input is built
    run_input = build_run_input(simulated, trigger, context, name)

    # Then EMR gets an echo of the script-runner command in the step's place, named as simulated
    [step] = run_input["steps"]
    assert step["Step"] == {
        "Name": "Count red violations [SIMULATED]",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "echo",
                "emr-autopilot: SIMULATED, not run:",
                "s3://eu-west-1.elasticmapreduce/libs/script-runner/script-runner.jar",
                "s3://acme-artifacts/jobs/red_violations/count_red_violations.py",
                "--input",
                f"s3://acme-landing/{KEY}",
                "--output",
                f"s3://acme-curated/red-violations/2026-03-14/{name}/red_violations.csv",
            ],
        },
    }
    # And the run's outcome, which the success notification's subject uses, is SIMULATED
    run = run_input["run"]
    assert (run["outcome"], run["simulated_steps"]) == ("SIMULATED", ["Count red violations"])
    assert run["outcome_detail"] == "SIMULATED: 1 of 1 step(s) not run (simulate: true): 'Count red violations'"


def test_cluster_request_keeps_the_cluster_for_the_pipeline(job: JobDefinition, context: StackContext) -> None:
    # Given an S3 trigger
    trigger = s3_trigger()
    name = execution_name(job, trigger)

    # When the run input is built
    request = build_run_input(job, trigger, context, name)["cluster_request"]

    # Then the cluster waits for steps, ends itself after 30 idle minutes and uses the stack's roles and logs
    assert request["Name"] == name
    assert request["ReleaseLabel"] == "emr-7.5.0"
    assert request["Applications"] == [{"Name": "Hadoop"}, {"Name": "Spark"}]
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert request["Instances"]["TerminationProtected"] is False
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 1800}
    assert request["StepConcurrencyLevel"] == 1
    assert request["LogUri"] == "s3://acme-logs/emr-logs/"
    assert request["ServiceRole"] == "EmrAutopilotServiceRole"
    assert request["JobFlowRole"] == "EmrAutopilotInstanceProfile"
    assert request["BootstrapActions"] == [
        {
            "Name": "install-python-deps",
            "ScriptBootstrapAction": {
                "Path": "s3://acme-artifacts/jobs/red_violations/bootstrap/install-deps.sh",
                "Args": [],
            },
        }
    ]
    assert request["Configurations"] == [
        {"Classification": "spark-defaults", "Properties": {"spark.sql.adaptive.enabled": "true"}}
    ]
    assert request["ManagedScalingPolicy"] == {
        "ComputeLimits": {
            "UnitType": "InstanceFleetUnits",
            "MinimumCapacityUnits": 3,
            "MaximumCapacityUnits": 12,
            "MaximumOnDemandCapacityUnits": 4,
        }
    }


def test_cluster_tags_name_job_run_and_execution(job: JobDefinition, context: StackContext) -> None:
    # Given an S3 trigger
    trigger = s3_trigger()
    name = execution_name(job, trigger)

    # When the run input is built
    request = build_run_input(job, trigger, context, name)["cluster_request"]

    # Then the tags carry the job's own tags and the pipeline's, the execution ARN built from the state machine's
    expected_arn = f"arn:aws:states:eu-west-1:123456789012:execution:emr-autopilot-pipeline:{name}"
    assert tags_of(request) == {
        "team": "data-platform",
        "cost-center": "analytics",
        TAG_JOB: "red-violations",
        TAG_RUN_ID: name,
        TAG_EXECUTION_ARN: expected_arn,
        TAG_MANAGED: "true",
    }
    assert execution_arn(STATE_MACHINE_ARN, name) == expected_arn
    assert [tag["Key"] for tag in request["Tags"]] == sorted(tag["Key"] for tag in request["Tags"])


def test_instance_fleets_are_rendered_with_spot_spec(job: JobDefinition, context: StackContext) -> None:
    # Given the sample job's three fleets
    trigger = s3_trigger()

    # When the run input is built
    fleets = build_run_input(job, trigger, context, execution_name(job, trigger))["cluster_request"]["Instances"][
        "InstanceFleets"
    ]

    # Then each fleet has its capacities and types, and only TASK has a Spot launch specification
    assert fleets == [
        {
            "Name": "master",
            "InstanceFleetType": "MASTER",
            "TargetOnDemandCapacity": 1,
            "TargetSpotCapacity": 0,
            "InstanceTypeConfigs": [
                {"InstanceType": "m5.xlarge", "WeightedCapacity": 1},
                {"InstanceType": "m6g.xlarge", "WeightedCapacity": 1},
            ],
        },
        {
            "Name": "core",
            "InstanceFleetType": "CORE",
            "TargetOnDemandCapacity": 2,
            "TargetSpotCapacity": 0,
            "InstanceTypeConfigs": [
                {"InstanceType": "m5.xlarge", "WeightedCapacity": 1},
                {"InstanceType": "m6g.xlarge", "WeightedCapacity": 1},
            ],
        },
        {
            "Name": "task",
            "InstanceFleetType": "TASK",
            "TargetOnDemandCapacity": 0,
            "TargetSpotCapacity": 4,
            "InstanceTypeConfigs": [
                {"InstanceType": "r5.xlarge", "WeightedCapacity": 1},
                {"InstanceType": "r6g.xlarge", "WeightedCapacity": 1},
                {"InstanceType": "m5.2xlarge", "WeightedCapacity": 2},
            ],
            "LaunchSpecifications": {
                "SpotSpecification": {
                    "TimeoutDurationMinutes": 10,
                    "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                    "AllocationStrategy": "price-capacity-optimized",
                }
            },
        },
    ]


def test_same_arguments_give_identical_input(job: JobDefinition, context: StackContext) -> None:
    # Given two equal triggers built separately
    first, second = s3_trigger(), s3_trigger()
    name = execution_name(job, first)

    # When the run input is built from each
    one = build_run_input(job, first, context, name)
    two = build_run_input(job, second, context, execution_name(job, second))

    # Then both are identical, down to the serialized JSON
    assert one == two
    assert json.dumps(one, sort_keys=False) == json.dumps(two, sort_keys=False)


def test_scheduled_run_reads_the_schedule_input_uri(job: JobDefinition, context: StackContext) -> None:
    # Given a schedule tick at 06:00 UTC
    tick = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)
    trigger = Trigger(kind="schedule", time=tick, identity=tick.isoformat())
    name = execution_name(job, trigger)

    # When the run input is built
    run_input = build_run_input(job, trigger, context, name)

    # Then the input is the job's schedule_input_uri with the landing bucket filled in
    assert run_input["run"]["input_uri"] == "s3://acme-landing/inspections/latest.csv"
    assert run_input["run"]["trigger"] == "schedule"
    assert run_input["steps"][0]["Step"]["HadoopJarStep"]["Args"][2] == "s3://acme-landing/inspections/latest.csv"


# --- what the state machines send to EMR --------------------------------------------------------
# The ASL writes every field AWS requires literally (CreateStateMachine checks them) and fills the values
# from the run input; these tests evaluate the ASL's own expressions on rendered inputs, so a field the
# run starter renders but the ASL does not pass on (or passes wrongly) fails here.
ASL_FILES = ("transient_cluster_pipeline.asl.json", "livy_batch.asl.json")
FIXED_INSTANCES = {"KeepJobFlowAliveWhenNoSteps": True, "TerminationProtected": False}


def _definition(repo_root: Path, file: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((repo_root / "statemachines" / file).read_text(encoding="utf-8"))
    return loaded


def _jsonata(expression: str, run_input: dict[str, Any], variables: dict[str, Any]) -> Any:
    assert expression.startswith("{%") and expression.endswith("%}"), expression
    compiled = jsonata.Jsonata(expression[2:-2])
    compiled.assign("states", {"input": run_input})
    for name, value in variables.items():
        compiled.assign(name, value)
    return compiled.evaluate(None)


def _fill(template: Any, run_input: dict[str, Any], variables: dict[str, Any]) -> Any:
    """A JSONata Arguments template with its expressions evaluated, as Step Functions fills it."""
    if isinstance(template, dict):
        return {key: _fill(value, run_input, variables) for key, value in template.items()}
    if isinstance(template, str) and template.startswith("{%"):
        return _jsonata(template, run_input, variables)
    return template


def _run_job_flow(repo_root: Path, file: str, run_input: dict[str, Any]) -> dict[str, Any]:
    """The createCluster request the state machine in `file` makes for `run_input`."""
    states = _definition(repo_root, file)["States"]
    first = states[_definition(repo_root, file)["StartAt"]]
    variables = {name: _jsonata(value, run_input, {}) for name, value in first["Assign"].items()}
    filled: dict[str, Any] = _fill(states["CreateCluster"]["Arguments"], run_input, variables)
    return filled


def _without_nulls(value: Any) -> Any:
    # The ASL passes an unset field as null: the integration takes it as not set.
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


def _groups_job(job: JobDefinition) -> JobDefinition:
    """The sample job on instance groups, with every optional cluster field the job model has set."""
    cluster = job.cluster.model_dump(exclude={"instance_fleets", "managed_scaling"})
    cluster.update(
        instance_groups=[
            {"role": "MASTER", "instance_type": "m5.xlarge"},
            {"role": "CORE", "instance_type": "m5.xlarge", "instance_count": 2, "ebs_volume_gb": 64},
            {"role": "TASK", "instance_type": "r5.xlarge", "market": "SPOT", "bid_price": "0.20"},
        ],
        managed_scaling={"unit_type": "Instances", "minimum": 3, "maximum": 8},
        subnet_ids=["subnet-0a1b2c3d"],
        ec2_key_name="ops-key",
        security_configuration="at-rest-encryption",
    )
    return job.model_copy(update={"cluster": ClusterSpec.model_validate(cluster)})


@pytest.mark.parametrize("file", ASL_FILES)
@pytest.mark.parametrize("variant", ["fleets", "groups"])
def test_create_cluster_sends_exactly_the_rendered_request(
    repo_root: Path, job: JobDefinition, context: StackContext, file: str, variant: str
) -> None:
    # Given the rendered input of the sample job (instance fleets) or of one on instance groups with every option
    chosen = job if variant == "fleets" else _groups_job(job)
    trigger = s3_trigger()
    run_input = build_run_input(chosen, trigger, context, execution_name(chosen, trigger))
    request = run_input["cluster_request"]

    # When the state machine's CreateCluster Arguments are evaluated on it
    sent = _run_job_flow(repo_root, file, run_input)

    # Then every field the run starter renders reaches RunJobFlow unchanged, the rest is null (not set),
    # and the fields createCluster.sync depends on are the state machine's own literals
    assert _without_nulls(sent) == {**request, "Instances": {**request["Instances"], **FIXED_INSTANCES}}
    assert sent["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    unset = {key for key, value in {**sent, **sent["Instances"]}.items() if value is None}
    if variant == "fleets":
        assert unset == {"SecurityConfiguration", "InstanceGroups", "Ec2SubnetId", "Ec2SubnetIds", "Ec2KeyName"}
    else:
        assert unset == {"InstanceFleets", "Ec2SubnetIds"}


@pytest.mark.parametrize("file", ASL_FILES)
def test_create_cluster_refuses_a_request_with_fields_it_would_drop(
    repo_root: Path, job: JobDefinition, context: StackContext, file: str
) -> None:
    # Given a hand-written request with a RunJobFlow field, and an Instances field, the ASL does not pass on
    trigger = s3_trigger()
    run_input = build_run_input(job, trigger, context, execution_name(job, trigger))
    run_input["cluster_request"]["EbsRootVolumeSize"] = 64
    run_input["cluster_request"]["Instances"]["Placement"] = {"AvailabilityZone": "eu-west-1a"}

    # When CreateCluster's Arguments are evaluated
    # Then the state fails, naming both, instead of creating a cluster without them
    named = re.escape("does not pass to RunJobFlow: EbsRootVolumeSize, Instances.Placement")
    with pytest.raises(Exception, match=named):
        _run_job_flow(repo_root, file, run_input)


def test_add_step_sends_exactly_the_rendered_step(repo_root: Path, job: JobDefinition, context: StackContext) -> None:
    # Given the rendered steps of the sample job
    trigger = s3_trigger()
    run_input = build_run_input(job, trigger, context, execution_name(job, trigger))
    definition = _definition(repo_root, "transient_cluster_pipeline.asl.json")
    run_steps = definition["States"]["RunSteps"]
    parameters = run_steps["ItemProcessor"]["States"]["AddStep"]["Parameters"]

    def fill(template: Any, item: dict[str, Any]) -> Any:
        # JSONPath Parameters: a key ending in .$ takes the value at its (dotted) path in the item.
        filled = {}
        for key, value in template.items():
            if key.endswith(".$"):
                filled[key[:-2]] = functools.reduce(lambda node, part: node[part], value[2:].split("."), item)
            else:
                filled[key] = fill(value, item) if isinstance(value, dict) else value
        return filled

    for entry in run_input["steps"]:
        # When the Map's item (ItemSelector: ClusterId, Step, TimeoutSeconds) fills AddStep's Parameters
        item = {"ClusterId": "j-1", **entry}
        sent = fill(parameters, item)

        # Then EMR gets the rendered step, field for field
        assert run_steps["ItemSelector"]["Step.$"] == "$$.Map.Item.Value.Step"
        assert sent == {"ClusterId": "j-1", "Step": entry["Step"]}


# --- execution names ----------------------------------------------------------------------------


def test_s3_execution_name_is_deterministic_and_valid(job: JobDefinition) -> None:
    # Given the same object delivered twice, at different times
    first = s3_trigger(time=WHEN)
    again = s3_trigger(time=WHEN + timedelta(minutes=5))

    # When each is named
    name, name_again = execution_name(job, first), execution_name(job, again)

    # Then both get the same short, Step Functions-safe name
    assert name == name_again
    assert name.startswith("red-violations-s3-")
    assert len(name) <= EXECUTION_NAME_MAX
    assert NAME_CHARS.match(name)


def test_s3_execution_name_differs_by_key_and_by_version(job: JobDefinition) -> None:
    # Given the same key in two versions, and another key
    base = execution_name(job, s3_trigger(version="v1"))

    # When they are named
    other_version = execution_name(job, s3_trigger(version="v2"))
    other_key = execution_name(job, s3_trigger(key="inspections/2026-03-15.csv", version="v1"))

    # Then every delivery gets its own name
    assert len({base, other_version, other_key}) == 3


@pytest.mark.parametrize(
    "key",
    [
        "inspections/été 2026/a+b=c%.csv",
        "inspections/with space.csv",
        "inspections/" + "x" * 900 + ".csv",
        "inspections/寿司/ñ.csv",
    ],
)
def test_s3_execution_name_is_valid_for_odd_keys(job: JobDefinition, key: str) -> None:
    # Given a key with spaces, '+', '=', '%', non-ASCII or great length
    trigger = s3_trigger(key=key)

    # When it is named
    name = execution_name(job, trigger)

    # Then the name stays short and uses only safe characters
    assert len(name) <= EXECUTION_NAME_MAX
    assert NAME_CHARS.match(name), name


def test_longest_job_name_still_fits(job: JobDefinition) -> None:
    # Given a job with the longest name the schema allows (40 characters)
    longest = job.model_copy(update={"name": "a" * 40})

    # When it is named for each kind of trigger
    names = [
        execution_name(longest, s3_trigger()),
        execution_name(longest, Trigger(kind="schedule", time=WHEN)),
        execution_name(longest, Trigger(kind="manual", time=WHEN)),
    ]

    # Then every name fits
    assert all(len(name) <= EXECUTION_NAME_MAX and NAME_CHARS.match(name) for name in names), names


def test_s3_trigger_without_identity_is_refused(job: JobDefinition) -> None:
    # Given an S3 trigger that lost its identity
    trigger = Trigger(kind="s3", time=WHEN, input_uri=f"s3://acme-landing/{KEY}")

    # When it is named / Then it is refused rather than given a random name
    with pytest.raises(ValueError, match="identity"):
        execution_name(job, trigger)


def test_schedule_name_comes_from_the_scheduled_time(job: JobDefinition) -> None:
    # Given the same tick in UTC, in UTC+1, and as a naive UTC time
    utc = Trigger(kind="schedule", time=datetime(2026, 3, 14, 6, 0, tzinfo=UTC))
    plus_one = Trigger(kind="schedule", time=datetime(2026, 3, 14, 7, 0, tzinfo=timezone(timedelta(hours=1))))
    naive = Trigger(kind="schedule", time=datetime(2026, 3, 14, 6, 0))

    # When each is named
    names = {execution_name(job, trigger) for trigger in (utc, plus_one, naive)}

    # Then all name the same tick, in UTC
    assert names == {"red-violations-sched-20260314T0600Z"}


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch):
    # The machine's local zone, which must not leak into names or run dates.
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_naive_times_are_utc_whatever_the_local_zone(job: JobDefinition, context: StackContext) -> None:
    # Given a naive 23:30 time on a machine set to US Pacific time
    naive = datetime(2026, 3, 14, 23, 30)
    trigger = Trigger(kind="schedule", time=naive)

    # When it is named and rendered
    name = execution_name(job, trigger)
    run = build_run_input(job, trigger, context, name)["run"]

    # Then it is read as UTC: same tick, same day
    assert name == "red-violations-sched-20260314T2330Z"
    assert run["run_date"] == "2026-03-14"


def test_next_schedule_tick_gets_another_name(job: JobDefinition) -> None:
    # Given two consecutive daily ticks
    today = Trigger(kind="schedule", time=datetime(2026, 3, 14, 6, 0, tzinfo=UTC))
    tomorrow = Trigger(kind="schedule", time=datetime(2026, 3, 15, 6, 0, tzinfo=UTC))

    # When both are named / Then they differ
    assert execution_name(job, today) != execution_name(job, tomorrow)


def test_manual_names_differ_between_calls(job: JobDefinition) -> None:
    # Given one manual request
    trigger = Trigger(kind="manual", time=WHEN, input_uri=f"s3://acme-landing/{KEY}")

    # When it is named twice
    first, second = execution_name(job, trigger), execution_name(job, trigger)

    # Then the names differ but both are valid and start with the request time
    assert first != second
    for name in (first, second):
        assert name.startswith("red-violations-manual-20260314T092653Z-")
        assert len(name) <= EXECUTION_NAME_MAX
        assert NAME_CHARS.match(name)


# --- matching_jobs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "key", "matches"),
    [
        ("acme-landing", "inspections/2026-03-14.csv", True),
        ("acme-landing", "inspections/2026/03/14/part-0001.csv", True),
        ("acme-landing", "inspections/2026-03-14.CSV", False),
        ("acme-landing", "inspections/2026-03-14.csv.tmp", False),
        ("acme-landing", "inspections.csv", False),
        ("acme-landing", "archive/inspections/2026-03-14.csv", False),
        ("acme-curated", "inspections/2026-03-14.csv", False),
        ("landing", "inspections/2026-03-14.csv", False),
    ],
)
def test_matching_by_prefix_suffix_and_landing_alias(catalog: JobCatalog, bucket: str, key: str, matches: bool) -> None:
    # Given the sample job, which watches 'landing' (the stack's landing bucket) for inspections/*.csv
    # When an object arrives
    found = matching_jobs(catalog, bucket, key, landing_bucket="acme-landing")

    # Then only objects in the landing bucket under the prefix with the suffix start it
    assert [job.name for job in found] == (["red-violations"] if matches else [])


@pytest.mark.parametrize(
    "key",
    [
        "inspections/été 2026/a+b=c%.csv",
        "inspections/with space.csv",
        "inspections/a+b.csv",
        "inspections/key=value/x.csv",
        "inspections/寿司.csv",
    ],
)
def test_matching_decoded_odd_keys(catalog: JobCatalog, key: str) -> None:
    # Given a decoded key with spaces, '+', '=', '%' or non-ASCII characters
    # When it arrives in the landing bucket
    found = matching_jobs(catalog, "acme-landing", key, landing_bucket="acme-landing")

    # Then the sample job matches it like any other key
    assert [job.name for job in found] == ["red-violations"]


def test_matching_a_named_bucket(job: JobDefinition) -> None:
    # Given a second job that watches a bucket by its real name, with no prefix or suffix
    raw = job.model_dump(by_alias=True, exclude={"name", "triggers"})
    other = JobDefinition.model_validate({**raw, "name": "raw-feed", "triggers": {"s3": [{"bucket": "partner-drop"}]}})
    catalog = JobCatalog(jobs=[job, other])

    # When objects arrive in the partner bucket and in the landing bucket
    partner = matching_jobs(catalog, "partner-drop", "anything/at all.json", landing_bucket="acme-landing")
    landing = matching_jobs(catalog, "acme-landing", KEY, landing_bucket="acme-landing")

    # Then each starts only the job that watches it
    assert [found.name for found in partner] == ["raw-feed"]
    assert [found.name for found in landing] == ["red-violations"]
