"""The optimized Step Functions integration for Amazon EMR, on the local runtime, against AWS's documentation.

Sources, cited per test:
- connect-emr: Step Functions developer guide, "Call Amazon EMR with Step Functions"
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-emr.html), table "Optimized Amazon EMR APIs";
- connect-to-resource: "Service integration patterns", section "Run a Job (.sync)";
- concepts-error-handling: "Error names" (States.ALL, States.Runtime, States.TaskFailed);
- aws/aws-cdk#13735: a real AWS execution history of addStep with a bad cluster id;
- aws/amazon-states-language-service src/json-schema/partial/task_state.json: the ten EMR resources.
"inferred" marks what the local runtime decides where no AWS page says.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emr_autopilot_devkit.local.moto_patches.sfn_emr_integration import (
    POLL_FIRST_SECONDS,
    StateTaskServiceEmr,
    emr_task_error,
    poll_interval,
)
from tests.helpers.conformance import CLUSTER_REQUEST, EMR_ARN, Run, Runner, task, wait_until

# aws/aws-cdk#13735: "... (Service: AmazonElasticMapReduce; Status Code: 400; Error Code: ValidationException;
# Request ID: 3c8dd2a1-...; Proxy: null)"
CAUSE = re.compile(
    r"^(?P<message>.*) \(Service: AmazonElasticMapReduce; Status Code: (?P<status>\d{3}); "
    r"Error Code: (?P<code>\w+); Request ID: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}; "
    r"Proxy: null\)$",
    re.DOTALL,
)

DOCUMENTED = [
    "createCluster",
    "createCluster.sync",
    "setClusterTerminationProtection",
    "terminateCluster",
    "terminateCluster.sync",
    "addStep",
    "addStep.sync",
    "cancelStep",
    "modifyInstanceFleetByName",
    "modifyInstanceGroupByName",
]


# A request each integration accepts (connect-emr's examples), so that only the resource form is at stake.
VALID: dict[str, dict[str, Any]] = {
    "createCluster": CLUSTER_REQUEST,
    "setClusterTerminationProtection": {"ClusterId": "j-1", "TerminationProtected": True},
    "terminateCluster": {"ClusterId": "j-1"},
    "addStep": {
        "ClusterId": "j-1",
        "Step": {"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}},
    },
    "cancelStep": {"ClusterId": "j-1", "StepId": "s-1"},
    "modifyInstanceFleetByName": {
        "ClusterId": "j-1",
        "InstanceFleetName": "MyCoreFleet",
        "InstanceFleet": {"TargetOnDemandCapacity": 8},
    },
    "modifyInstanceGroupByName": {
        "ClusterId": "j-1",
        "InstanceGroupName": "MyCoreGroup",
        "InstanceGroup": {"InstanceCount": 8},
    },
    "describeCluster": {"ClusterId": "j-1"},
    "CreateCluster": CLUSTER_REQUEST,
}


def step_config(*command: str, name: str = "step", action: str = "CONTINUE") -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": action,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": list(command)},
    }


def cluster_request(name: str, **changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(CLUSTER_REQUEST)
    request["Name"] = name
    request.update(changes)
    return request


def failure(run: Run) -> tuple[str, str]:
    return run.execution.get("error", ""), run.execution.get("cause", "")


def parsed_cause(cause: str) -> dict[str, str]:
    match = CAUSE.match(cause)
    assert match, f"not a Java SDK v1 style Cause: {cause!r}"
    return match.groupdict()


def clusters_named(runtime: Runner, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [c for c in runtime.emr.list_clusters()["Clusters"] if c["Name"] == name]
    return found


@pytest.fixture
def waiting_cluster(runtime: Runner) -> Iterator[str]:
    """A cluster started through EMR directly and WAITING; terminated after the test."""
    cluster_id = runtime.cluster()
    runtime.wait_for_cluster(cluster_id, {"WAITING"})
    yield cluster_id
    runtime.emr.set_termination_protection(JobFlowIds=[cluster_id], TerminationProtected=False)
    runtime.emr.terminate_job_flows(JobFlowIds=[cluster_id])


@pytest.fixture
def blocker(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """A step command that runs for real until the test releases it. While it runs, the fast clock runs at
    wall speed (a real process holds it), so the tests move virtual time on with clock.advance()."""
    flag = tmp_path / "release"
    command = ["bash", "-c", f"while [ ! -e '{flag}' ]; do sleep 0.02; done"]
    yield command, flag
    flag.touch()


# -- resources (create time) ---------------------------------------------------------------------------
def test_the_ten_documented_resources_are_accepted(runtime: Runner) -> None:
    """Source: connect-emr, "Optimized Amazon EMR APIs" (the ten APIs); AWS's ASL schema task_state.json.
    Given a Task on each documented resource, When its state machine is created, Then it is accepted."""
    for resource in DOCUMENTED:
        runtime.create(task(resource, VALID[resource.split(".")[0]]))


@pytest.mark.parametrize(
    "resource",
    [
        "cancelStep.sync",
        "setClusterTerminationProtection.sync",
        "modifyInstanceGroupByName.sync",
        "modifyInstanceFleetByName.sync",
        "addStep.waitForTaskToken",
        "createCluster.waitForTaskToken",
        "terminateCluster.waitForTaskToken",
        "createCluster.sync:2",
        "describeCluster",
        "CreateCluster",
    ],
)
def test_other_forms_are_refused_at_create_time(runtime: Runner, resource: str) -> None:
    """Source: connect-emr (only the ten APIs; "Key features": Run a Job (.sync) is the pattern supported, no
    .waitForTaskToken is documented, no .sync for cancelStep/setClusterTerminationProtection/modify*);
    AWS's ASL schema lists exactly the ten. Given a Task on another form, When CreateStateMachine is called,
    Then it fails with InvalidDefinition (not at run time)."""
    with pytest.raises(ClientError) as refused:
        runtime.create(task(resource, VALID[resource.split(".")[0]]))
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert f"{EMR_ARN}{resource} not recognized" in refused.value.response["Error"]["Message"]


# -- outputs -------------------------------------------------------------------------------------------
def test_create_cluster_output(runtime: Runner) -> None:
    """Source: connect-emr, createCluster row: "Response is this: {"ClusterId": "string"}".
    Given createCluster, When it runs, Then the output is exactly {ClusterId} naming the new cluster."""
    run = runtime.run(task("createCluster", cluster_request("out-create")))
    assert run.status == "SUCCEEDED", failure(run)
    assert list(run.output) == ["ClusterId"]
    assert [c["Id"] for c in clusters_named(runtime, "out-create")] == [run.output["ClusterId"]]


def test_add_step_and_cancel_step_outputs(runtime: Runner, waiting_cluster: str, blocker: Any) -> None:
    """Source: connect-emr, addStep row: "Response is this: {"StepId": "string"}"; cancelStep row: "Response is
    this: {"CancelStepsInfo": <CancelStepsInfo object>}" (EMR: CancelStepsInfoList).
    Given a step that waits behind a running one, When addStep then cancelStep run, Then addStep gives {StepId}
    and cancelStep {CancelStepsInfo: {StepId, Status, Reason}}."""
    command, flag = blocker
    runtime.emr.add_job_flow_steps(JobFlowId=waiting_cluster, Steps=[step_config(*command, name="blocker")])
    added = runtime.run(task("addStep", {"ClusterId": waiting_cluster, "Step": step_config("true")}))
    assert added.status == "SUCCEEDED", failure(added)
    assert list(added.output) == ["StepId"]
    step_id = added.output["StepId"]
    cancelled = runtime.run(task("cancelStep", {"ClusterId": waiting_cluster, "StepId": step_id}))
    assert cancelled.status == "SUCCEEDED", failure(cancelled)
    assert cancelled.output == {"CancelStepsInfo": {"StepId": step_id, "Status": "SUBMITTED", "Reason": ""}}
    flag.touch()
    runtime.wait_for_step(waiting_cluster, step_id, {"CANCELLED"})


def test_add_step_sync_output(runtime: Runner, waiting_cluster: str) -> None:
    """Source: connect-emr, addStep.sync row: "The same as addStep, but waits for the step to complete".
    Given addStep.sync, When the step completes, Then the output is {StepId} (not the DescribeStep object)
    and the step is COMPLETED."""
    run = runtime.run(task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_config("true")}))
    assert run.status == "SUCCEEDED", failure(run)
    assert list(run.output) == ["StepId"]
    step = runtime.emr.describe_step(ClusterId=waiting_cluster, StepId=run.output["StepId"])["Step"]
    assert step["Status"]["State"] == "COMPLETED"


def test_termination_outputs(runtime: Runner) -> None:
    """Source: connect-emr, setClusterTerminationProtection and terminateCluster(.sync) rows (requests
    {ClusterId, TerminationProtected} / {ClusterId}; no output documented, so {}: inferred); terminateCluster.sync
    "waits for the cluster to terminate". Given protection on, off, then terminateCluster.sync, Then each output
    is {} and the cluster is TERMINATED when the last one succeeds."""
    cluster_id = runtime.cluster()
    protect = runtime.run(
        task("setClusterTerminationProtection", {"ClusterId": cluster_id, "TerminationProtected": True})
    )
    assert (protect.status, protect.output) == ("SUCCEEDED", {}), failure(protect)
    assert runtime.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["TerminationProtected"] is True
    runtime.run(task("setClusterTerminationProtection", {"ClusterId": cluster_id, "TerminationProtected": False}))
    terminated = runtime.run(task("terminateCluster.sync", {"ClusterId": cluster_id}))
    assert (terminated.status, terminated.output) == ("SUCCEEDED", {}), failure(terminated)
    assert runtime.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "TERMINATED"
    other = runtime.cluster()
    plain = runtime.run(task("terminateCluster", {"ClusterId": other}))
    assert (plain.status, plain.output) == ("SUCCEEDED", {}), failure(plain)


def test_modify_instance_group_by_name(runtime: Runner, waiting_cluster: str) -> None:
    """Source: connect-emr, modifyInstanceGroupByName row ("At runtime the InstanceGroupId is determined
    automatically by the service integration by calling ListInstanceGroups") and its example
    {ClusterId, InstanceGroupName, InstanceGroup: {InstanceCount}}. Output {} (ModifyInstanceGroups returns
    nothing; inferred). Given the core group by name, When resized to 4, Then EMR shows 4 requested."""
    run = runtime.run(
        task(
            "modifyInstanceGroupByName",
            {"ClusterId": waiting_cluster, "InstanceGroupName": "core", "InstanceGroup": {"InstanceCount": 4}},
        )
    )
    assert (run.status, run.output) == ("SUCCEEDED", {}), failure(run)
    groups = runtime.emr.list_instance_groups(ClusterId=waiting_cluster)["InstanceGroups"]
    assert {g["Name"]: g["RequestedInstanceCount"] for g in groups} == {"master": 1, "core": 4}


def test_modify_instance_group_by_name_rules(runtime: Runner, waiting_cluster: str) -> None:
    """Source: connect-emr, modifyInstanceGroupByName row: "Within the InstanceGroupModifyConfig object, the
    field InstanceGroupId is not allowed". Given InstanceGroupId, Then the execution fails States.Runtime
    (Step Functions' own rule; inferred). Given a name no group has, Then the task fails States.TaskFailed
    naming it (inferred: no page says how AWS reports it)."""
    with_id = runtime.run(
        task(
            "modifyInstanceGroupByName",
            {
                "ClusterId": waiting_cluster,
                "InstanceGroupName": "core",
                "InstanceGroup": {"InstanceCount": 3, "InstanceGroupId": "ig-1"},
            },
        ),
        unchecked=True,  # AWS's deploy-time check refuses this literal; the run-time check stands behind it
    )
    assert with_id.status == "FAILED"
    assert failure(with_id)[0] == "States.Runtime"
    assert "InstanceGroup.InstanceGroupId is not allowed" in failure(with_id)[1]
    unknown = runtime.run(
        task(
            "modifyInstanceGroupByName",
            {"ClusterId": waiting_cluster, "InstanceGroupName": "task", "InstanceGroup": {"InstanceCount": 3}},
        )
    )
    assert failure(unknown) == ("States.TaskFailed", f"No instance group named 'task' in cluster '{waiting_cluster}'.")


def test_modify_instance_fleet_by_name_is_a_stated_local_limit(runtime: Runner, waiting_cluster: str) -> None:
    """Source: connect-emr, modifyInstanceFleetByName example {ClusterId, InstanceFleetName, InstanceFleet}.
    moto 5.2.5 implements neither ListInstanceFleets nor ModifyInstanceFleet, so the local runtime cannot run
    it. GUIDE: what cannot run fails with a reason. Given the documented example, When it runs, Then the
    execution fails States.Runtime naming the EMR operation and saying it is a local limit (never an HTTP 500
    page, never a silent success); And a bad request is still refused as EMR would."""
    run = runtime.run(
        task(
            "modifyInstanceFleetByName",
            {
                "ClusterId": waiting_cluster,
                "InstanceFleetName": "MyCoreFleet",
                "InstanceFleet": {"TargetOnDemandCapacity": 8, "TargetSpotCapacity": 0},
            },
        )
    )
    error, cause = failure(run)
    assert error == "States.Runtime"
    assert "cannot serve EMR ListInstanceFleets" in cause and "not an AWS answer" in cause
    assert "<html" not in cause.lower()
    bad = runtime.run(
        task(
            "modifyInstanceFleetByName",
            {"ClusterId": waiting_cluster, "InstanceFleetName": "core", "InstanceFleet": {"TargetSpotCapacity": -1}},
        )
    )
    assert failure(bad)[0] == "EMR.AmazonElasticMapReduceException"
    assert "InstanceFleet.TargetSpotCapacity must be at least 0; got -1" in failure(bad)[1]


# -- request validation at run time ---------------------------------------------------------------------
def dynamic_cluster(name: str, **parameters: Any) -> dict[str, Any]:
    """createCluster Parameters whose instance groups (and any `X.$` given) come from the execution input:
    values the create-time schema check cannot see, so only the run-time check can refuse them."""
    return {
        "Name": name,
        "ReleaseLabel": "emr-7.0.0",
        "ServiceRole": "EMR_DefaultRole",
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "Instances": {"KeepJobFlowAliveWhenNoSteps": True, "InstanceGroups.$": "$.groups"},
        **parameters,
    }


GROUPS = CLUSTER_REQUEST["Instances"]["InstanceGroups"]


@pytest.mark.parametrize(
    ("parameters", "execution_input", "expected"),
    [
        (
            {},
            {"groups": [dict(GROUPS[0], InstanceCount="two")]},
            "Instances.InstanceGroups[0].InstanceCount must be an integer; got 'two'",
        ),
        (
            {"Tags.$": "$.tags"},
            {"groups": GROUPS, "tags": [{"Key": "team", "Value": "data", "Colour": "red"}]},
            "Tags[0].Colour is not a Tag field",
        ),
        (
            {"BootstrapActions.$": "$.actions"},
            {"groups": GROUPS, "actions": [{"Name": "setup"}]},
            "BootstrapActions[0].ScriptBootstrapAction is required",
        ),
        (
            {"ScaleDownBehavior.$": "$.behaviour"},
            {"groups": GROUPS, "behaviour": "EXPLODE"},
            "ScaleDownBehavior must be one of TERMINATE_AT_INSTANCE_HOUR, TERMINATE_AT_TASK_COMPLETION; got 'EXPLODE'",
        ),
    ],
    ids=["wrong-type", "unknown-nested-field", "missing-required-nested", "enum"],
)
def test_create_cluster_request_breaking_emrs_model(
    runtime: Runner, parameters: dict[str, Any], execution_input: dict[str, Any], expected: str
) -> None:
    """Source: API_RunJobFlow and the shapes it nests (types, members, required members, enums) via botocore's
    EMR model; EMR refuses such a request with a 400 ValidationException, which Step Functions names as in
    aws/aws-cdk#13735 (the lead's decided contract; inferred). Given a createCluster whose input-supplied values
    break the model, When it runs, Then the task fails EMR.AmazonElasticMapReduceException, the Cause names the
    field (Status Code: 400; Error Code: ValidationException), and no cluster is created (before: an HTML 500,
    or accepted)."""
    name = f"bad-{uuid.uuid4().hex[:8]}"
    run = runtime.run(task("createCluster", dynamic_cluster(name, **parameters)), execution_input)
    error, cause = failure(run)
    assert error == "EMR.AmazonElasticMapReduceException"
    parts = parsed_cause(cause)
    assert (parts["status"], parts["code"]) == ("400", "ValidationException")
    assert expected in parts["message"]
    assert clusters_named(runtime, name) == []


def test_unknown_top_level_field_is_not_dropped(runtime: Runner) -> None:
    """Source: API_RunJobFlow request syntax (no member Foo); aws-conformance-facts item 4: moto silently dropped
    unknown top-level fields. AWS refuses such a static field at deploy (data-science-sdk-python#198), so the
    definition is stored past the create-time check to reach the run-time one. Given createCluster with Foo,
    When it runs, Then it fails EMR.AmazonElasticMapReduceException "Foo is not a RunJobFlow field"."""
    name = f"foo-{uuid.uuid4().hex[:8]}"
    run = runtime.run(task("createCluster", cluster_request(name, Foo=1)), unchecked=True)
    error, cause = failure(run)
    assert error == "EMR.AmazonElasticMapReduceException"
    assert "Foo is not a RunJobFlow field" in parsed_cause(cause)["message"]
    assert clusters_named(runtime, name) == []


def test_null_members_are_not_set(runtime: Runner) -> None:
    """Source: inferred from awslabs/aws-emr-launch 2.0.1 (createCluster Parameters pass None for every unused
    RunJobFlow field; only its boto3 path strips them) and H4's ASL, which passes unset fields as null. Given
    createCluster with LogUri, Tags and Instances.Ec2KeyName null, When it runs, Then it succeeds."""
    request = cluster_request(f"nulls-{uuid.uuid4().hex[:8]}", LogUri=None, Tags=None)
    request["Instances"]["Ec2KeyName"] = None
    run = runtime.run(task("createCluster", request))
    assert (run.status, list(run.output)) == ("SUCCEEDED", ["ClusterId"]), failure(run)


def test_add_step_request_breaking_emrs_model_jsonata(runtime: Runner, waiting_cluster: str) -> None:
    """Source: API_StepConfig, ActionOnFailure "Valid Values: TERMINATE_JOB_FLOW | TERMINATE_CLUSTER |
    CANCEL_AND_WAIT | CONTINUE"; statemachine-structure (JSONata Arguments). Given a JSONata addStep whose
    ActionOnFailure and Args come from the input as EXPLODE and [1], When it runs, Then it fails
    EMR.AmazonElasticMapReduceException naming both, and no step is added (before: accepted, step COMPLETED)."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Task",
        "States": {
            "Task": {
                "Type": "Task",
                "Resource": EMR_ARN + "addStep",
                "Arguments": {
                    "ClusterId": "{% $states.input.cluster %}",
                    "Step": {
                        "Name": "step",
                        "ActionOnFailure": "{% $states.input.action %}",
                        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": "{% $states.input.args %}"},
                    },
                },
                "End": True,
            }
        },
    }
    run = runtime.run(definition, {"cluster": waiting_cluster, "action": "EXPLODE", "args": [1]})
    error, cause = failure(run)
    assert error == "EMR.AmazonElasticMapReduceException"
    message = parsed_cause(cause)["message"]
    assert "Step.ActionOnFailure must be one of TERMINATE_JOB_FLOW, TERMINATE_CLUSTER, CANCEL_AND_WAIT, CONTINUE" in (
        message
    )
    assert "Step.HadoopJarStep.Args[0] must be a string; got 1" in message
    assert runtime.emr.list_steps(ClusterId=waiting_cluster)["Steps"] == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: r["Instances"].update(KeepJobFlowAliveWhenNoSteps=False),
            "Instances.KeepJobFlowAliveWhenNoSteps must be true for Step Functions createCluster; got false",
        ),
        (
            lambda r: r["Instances"].pop("KeepJobFlowAliveWhenNoSteps"),
            "Instances.KeepJobFlowAliveWhenNoSteps must be true for Step Functions createCluster; it is missing",
        ),
        (
            lambda r: r.update(Steps=[step_config("true")]),
            "Steps is not allowed by Step Functions createCluster",
        ),
    ],
    ids=["keep-alive-false", "keep-alive-missing", "steps"],
)
def test_create_cluster_integration_rules(runtime: Runner, change: Any, expected: str) -> None:
    """Source: connect-emr, createCluster row: "The field Instances.KeepJobFlowAliveWhenNoSteps is mandatory and
    must have the Boolean value TRUE"; "the field Steps is not allowed". A breach is Step Functions' own check,
    States.Runtime (the lead's decided contract; inferred), which concepts-error-handling says States.ALL cannot
    catch and no retrier retries. AWS's deploy-time check refuses these as literals, so the definition is stored
    past the create-time check to reach the run-time one. Given such a request under a States.ALL Retry and
    Catch, When it runs, Then the execution FAILS with States.Runtime naming the field, at the first attempt,
    and no cluster is created."""
    name = f"rule-{uuid.uuid4().hex[:8]}"
    request = cluster_request(name)
    change(request)
    definition = task(
        "createCluster",
        request,
        Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
    )
    definition["States"]["Caught"] = {"Type": "Succeed"}
    run = runtime.run(definition, unchecked=True)
    error, cause = failure(run)
    assert (run.status, error) == ("FAILED", "States.Runtime")
    assert expected in cause
    assert len(run.events("TaskFailed")) == 1
    assert clusters_named(runtime, name) == []


# -- error names and Causes -----------------------------------------------------------------------------
def test_error_name_mapping() -> None:
    """Source: aws/aws-cdk#13735 (ValidationException -> EMR.AmazonElasticMapReduceException, Cause format);
    botocore's EMR model error shapes InternalServerError, InternalServerException, InvalidRequestException (one
    Java SDK v1 class each, "Exception" appended where missing; inferred). Given each code, Then its name."""
    names = {
        code: emr_task_error(code, "m", 400)[0]
        for code in (
            "ValidationException",
            "ThrottlingException",
            "InvalidRequestException",
            "InternalServerException",
            "InternalServerError",
            "AccessDeniedException",
        )
    }
    assert names == {
        "ValidationException": "EMR.AmazonElasticMapReduceException",
        "ThrottlingException": "EMR.AmazonElasticMapReduceException",
        "InvalidRequestException": "EMR.InvalidRequestException",
        "InternalServerException": "EMR.InternalServerException",
        "InternalServerError": "EMR.InternalServerErrorException",
        "AccessDeniedException": "EMR.AmazonElasticMapReduceException",
    }
    parts = parsed_cause(emr_task_error("InternalServerError", "Boom.", 500)[1])
    assert parts == {"message": "Boom.", "status": "500", "code": "InternalServerError"}


def test_add_step_on_an_unknown_cluster(runtime: Runner) -> None:
    """Source: aws/aws-cdk#13735, real AWS: Error "EMR.AmazonElasticMapReduceException", Cause "jobFlowId '...' is
    not valid. (Service: AmazonElasticMapReduce; Status Code: 400; Error Code: ValidationException; ...)".
    Given addStep on a cluster id EMR does not know, When it runs, Then exactly that (before: EMR.500 + HTML)."""
    run = runtime.run(task("addStep", {"ClusterId": "j-NOSUCHCLUSTER", "Step": step_config("true")}))
    error, cause = failure(run)
    assert error == "EMR.AmazonElasticMapReduceException"
    assert parsed_cause(cause) == {
        "message": "jobFlowId 'j-NOSUCHCLUSTER' is not valid.",
        "status": "400",
        "code": "ValidationException",
    }


def test_throttling_and_modeled_errors(runtime: Runner) -> None:
    """Source: aws/aws-cdk#13735 (the unmodeled-code naming, inferred for ThrottlingException); botocore's EMR
    model declares InvalidRequestException (so its own class). Given RunJobFlow throttled once, Then createCluster
    fails EMR.AmazonElasticMapReduceException with "Error Code: ThrottlingException" in the Cause (what the
    project's ASL matches); Given cancelStep on an unknown cluster (EMR: InvalidRequestException), Then
    EMR.InvalidRequestException."""
    runtime.stack.simulator.faults.throttle["run_job_flow"] = 1
    throttled = runtime.run(task("createCluster", cluster_request("throttled")))
    error, cause = failure(throttled)
    assert error == "EMR.AmazonElasticMapReduceException"
    assert parsed_cause(cause)["code"] == "ThrottlingException"
    unknown = runtime.run(task("cancelStep", {"ClusterId": "j-NOSUCHCLUSTER", "StepId": "s-1"}))
    error, cause = failure(unknown)
    assert error == "EMR.InvalidRequestException"
    assert parsed_cause(cause)["code"] == "InvalidRequestException"


# -- .sync ------------------------------------------------------------------------------------------------
def test_create_cluster_sync_waits_for_waiting_not_running(runtime: Runner, blocker: Any) -> None:
    """Source: connect-emr, createCluster.sync row: "The same as createCluster, but waits for the cluster to reach
    the WAITING state". Given createCluster.sync whose cluster goes RUNNING (a step added behind its back runs
    when bootstrapping ends), When Step Functions polls while it is RUNNING, Then the task still waits; When the
    step ends and the cluster is WAITING, Then the task succeeds with {ClusterId} (before: RUNNING counted)."""
    command, flag = blocker
    execution_arn = runtime.start(task("createCluster.sync", cluster_request("sync-waiting")))
    cluster = wait_until(lambda: clusters_named(runtime, "sync-waiting"))[0]
    step_id = runtime.emr.add_job_flow_steps(JobFlowId=cluster["Id"], Steps=[step_config(*command)])["StepIds"][0]
    runtime.wait_for_step(cluster["Id"], step_id, {"RUNNING"})
    assert runtime.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Status"]["State"] == "RUNNING"
    # The real step holds the clock at wall speed: move virtual time past two polls.
    for _ in range(2):
        runtime.stack.clock.advance(POLL_FIRST_SECONDS)
        time.sleep(0.3)
    assert runtime.sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    flag.touch()
    run = runtime.wait(execution_arn)
    assert (run.status, run.output) == ("SUCCEEDED", {"ClusterId": cluster["Id"]}), failure(run)
    assert runtime.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Status"]["State"] == "WAITING"


def test_create_cluster_sync_fails_when_the_cluster_ends(runtime: Runner) -> None:
    """Source: connect-to-resource "Run a Job (.sync)"; concepts-error-handling "States.TaskFailed: A Task state
    failed during the execution". The EMR API returns timestamps as epoch seconds (API_DescribeCluster). Given a
    cluster whose bootstrap action fails, When createCluster.sync waits, Then it fails States.TaskFailed once the
    cluster has ended (TERMINATED_WITH_ERRORS, not at TERMINATING: inferred), the Cause being the DescribeCluster
    Cluster JSON with numeric timestamps."""
    runtime.stack.simulator.faults.bootstrap_failure.append("sync-bootstrap-fails")
    run = runtime.run(task("createCluster.sync", cluster_request("sync-bootstrap-fails")))
    error, cause = failure(run)
    assert error == "States.TaskFailed"
    cluster = json.loads(cause)
    assert cluster["Name"] == "sync-bootstrap-fails"
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
    assert isinstance(cluster["Status"]["Timeline"]["CreationDateTime"], int | float)


def test_add_step_sync_fails_when_the_step_fails(runtime: Runner, waiting_cluster: str) -> None:
    """Source: connect-emr addStep.sync "waits for the step to complete"; concepts-error-handling
    States.TaskFailed; API_DescribeStep (timestamps are numbers). Given a step that exits 3, When addStep.sync
    waits, Then it fails States.TaskFailed, the Cause being the DescribeStep Step JSON (FAILED, epoch times)."""
    run = runtime.run(task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_config("bash", "-c", "exit 3")}))
    error, cause = failure(run)
    assert error == "States.TaskFailed"
    step = json.loads(cause)
    assert step["Status"]["State"] == "FAILED"
    assert isinstance(step["Status"]["Timeline"]["StartDateTime"], int | float)
    assert isinstance(step["Status"]["Timeline"]["EndDateTime"], int | float)


def test_add_step_sync_fails_when_the_step_is_cancelled(runtime: Runner, waiting_cluster: str, blocker: Any) -> None:
    """Source: connect-emr addStep.sync "waits for the step to complete": a CANCELLED step did not (inferred:
    States.TaskFailed, as for FAILED). Given addStep.sync on a step queued behind a running one, When the step is
    cancelled with cancelStep, Then the addStep.sync task fails States.TaskFailed with the CANCELLED step."""
    command, flag = blocker
    runtime.emr.add_job_flow_steps(JobFlowId=waiting_cluster, Steps=[step_config(*command, name="blocker")])
    execution_arn = runtime.start(task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_config("true")}))
    submitted = wait_until(lambda: [e for e in runtime.stack.history(execution_arn) if e["type"] == "TaskSubmitted"])
    step_id = json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])["StepId"]
    runtime.run(task("cancelStep", {"ClusterId": waiting_cluster, "StepId": step_id}))
    runtime.wait_for_step(waiting_cluster, step_id, {"CANCELLED"})
    runtime.stack.clock.advance(POLL_FIRST_SECONDS)  # the blocker holds the clock at wall speed
    run = runtime.wait(execution_arn)
    flag.touch()
    error, cause = failure(run)
    assert error == "States.TaskFailed"
    assert json.loads(cause)["Status"]["State"] == "CANCELLED"


def test_poll_interval() -> None:
    """Source: connect-emr: "Step Functions has a hard-coded 60 seconds job polling frequency for the first 10
    minutes and 300 seconds after that." Given a .sync task's waiting time, Then the next poll is 60 s away for
    the first 600 s and 300 s away after that (before: 15 s throughout)."""
    assert [poll_interval(elapsed) for elapsed in (0, 59, 599.9, 600, 601, 3600)] == [60, 60, 60, 300, 300, 300]


def test_sync_polling_cadence(
    runtime: Runner, waiting_cluster: str, blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Source: connect-emr: "Step Functions has a hard-coded 60 seconds job polling frequency for the first 10
    minutes and 300 seconds after that." Given addStep.sync on a step that runs until released (the clock then
    runs at wall speed and the test moves it on), When the task has waited past 10 minutes, Then every wait
    between polls it made was 60 virtual seconds before the 600 s mark and 300 after it."""
    clock = runtime.stack.clock
    task_start: list[float] = []
    poll_thread: list[int] = []
    waits: list[tuple[float, float]] = []  # (virtual seconds since the task started, interval waited)
    original_poll = StateTaskServiceEmr._sync_poll
    original_wait = clock.wait_for

    def recording_poll(self: StateTaskServiceEmr, api: str, emr: Any, submitted: Any, params: Any) -> Any:
        task_start.append(clock.timestamp())
        poll_thread.append(threading.get_ident())
        return original_poll(self, api, emr, submitted, params)

    def recording_wait(waiter: Any, virtual_seconds: float) -> bool:
        if poll_thread and threading.get_ident() == poll_thread[0]:
            waits.append((clock.timestamp() - task_start[0], virtual_seconds))
        return original_wait(waiter, virtual_seconds)

    monkeypatch.setattr(StateTaskServiceEmr, "_sync_poll", recording_poll)
    monkeypatch.setattr(clock, "wait_for", recording_wait)
    command, flag = blocker
    execution_arn = runtime.start(task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_config(*command)}))
    step_id = wait_until(lambda: runtime.emr.list_steps(ClusterId=waiting_cluster)["Steps"])[0]["Id"]
    runtime.wait_for_step(waiting_cluster, step_id, {"RUNNING"})
    wait_until(lambda: waits)
    while waits[-1][0] < 900:  # move virtual time on, one wait at a time, until well past 10 minutes
        seen = len(waits)
        clock.advance(waits[-1][1] + 1)
        wait_until(lambda: len(waits) > seen, timeout=10)  # noqa: B023 (called before `seen` changes)
    first_ten_minutes = [interval for elapsed, interval in waits if elapsed < 600]
    after = [interval for elapsed, interval in waits if elapsed >= 605]
    assert first_ten_minutes and set(first_ten_minutes) == {POLL_FIRST_SECONDS}, waits
    assert after and set(after) == {300.0}, waits
    flag.touch()
    clock.advance(301)
    run = runtime.wait(execution_arn)
    assert (run.status, run.output) == ("SUCCEEDED", {"StepId": step_id}), failure(run)


def test_stop_during_add_step_sync_cancels_the_step(runtime: Runner, waiting_cluster: str, blocker: Any) -> None:
    """Source: connect-to-resource, "Run a Job (.sync)": "If a task using this pattern is aborted ... Step Functions
    will make a best-effort attempt to cancel the task"; emr-iam grants elasticmapreduce:CancelSteps to addStep.
    Given addStep.sync waiting on a running step (virtual time at wall speed, polls 60 s apart), When the
    execution is stopped, Then it ends ABORTED at once (not at the next poll) and the step ends CANCELLED
    (before: left RUNNING)."""
    command, _flag = blocker
    execution_arn = runtime.start(task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_config(*command)}))
    step_id = wait_until(lambda: runtime.emr.list_steps(ClusterId=waiting_cluster)["Steps"])[0]["Id"]
    runtime.wait_for_step(waiting_cluster, step_id, {"RUNNING"})
    runtime.sfn.stop_execution(executionArn=execution_arn, error="Stop", cause="conformance")
    run = runtime.wait(execution_arn, timeout=10)
    assert run.status == "ABORTED"
    step = runtime.wait_for_step(waiting_cluster, step_id, {"CANCELLED", "FAILED", "COMPLETED"}, timeout=20)
    assert step["Status"]["State"] == "CANCELLED"


def test_task_timeout_during_add_step_sync_cancels_the_step(
    runtime: Runner, waiting_cluster: str, blocker: Any
) -> None:
    """Source: connect-to-resource, "Run a Job (.sync)" (aborted or timed out: best-effort cancel);
    concepts-error-handling "States.Timeout". Given addStep.sync with TimeoutSeconds 3000 on a running step, When
    3000 virtual seconds pass, Then the execution fails States.Timeout and the step ends CANCELLED.
    (Until the step runs, the clock runs fast: with 100 s the task could time out, 0.17 s of wall time, before
    the step started, and a loaded CI machine saw that.)"""
    command, _flag = blocker
    step_request = step_config(*command)
    definition = task("addStep.sync", {"ClusterId": waiting_cluster, "Step": step_request}, TimeoutSeconds=3000)
    execution_arn = runtime.start(definition)
    step_id = wait_until(lambda: runtime.emr.list_steps(ClusterId=waiting_cluster)["Steps"])[0]["Id"]
    runtime.wait_for_step(waiting_cluster, step_id, {"RUNNING"})
    runtime.stack.clock.advance(3020)
    run = runtime.wait(execution_arn, timeout=10)
    assert (run.status, failure(run)[0]) == ("FAILED", "States.Timeout")
    step = runtime.wait_for_step(waiting_cluster, step_id, {"CANCELLED", "FAILED", "COMPLETED"}, timeout=20)
    assert step["Status"]["State"] == "CANCELLED"
