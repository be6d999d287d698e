"""Checks of template.yaml that sam validate, cfn-lint and statelint do not make."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml

from tests.helpers.template import (
    ROOT,
    CloudFormationLoader,
    as_list,
    function_properties,
    load_template,
    policy_statements,
    resources_of,
)

# The only actions that may be granted on Resource "*": none of them accepts a narrower resource
# (RunJobFlow creates the cluster; the logs delivery and X-Ray APIs take no ARN).
ACTIONS_ALLOWED_ON_ANY_RESOURCE = frozenset(
    {
        "elasticmapreduce:ListClusters",
        "elasticmapreduce:RunJobFlow",
        # GetMetricData has no resource type: it reads metrics, not resources (the idle reaper's IsIdle).
        "cloudwatch:GetMetricData",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # A Task state's callback token is no resource IAM can name (step_completion: events).
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
    }
)

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def wildcard_action_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for where, statement in policy_statements(template):
        # A Deny of every action (the buckets' TLS-only rule) can only narrow access.
        if statement.get("Effect") == "Deny":
            continue
        for key in ("Action", "NotAction"):
            for action in as_list(statement.get(key, [])):
                if not isinstance(action, str) or "*" in action:
                    problems.append(f"{where} ({statement.get('Sid', '-')}): {key} {action!r}")
    return problems


def any_resource_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for where, statement in policy_statements(template):
        if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource", [])):
            continue
        for action in as_list(statement.get("Action", [])):
            if action not in ACTIONS_ALLOWED_ON_ANY_RESOURCE:
                problems.append(f"{where} ({statement.get('Sid', '-')}): {action!r} on Resource '*'")
    return problems


def definition_substitution_problems(state_machine: dict[str, Any]) -> list[str]:
    props = state_machine["Properties"]
    path = ROOT / props["DefinitionUri"]
    if not path.is_file():
        return [f"DefinitionUri {props['DefinitionUri']} does not exist"]
    text = path.read_text(encoding="utf-8")
    json.loads(text)  # a definition that is not JSON fails here, with the parser's message
    used = set(PLACEHOLDER.findall(text))
    defined = set(props.get("DefinitionSubstitutions") or {})
    return [f"${{{name}}} has no DefinitionSubstitutions entry" for name in sorted(used - defined)] + [
        f"DefinitionSubstitutions entry {name} is never used" for name in sorted(defined - used)
    ]


def handler_problems(props: dict[str, Any]) -> list[str]:
    code_dir = ROOT / props["CodeUri"]
    if not code_dir.is_dir():
        return [f"CodeUri {props['CodeUri']} does not exist"]
    module, _, function = props["Handler"].rpartition(".")
    source = code_dir / (module.replace(".", "/") + ".py")
    if not source.is_file():
        return [f"handler module {source.relative_to(ROOT)} does not exist"]
    tree = ast.parse(source.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)} | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return [] if function in defined else [f"{source.relative_to(ROOT)} defines no top-level {function}"]


# Parametrize by logical ID, so a failure names the resource.
STATE_MACHINES = sorted(resources_of(load_template(), "AWS::Serverless::StateMachine"))
FUNCTIONS = sorted(resources_of(load_template(), "AWS::Serverless::Function"))


def test_template_declares_the_resources_these_checks_cover() -> None:
    # Given the template
    # When its state machines and functions are listed
    # Then there are some, so the parametrized checks below are not vacuous
    assert "TransientClusterPipeline" in STATE_MACHINES
    assert {"ExecutionJanitorFunction", "RunStarterFunction", "EmrEventFunction"} <= set(FUNCTIONS)


@pytest.mark.parametrize("name", STATE_MACHINES)
def test_state_machine_definition_exists_and_substitutions_match(template: dict[str, Any], name: str) -> None:
    # Given a serverless state machine with a DefinitionUri
    state_machine = template["Resources"][name]
    # When its definition's ${...} placeholders are compared with DefinitionSubstitutions
    problems = definition_substitution_problems(state_machine)
    # Then the file exists and every placeholder is defined and every substitution used
    assert problems == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_code_uri_has_its_handler(template: dict[str, Any], name: str) -> None:
    # Given a serverless function
    props = function_properties(template, template["Resources"][name])
    # When its CodeUri and Handler are resolved against the repository
    problems = handler_problems(props)
    # Then the directory, the module and the handler function all exist
    assert problems == []


def test_no_policy_action_has_a_wildcard(template: dict[str, Any]) -> None:
    # Given every policy statement, SAM policy templates expanded as the transform would
    # When Allow statements' actions are searched for "*"
    problems = wildcard_action_problems(template)
    # Then none is found
    assert problems == []


def test_resource_star_only_for_actions_that_take_no_narrower_resource(template: dict[str, Any]) -> None:
    # Given every Allow statement
    # When one grants on Resource "*"
    problems = any_resource_problems(template)
    # Then all its actions are in the allow-list
    assert problems == []


@pytest.mark.parametrize("name", STATE_MACHINES)
def test_state_machine_is_standard(template: dict[str, Any], name: str) -> None:
    # Given a state machine (EMR .sync integrations need Standard workflows)
    props = template["Resources"][name]["Properties"]
    # When its Type is read
    # Then it is explicitly STANDARD
    assert props.get("Type") == "STANDARD"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_sends_failed_async_invocations_somewhere(template: dict[str, Any], name: str) -> None:
    # Given a serverless function (all of ours are invoked asynchronously)
    props = function_properties(template, template["Resources"][name])
    # When its EventInvokeConfig is read
    on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
    # Then failed invocations have a typed destination
    assert on_failure.get("Type") and on_failure.get("Destination"), f"{name} has no OnFailure destination"


# Negative controls: the checkers above must notice what they exist to catch.

_BAD_POLICIES: dict[str, dict[str, Any]] = {
    "inline wildcard": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "x"}]},
    "policy template wildcard": {"SQSSendMessagePolicy": {"QueueName": "q"}},
}


@pytest.mark.parametrize("case", sorted(_BAD_POLICIES))
def test_wildcard_checker_catches_wildcards(case: str) -> None:
    # Given a function whose policies grant a wildcard action
    function = {"Type": "AWS::Serverless::Function", "Properties": {"Policies": [_BAD_POLICIES[case]]}}
    template = {"Resources": {"F": function}}
    # When the wildcard checker runs
    # Then it reports the function
    assert wildcard_action_problems(template)


def test_any_resource_checker_catches_unlisted_actions() -> None:
    # Given a role granting an action outside the allow-list on Resource "*"
    statement = {"Effect": "Allow", "Action": ["elasticmapreduce:TerminateJobFlows"], "Resource": "*"}
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement]}}]}}
    template = {"Resources": {"R": role}}
    # When the Resource "*" checker runs
    # Then it reports the action
    assert any_resource_problems(template) == ["R None (-): 'elasticmapreduce:TerminateJobFlows' on Resource '*'"]


def test_short_tags_load_as_their_long_form() -> None:
    # Given YAML using CloudFormation short tags
    text = "a: !Ref X\nb: !GetAtt Y.Arn\nc: !Sub '${Z}'\nd: !If [C, 1, 2]\n"
    # When it is loaded with the CloudFormation loader
    loaded = yaml.load(text, Loader=CloudFormationLoader)
    # Then each tag becomes its intrinsic function
    assert loaded == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["Y", "Arn"]},
        "c": {"Fn::Sub": "${Z}"},
        "d": {"Fn::If": ["C", 1, 2]},
    }
