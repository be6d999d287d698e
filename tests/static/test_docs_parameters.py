"""docs/deploy.md agrees with template.yaml: every parameter with its default, and a deployer policy that covers
every resource type the template creates. Checked, not trusted: a new parameter or resource type fails here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.helpers.template import ROOT, load_template

DEPLOY = ROOT / "docs" / "deploy.md"
ROW = re.compile(r"^\| `([A-Za-z0-9]+)` \| `([^`]*)` \| (.+) \|$")
# The action CloudFormation calls to create each resource type the template declares (SAM types as the transform
# expands them: a function is a role, a function, permissions, event-invoke configs and rules).
CREATE_ACTIONS = {
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard"],
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups"],
    "AWS::IAM::ManagedPolicy": ["iam:CreatePolicy"],
    "AWS::IAM::Policy": ["iam:PutRolePolicy"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PassRole"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutBucketNotification", "s3:PutLifecycleConfiguration"],
    "AWS::S3::BucketPolicy": ["s3:PutBucketPolicy"],
    "AWS::SNS::Subscription": ["sns:Subscribe"],
    "AWS::SNS::Topic": ["sns:CreateTopic"],
    "AWS::SQS::Queue": ["sqs:CreateQueue"],
    "AWS::SQS::QueuePolicy": ["sqs:SetQueueAttributes"],
    "AWS::Scheduler::ScheduleGroup": ["scheduler:CreateScheduleGroup"],
    "AWS::Serverless::Function": [
        "iam:CreateRole",
        "lambda:CreateFunction",
        "lambda:AddPermission",
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:PutFunctionConcurrency",
        "events:PutRule",
        "events:PutTargets",
    ],
    "AWS::Serverless::LayerVersion": ["lambda:PublishLayerVersion"],
    "AWS::Serverless::StateMachine": ["iam:CreateRole", "states:CreateStateMachine", "events:PutRule"],
}


def documented_parameters() -> list[tuple[str, str]]:
    text = DEPLOY.read_text(encoding="utf-8")
    table = text.split("<!-- parameters:start -->", 1)[1].split("<!-- parameters:end -->", 1)[0]
    rows = [ROW.match(line) for line in table.strip().splitlines()[2:]]
    assert all(rows), "every row of the parameter table is | `Name` | `default` | when to change |"
    return [(row.group(1), row.group(2)) for row in rows if row]


def deployer_policy() -> dict[str, Any]:
    text = DEPLOY.read_text(encoding="utf-8")
    block = text.split("## IAM: what the deployer needs", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    policy: dict[str, Any] = json.loads(block)
    return policy


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_every_template_parameter_is_documented_with_its_default_in_order(template: dict[str, Any]) -> None:
    # Given the template's parameters (sam deploy --guided asks for them in this order)
    expected = [(name, str(spec.get("Default", ""))) for name, spec in template["Parameters"].items()]
    # When the deploy guide's table is read ("" stands for an empty default)
    documented = [(name, "" if default == '""' else default) for name, default in documented_parameters()]
    # Then it lists the same parameters, in the same order, with the same defaults
    assert documented == expected


def test_the_deploy_guide_and_readme_state_how_many_parameters_there_are(template: dict[str, Any]) -> None:
    # Given the number of template parameters / When the guide's and README's sentences are read / Then it is that
    assert f"asks for these {len(template['Parameters'])}," in DEPLOY.read_text(encoding="utf-8")
    assert f"asks for {len(template['Parameters'])} parameters" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_deployer_policy_can_create_every_resource_type_in_the_template(template: dict[str, Any]) -> None:
    # Given the resource types the template declares
    types = {resource["Type"] for resource in template["Resources"].values()}
    # When the deploy guide's policy is read
    allowed = {
        action
        for statement in deployer_policy()["Statement"]
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }
    # Then every type is known here, and its create actions are in the policy, with no wildcard action
    assert sorted(types - CREATE_ACTIONS.keys()) == [], "a new resource type: add its create actions here and in docs"
    missing = sorted({action for kind in types for action in CREATE_ACTIONS[kind]} - allowed)
    assert missing == []
    assert [action for action in allowed if "*" in action] == []
    assert "cloudformation:CreateChangeSet" in allowed and "cloudformation:ExecuteChangeSet" in allowed


def test_every_parameter_default_quoted_elsewhere_in_the_docs_is_the_templates(template: dict[str, Any]) -> None:
    # Given the template's defaults, and every docs table row that starts with a parameter and its default
    defaults = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    row = re.compile(r"^\| `([A-Za-z0-9]+)` \| `([^`]*)`", flags=re.MULTILINE)
    quoted = [
        (page.name, name, "" if default == '""' else default)
        for page in sorted((ROOT / "docs").glob("*.md"))
        for name, default in row.findall(page.read_text(encoding="utf-8"))
        if name in defaults
    ]
    # When they are compared / Then each page quotes the template's default (the reaper page has its own table)
    assert any(page == "reaper.md" for page, _, _ in quoted)
    assert [(page, name, default) for page, name, default in quoted if default != defaults[name]] == []
