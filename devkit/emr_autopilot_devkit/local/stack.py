"""The whole application on one machine: moto on 127.0.0.1, the template's resources deployed
into it, EventBridge rules routed to the real handlers in-process, EMR simulated."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import queue
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import requests
from moto.events.models import Rule, events_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from emr_autopilot import aws
from emr_autopilot import clock as app_clock
from emr_autopilot_devkit.local import (
    emr_simulator,
    handler_environment,
    livy_server,
    s3_patches,
    sfn_lambda_integration,
    sfn_patches,
)
from emr_autopilot_devkit.local.clock import FastClock, set_active_clock
from emr_autopilot_devkit.local.emr_simulator import EmrSimulator, Timings
from emr_autopilot_devkit.local.template import Resolver, load_template, merged_function

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LambdaContext:
    """The attributes powertools reads from a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    path: Path
    handler_name: str
    environment: dict[str, str]
    max_retries: int
    module: ModuleType | None = None

    def load(self) -> Any:
        if self.module is None:
            spec = importlib.util.spec_from_file_location(f"local_fn_{self.logical_id}", self.path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            with _environment(self.environment):
                spec.loader.exec_module(module)
            self.module = module
        return getattr(self.module, self.handler_name)


def _environment(values: dict[str, str]) -> contextlib.AbstractContextManager[None]:
    # A layer seen by the calling thread only: setting and removing the function's variables in the
    # process-wide os.environ leaked them to other threads and raced with botocore there (see handler_environment).
    return handler_environment.overlay(values)


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None
    attempts: int = 1
    dead_lettered: bool = False


@dataclass
class TimelineEntry:
    time: datetime
    text: str


def describe_event(event: dict[str, Any]) -> str:
    """One readable line for an event, for the demo's timeline."""
    detail = event.get("detail", {})
    kind = event.get("detail-type", "")
    if kind == "Object Created":
        return f"S3 object created: s3://{detail.get('bucket', {}).get('name')}/{detail.get('object', {}).get('key')}"
    if kind == "EMR Cluster State Change":
        reason = json.loads(detail.get("stateChangeReason") or "{}").get("code")
        return f"EMR cluster {detail.get('clusterId')} {detail.get('state')}" + (f" ({reason})" if reason else "")
    if kind == "EMR Step Status Change":
        return f"EMR step {detail.get('stepId')} '{detail.get('name')}' {detail.get('state')}"
    if kind == "Step Functions Execution Status Change":
        return f"Step Functions execution {detail.get('name')} {detail.get('status')}"
    return f"{event.get('source')} {kind}"


@dataclass
class Notification:
    topic_arn: str
    subject: str
    message: str
    attributes: dict[str, str]


def _describe_invocation(record: Invocation) -> str:
    if record.error:
        return f"{record.function} failed after {record.attempts} attempt(s): {record.error}"
    result = record.result if isinstance(record.result, dict) else {}
    if "reaper_summary" in result:  # the idle reaper's result also has a "terminated" list
        return f"{record.function}: {result['reaper_summary']}"
    runs = [f"{run['status']} {run['execution_name']}" for run in result.get("runs", [])]
    parts = runs + [f"unmatched {uri}" for uri in result.get("unmatched", [])]
    if "terminated" in result:
        parts.append(f"{result.get('execution_status')}; terminated {result['terminated'] or 'nothing'}")
    return f"{record.function}: " + ("; ".join(parts) or str(result.get("status", "ok")))


_active_stack: LocalStack | None = None
_routing_installed = False


def _install_routing() -> None:
    """EventBridge rules in moto only deliver to SQS/Logs/buses; route the template's rules to handlers."""
    global _routing_installed
    if _routing_installed:
        return
    _routing_installed = True
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        stack = _active_stack
        route = stack.routes.get(self.arn) if stack else None
        if route is None:
            return original(self, original_event, transform_input)
        if self.event_pattern.matches_event(original_event):
            assert stack is not None
            stack.enqueue(route, dict(original_event))

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


class LocalStack:
    """Start with `LocalStack.start()`, or use as a context manager."""

    def __init__(
        self,
        repo_root: Path = REPO_ROOT,
        speedup: float = 600.0,
        port: int | None = None,
        stack_name: str = "emr-autopilot-local",
        quiet: bool = True,
        timings: Timings | None = None,
    ) -> None:
        self.repo_root = repo_root
        self.stack_name = stack_name
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.clock = FastClock(speedup)
        self.quiet = quiet
        self.server: ThreadedMotoServer | None = None
        self.template = load_template(repo_root / "template.yaml")
        self.functions: dict[str, LocalFunction] = {}
        self.routes: dict[str, str] = {}  # rule ARN -> function logical id
        self.function_schedules: dict[tuple[str, str], dict[str, Any]] = {}  # (function, event) -> properties
        self.invocations: list[Invocation] = []
        self.notifications: list[Notification] = []
        self.timeline: list[TimelineEntry] = []
        self.outputs: dict[str, str] = {}
        self._events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._inbox_url = ""
        self.log_buffer = io.StringIO()
        self.simulator = EmrSimulator(self.clock, ACCOUNT_ID, REGION, self.endpoint, self.emit, timings)
        self._lock = threading.RLock()
        # Livy on the emulated clusters' primary nodes, started and stopped with the stack.
        self.livy = livy_server.LivyServer(
            self.clock, lambda text: self.timeline.append(TimelineEntry(self.clock.now(), text))
        )
        # Handlers share sys.stdout and the log handlers' streams: one runs at a time, whichever thread (an event,
        # a Task) calls it. Each sees its own function's environment (handler_environment), other threads never do.
        self._invoke_lock = threading.RLock()

    # -- start/stop -------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        global _active_stack
        environment = {
            "MOTO_PORT": str(self.port),  # moto's ASL interpreter calls back on this port
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
            "SAM_CLI_TELEMETRY": "0",
        }
        # Restored by stop(): later code in this process must not keep talking to a stopped emulator.
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        aws.reset_clients()
        set_active_clock(self.clock)
        # The run starter stamps runs and deadlines with the fast clock's "now".
        app_clock.use(self.clock.now)
        sfn_patches.install_patches()
        emr_simulator.install_patches()
        s3_patches.install_patches()
        _install_routing()
        sfn_patches.on_execution_end(self._execution_ended)
        emr_simulator.activate(self.simulator)
        self.livy.start(lambda: self.simulator.backend.clusters.values())
        sfn_lambda_integration.activate(self)  # lambda:invoke Tasks run the handlers in this process
        _active_stack = self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        if self.quiet:
            # moto's interpreter logs every failed state with its whole parse tree; the history has it.
            logging.getLogger("moto").setLevel(logging.CRITICAL)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        # moto's backends live in the process: without a reset, a second stack in the same process
        # (a test suite) would see the first one's buckets, executions, clusters and schedules.
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        requests.post(
            f"{self.endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        )
        self.simulator.start()
        self.deploy()
        return self

    def stop(self) -> None:
        global _active_stack
        for key, value in getattr(self, "_saved_environment", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset_clients()
        self.simulator.stop()
        self.livy.stop()
        if self.server:
            self.server.stop()
        if _active_stack is self:
            _active_stack = None
            emr_simulator.activate(None)
            sfn_patches.on_execution_end(None)
            sfn_lambda_integration.activate(None)
            app_clock.use(None)

    def client(self, service: str) -> Any:
        factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
        return factory(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    # -- deploy -----------------------------------------------------------------------------
    def deploy(self) -> None:
        template = self.template
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
        for name, expression in template.get("Conditions", {}).items():
            resolver.conditions[name] = bool(resolver.resolve(expression))
        resources = template["Resources"]
        s3, sns, sqs, sched = (self.client(name) for name in ("s3", "sns", "sqs", "scheduler"))

        for logical, resource in resources.items():
            kind = resource["Type"]
            name = f"{self.stack_name}-{logical}".lower()[:63]
            if kind == "AWS::S3::Bucket":
                s3.create_bucket(Bucket=name)
                resolver.refs[logical] = name
                resolver.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"
                notification = resource.get("Properties", {}).get("NotificationConfiguration", {})
                if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
                    s3.put_bucket_notification_configuration(
                        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                    )
            elif kind == "AWS::SNS::Topic":
                arn = sns.create_topic(Name=f"{self.stack_name}-{logical}")["TopicArn"]
                resolver.refs[logical] = arn
                resolver.attributes[(logical, "TopicArn")] = arn
            elif kind == "AWS::SQS::Queue":
                url = sqs.create_queue(QueueName=f"{self.stack_name}-{logical}")["QueueUrl"]
                resolver.refs[logical] = url
                resolver.attributes[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.stack_name}-{logical}"
                resolver.attributes[(logical, "QueueName")] = f"{self.stack_name}-{logical}"
            elif kind == "AWS::DynamoDB::Table":
                table = f"{self.stack_name}-{logical}"
                resolver.refs[logical] = table
                resolver.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
                resolver.attributes[(logical, "StreamArn")] = (
                    f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}/stream/local"
                )
                self._deploy_table(table, resource.get("Properties", {}), resolver)
            elif kind == "AWS::Scheduler::ScheduleGroup":
                group = f"{self.stack_name}-{logical}"
                sched.create_schedule_group(Name=group)
                resolver.refs[logical] = group
                resolver.attributes[(logical, "Arn")] = (
                    f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{group}"
                )
            elif kind == "AWS::IAM::Role":
                resolver.refs[logical] = f"{self.stack_name}-{logical}"
                resolver.attributes[(logical, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-{logical}"
            elif kind == "AWS::Logs::LogGroup":
                resolver.refs[logical] = f"/local/{self.stack_name}/{logical}"
                resolver.attributes[(logical, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/local/{logical}"
            elif kind == "AWS::Serverless::Function":
                explicit = resource.get("Properties", {}).get("FunctionName")
                function_name = str(resolver.resolve(explicit)) if explicit else f"{self.stack_name}-{logical}"
                resolver.refs[logical] = function_name
                resolver.attributes[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
            elif kind == "AWS::Serverless::StateMachine":
                sm_name = f"{self.stack_name}-{logical}"
                arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{sm_name}"
                resolver.refs[logical] = arn
                resolver.attributes[(logical, "Arn")] = arn
                resolver.attributes[(logical, "Name")] = sm_name
            elif kind == "AWS::Serverless::LayerVersion":
                resolver.refs[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{logical}:1"

        # The second pass needs every name above.
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::Serverless::StateMachine":
                self._deploy_state_machine(logical, resource, resolver)
            elif resource["Type"] == "AWS::Serverless::Function":
                self._deploy_function(logical, resolver)
            elif resource["Type"] == "AWS::CloudWatch::Dashboard":
                props = resolver.resolve(resource["Properties"])
                json.loads(props["DashboardBody"])  # a broken body fails here, not at deploy time in AWS
                self.client("cloudwatch").put_dashboard(
                    DashboardName=props["DashboardName"], DashboardBody=props["DashboardBody"]
                )

        self.outputs = {
            key: str(resolver.resolve(output["Value"])) for key, output in template.get("Outputs", {}).items()
        }
        inbox = sqs.create_queue(QueueName=f"{self.stack_name}-notification-inbox")["QueueUrl"]
        self._inbox_url = inbox
        inbox_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.stack_name}-notification-inbox"
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::SNS::Topic":
                sns.subscribe(TopicArn=resolver.refs[logical], Protocol="sqs", Endpoint=inbox_arn)
        self.resolver = resolver

    def _deploy_table(self, name: str, props: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(props)
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

    def _deploy_state_machine(self, logical: str, resource: dict[str, Any], resolver: Resolver) -> None:
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

    def _deploy_function(self, logical: str, resolver: Resolver) -> None:
        props = merged_function(self.template, logical)
        module_name, handler_name = props["Handler"].rsplit(".", 1)
        env = {key: str(resolver.resolve(value)) for key, value in props["Environment"]["Variables"].items()}
        env.update({"AWS_LAMBDA_FUNCTION_NAME": resolver.refs[logical], "POWERTOOLS_TRACE_DISABLED": "true"})
        retries = int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2))
        function = LocalFunction(
            logical,
            resolver.refs[logical],
            self.repo_root / props["CodeUri"] / f"{module_name}.py",
            handler_name,
            env,
            retries,
        )
        self.functions[logical] = function
        events = self.client("events")
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                # Recurring schedules are fired on demand (fire_function_schedule), not by wall time.
                self.function_schedules[(logical, event_name)] = resolver.resolve(event.get("Properties", {}))
                continue
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            pattern = resolver.resolve(event["Properties"]["Pattern"])
            rule_arn = events.put_rule(
                Name=f"{self.stack_name}-{logical}-{event_name}"[:64], EventPattern=json.dumps(pattern)
            )["RuleArn"]
            self.routes[rule_arn] = logical

    # -- conveniences for the demo, the CLI and tests ------------------------------------------
    def deploy_jobs(self, jobs_dir: Path | None = None, prune: bool = False) -> Any:
        from emr_autopilot_devkit.deploy_jobs import StackOutputs, deploy_jobs

        outputs = StackOutputs(self.outputs, notified_buckets=self.notified_buckets())
        return deploy_jobs(
            jobs_dir or self.repo_root / "jobs", outputs, self.client("s3"), self.client("scheduler"), prune=prune
        )

    def notified_buckets(self) -> frozenset[str]:
        """Buckets whose new objects reach the run starter: read from its EventBridge rule, as deployed."""
        from emr_autopilot_devkit.deploy_jobs import buckets_in_pattern

        starter = self.outputs["RunStarterFunctionArn"].rsplit(":", 1)[-1]
        events = self.client("events")
        names: set[str] = set()
        for rule_arn, logical in self.routes.items():
            if self.resolver.refs.get(logical) == starter:
                rule = events.describe_rule(Name=rule_arn.rsplit("/", 1)[-1])
                names |= buckets_in_pattern(json.loads(rule.get("EventPattern") or "{}"))
        return frozenset(names)

    def put_object(self, key: str, body: bytes | str, bucket: str | None = None) -> dict[str, Any]:
        """Upload as a user would; the bucket's EventBridge notification follows."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        return dict(
            self.client("s3").put_object(Bucket=bucket or self.outputs["LandingBucketName"], Key=key, Body=data)
        )

    def seed_object(self, key: str, body: bytes | str, bucket: str | None = None) -> None:
        """Create an object without an S3 notification: test data, not a trigger."""
        from moto.s3.models import s3_backends

        data = body.encode("utf-8") if isinstance(body, str) else body
        backend = s3_backends[ACCOUNT_ID]["aws"]
        backend.put_object(bucket or self.outputs["LandingBucketName"], key, data, disable_notification=True)

    def executions(self) -> list[dict[str, Any]]:
        """Every pipeline execution, described, oldest first."""
        sfn = self.client("stepfunctions")
        found = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            for item in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                found.append(sfn.describe_execution(executionArn=item["executionArn"]))
        return sorted(found, key=lambda item: item["startDate"])

    def clusters(self) -> list[dict[str, Any]]:
        emr = self.client("emr")
        summaries = [c for page in emr.get_paginator("list_clusters").paginate() for c in page["Clusters"]]
        return [emr.describe_cluster(ClusterId=c["Id"])["Cluster"] for c in summaries]

    def steps(self, cluster_id: str) -> list[dict[str, Any]]:
        emr = self.client("emr")
        steps = [s for page in emr.get_paginator("list_steps").paginate(ClusterId=cluster_id) for s in page["Steps"]]
        return sorted(steps, key=lambda s: s["Status"]["Timeline"]["CreationDateTime"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    # -- events and invocations -------------------------------------------------------------
    def emit(self, detail_type: str, resource: str, detail: dict[str, Any], source: str = "aws.emr") -> None:
        """Put an AWS service event on the default bus, as the service would."""
        backend = events_backends[ACCOUNT_ID][REGION]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT_ID,
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [resource] if source == "aws.states" else [],
            "detail": detail,
        }
        if source != "aws.s3":
            self.timeline.append(TimelineEntry(self.clock.now(), describe_event(event)))
        for bus in list(backend.event_buses.values()):
            for rule in list(bus.rules.values()):
                rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]

    def enqueue(self, function_logical_id: str, event: dict[str, Any]) -> None:
        if isinstance(event.get("time"), (int, float)):  # moto's S3 events carry epoch seconds
            event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if event.get("source") == "aws.s3":
            self.timeline.append(TimelineEntry(self.clock.now(), describe_event(event)))
        self._events.put((function_logical_id, event))

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        """Call a handler once, as `sam local invoke` would; raises what the handler raises."""
        function = self.functions[function_logical_id]
        context = LambdaContext(function.name)
        capture = io.StringIO()
        # A handler runs in real time, like a real step: its cold start is not minutes of EMR time.
        with self._invoke_lock, self.clock.real_time():
            handler = function.load()
        with (
            self._invoke_lock,
            _environment(function.environment),
            self._lambda_output(capture),
            self.clock.real_time(),
        ):
            try:
                return handler(event, context)
            finally:
                self.log_buffer.write(capture.getvalue())

    @contextlib.contextmanager
    def _lambda_output(self, capture: io.StringIO) -> Iterator[None]:
        if not self.quiet:
            yield
            return
        handlers = [h for h in logging.getLogger("emr-autopilot").handlers if isinstance(h, logging.StreamHandler)]
        streams = [h.setStream(capture) for h in handlers]
        try:
            with contextlib.redirect_stdout(capture):
                yield
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                if stream is not None:
                    handler.setStream(stream)

    def _deliver(self, function_logical_id: str, event: dict[str, Any]) -> None:
        """Asynchronous invocation: retried as EventInvokeConfig says, then sent to the OnFailure queue."""
        function = self.functions[function_logical_id]
        record = Invocation(function_logical_id, event)
        for attempt in range(1, function.max_retries + 2):
            record.attempts = attempt
            try:
                record.result = self.invoke(function_logical_id, event)
                record.error = None
                break
            except Exception as exc:
                record.error = f"{type(exc).__name__}: {exc}"
        if record.error is not None:
            record.dead_lettered = True
            queue_url = function.environment.get("DEAD_LETTER_QUEUE_URL")
            if queue_url:
                self.client("sqs").send_message(
                    QueueUrl=queue_url,
                    MessageBody=json.dumps(
                        {
                            "requestContext": {"functionArn": function.name, "condition": "RetriesExhausted"},
                            "responseContext": {"functionError": record.error},
                            "requestPayload": event,
                        }
                    ),
                )
        self.invocations.append(record)
        self.timeline.append(TimelineEntry(self.clock.now(), _describe_invocation(record)))

    def _execution_ended(self, execution: Any) -> None:
        stop = execution.stop_date or datetime.now(UTC)
        detail = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.exec_status.value,
            "startDate": int(execution.start_date.timestamp() * 1000),
            "stopDate": int(stop.timestamp() * 1000),
            "input": json.dumps(execution.input_data),
            "output": json.dumps(execution.output) if execution.output is not None else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if execution.output is not None else None,
            "error": execution.error,
            "cause": execution.cause,
        }
        self.emit("Step Functions Execution Status Change", execution.exec_arn, detail, source="aws.states")

    # -- schedules --------------------------------------------------------------------------
    def fire_due_schedules(self) -> int:
        """Fire one-time at() schedules whose time has come on the fast clock."""
        sched = self.client("scheduler")
        fired = 0
        for group in sched.list_schedule_groups()["ScheduleGroups"]:
            for summary in sched.list_schedules(GroupName=group["Name"]).get("Schedules", []):
                schedule = sched.get_schedule(Name=summary["Name"], GroupName=group["Name"])
                match = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
                if not match:
                    continue
                due = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                if due <= self.clock.now():
                    self._run_schedule_target(schedule, due)
                    if schedule.get("ActionAfterCompletion") == "DELETE":
                        sched.delete_schedule(Name=summary["Name"], GroupName=group["Name"])
                    fired += 1
        return fired

    def fire_function_schedule(self, function_logical_id: str, event_name: str | None = None) -> Invocation:
        """Deliver one tick of a function's Schedule/ScheduleV2 event, as EventBridge would."""
        event = self.schedule_tick(function_logical_id, event_name)
        self._deliver(function_logical_id, event)
        return self.invocations[-1]

    def schedule_tick(self, function_logical_id: str, event_name: str | None = None) -> dict[str, Any]:
        """The event one tick of a function's Schedule/ScheduleV2 event delivers, now on the stack's clock."""
        matches = [
            key for key in self.function_schedules if key[0] == function_logical_id and event_name in (None, key[1])
        ]
        if not matches:
            raise KeyError(f"{function_logical_id} has no schedule event {event_name or ''}".strip())
        props = self.function_schedules[matches[0]]
        if props.get("Input"):
            event: dict[str, Any] = json.loads(props["Input"])
            return event
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.stack_name}-{matches[0][1]}"],
            "detail": {},
        }

    def fire_schedule(self, name: str, group: str | None = None, at: datetime | None = None) -> Any:
        """Fire a recurring schedule now, e.g. a job's cron, as EventBridge Scheduler would."""
        schedule = self.client("scheduler").get_schedule(
            Name=name, GroupName=group or self.outputs["ScheduleGroupName"]
        )
        return self._run_schedule_target(schedule, at or self.clock.now())

    def _run_schedule_target(self, schedule: dict[str, Any], when: datetime) -> Any:
        target = schedule["Target"]
        payload = target.get("Input", "{}").replace(
            "<aws.scheduler.scheduled-time>", when.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        arn = target["Arn"]
        if arn == "arn:aws:scheduler:::aws-sdk:sfn:stopExecution":
            request = json.loads(payload)
            sfn = self.client("stepfunctions")
            status = sfn.describe_execution(executionArn=request["ExecutionArn"])["status"]
            if status == "RUNNING":
                sfn.stop_execution(
                    executionArn=request["ExecutionArn"], error=request.get("Error"), cause=request.get("Cause")
                )
            return status
        for logical, function in self.functions.items():
            if arn.endswith(f":function:{function.name}"):
                self._deliver(logical, json.loads(payload))
                return self.invocations[-1]
        raise ValueError(f"local runtime cannot run schedule target {arn}")

    # -- waiting ----------------------------------------------------------------------------
    def running_executions(self) -> list[str]:
        sfn = self.client("stepfunctions")
        arns = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
                "executions"
            ]:
                arns.append(execution["executionArn"])
        return arns

    def settle(self, timeout: float = 120.0) -> None:
        """Deliver events and advance time until nothing is running or waiting to be delivered."""
        deadline = time.monotonic() + timeout
        quiet_rounds = 0
        while time.monotonic() < deadline:
            delivered = self._drain_events()
            fired = self.fire_due_schedules()
            busy = delivered or fired or self.simulator.busy() or self.running_executions() or not self._events.empty()
            quiet_rounds = 0 if busy else quiet_rounds + 1
            if quiet_rounds >= 3:
                self.collect_notifications()
                return
            time.sleep(0.01)
        raise TimeoutError(f"local stack still busy after {timeout}s: executions={self.running_executions()}")

    def pump(self) -> int:
        """One round of what AWS does in the background: deliver events, fire due schedules."""
        done = self._drain_events() + self.fire_due_schedules()
        self.collect_notifications()
        return done

    def _drain_events(self) -> int:
        count = 0
        while True:
            try:
                logical, event = self._events.get_nowait()
            except queue.Empty:
                return count
            self._deliver(logical, event)
            count += 1

    def collect_notifications(self) -> list[Notification]:
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self._inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.notifications
            for message in messages:
                body = json.loads(message["Body"])
                self.timeline.append(TimelineEntry(self.clock.now(), f"SNS notification: {body.get('Subject', '')}"))
                self.notifications.append(
                    Notification(
                        topic_arn=body.get("TopicArn", ""),
                        subject=body.get("Subject", ""),
                        message=body.get("Message", ""),
                        attributes={
                            key: value.get("Value", "") for key, value in body.get("MessageAttributes", {}).items()
                        },
                    )
                )
                sqs.delete_message(QueueUrl=self._inbox_url, ReceiptHandle=message["ReceiptHandle"])
