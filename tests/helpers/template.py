"""template.yaml as the tests read it: CloudFormation short tags, resources, policy statements."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

SERVERLESS_WITH_POLICIES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
RESOURCE_POLICY_TYPES = ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy")
IDENTITY_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) as their long form."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CloudFormationLoader)


def resources_of(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] in types}


def function_properties(template: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """A function's properties with Globals.Function merged under them (top-level keys only)."""
    globals_ = template.get("Globals", {}).get("Function", {})
    return {**globals_, **resource.get("Properties", {})}


@functools.cache
def sam_policy_templates() -> dict[str, Any]:
    # The definitions the SAM transform expands policy templates into (installed with SAM CLI).
    data = resources.files("samtranslator") / "policy_templates_data" / "policy_templates.json"
    return json.loads(data.read_text(encoding="utf-8"))["Templates"]


def _statements(document: Any) -> list[dict[str, Any]]:
    statement = (document or {}).get("Statement", [])
    return statement if isinstance(statement, list) else [statement]


def _serverless_policy_statements(policies: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(policies, str | dict):
        policies = [policies]
    for index, policy in enumerate(policies or []):
        if isinstance(policy, str):
            continue  # a managed policy name or ARN: not ours to inspect
        if "Statement" in policy:
            for statement in _statements(policy):
                yield f"Policies[{index}]", statement
            continue
        (name,) = policy  # a policy template: check what SAM expands it into
        templates = sam_policy_templates()
        assert name in templates, f"unknown SAM policy template {name}"
        for statement in _statements(templates[name]["Definition"]):
            yield f"Policies[{index}] {name}", statement


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement in the template, as (where, statement)."""
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in SERVERLESS_WITH_POLICIES:
            for where, statement in _serverless_policy_statements(props.get("Policies")):
                yield f"{name} {where}", statement
        elif res["Type"] == "AWS::IAM::Role":
            for statement in _statements(props.get("AssumeRolePolicyDocument")):
                yield f"{name} AssumeRolePolicyDocument", statement
            for policy in props.get("Policies", []):
                for statement in _statements(policy.get("PolicyDocument")):
                    yield f"{name} {policy.get('PolicyName')}", statement
        elif res["Type"] in IDENTITY_POLICY_TYPES + RESOURCE_POLICY_TYPES:
            for statement in _statements(props.get("PolicyDocument")):
                yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
