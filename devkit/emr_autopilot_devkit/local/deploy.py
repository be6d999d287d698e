"""template.yaml -> resources in moto, as CloudFormation would create them: a first pass names every resource
(Ref and GetAtt), a second creates what needs those names (state machines, functions and their rules,
dashboards); then the outputs, and every topic subscribed to the notification inbox."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.local.account import ACCOUNT_ID, REGION
from emr_autopilot_devkit.local.functions import LocalFunction
from emr_autopilot_devkit.local.template import Resolver, merged_function


@dataclass
class Deployment:
    resolver: Resolver
    outputs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)  # rule ARN -> function logical id
    function_schedules: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (function, event)
    inbox_url: str = ""


class Deployer:
    def __init__(self, template: dict[str, Any], repo_root: Path, stack_name: str, client: Callable[[str], Any]):
        self.template = template
        self.repo_root = repo_root
        self.stack_name = stack_name
        self._new_client = client
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def deploy(self) -> Deployment:
        resolver = Resolver(
            parameters=self._parameter_defaults(),
            pseudo={
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Region": REGION,
                "AWS::Partition": "aws",
                "AWS::StackName": self.stack_name,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": "",
            },
        )
        for name, expression in self.template.get("Conditions", {}).items():
            resolver.conditions[name] = bool(resolver.resolve(expression))
        deployment = Deployment(resolver)
        resources = self.template["Resources"]
        for logical, resource in resources.items():
            create = self._first_pass.get(resource["Type"])
            if create is not None:
                create(self, logical, resource, resolver)
        # The second pass needs every name above.
        for logical, resource in resources.items():
            kind = resource["Type"]
            if kind == "AWS::Serverless::StateMachine":
                self._state_machine(logical, resource, resolver)
            elif kind == "AWS::Serverless::Function":
                self._function(logical, resolver, deployment)
            elif kind == "AWS::CloudWatch::Dashboard":
                self._dashboard(resolver.resolve(resource["Properties"]))
        deployment.outputs = {
            key: str(resolver.resolve(output["Value"])) for key, output in self.template.get("Outputs", {}).items()
        }
        deployment.inbox_url = self._notification_inbox(resources, resolver)
        return deployment

    def _named(self, logical: str) -> str:
        return f"{self.stack_name}-{logical}"

    # -- first pass: names -----------------------------------------------------------------------
    def _bucket(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        s3 = self.client("s3")
        name = self._named(logical).lower()[:63]
        s3.create_bucket(Bucket=name)
        resolver.refs[logical] = name
        resolver.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"
        notification = resource.get("Properties", {}).get("NotificationConfiguration", {})
        if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )

    def _topic(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        arn = self.client("sns").create_topic(Name=self._named(logical))["TopicArn"]
        resolver.refs[logical] = arn
        resolver.attributes[(logical, "TopicArn")] = arn

    def _queue(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        name = self._named(logical)
        resolver.refs[logical] = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        resolver.attributes[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        resolver.attributes[(logical, "QueueName")] = name

    def _table(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        table = self._named(logical)
        resolver.refs[logical] = table
        resolver.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
        resolver.attributes[(logical, "StreamArn")] = (
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}/stream/local"
        )
        self._create_table(table, resolver.resolve(resource.get("Properties", {})))

    def _schedule_group(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        group = self._named(logical)
        self.client("scheduler").create_schedule_group(Name=group)
        resolver.refs[logical] = group
        resolver.attributes[(logical, "Arn")] = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{group}"

    def _role(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        resolver.refs[logical] = self._named(logical)
        resolver.attributes[(logical, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{self._named(logical)}"

    def _log_group(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        resolver.refs[logical] = f"/local/{self.stack_name}/{logical}"
        resolver.attributes[(logical, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/local/{logical}"

    def _function_name(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        explicit = resource.get("Properties", {}).get("FunctionName")
        function_name = str(resolver.resolve(explicit)) if explicit else self._named(logical)
        resolver.refs[logical] = function_name
        resolver.attributes[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"

    def _state_machine_name(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        sm_name = self._named(logical)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{sm_name}"
        resolver.refs[logical] = arn
        resolver.attributes[(logical, "Arn")] = arn
        resolver.attributes[(logical, "Name")] = sm_name

    def _layer(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        resolver.refs[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{logical}:1"

    _first_pass: dict[str, Callable[[Deployer, str, dict[str, Any], Resolver], None]] = {
        "AWS::S3::Bucket": _bucket,
        "AWS::SNS::Topic": _topic,
        "AWS::SQS::Queue": _queue,
        "AWS::DynamoDB::Table": _table,
        "AWS::Scheduler::ScheduleGroup": _schedule_group,
        "AWS::IAM::Role": _role,
        "AWS::Logs::LogGroup": _log_group,
        "AWS::Serverless::Function": _function_name,
        "AWS::Serverless::StateMachine": _state_machine_name,
        "AWS::Serverless::LayerVersion": _layer,
    }

    def _create_table(self, name: str, props: dict[str, Any]) -> None:
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )

    def _parameter_defaults(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self.template.get("Parameters", {}).items():
            default = spec.get("Default", "")
            values[name] = str(default).split(",") if spec.get("Type") == "CommaDelimitedList" else default
        return values

    # -- second pass: what needs the names ---------------------------------------------------------
    def _state_machine(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
        props = resource["Properties"]
        definition = (self.repo_root / props["DefinitionUri"]).read_text(encoding="utf-8")
        substitutions = resolver.resolve(props.get("DefinitionSubstitutions", {}) or {})
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = re.findall(r"\$\{[^}]+\}", definition)
        if leftover:
            raise ValueError(f"{props['DefinitionUri']}: no DefinitionSubstitutions for {sorted(set(leftover))}")
        self.client("stepfunctions").create_state_machine(
            name=resolver.attributes[(logical, "Name")],
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-{logical}Role",
            type=props.get("Type", "STANDARD"),
        )

    def _function(self, logical: str, resolver: Resolver, deployment: Deployment) -> None:
        props = merged_function(self.template, logical)
        module_name, handler_name = props["Handler"].rsplit(".", 1)
        env = {key: str(resolver.resolve(value)) for key, value in props["Environment"]["Variables"].items()}
        env.update({"AWS_LAMBDA_FUNCTION_NAME": resolver.refs[logical], "POWERTOOLS_TRACE_DISABLED": "true"})
        retries = int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2))
        deployment.functions[logical] = LocalFunction(
            logical,
            resolver.refs[logical],
            self.repo_root / props["CodeUri"] / f"{module_name}.py",
            handler_name,
            env,
            retries,
        )
        events = self.client("events")
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                # Recurring schedules are fired on demand (fire_function_schedule), not by wall time.
                deployment.function_schedules[(logical, event_name)] = resolver.resolve(event.get("Properties", {}))
                continue
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            pattern = resolver.resolve(event["Properties"]["Pattern"])
            rule_arn = events.put_rule(
                Name=f"{self.stack_name}-{logical}-{event_name}"[:64], EventPattern=json.dumps(pattern)
            )["RuleArn"]
            deployment.routes[rule_arn] = logical

    def _dashboard(self, props: dict[str, Any]) -> None:
        json.loads(props["DashboardBody"])  # a broken body fails here, not at deploy time in AWS
        self.client("cloudwatch").put_dashboard(
            DashboardName=props["DashboardName"], DashboardBody=props["DashboardBody"]
        )

    def _notification_inbox(self, resources: dict[str, Any], resolver: Resolver) -> str:
        """One SQS queue subscribed to every topic: the runtime reads the notices from it."""
        name = f"{self.stack_name}-notification-inbox"
        inbox_url: str = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        sns = self.client("sns")
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::SNS::Topic":
                sns.subscribe(
                    TopicArn=resolver.refs[logical],
                    Protocol="sqs",
                    Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                )
        return inbox_url
