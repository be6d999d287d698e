"""The local runtime: the whole application on one machine. moto on 127.0.0.1 with its patches
(moto_patches), the template's resources deployed into it (deploy), EventBridge rules routed to the real
handlers in-process (routing, functions), schedules on the fast clock (schedules), EMR simulated
(emr_simulator, emr_serverless_simulator, emr_eks_simulator), Livy emulated (livy_server), SNS notices
captured (notifications).

LocalRuntime is the facade the CLI, the demo, the fault matrix, the bench and the tests hold."""

from __future__ import annotations

import io
import logging
import os
import queue
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from moto.moto_server import threaded_moto_server
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from emr_autopilot import aws
from emr_autopilot import clock as app_clock
from emr_autopilot_devkit.local import (
    emr_eks_simulator,
    emr_serverless_simulator,
    emr_simulator,
    livy_server,
    moto_patches,
    notifications,
    routing,
    schedules,
)
from emr_autopilot_devkit.local.account import ACCOUNT_ID, REGION, REPO_ROOT
from emr_autopilot_devkit.local.clock import FastClock, set_active_clock
from emr_autopilot_devkit.local.deploy import Deployer
from emr_autopilot_devkit.local.emr_eks_events import SOURCE as EMR_EKS_SOURCE
from emr_autopilot_devkit.local.emr_eks_simulator import EksTimings, EmrEksSimulator
from emr_autopilot_devkit.local.emr_serverless_simulator import EmrServerlessSimulator, ServerlessTimings
from emr_autopilot_devkit.local.emr_simulator import EmrSimulator, Timings
from emr_autopilot_devkit.local.functions import HandlerInvoker, Invocation, LocalFunction, invoke_async
from emr_autopilot_devkit.local.moto_patches import sfn as sfn_patches
from emr_autopilot_devkit.local.moto_patches import sfn_lambda_integration
from emr_autopilot_devkit.local.notifications import Notification
from emr_autopilot_devkit.local.template import Resolver, load_template
from emr_autopilot_devkit.local.timeline import TimelineEntry, describe_event, describe_invocation

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "REPO_ROOT",
    "Invocation",
    "LocalFunction",
    "LocalRuntime",
    "Notification",
    "PortInUseError",
    "TimelineEntry",
    "free_port",
]


def hold_free_port() -> socket.socket:
    """A free port, kept bound (SO_REUSEADDR, never listening) until the server binds it.

    A port chosen and let go can be handed to any bind(0) or outgoing connection before the server binds
    it (CI saw "taken while the runtime started"). Linux hands out neither while this socket holds it, and
    the server's own SO_REUSEADDR bind still succeeds, since nothing listens on it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A port free now, let go: for another process to bind (nothing holds it until then)."""
    with hold_free_port() as sock:
        return int(sock.getsockname()[1])


class PortInUseError(OSError):
    """The runtime's port is taken: raised by start() at once, before anything is deployed."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"port {port} on 127.0.0.1 is in use ({reason}): stop what holds it, or choose another port")
        self.port = port


def check_port_free(port: int) -> None:
    """Bind the port as werkzeug will (SO_REUSEADDR), and let it go: a port in use raises PortInUseError."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUseError(port, exc.strerror or str(exc)) from exc


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server, whose start() returns when the server thread dies before it serves.

    werkzeug's make_server ends the thread with sys.exit(1) when it cannot bind, and moto's start() then
    waits for a ready event that never comes: `local up` on a busy port hung. The bind is checked first
    (check_port_free); this covers a port taken between that check and the server's own bind."""

    startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        # moto's entry (moto 5.2.5, pinned), with serve_forever's poll at 0.05 s: at its default, 0.5 s,
        # every stop() waited half a second for the loop to see the shutdown, once per runtime (per test).
        # Names are looked up in moto's module, where request_validation installs its dispatcher.
        try:
            app = threaded_moto_server.DomainDispatcherApplication(threaded_moto_server.create_backend_app)
            self._server = threaded_moto_server.make_server(
                self._ip_address, self._port, app, True, request_handler=threaded_moto_server.MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)
        except BaseException as exc:  # SystemExit from werkzeug, or an OSError
            if self._server is not None:  # it served: not a startup failure
                raise
            self.startup_error = exc
            self._server_ready_event.set()


_active_runtime: LocalRuntime | None = None


class LocalRuntime:
    """Start with `LocalRuntime.start()`, or use as a context manager."""

    def __init__(
        self,
        repo_root: Path = REPO_ROOT,
        speedup: float = 600.0,
        port: int | None = None,
        stack_name: str = "emr-autopilot-local",
        quiet: bool = True,
        timings: Timings | None = None,
        serverless_timings: ServerlessTimings | None = None,
        eks_timings: EksTimings | None = None,
    ) -> None:
        self.repo_root = repo_root
        self.stack_name = stack_name
        self._port_hold: socket.socket | None = None
        if port is None:
            self._port_hold = hold_free_port()
            port = int(self._port_hold.getsockname()[1])
        self.port = port
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
        # EMR Serverless applications and job runs (emr_serverless_simulator); its events' source is aws.emr-serverless.
        self.serverless = EmrServerlessSimulator(
            self.clock,
            ACCOUNT_ID,
            REGION,
            self.endpoint,
            lambda detail_type, resource, detail: self.emit(detail_type, resource, detail, source="aws.emr-serverless"),
            serverless_timings,
        )
        # EMR on EKS job runs (emr_eks_simulator); its events' source is aws.emr-containers.
        self.eks = EmrEksSimulator(
            self.clock,
            ACCOUNT_ID,
            REGION,
            self.endpoint,
            lambda detail_type, resource, detail: self.emit(detail_type, resource, detail, source=EMR_EKS_SOURCE),
            eks_timings,
        )
        self._lock = threading.RLock()
        # Livy on the emulated clusters' primary nodes, started and stopped with the runtime.
        self.livy = livy_server.LivyServer(self.clock, self._note)
        self._invoker = HandlerInvoker(self.clock, quiet, self.log_buffer)
        self._invoke_lock = self._invoker.lock  # held, no handler runs (a test holds it to keep handlers waiting)

    # -- start/stop -------------------------------------------------------------------------
    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalRuntime:
        global _active_runtime
        check_port_free(self.port)  # before anything changes: a busy port fails at once, with a reason
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
        # Restored by stop(): later code in this process must not keep talking to a stopped runtime.
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        aws.reset_clients()
        set_active_clock(self.clock)
        # The run starter stamps runs and deadlines with the fast clock's "now".
        app_clock.use(self.clock.now)
        moto_patches.install_all()
        routing.install()
        sfn_patches.on_execution_end(self._execution_ended)
        emr_simulator.activate(self.simulator)
        emr_serverless_simulator.activate(self.serverless)
        emr_eks_simulator.activate(self.eks)
        sfn_lambda_integration.activate(self)  # lambda:invoke Tasks run the handlers in this process
        routing.activate(self)
        _active_runtime = self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        if self.quiet:
            # moto's interpreter logs every failed state with its whole parse tree; the history has it.
            logging.getLogger("moto").setLevel(logging.CRITICAL)
        self.server = _MotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self._release_port_hold()
        if self.server.startup_error is not None:
            self.server = None
            self.stop()
            raise PortInUseError(self.port, "taken while the runtime started")
        # Livy's servers bind ports of their own: only once this one is bound, so they cannot take it.
        self.livy.start(lambda: self.simulator.backend.clusters.values())
        # moto's backends live in the process: without a reset, a second runtime in the same process
        # (a test suite) would see the first one's buckets, executions, clusters and schedules.
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        requests.post(
            f"{self.endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        )
        self.simulator.start()
        self.serverless.start()
        self.eks.start()
        self.deploy()
        return self

    def stop(self) -> None:
        global _active_runtime
        for key, value in getattr(self, "_saved_environment", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset_clients()
        self._release_port_hold()
        self.simulator.stop()
        self.serverless.stop()
        self.eks.stop()
        self.livy.stop()
        if self.server:
            self.server.stop()
        if _active_runtime is self:
            _active_runtime = None
            emr_simulator.activate(None)
            emr_serverless_simulator.activate(None)
            emr_eks_simulator.activate(None)
            sfn_patches.on_execution_end(None)
            sfn_lambda_integration.activate(None)
            routing.activate(None)
            app_clock.use(None)

    def _release_port_hold(self) -> None:
        if self._port_hold is not None:
            self._port_hold.close()
            self._port_hold = None

    def client(self, service: str) -> Any:
        factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
        return factory(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def deploy(self) -> None:
        deployment = Deployer(self.template, self.repo_root, self.stack_name, self.client).deploy()
        self.functions.update(deployment.functions)
        self.routes.update(deployment.routes)
        self.function_schedules.update(deployment.function_schedules)
        self.outputs = deployment.outputs
        self._inbox_url = deployment.inbox_url
        self.resolver: Resolver = deployment.resolver

    # -- conveniences for the demo, the CLI and tests ------------------------------------------
    def deploy_jobs(self, jobs_dir: Path | None = None, prune: bool = False) -> Any:
        from emr_autopilot_devkit.deploy_jobs import StackOutputs, deploy_jobs

        outputs = StackOutputs(self.outputs, notified_buckets=self.notified_buckets())
        # package_host: packaged jobs run on this machine's Spark, so their environments are built for its Python.
        return deploy_jobs(
            jobs_dir or self.repo_root / "jobs",
            outputs,
            self.client("s3"),
            self.client("scheduler"),
            prune=prune,
            package_host=True,
        )

    def notified_buckets(self) -> frozenset[str]:
        """Buckets whose new objects reach the run starter: read from its EventBridge rule, as deployed."""
        import json

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
    def _note(self, text: str) -> None:
        self.timeline.append(TimelineEntry(self.clock.now(), text))

    def emit(self, detail_type: str, resource: str, detail: dict[str, Any], source: str = "aws.emr") -> None:
        """Put an AWS service event on the default bus, as the service would."""
        event = routing.service_event(self.clock.now(), detail_type, resource, detail, source)
        if source != "aws.s3":
            self._note(describe_event(event))
        routing.put_on_default_bus(event)

    def enqueue(self, function_logical_id: str, event: dict[str, Any]) -> None:
        if isinstance(event.get("time"), (int, float)):  # moto's S3 events carry epoch seconds
            event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if event.get("source") == "aws.s3":
            self._note(describe_event(event))
        self._events.put((function_logical_id, event))

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        """Call a handler once, as `sam local invoke` would; raises what the handler raises."""
        return self._invoker.invoke(self.functions[function_logical_id], event)

    def deliver(self, function_logical_id: str, event: dict[str, Any]) -> Invocation:
        """Asynchronous invocation (an event, a schedule): retries, then the OnFailure queue."""
        record = invoke_async(self.functions[function_logical_id], event, self.invoke, lambda: self.client("sqs"))
        self.invocations.append(record)
        self._note(describe_invocation(record))
        return record

    def _execution_ended(self, execution: Any) -> None:
        detail = routing.execution_status_change(execution, datetime.now(UTC))
        self.emit("Step Functions Execution Status Change", execution.exec_arn, detail, source="aws.states")

    # -- schedules --------------------------------------------------------------------------
    def fire_due_schedules(self) -> int:
        """Fire one-time at() schedules whose time has come on the fast clock."""
        return schedules.fire_due(self)

    def fire_function_schedule(self, function_logical_id: str, event_name: str | None = None) -> Invocation:
        """Deliver one tick of a function's Schedule/ScheduleV2 event, as EventBridge would."""
        return self.deliver(function_logical_id, self.schedule_tick(function_logical_id, event_name))

    def schedule_tick(self, function_logical_id: str, event_name: str | None = None) -> dict[str, Any]:
        """The event one tick of a function's Schedule/ScheduleV2 event delivers, now on the runtime's clock."""
        return schedules.function_tick(
            self.function_schedules, function_logical_id, event_name, self.clock.now(), self.stack_name
        )

    def fire_schedule(self, name: str, group: str | None = None, at: datetime | None = None) -> Any:
        """Fire a recurring schedule now, e.g. a job's cron, as EventBridge Scheduler would."""
        schedule = self.client("scheduler").get_schedule(
            Name=name, GroupName=group or self.outputs["ScheduleGroupName"]
        )
        return schedules.run_target(self, schedule, at or self.clock.now())

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
            busy = (
                delivered
                or fired
                or self.simulator.busy()
                or self.serverless.busy()
                or self.eks.busy()
                or self.running_executions()
                or not self._events.empty()
            )
            quiet_rounds = 0 if busy else quiet_rounds + 1
            if quiet_rounds >= 3:
                self.collect_notifications()
                return
            time.sleep(0.01)
        raise TimeoutError(f"local runtime still busy after {timeout}s: executions={self.running_executions()}")

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
            self.deliver(logical, event)
            count += 1

    def collect_notifications(self) -> list[Notification]:
        for notification in notifications.receive(self.client("sqs"), self._inbox_url):
            notification.time = self.clock.now()
            self._note(f"SNS notification: {notification.subject}")
            self.notifications.append(notification)
            notifications.record(notification)  # to the command's notification log (`local notifications`)
        return self.notifications

    def drain_logs(self) -> str:
        """What the handlers logged (captured when quiet) since the last call, taken out of log_buffer."""
        with self._invoke_lock:  # the invoker writes log_buffer holding it
            text = self.log_buffer.getvalue()
            self.log_buffer.seek(0)
            self.log_buffer.truncate()
        return text
