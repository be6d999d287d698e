"""The EMR on EKS pipeline in template.yaml and statemachines/eks_pipeline.asl.json: the definition takes exactly the
input emr_autopilot.eks_runs builds, retries calls but never a failed job run, and its role has exactly the IAM
the Step Functions developer guide lists (emr-eks-iam, StartJobRun "Run a Job (.sync)")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emr_autopilot.eks_runs import build_eks_run_input
from emr_autopilot.jobs import load_job_file
from emr_autopilot.runs import Trigger
from tests.helpers.stack_contexts import stack_context
from tests.helpers.template import ROOT, as_list, load_template

ASL = ROOT / "statemachines" / "eks_pipeline.asl.json"
JOBS = ROOT / "jobs"
REGION = "eu-west-1"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:emr-autopilot-EksPipeline"
VIRTUAL_CLUSTERS = "arn:${AWS::Partition}:emr-containers:${AWS::Region}:${AWS::AccountId}:/virtualclusters/*"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))
    return loaded


def _item_states(definition: dict[str, Any]) -> dict[str, Any]:
    states: dict[str, Any] = definition["States"]["RunJobs"]["ItemProcessor"]["States"]
    return states


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = template["Resources"]["EksPipeline"]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["Statement"]]


def test_the_definition_names_no_arn_and_waits_for_each_job_run(definition: dict[str, Any]) -> None:
    # Given the EKS pipeline's definition
    text = ASL.read_text(encoding="utf-8")

    # When its ARNs and its job run task are read
    arns = set(re.findall(r"arn:aws[\w-]*:[\w-]+:[^\"]*", text))
    task = _item_states(definition)["StartJobRun"]

    # Then only service integrations are named (resources come from the input; the cost function is substituted),
    # the task is startJobRun.sync bounded by the step's TimeoutSeconds, and the Map runs the job's concurrency
    assert arns == {
        "arn:aws:states:::emr-containers:startJobRun.sync",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::sns:publish",
    }
    assert task["Resource"] == "arn:aws:states:::emr-containers:startJobRun.sync"
    assert task["TimeoutSecondsPath"] == "$.TimeoutSeconds"
    assert definition["States"]["RunJobs"]["MaxConcurrencyPath"] == "$.run.step_concurrency"
    assert definition["States"]["RunJobs"]["ItemSelector"]["TimeoutSeconds.$"] == "$$.Map.Item.Value.TimeoutSeconds"


def test_the_task_passes_every_member_of_the_request_the_run_starter_builds(definition: dict[str, Any]) -> None:
    # Given the sample's run input, as the run starter builds it
    job = load_job_file(JOBS / "red-violations-eks.yaml", JOBS)
    context = stack_context(MACHINE).model_copy(update={"eks_state_machine_arn": MACHINE})
    trigger = Trigger(kind="manual", time=datetime(2026, 1, 31, 6, 0, tzinfo=UTC))
    request = build_eks_run_input(job, trigger, context, "red-violations-eks-run")["job_runs"][0]["Request"]

    # When the task's parameters are read
    parameters = _item_states(definition)["StartJobRun"]["Parameters"]

    # Then each request member is passed from the input under its own name, and nothing else
    assert {key.removesuffix(".$") for key in parameters} == set(request)
    assert all(value == f"$.Request.{key.removesuffix('.$')}" for key, value in parameters.items())


def test_a_failed_or_timed_out_job_run_is_never_started_again(definition: dict[str, Any]) -> None:
    # Given the item's states
    states = _item_states(definition)

    # When the task's error handling is read
    task, decide = states["StartJobRun"], states["StartJobRunFailed"]

    # Then the task has no Retry of its own; every error goes to the Choice, which retries only errors other than a
    # failed/cancelled job run (States.TaskFailed) or a timeout, a bounded number of times, and ends in a Fail state
    assert "Retry" not in task
    assert task["Catch"][0]["Next"] == "StartJobRunFailed"
    (choice,) = decide["Choices"]
    assert "$not($states.input.caught.Error in ['States.TaskFailed', 'States.Timeout'])" in choice["Condition"]
    assert "$states.input.Attempt < 3" in choice["Condition"]
    assert choice["Next"] == "StartJobRunBackoff"
    assert states[decide["Default"]]["Type"] == "Fail"


def test_both_notices_say_why_and_a_failure_ends_failed(definition: dict[str, Any]) -> None:
    # Given the top-level states
    states = definition["States"]

    # When the ends of the run are followed
    success, failure = states[states[states["RunJobs"]["Next"]]["Next"]], states["NotifyFailure"]

    # Then success (after the cost estimate) publishes its notice; a failure is recorded once (the reason from the
    # Cause), notified with that reason, and the execution ends in the Fail state
    assert success["Resource"] == "arn:aws:states:::sns:publish"
    assert states["RunJobs"]["Catch"][0]["Next"] == "JobsFailed"
    assert states["ParseCause"]["Next"] == "RecordFailure" and states["JobsFailed"]["Default"] == "RecordFailure"
    assert "failureReason" in states["RecordFailure"]["Output"]
    assert "$.failure.reason" in failure["Parameters"]["Message.$"]
    assert states[failure["Next"]]["Type"] == "Fail"
    assert sum(1 for state in states.values() if state.get("Resource") == "arn:aws:states:::sns:publish") == 2


def test_the_success_notice_ends_with_the_cost_the_run_cost_function_estimates(
    definition: dict[str, Any], template: dict[str, Any]
) -> None:
    # Given the states after the job runs, the serverless pipeline's, and the template's wiring
    states = definition["States"]
    serverless = json.loads((ROOT / "statemachines" / "serverless_pipeline.asl.json").read_text(encoding="utf-8"))
    resources = template["Resources"]

    # When the success path is followed
    estimate = states[states["RunJobs"]["Next"]]
    not_available = states[estimate["Catch"][0]["Next"]]

    # Then RunCostFunction gets the virtual cluster and the job runs' results (RunCostRequest reads their Id), any
    # failure of it gives the serverless pipeline's "not available" line, and the notice ends with the line
    assert estimate["Resource"] == "arn:aws:states:::lambda:invoke"
    assert estimate["Parameters"] == {
        "FunctionName": "${RunCostFunctionArn}",
        "Payload": {"virtual_cluster_id.$": "$.virtual_cluster.VirtualClusterId", "job_runs.$": "$.job_run_results"},
    }
    assert estimate["Catch"] == serverless["States"]["EstimateCost"]["Catch"]
    assert estimate["Retry"] == serverless["States"]["EstimateCost"]["Retry"]
    assert not_available == serverless["States"]["CostNotAvailable"]
    assert estimate["Next"] == not_available["Next"] == "NotifySuccess"
    message = states["NotifySuccess"]["Parameters"]["Message.$"]
    assert "| Execution: {} | {}', " in message and message.endswith("$$.Execution.Id, $.cost.line)")
    # And the template substitutes the function, lets the pipeline invoke it and lets it read the job runs
    pipeline = resources["EksPipeline"]["Properties"]
    assert pipeline["DefinitionSubstitutions"] == {"RunCostFunctionArn": {"Fn::GetAtt": ["RunCostFunction", "Arn"]}}
    invoke = [s for s in _statements(template) if "Fn::If" not in s and s["Action"] == "lambda:InvokeFunction"]
    assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": ["RunCostFunction", "Arn"]}]
    cost_grants = {
        action: statement["Resource"]
        for policy in resources["RunCostFunction"]["Properties"]["Policies"]
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
    }
    assert cost_grants["emr-containers:DescribeJobRun"] == {"Fn::Sub": VIRTUAL_CLUSTERS + "/jobruns/*"}


def test_the_role_may_start_job_runs_only_with_the_listed_execution_roles(template: dict[str, Any]) -> None:
    # Given the EKS pipeline's policy statements
    statements = _statements(template)

    # When the StartJobRun grant is read
    (conditional,) = [statement for statement in statements if "Fn::If" in statement]
    condition, start, otherwise = conditional["Fn::If"]

    # Then it exists only when EksJobRoleArns lists roles, on any virtual cluster (ids come from the input), for
    # exactly those roles; with none listed there is no grant at all
    assert condition == "HasEksJobRoleArns"
    assert template["Conditions"]["HasEksJobRoleArns"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "EksJobRoleArns"}]}, ""]}]
    }
    assert start["Action"] == "emr-containers:StartJobRun"
    assert start["Resource"] == {"Fn::Sub": VIRTUAL_CLUSTERS}
    assert start["Condition"] == {"StringEquals": {"emr-containers:ExecutionRoleArn": {"Ref": "EksJobRoleArns"}}}
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert template["Parameters"]["EksJobRoleArns"] == {
        **template["Parameters"]["EksJobRoleArns"],
        "Type": "CommaDelimitedList",
        "Default": "",
    }


def test_the_role_has_the_guides_sync_grants_and_nothing_wider(template: dict[str, Any]) -> None:
    # Given the EKS pipeline's unconditional statements
    statements = [statement for statement in _statements(template) if "Fn::If" not in statement]

    # When the emr-containers actions are collected
    granted = {
        action: statement["Resource"]
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("emr-containers:")
    }

    # Then DescribeJobRun and CancelJobRun (for .sync) are on job runs only; no wildcard action, no PassRole
    assert granted == {
        "emr-containers:DescribeJobRun": {"Fn::Sub": VIRTUAL_CLUSTERS + "/jobruns/*"},
        "emr-containers:CancelJobRun": {"Fn::Sub": VIRTUAL_CLUSTERS + "/jobruns/*"},
    }
    actions = [action for statement in statements for action in as_list(statement["Action"])]
    assert not any(action.endswith("*") for action in actions)
    assert "iam:PassRole" not in actions


def test_the_stack_wires_the_eks_pipeline_to_the_run_starter_and_the_janitor(template: dict[str, Any]) -> None:
    # Given the template's resources and outputs
    resources = template["Resources"]

    # When the EKS pipeline's users are read
    starter = resources["RunStarterFunction"]["Properties"]
    janitor = resources["ExecutionJanitorFunction"]["Properties"]
    pattern = janitor["Events"]["ExecutionEnded"]["Properties"]["Pattern"]
    janitor_grants = {
        action: statement["Resource"]
        for policy in janitor["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
    }

    # Then the run starter knows and may start it, the janitor hears its executions' ends and may find and cancel
    # their job runs, and the stack outputs its ARN
    assert starter["Environment"]["Variables"]["EKS_STATE_MACHINE_ARN"] == {"Ref": "EksPipeline"}
    assert {"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::GetAtt": ["EksPipeline", "Name"]}}} in starter[
        "Policies"
    ]
    assert {"Ref": "EksPipeline"} in pattern["detail"]["stateMachineArn"]
    assert janitor_grants["emr-containers:ListJobRuns"] == {"Fn::Sub": VIRTUAL_CLUSTERS}
    assert janitor_grants["emr-containers:CancelJobRun"] == {"Fn::Sub": VIRTUAL_CLUSTERS + "/jobruns/*"}
    assert template["Outputs"]["EksPipelineStateMachineArn"]["Value"] == {"Ref": "EksPipeline"}
    assert resources["EksPipeline"]["Properties"]["DefinitionUri"] == str(ASL.relative_to(ROOT))
    assert Path(ROOT / resources["EksPipeline"]["Properties"]["DefinitionUri"]).is_file()


def _evaluate(expression: str, state_input: dict[str, Any]) -> Any:
    # jsonata-python, the evaluator the local runtime gives Step Functions' JSONata states; $states bound as AWS does.
    import jsonata

    return jsonata.Jsonata(f"($states := {json.dumps({'input': state_input})}; {expression[2:-2]})").evaluate(None)


@pytest.mark.parametrize(
    ("caught", "parsed", "reason"),
    [
        (
            {"Error": "States.TaskFailed", "Cause": '{"failureReason": "USER_ERROR", "stateDetails": "Job failed"}'},
            {"failureReason": "USER_ERROR", "stateDetails": "Job failed"},
            "USER_ERROR: Job failed",
        ),
        (
            {"Error": "States.TaskFailed", "Cause": "{...}"},
            {"jobRun": {"failureReason": None, "stateDetails": "JobRun CANCELLED successfully."}},
            "JobRun CANCELLED successfully.",
        ),
        ({"Error": "States.Timeout"}, None, "States.Timeout"),
    ],
    ids=["failed", "cancelled-under-jobRun", "timeout-without-cause"],
)
def test_the_failure_reason_is_read_from_the_cause_in_one_place(
    definition: dict[str, Any], caught: dict[str, Any], parsed: dict[str, Any] | None, reason: str
) -> None:
    # Given RecordFailure's input after a job run's failure (the Cause parsed by ParseCause when it is JSON)
    state_input: dict[str, Any] = {"run": {"job_name": "j"}, "caught": caught}
    if parsed is not None:
        state_input["caught_parsed"] = {"json": parsed}

    # When its Output is evaluated
    output = _evaluate(definition["States"]["RecordFailure"]["Output"], state_input)

    # Then the failure names the state, the error, the cause as it came, and the reason
    assert output["failure"] == {
        "state": "RunJobs",
        "error": caught["Error"],
        "cause": caught.get("Cause", ""),
        "reason": reason,
    }
    assert output["run"] == {"job_name": "j"}


@pytest.mark.parametrize(
    ("error", "attempt", "retried"),
    [
        ("States.TaskFailed", 0, False),
        ("States.Timeout", 0, False),
        ("EMRContainers.ValidationException", 0, False),
        ("EMRContainers.InternalServerException", 0, True),
        ("EMRContainers.InternalServerException", 3, False),
    ],
)
def test_only_call_errors_are_retried_and_only_three_times(
    definition: dict[str, Any], error: str, attempt: int, retried: bool
) -> None:
    # Given the Choice after a failed StartJobRun task
    (choice,) = _item_states(definition)["StartJobRunFailed"]["Choices"]

    # When its condition is evaluated for this error and attempt
    decided = _evaluate(choice["Condition"], {"Attempt": attempt, "caught": {"Error": error}})

    # Then only a call error under the bound is retried
    assert decided is retried


def test_the_event_function_hears_every_detail_type_it_has_a_model_for(template: dict[str, Any]) -> None:
    # Given the EMR on EKS event function's rule
    from emr_autopilot.emr_eks_events import DETAIL_MODELS

    events = template["Resources"]["EmrEksEventFunction"]["Properties"]["Events"]
    pattern = events["EmrEksEvent"]["Properties"]["Pattern"]

    # When its detail-types are read / Then they are the ones the event models know: the two state change names and
    # the new driver attempt (EventBridge events reference, events-ref-emr-containers.html)
    assert pattern["source"] == ["aws.emr-containers"]
    assert (
        sorted(pattern["detail-type"])
        == sorted(DETAIL_MODELS)
        == [
            "EMR Job Run New Driver Attempt",
            "EMR Job Run State Change",
            "EmrContainers Job Run State Change",
        ]
    )
