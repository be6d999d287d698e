"""Checks of the Livy path's template resources and ASL that the generic template checks do not make."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emr_autopilot import errors
from tests.helpers.template import ROOT, function_properties, load_template

ASL = ROOT / "statemachines" / "livy_batch.asl.json"
# Functions that open connections to Livy on the primary node: these may need the VPC.
CALLS_LIVY = ("LivySubmitFunction", "LivyStatusFunction", "LivyKillFunction", "LivyJanitorFunction")
AWS_ERROR_PREFIXES = ("States.", "Lambda.", "EMR.", "SNS.")
# Raised by the ASL itself (Fail state's ErrorPath), not by a handler.
ASL_OWN_ERRORS = {"LivyBatchFailed", "LivyBatchTimedOut"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))
    return loaded


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = definition["States"]
    return states


def _error_names(definition: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for state in _states(definition).values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names.update(rule["ErrorEquals"])
    return names


def test_every_domain_error_the_asl_matches_is_a_class_handlers_raise(definition: dict[str, Any]) -> None:
    # Given the error names LivyBatchPipeline's Retry and Catch rules match
    domain = {name for name in _error_names(definition) if not name.startswith(AWS_ERROR_PREFIXES)}
    # When they are looked up in emr_autopilot.errors (a Lambda reports its exception's class name)
    missing = sorted(name for name in domain if not isinstance(getattr(errors, name, None), type))
    # Then each exists, so renaming an exception cannot silently stop a Retry from matching
    assert domain >= {"LivyUnavailable", "ClusterNotReady"}
    assert missing == []


def test_failure_names_the_pipeline_raises_are_not_exception_names(definition: dict[str, Any]) -> None:
    # Given the errors the failure states record for the Fail state
    recorded = {
        state["Parameters"]["error"]
        for state in _states(definition).values()
        if state["Type"] == "Pass" and "error" in state.get("Parameters", {})
    }
    # When compared with the pipeline's own names
    # Then they are exactly the two docs/livy.md documents, and no handler raises them
    assert recorded == ASL_OWN_ERRORS
    assert not any(hasattr(errors, name) for name in recorded)


def test_every_lambda_task_uses_a_substituted_function_and_retries_lambda_errors(definition: dict[str, Any]) -> None:
    # Given the pipeline's Lambda tasks
    tasks = {
        name: state
        for name, state in _states(definition).items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    # When their function names and retries are read
    # Then each names its function through DefinitionSubstitutions and retries Lambda's transient errors
    assert sorted(tasks) == ["CheckBatch", "KillBatch", "ResolveCluster", "SubmitBatch"]
    for name, state in tasks.items():
        assert state["Parameters"]["FunctionName"].startswith("${Livy"), name
        assert "Lambda.TooManyRequestsException" in state["Retry"][0]["ErrorEquals"], name
        assert state.get("Catch"), f"{name} has no Catch: a failure would skip the notification"


@pytest.mark.parametrize("name", CALLS_LIVY)
def test_livy_callers_can_be_placed_in_a_vpc_optionally(template: dict[str, Any], name: str) -> None:
    # Given a function that calls Livy
    props = function_properties(template, template["Resources"][name])
    # When its VpcConfig is read
    vpc = props["VpcConfig"]["Fn::If"]
    # Then it is conditional on both parameters, and absent (AWS::NoValue) otherwise
    assert vpc[0] == "HasLivyVpc"
    assert vpc[1] == {"SubnetIds": {"Ref": "LivySubnetIds"}, "SecurityGroupIds": {"Ref": "LivySecurityGroupIds"}}
    assert vpc[2] == {"Ref": "AWS::NoValue"}


def test_the_vpc_condition_needs_both_lists(template: dict[str, Any]) -> None:
    # Given the HasLivyVpc condition
    condition = template["Conditions"]["HasLivyVpc"]
    # When its operands are read
    # Then subnets and security groups must both be given
    assert list(condition) == ["Fn::And"]
    assert json.dumps(condition).count("LivySubnetIds") == 1
    assert json.dumps(condition).count("LivySecurityGroupIds") == 1


def test_janitor_rule_covers_the_livy_pipelines_ended_executions(template: dict[str, Any]) -> None:
    # Given the Livy janitor's EventBridge rule
    props = template["Resources"]["LivyJanitorFunction"]["Properties"]
    rule = props["Events"]["LivyExecutionEnded"]["Properties"]
    # When its pattern is read
    detail = rule["Pattern"]["detail"]
    # Then it reacts to every way a Livy run can end badly, and only to that state machine's
    assert sorted(detail["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert detail["stateMachineArn"] == [{"Ref": "LivyBatchPipeline"}]
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["FunctionDeadLetterQueue", "Arn"]}
    # And the dead-letter queue lets that rule deliver to it
    policy = template["Resources"]["FunctionDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    sources = policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {"Fn::GetAtt": ["LivyJanitorFunctionLivyExecutionEnded", "Arn"]} in sources


@pytest.mark.parametrize("resource", ["LivyBatchPipeline", "LivyJanitorFunction"])
def test_only_clusters_the_pipeline_tagged_can_be_terminated(template: dict[str, Any], resource: str) -> None:
    # Given the Livy path's resources that terminate clusters
    statements = [
        statement
        for policy in template["Resources"][resource]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]
    terminating = [s for s in statements if "elasticmapreduce:TerminateJobFlows" in json.dumps(s.get("Action"))]
    # When their conditions are read
    # Then every grant of TerminateJobFlows requires the managed tag: a team's cluster is never theirs to end
    assert terminating
    for statement in terminating:
        tag = statement["Condition"]["StringEquals"]["elasticmapreduce:ResourceTag/emr-autopilot:managed"]
        assert tag == "true"
