"""Least privilege and encryption in template.yaml, and every scanner suppression justified and documented.

Builds on test_template.py's loader and policy walker (SAM policy templates expanded as the transform would)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.template import ROOT, as_list, load_template, policy_statements, resources_of

SECURITY_DOC = (ROOT / "docs" / "reliability-and-security.md").read_text(encoding="utf-8")
TEMPLATE_TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
MANAGED_TAG = {"StringEquals": {"elasticmapreduce:ResourceTag/emr-autopilot:managed": "true"}}
CREATE_TAGGED = {"StringEquals": {"elasticmapreduce:RequestTag/emr-autopilot:managed": "true"}}
# EMR actions that change a cluster or what runs on it.
EMR_WRITES = {
    "elasticmapreduce:TerminateJobFlows",
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:CancelSteps",
    "elasticmapreduce:AddTags",
    "elasticmapreduce:RemoveTags",
    "elasticmapreduce:SetTerminationProtection",
    "elasticmapreduce:PutAutoTerminationPolicy",
    "elasticmapreduce:ModifyCluster",
}
# Who may act on any cluster, and why (docs/reliability-and-security.md, "Security"):
ANY_CLUSTER = {
    # The reaper's scope is a runtime tag selector (a parameter cannot name an IAM condition key); an explicit
    # Deny keeps it off clusters tagged emr-autopilot:reaper=skip.
    "IdleReaperFunction",
}
# Readers of any cluster: the event handler records every cluster's events; a Livy run targets a team's cluster.
READS_ANY_CLUSTER = {"EmrEventFunction", "IdleReaperFunction", "LivyResolveFunction", "LivySubmitFunction"}
READS_ANY_CLUSTER |= {"LivyStatusFunction", "LivyKillFunction", "LivyJanitorFunction", "ExecutionJanitorFunction"}
EMR_ROLES = (
    {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${EmrServiceRoleName}"},
    {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${EmrInstanceRoleName}"},
)
IF_KEY = "Fn::If"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _allows(template: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (where, statement)
        for where, statement in policy_statements(template)
        if statement.get("Effect") == "Allow" and action in as_list(statement.get("Action", []))
    ]


@pytest.mark.parametrize("action", sorted(EMR_WRITES))
def test_emr_writes_are_allowed_only_on_clusters_tagged_as_the_tools(template: dict[str, Any], action: str) -> None:
    # Given every Allow of an EMR action that changes a cluster
    grants = _allows(template, action)
    # When its resource and condition are read
    problems = [
        where
        for where, statement in grants
        if where.split()[0] not in ANY_CLUSTER and statement.get("Condition") != MANAGED_TAG
    ]
    # Then only the documented exception acts on untagged clusters
    assert problems == []


def test_emr_reads_of_any_cluster_are_only_where_the_readme_says(template: dict[str, Any]) -> None:
    # Given every unconditioned Allow of DescribeCluster or DescribeStep
    readers = {
        where.split()[0]
        for action in ("elasticmapreduce:DescribeCluster", "elasticmapreduce:DescribeStep")
        for where, statement in _allows(template, action)
        if statement.get("Condition") != MANAGED_TAG
    }
    # When compared with the readers the design needs / Then the state machines are not among them
    assert readers <= READS_ANY_CLUSTER
    assert not readers & {"TransientClusterPipeline", "LivyBatchPipeline"}


def test_clusters_can_only_be_created_tagged_as_the_tools(template: dict[str, Any]) -> None:
    # Given every Allow of RunJobFlow (Resource "*": the cluster does not exist yet)
    grants = _allows(template, "elasticmapreduce:RunJobFlow")
    # When their conditions are read / Then each requires the request to tag the cluster as managed
    assert {where.split()[0] for where, _ in grants} == {"TransientClusterPipeline", "LivyBatchPipeline"}
    assert all(statement.get("Condition") == CREATE_TAGGED for _, statement in grants)


def test_pass_role_is_only_for_the_configured_emr_roles_and_the_scheduler_role(template: dict[str, Any]) -> None:
    # Given every Allow of iam:PassRole
    grants = _allows(template, "iam:PassRole")
    assert grants
    for where, statement in grants:
        resources = as_list(statement["Resource"])
        condition = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        # Then it names exactly the two EMR roles (for EMR and its EC2 instances), or the scheduler role (for
        # EventBridge Scheduler): never a wildcard, never to any service
        if resources == list(EMR_ROLES):
            assert sorted(as_list(condition)) == ["ec2.amazonaws.com", "elasticmapreduce.amazonaws.com"], where
        elif where.startswith("ServerlessPipeline "):
            # EMR Serverless job runs: the stack's job role, plus exactly the roles the parameter lists
            own = {"Fn::GetAtt": ["ServerlessJobRole", "Arn"]}
            listed = {"Fn::Join": [",", [own, {"Fn::Join": [",", {"Ref": "ServerlessJobRoleArns"}]}]]}
            assert statement["Resource"] == {
                "Fn::If": ["HasServerlessJobRoleArns", {"Fn::Split": [",", listed]}, [own]]
            }
            assert condition == "emr-serverless.amazonaws.com", where
        else:
            assert resources == [{"Fn::GetAtt": ["SchedulerRole", "Arn"]}], where
            assert condition == "scheduler.amazonaws.com", where


def _key_or(default: Any) -> dict[str, Any]:
    return {IF_KEY: ["HasKmsKey", {"Ref": "KmsKeyArn"}, default]}


def test_topics_queues_tables_and_log_groups_use_kms_with_the_key_parameter(template: dict[str, Any]) -> None:
    # Given the KmsKeyArn parameter (empty: AWS-managed keys) and its condition
    assert template["Parameters"]["KmsKeyArn"]["Default"] == ""
    assert template["Conditions"]["HasKmsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    no_value = {"Ref": "AWS::NoValue"}
    # When each encrypted resource is read / Then it takes the key when given, else an AWS-managed one
    for name, topic in resources_of(template, "AWS::SNS::Topic").items():
        assert topic["Properties"]["KmsMasterKeyId"] == _key_or("alias/aws/sns"), name
    for name, queue in resources_of(template, "AWS::SQS::Queue").items():
        # SSE-SQS without a key: EventBridge cannot send to a queue encrypted with alias/aws/sqs
        assert queue["Properties"]["KmsMasterKeyId"] == _key_or(no_value), name
        assert queue["Properties"]["SqsManagedSseEnabled"] == {IF_KEY: ["HasKmsKey", no_value, True]}, name
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert (sse["SSEEnabled"], sse["SSEType"], sse["KMSMasterKeyId"]) == (True, "KMS", _key_or(no_value)), name
    for name, group in resources_of(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == _key_or(no_value), name
        assert group["Properties"]["RetentionInDays"] <= 90, name
    # And with a key, every role that publishes or sends may use it, through SNS and SQS only
    policy = template["Resources"]["KmsKeyUsePolicy"]
    assert policy["Condition"] == "HasKmsKey"
    roles = {role["Ref"] for role in policy["Properties"]["Roles"]}
    functions = resources_of(template, "AWS::Serverless::Function", "AWS::Serverless::StateMachine")
    assert roles == {f"{name}Role" for name in functions}
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Ref": "KmsKeyArn"}
    services = statement["Condition"]["StringEquals"]["kms:ViaService"]
    assert [service["Fn::Sub"].split(".")[0] for service in services] == ["sns", "sqs"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]) -> None:
    # Given the functions / When their log groups are looked up by name
    groups = {
        group["Properties"]["LogGroupName"]["Fn::Sub"]
        for group in resources_of(template, "AWS::Logs::LogGroup").values()
        if isinstance(group["Properties"]["LogGroupName"], dict)
    }
    # Then each has one (Lambda's own would keep its logs forever)
    for name in resources_of(template, "AWS::Serverless::Function"):
        assert f"/aws/lambda/${{{name}}}" in groups, name


@pytest.mark.parametrize("bucket", sorted(resources_of(load_template(), "AWS::S3::Bucket")))
def test_buckets_block_public_access_encrypt_and_refuse_plain_http(template: dict[str, Any], bucket: str) -> None:
    # Given a bucket the stack creates
    props = template["Resources"][bucket]["Properties"]
    # When its settings and its bucket policy are read
    policies = [
        res["Properties"]["PolicyDocument"]
        for res in resources_of(template, "AWS::S3::BucketPolicy").values()
        if res["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    # Then public access is blocked four ways, objects are encrypted, and a policy denies non-TLS requests
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (policy,) = policies
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in deny] == [{"Bool": {"aws:SecureTransport": "false"}}]
    assert deny[0]["Resource"] == [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": f"${{{bucket}.Arn}}/*"}]


def _suppressions(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource, id, justification) of every checkov skip."""
    found = []
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.append((name, skip["id"], skip.get("comment", "")))
    return found


def test_every_scanner_suppression_has_a_reason_and_is_in_the_security_doc(template: dict[str, Any]) -> None:
    # Given every checkov skip and every cfn-lint ignore in the template
    skips = _suppressions(template)
    ignores = re.findall(r"^\s+- ([EW]S?\d{4})\b(.*)$", TEMPLATE_TEXT, flags=re.MULTILINE)
    assert skips and ignores
    # When their reasons are read / Then each has one, and the security doc lists each id with its reason
    for name, check, reason in skips:
        assert len(reason) >= 30, f"{name} {check}: no real justification"
    for check, rest in ignores:
        assert re.match(r"\s+# \S.{20,}", rest), f"cfn-lint {check}: the ignore needs a # justification"
    for check in {check for _, check, _ in skips} | {check for check, _ in ignores}:
        assert f"`{check}`" in SECURITY_DOC, f"{check} is not in the security doc's suppression list"


def test_the_security_doc_lists_every_action_granted_on_any_resource(template: dict[str, Any]) -> None:
    # Given every action the template grants on Resource "*"
    actions = {
        action
        for _, statement in policy_statements(template)
        if statement.get("Effect") == "Allow" and "*" in as_list(statement.get("Resource", []))
        for action in as_list(statement.get("Action", []))
    }
    # When the security doc's list is read / Then each is in it
    assert actions
    assert [action for action in sorted(actions) if f"`{action}`" not in SECURITY_DOC] == []
