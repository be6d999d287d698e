"""emr_requests: EMR requests checked against botocore's EMR model, and the Step Functions createCluster
rules, in plain words. No moto needed.

Sources: the EMR API reference (API_RunJobFlow, API_StepConfig, API_AddJobFlowSteps) as encoded in botocore's
EMR model 2009-03-31; Step Functions developer guide, connect-emr, table "Optimized Amazon EMR APIs".
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.eks_runs import build_eks_run_input
from emr_autopilot.eks_runs import start_job_run_params as eks_start_job_run_params
from emr_autopilot.emr_requests import (
    RequestProblem,
    check_add_step,
    check_create_cluster,
    check_integration_request,
    check_integration_rules,
    check_request,
    describe,
    integration_fields,
    without_nulls,
)
from emr_autopilot.job_packages import with_example_artifacts
from emr_autopilot.jobs import load_jobs
from emr_autopilot.runs import Trigger, build_run_input
from emr_autopilot.serverless_runs import build_serverless_run_input, start_job_run_params
from tests.helpers.stack_contexts import stack_context

# connect-emr's own createCluster example (section "Create_Cluster"), trimmed to the members used here.
CREATE_CLUSTER: dict[str, Any] = {
    "Name": "MyWorkflowCluster",
    "VisibleToAllUsers": True,
    "ReleaseLabel": "emr-5.28.0",
    "Applications": [{"Name": "Hive"}],
    "ServiceRole": "EMR_DefaultRole",
    "JobFlowRole": "EMR_EC2_DefaultRole",
    "LogUri": "s3n://aws-logs-123456789012-us-east-1/elasticmapreduce/",
    "Instances": {
        "KeepJobFlowAliveWhenNoSteps": True,
        "InstanceGroups": [
            {"Name": "master", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
    },
}

# connect-emr's addStep example ("Step_One").
ADD_STEP: dict[str, Any] = {
    "ClusterId": "j-1234567890123",
    "Step": {
        "Name": "The first step",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["hive-script", "--run-hive-script"]},
    },
}


def create_cluster(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(CREATE_CLUSTER)
    request.update(changes)
    return request


def test_documented_examples_pass() -> None:
    """Source: connect-emr, the createCluster and addStep Task examples.
    Given AWS's own example requests, When they are checked, Then no problem is reported."""
    assert check_create_cluster(CREATE_CLUSTER) == []
    assert check_add_step(ADD_STEP) == []


def test_required_members() -> None:
    """Source: API_RunJobFlow, "Name ... Required: Yes", "Instances ... Required: Yes".
    Given an empty RunJobFlow request, When checked, Then both required members are named."""
    assert check_request("RunJobFlow", {}) == [
        RequestProblem("Name", "is required"),
        RequestProblem("Instances", "is required"),
    ]


def test_unknown_member_suggests_the_close_name() -> None:
    """Source: API_RunJobFlow request syntax (LogUri). Given a misspelt top-level field, When checked,
    Then it is refused as not a RunJobFlow field, with the likely intended name."""
    problems = check_request("RunJobFlow", create_cluster(LogUrl="s3://logs/"))
    assert problems == [RequestProblem("LogUrl", "is not a RunJobFlow field (did you mean 'LogUri'?)")]


def test_unknown_nested_member() -> None:
    """Source: API_JobFlowInstancesConfig. Given an unknown member inside Instances, When checked,
    Then the problem's path names it under Instances."""
    request = create_cluster()
    request["Instances"]["Bar"] = 1
    assert check_request("RunJobFlow", request) == [
        RequestProblem("Instances.Bar", "is not a JobFlowInstancesConfig field")
    ]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("Instances", "InstanceGroups", 0, "InstanceCount"), "two", "must be an integer; got 'two'"),
        (("Instances", "KeepJobFlowAliveWhenNoSteps"), "yes", "must be true or false; got 'yes'"),
        (("Name",), 7, "must be a string; got 7"),
        (("Applications",), {"Name": "Hive"}, "must be a list; got an object"),
        (("Instances",), "m5.xlarge", "must be an object; got 'm5.xlarge'"),
    ],
)
def test_types(path: tuple[Any, ...], value: Any, problem: str) -> None:
    """Source: botocore EMR model types (API_RunJobFlow: InstanceCount Integer, KeepJobFlowAliveWhenNoSteps
    Boolean, Name String, Applications array, Instances JobFlowInstancesConfig object).
    Given a value of the wrong JSON type, When checked, Then the path and the expected type are named."""
    request = create_cluster()
    holder: Any = request
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    where = ".".join(str(p) for p in path).replace(".0.", "[0].")
    assert check_request("RunJobFlow", request) == [RequestProblem(where, problem)]


def test_enum_values_are_checked() -> None:
    """Source: API_StepConfig, "ActionOnFailure ... Valid Values: TERMINATE_JOB_FLOW | TERMINATE_CLUSTER |
    CANCEL_AND_WAIT | CONTINUE" (botocore's ParamValidator does not check enums).
    Given a step with ActionOnFailure EXPLODE, When checked, Then the valid values are listed."""
    request = copy.deepcopy(ADD_STEP)
    request["Step"]["ActionOnFailure"] = "EXPLODE"
    assert check_add_step(request) == [
        RequestProblem(
            "Step.ActionOnFailure",
            "must be one of TERMINATE_JOB_FLOW, TERMINATE_CLUSTER, CANCEL_AND_WAIT, CONTINUE; got 'EXPLODE'",
        )
    ]


def test_lengths_and_ranges() -> None:
    """Source: API_RunJobFlow "Name ... Maximum length of 256"; API_InstanceGroupConfig "InstanceType ... Minimum
    length of 1"; API_InstanceFleetConfig "TargetOnDemandCapacity ... Valid Range: Minimum value of 0";
    API_ManagedScalingPolicy "UtilizationPerformanceIndex ... Valid Range: 1 - 100" (botocore min/max).
    Given values outside each bound, When checked, Then the bound and the value are named."""
    assert check_request("RunJobFlow", create_cluster(Name="x" * 257)) == [
        RequestProblem("Name", "must have at most 256 characters; got 257")
    ]
    request = create_cluster()
    request["Instances"]["InstanceGroups"][0]["InstanceType"] = ""
    assert check_request("RunJobFlow", request) == [
        RequestProblem("Instances.InstanceGroups[0].InstanceType", "must have at least 1 characters; got 0")
    ]
    fleets = create_cluster()
    fleets["Instances"] = {
        "KeepJobFlowAliveWhenNoSteps": True,
        "InstanceFleets": [
            {
                "InstanceFleetType": "MASTER",
                "TargetOnDemandCapacity": -1,
                "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
            }
        ],
    }
    assert check_create_cluster(fleets) == [
        RequestProblem("Instances.InstanceFleets[0].TargetOnDemandCapacity", "must be at least 0; got -1")
    ]
    scaling = create_cluster(
        ManagedScalingPolicy={
            "ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4},
            "UtilizationPerformanceIndex": 101,
        }
    )
    assert check_request("RunJobFlow", scaling) == [
        RequestProblem("ManagedScalingPolicy.UtilizationPerformanceIndex", "must be at most 100; got 101")
    ]


def test_numbers_keep_json_semantics() -> None:
    """Source: RFC 8259 numbers (one number type); botocore EMR model StepConcurrencyLevel Integer.
    Given 2.0 (what a JSONata expression may yield) and 1.5, When checked as an integer member,
    Then 2.0 passes and 1.5 is refused."""
    assert check_request("RunJobFlow", create_cluster(StepConcurrencyLevel=2.0)) == []
    assert check_request("RunJobFlow", create_cluster(StepConcurrencyLevel=1.5)) == [
        RequestProblem("StepConcurrencyLevel", "must be an integer; got 1.5")
    ]
    assert check_request("RunJobFlow", create_cluster(StepConcurrencyLevel=True)) == [
        RequestProblem("StepConcurrencyLevel", "must be an integer; got true")
    ]


def test_maps_and_timestamps() -> None:
    """Source: API_Configuration "Properties ... String to string map"; API_ListClusters "CreatedAfter ...
    Timestamp". Given a non-string property value and a non-date timestamp, When checked, Then each is named."""
    request = create_cluster(Configurations=[{"Classification": "spark", "Properties": {"spark.x": 1}}])
    assert check_request("RunJobFlow", request) == [
        RequestProblem('Configurations[0].Properties["spark.x"]', "must be a string; got 1")
    ]
    assert check_request("ListClusters", {"CreatedAfter": "yesterday-ish"}) == [
        RequestProblem("CreatedAfter", "must be a timestamp (epoch seconds or ISO 8601); got 'yesterday-ish'")
    ]
    assert check_request("ListClusters", {"CreatedAfter": "2026-03-14T09:00:00Z"}) == []
    assert check_request("ListClusters", {"CreatedAfter": datetime(2026, 3, 14, tzinfo=UTC)}) == []
    assert check_request("ListClusters", {"CreatedAfter": 1773478800}) == []


def test_create_cluster_requires_keep_alive_true() -> None:
    """Source: connect-emr, createCluster row: "The field Instances.KeepJobFlowAliveWhenNoSteps is mandatory
    and must have the Boolean value TRUE". Given it false or missing, When checked as createCluster,
    Then it is reported (RunJobFlow's own model accepts both)."""
    request = create_cluster()
    request["Instances"]["KeepJobFlowAliveWhenNoSteps"] = False
    assert check_request("RunJobFlow", request) == []
    assert check_create_cluster(request) == [
        RequestProblem(
            "Instances.KeepJobFlowAliveWhenNoSteps", "must be true for Step Functions createCluster; got false"
        )
    ]
    del request["Instances"]["KeepJobFlowAliveWhenNoSteps"]
    assert check_create_cluster(request) == [
        RequestProblem(
            "Instances.KeepJobFlowAliveWhenNoSteps", "must be true for Step Functions createCluster; it is missing"
        )
    ]


def test_create_cluster_refuses_steps() -> None:
    """Source: connect-emr, createCluster row: "the field Steps is not allowed". Given a createCluster request
    with Steps (a valid RunJobFlow member), When checked, Then Steps is refused as an integration rule."""
    request = create_cluster(Steps=[ADD_STEP["Step"]])
    assert check_request("RunJobFlow", request) == []
    assert check_integration_rules("createCluster", request) == [
        RequestProblem("Steps", "is not allowed by Step Functions createCluster (add steps with addStep)")
    ]
    assert check_create_cluster(request) == check_integration_rules("createCluster", request)


def test_add_step_shape() -> None:
    """Source: connect-emr, addStep row: "Request uses the key ClusterId ... Request uses a single step
    {"Step": <StepConfig object>}". Given EMR's own AddJobFlowSteps members (JobFlowId, Steps), When checked
    as addStep, Then they are refused and ClusterId/Step are required."""
    problems = check_add_step({"JobFlowId": "j-1", "Steps": [ADD_STEP["Step"]]})
    assert problems == [
        RequestProblem("ClusterId", "is required"),
        RequestProblem("Step", "is required"),
        RequestProblem("JobFlowId", "is not a Step Functions addStep field"),
        RequestProblem("Steps", "is not a Step Functions addStep field (did you mean 'Step'?)"),
    ]
    missing_jar = copy.deepcopy(ADD_STEP)
    del missing_jar["Step"]["HadoopJarStep"]["Jar"]
    assert check_add_step(missing_jar) == [RequestProblem("Step.HadoopJarStep.Jar", "is required")]


def test_other_integration_shapes() -> None:
    """Source: connect-emr table rows cancelStep, terminateCluster, setClusterTerminationProtection,
    modifyInstanceGroupByName ("Within the InstanceGroupModifyConfig object, the field InstanceGroupId is not
    allowed") and the modifyInstanceFleetByName example.
    Given each documented example, When checked, Then it passes; Given InstanceGroupId, Then a rule refuses it."""
    assert check_integration_request("cancelStep", {"ClusterId": "j-1", "StepId": "s-1"}) == []
    assert check_integration_request("terminateCluster", {"ClusterId": "j-1"}) == []
    assert check_integration_request(
        "setClusterTerminationProtection", {"ClusterId": "j-1", "TerminationProtected": "yes"}
    ) == [RequestProblem("TerminationProtected", "must be true or false; got 'yes'")]
    group = {"ClusterId": "j-1", "InstanceGroupName": "MyCoreGroup", "InstanceGroup": {"InstanceCount": 8}}
    fleet = {
        "ClusterId": "j-1",
        "InstanceFleetName": "MyCoreFleet",
        "InstanceFleet": {"TargetOnDemandCapacity": 8, "TargetSpotCapacity": 0},
    }
    assert check_integration_request("modifyInstanceGroupByName", group) == []
    assert check_integration_request("modifyInstanceFleetByName", fleet) == []
    group["InstanceGroup"]["InstanceGroupId"] = "ig-1"  # type: ignore[index]
    assert check_integration_request("modifyInstanceGroupByName", group) == []
    assert check_integration_rules("modifyInstanceGroupByName", group) == [
        RequestProblem(
            "InstanceGroup.InstanceGroupId",
            "is not allowed by Step Functions modifyInstanceGroupByName: it looks the id up by InstanceGroupName",
        )
    ]
    with pytest.raises(ValueError, match="unknown elasticmapreduce integration"):
        check_integration_request("resizeCluster", {})


def test_describe_joins_problems() -> None:
    """Given two problems, When described, Then one readable line names both paths."""
    assert describe([RequestProblem("Name", "is required"), RequestProblem("", "must be an object; got 'x'")]) == (
        "Name is required; must be an object; got 'x'"
    )


def test_the_projects_own_requests_pass(repo_root: Path) -> None:
    """Source: connect-emr createCluster/addStep rows, and the EMR Serverless StartJobRun model. Given every job in
    jobs/, When its run input is rendered the way the run starter renders it, Then its createCluster and addStep
    requests (or, for a serverless or EMR on EKS job, its StartJobRun requests) break no rule."""
    context = stack_context("arn:aws:states:eu-west-1:123456789012:stateMachine:emr-autopilot-pipeline").model_copy(
        update={
            "serverless_state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:serverless",
            "serverless_execution_role_arn": "arn:aws:iam::123456789012:role/emr-autopilot-ServerlessJobRole",
            "eks_state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:eks",
        }
    )
    trigger = Trigger(
        kind="s3",
        time=datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC),
        input_uri="s3://acme-landing/x.csv",
        identity="acme-landing/x.csv/v1",
    )
    catalog = load_jobs(repo_root / "jobs")
    assert catalog.jobs, "no job definitions found"
    for job in catalog.jobs:
        # A packaged job renders what `jobs deploy` recorded in the catalog; a job file has none: example artifacts.
        job = with_example_artifacts(job, context.artifacts_bucket)
        if job.compute == "emr-serverless":
            serverless = build_serverless_run_input(job, trigger, context, "run-1", "00fexampleapp0001")
            for job_run in serverless["job_runs"]:
                params = start_job_run_params(job_run["Request"])
                assert check_request("StartJobRun", params, service="emr-serverless") == [], job.name
            continue
        if job.compute == "emr-eks":
            eks = build_eks_run_input(job, trigger, context, "run-1")
            for job_run in eks["job_runs"]:
                params = eks_start_job_run_params(job_run["Request"])
                assert check_request("StartJobRun", params, service="emr-containers") == [], job.name
            continue
        rendered = build_run_input(job, trigger, context, "run-1")
        assert check_create_cluster(rendered["cluster_request"]) == [], job.name
        for step in rendered["steps"]:
            assert check_add_step({"ClusterId": "j-1", "Step": step["Step"]}) == [], job.name


def test_null_members_are_not_set() -> None:
    """Source: inferred from awslabs/aws-emr-launch 2.0.1 (createCluster Parameters carry None for unused
    RunJobFlow fields; only its boto3 path strips them). Given optional members null, When checked, Then they
    pass; Given a required member null, Then it "is required"; And without_nulls removes them at any depth."""
    request = create_cluster(LogUri=None, Tags=None)
    request["Instances"]["Ec2KeyName"] = None
    assert check_create_cluster(request) == []
    assert check_request("RunJobFlow", create_cluster(Name=None)) == [RequestProblem("Name", "is required")]
    assert check_integration_rules("createCluster", create_cluster(Steps=None)) == []
    assert without_nulls({"a": None, "b": [{"c": None, "d": 1}], "e": {"f": None}}) == {"b": [{"d": 1}], "e": {}}


def test_integration_fields() -> None:
    """Source: connect-emr table (createCluster: RunJobFlow's request syntax, "the field Steps is not allowed";
    addStep: {ClusterId, Step}). Given the API names, Then their top-level fields."""
    assert integration_fields("addStep") == {"ClusterId", "Step", "ExecutionRoleArn"}
    fields = integration_fields("createCluster")
    assert {"Name", "Instances", "LogUri"} <= fields
    assert "Steps" not in fields
