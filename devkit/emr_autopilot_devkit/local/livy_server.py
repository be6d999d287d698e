"""A Livy-compatible REST server for the local runtime, and the name resolution that reaches it.

One stdlib HTTP server on 127.0.0.1 (random port) plays Livy on every emulated cluster that has
the Livy application: requests are told apart by their Host header, so each cluster has its own
batch ids from 0, as a real Livy has. It implements the batch API (POST/GET/DELETE /batches,
/state, /log) and the one ResourceManager call the client makes (/ws/v1/cluster/apps/{id}).
A batch goes starting -> running -> success | dead; DELETE kills it. While running, its application
runs for real: the batch as a spark-submit on local PySpark (step_runner), reading and writing s3://
arguments through the emulator; the batch ends success or dead as that process ends, with its output
as the batch log. Where that cannot run (no Java, a file not in S3) the batch ends dead, saying why.
Only where a test asks for it (simulate_batches, or submit_direct(simulate=True)) is a batch simulated:
it then runs LivyTimings.running virtual seconds, and its log says SIMULATED. Injected faults
(LivyFaults.dead, run_seconds) also end a batch without running it.

`socket.getaddrinfo` is patched in this process only: (<primary node DNS>, 8998 or 8088) of a
RUNNING/WAITING cluster with Livy resolves to this server; the same name on a cluster without
Livy, or ending, goes to a closed port (connection refused); an unknown emulated name does not
resolve. Every other name resolves as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.step_runner import StepRunner

LIVY_PORT = 8998
YARN_PORT = 8088
DNS_SUFFIX = ".ec2.internal"  # emulated primary nodes are named ip-10-x-y-z.ec2.internal
READY = ("RUNNING", "WAITING")


@dataclass
class LivyTimings:
    """Virtual seconds a batch spends in each state."""

    starting: float = 20.0
    running: float = 60.0  # a simulated batch only: a real one runs as long as its process
    step_timeout_real: float = 1800.0  # real seconds before a real batch's process is killed
    simulated_step: float = 60.0  # (StepRunner's Timing; unused by batches)


@dataclass
class LivyFaults:
    """Faults to inject. Batch-scoped ones match a batch whose name or file contains the key."""

    slow_start_seconds: float = 0.0  # extra virtual seconds in "starting"
    dead: dict[str, str] = field(default_factory=dict)  # match -> the exception the application dies with
    run_seconds: dict[str, float] = field(default_factory=dict)  # match -> virtual seconds "running"
    yarn_final_status: dict[str, str] = field(default_factory=dict)  # match -> what YARN says (disagreement)
    http_errors: int = 0  # the next N requests are answered with http_error_status
    http_error_status: int = 500
    slow_response_seconds: float = 0.0  # real seconds before each answer (read timeouts)
    refuse_connections: bool = False  # Livy down: its port refuses connections
    require_csrf_header: bool = False  # livy.server.csrf-protection.enabled
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_http_error(self) -> bool:
        with self._lock:
            if self.http_errors > 0:
                self.http_errors -= 1
                return True
            return False


def _matches(batch: _Batch, table: dict[str, Any]) -> Any:
    for key, value in table.items():
        if key in (batch.name or "") or key in str(batch.request.get("file", "")):
            return value
    return None


@dataclass
class _Batch:
    id: int
    host: str
    request: dict[str, Any]
    name: str | None
    state: str
    next_at: float
    app_id: str | None = None
    log: list[str] = field(default_factory=list)
    yarn_final: str = "UNDEFINED"
    yarn_state: str = "NEW"
    diagnostics: str = ""
    simulate: bool = False

    def as_json(self, dns: str) -> dict[str, Any]:
        ui = f"http://{dns}:20888/proxy/{self.app_id}/" if self.app_id else None
        driver = f"http://{dns}:8042/node/containerlogs/container_{self.app_id}_01_000001/livy" if self.app_id else None
        return {
            "id": self.id,
            "name": self.name,
            "owner": None,
            "proxyUser": self.request.get("proxyUser"),
            "state": self.state,
            "appId": self.app_id,
            "appInfo": {"driverLogUrl": driver, "sparkUiUrl": ui},
            "log": self.log[-10:],
        }


@dataclass
class Recorded:
    method: str
    path: str
    host: str
    headers: dict[str, str]
    body: Any


class LivyServer:
    def __init__(
        self,
        clock: FastClock,
        on_event: Callable[[str], None] | None = None,
        timings: LivyTimings | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.clock = clock
        self.on_event = on_event or (lambda text: None)
        self.timings = timings or LivyTimings()
        self.faults = LivyFaults()
        self.requests: list[Recorded] = []
        self.deleted: list[tuple[str, int, str]] = []  # (host, batch id, state when deleted)
        self._batches: dict[str, dict[int, _Batch]] = {}
        self._next_id: dict[str, int] = {}
        self._lock = threading.RLock()
        self._clusters: Callable[[], Iterable[Any]] = lambda: ()
        self._ssl_context = ssl_context
        # Simulate every batch instead of running it: only where a test asks for it (protocol tests).
        self.simulate_batches = False
        self.runner: StepRunner | None = None  # made from the stack's environment at the first real batch
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._closed: socket.socket | None = None
        self.port = 0
        self.closed_port = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, clusters: Callable[[], Iterable[Any]] | None = None) -> LivyServer:
        """Serve; with `clusters` (moto's EMR clusters), also answer for their primary nodes' names."""
        if clusters is not None:
            self._clusters = clusters
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self._ssl_context is not None:
            self._httpd.socket = self._ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = int(self._httpd.server_address[1])
        # Bound but never listening: connecting to it is refused at once, like a host without Livy.
        self._closed = socket.socket()
        self._closed.bind(("127.0.0.1", 0))
        self.closed_port = int(self._closed.getsockname()[1])
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._tick_loop, name="livy-server", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if clusters is not None:
            install_dns_patch()
            _activate(self)
        return self

    def stop(self) -> None:
        _deactivate(self)
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._closed is not None:
            self._closed.close()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://127.0.0.1:{self.port}"

    # -- what tests look at ----------------------------------------------------------------
    def batches(self, host: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            hosts = [host] if host else list(self._batches)
            return [b.as_json(h) for h in hosts for b in self._batches.get(h, {}).values()]

    def submit_direct(self, host: str, request: dict[str, Any], simulate: bool = False) -> dict[str, Any]:
        """Create a batch without HTTP, e.g. to give a sample event a batch to look at (simulate=True:
        it is not run, and its log says so)."""
        status, body = self.post_batch(host, request)
        assert status == 201, body
        if simulate:
            with self._lock:
                self._batches[host][body["id"]].simulate = True
        return body

    # -- names -------------------------------------------------------------------------------
    def cluster_for_host(self, host: str) -> Any:
        for cluster in list(self._clusters()):
            if primary_dns(cluster.id) == host:
                return cluster
        return None

    def route(self, host: str, port: Any) -> tuple[str, int] | None:
        """Where a connection to (host, port) goes; None: not an emulated name."""
        if not host.endswith(DNS_SUFFIX):
            return None
        cluster = self.cluster_for_host(host)
        if cluster is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        has_livy = any(str(app.name).lower() == "livy" for app in getattr(cluster, "applications", []))
        serving = (
            str(port) in (str(LIVY_PORT), str(YARN_PORT))
            and cluster.state in READY
            and has_livy
            and not self.faults.refuse_connections
        )
        return ("127.0.0.1", self.port if serving else self.closed_port)

    def _label(self, host: str) -> str:
        cluster = self.cluster_for_host(host) if host.endswith(DNS_SUFFIX) else None
        return cluster.id if cluster is not None else host

    # -- the batch state machine -------------------------------------------------------------
    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            time.sleep(0.005)

    def tick(self) -> None:
        now = self.clock.timestamp()
        with self._lock:
            for batches in self._batches.values():
                for batch in batches.values():
                    if batch.state == "starting" and now >= batch.next_at:
                        self._run(batch, now)
                    elif batch.state == "running" and now >= batch.next_at:
                        self._finish(batch)

    def _stamp(self) -> str:
        return self.clock.now().strftime("%y/%m/%d %H:%M:%S")

    def _run(self, batch: _Batch, now: float) -> None:
        sequence = batch.id + 1
        epoch = int(hashlib.sha256(batch.host.encode()).hexdigest()[:8], 16) % 10**9 + 1_700_000_000_000
        batch.app_id = f"application_{epoch}_{sequence:04d}"
        batch.state, batch.yarn_state = "running", "RUNNING"
        run_for = _matches(batch, self.faults.run_seconds)
        batch.next_at = now + (self.timings.running if run_for is None else float(run_for))
        t = self._stamp()
        batch.log += [
            f"{t} INFO Client: Submitting application {batch.app_id} to ResourceManager",
            f"{t} INFO YarnClientImpl: Submitted application {batch.app_id}",
            f"{t} INFO Client: Application report for {batch.app_id} (state: ACCEPTED)",
            f"{t} INFO Client: Application report for {batch.app_id} (state: RUNNING)",
        ]
        simulated = batch.simulate or self.simulate_batches
        if simulated and run_for is None and _matches(batch, self.faults.dead) is None:
            batch.log.append(f"{t} WARN [local runtime] SIMULATED: the application was not run (asked for by a test)")
        if not simulated and run_for is None and _matches(batch, self.faults.dead) is None:
            batch.next_at = float("inf")  # ends when its process does
            threading.Thread(target=self._execute, args=(batch,), name=f"livy-{batch.id}", daemon=True).start()
        self.on_event(f"Livy batch {batch.id} '{batch.name}' on {self._label(batch.host)} running ({batch.app_id})")

    def _execute(self, batch: _Batch) -> None:
        """The batch's application, for real: spark-submit on local PySpark (this thread, real time)."""
        if self.runner is None and "AWS_ENDPOINT_URL" not in os.environ:
            with self._lock:  # a server started without the local runtime has no S3 to read the application from
                self._finish(batch, "the local runtime has no S3 endpoint (AWS_ENDPOINT_URL): batches cannot run")
            return
        runner = self.runner = self.runner or StepRunner.from_environment(self.clock)
        key = f"livy-{batch.host}-{batch.id}"
        step = _StepLike(
            id=key, name=batch.name or key, jar="command-runner.jar", args=spark_submit_args(batch.request)
        )
        run = runner.run(step, self.timings, {}, log_prefix="")
        with self._lock:
            if batch.state != "running":
                return  # deleted (killed) meanwhile
            stdout = [line for line in run.stdout.splitlines() if line.strip()]
            stderr = [line for line in run.stderr.splitlines() if line.strip()]
            # Livy's batch log: the spark-submit process's stdout, then its stderr.
            batch.log = [batch.log[0], *stdout, batch.log[1], *batch.log[2:], *stderr]
            failure = None if run.state == "COMPLETED" else (run.failure or {}).get("Reason", "Unknown Error.")
            self._finish(batch, failure)

    def _finish(self, batch: _Batch, failure: str | None = None) -> None:
        t = self._stamp()
        failure = failure or _matches(batch, self.faults.dead)
        if failure is None:
            batch.state, batch.yarn_state, batch.yarn_final = "success", "FINISHED", "SUCCEEDED"
            batch.log += [
                f"{t} INFO ApplicationMaster: Final app status: SUCCEEDED, exitCode: 0",
                f"{t} INFO Client: Application report for {batch.app_id} (state: FINISHED)",
                f"{t} INFO Client: final status: SUCCEEDED",
                f"{t} INFO ShutdownHookManager: Shutdown hook called",
            ]
        else:
            batch.state, batch.yarn_state, batch.yarn_final = "dead", "FINISHED", "FAILED"
            batch.diagnostics = f"User application exited with status 1: {failure}"
            batch.log += [
                f"{t} ERROR ApplicationMaster: User application exited with status 1",
                f"{t} ERROR ApplicationMaster: {failure}",
                f"{t} INFO Client: Application report for {batch.app_id} (state: FINISHED)",
                f"{t} INFO Client: final status: FAILED, diagnostics: {batch.diagnostics}",
                f'Exception in thread "main" org.apache.spark.SparkException: '
                f"Application {batch.app_id} finished with failed status",
            ]
        override = _matches(batch, self.faults.yarn_final_status)
        if override is not None:
            batch.yarn_final = str(override)  # Livy and YARN disagree: the known Livy bug
        self.on_event(f"Livy batch {batch.id} '{batch.name}' on {self._label(batch.host)} {batch.state}")

    # -- the REST API (called from the handler) ------------------------------------------------
    def post_batch(self, host: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("file"):
            return 400, {"msg": "Rejected, Reason: 'file' is a required field"}
        with self._lock:
            batches = self._batches.setdefault(host, {})
            name = body.get("name")
            if name and any(b.name == name for b in batches.values()):
                return 400, {"msg": f"Duplicate session name: {name}"}
            batch_id = self._next_id.get(host, 0)
            self._next_id[host] = batch_id + 1
            now = self.clock.timestamp()
            batch = _Batch(
                id=batch_id,
                host=host,
                request=dict(body),
                name=name,
                state="starting",
                next_at=now + self.timings.starting + self.faults.slow_start_seconds,
            )
            batch.log = ["stdout: ", "\nstderr: ", f"{self._stamp()} INFO SparkSubmit: Running {body['file']}"]
            batches[batch_id] = batch
            self.on_event(f"Livy batch {batch_id} '{name}' submitted on {self._label(host)}")
            return 201, batch.as_json(host)

    def _find(self, host: str, batch_id: int) -> _Batch | None:
        return self._batches.get(host, {}).get(batch_id)

    def handle(self, method: str, host: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = [part for part in path.split("/") if part]
        with self._lock:
            if parts[:4] == ["ws", "v1", "cluster", "apps"] and len(parts) == 5 and method == "GET":
                return self._yarn_app(host, parts[4])
            if parts == ["version"] and method == "GET":
                return 200, {"version": "0.8.0-incubating", "url": "local emulation"}
            if parts == ["batches"] and method == "POST":
                return self.post_batch(host, body)
            if parts == ["batches"] and method == "GET":
                return self._list_batches(host, query)
            if len(parts) >= 2 and parts[0] == "batches" and parts[1].isdigit():
                answer = self._batch_route(method, host, int(parts[1]), parts[2:], query)
                if answer is not None:
                    return answer
            return 404, {"msg": f"no route for {method} {path}"}

    def _list_batches(self, host: str, query: dict[str, str]) -> tuple[int, Any]:
        items = sorted(self._batches.get(host, {}).values(), key=lambda b: b.id)
        start, size = int(query.get("from", 0)), int(query.get("size", 100))
        return 200, {
            "from": start,
            "total": len(items),
            "sessions": [b.as_json(host) for b in items[start : start + size]],
        }

    def _batch_route(
        self, method: str, host: str, batch_id: int, rest: list[str], query: dict[str, str]
    ) -> tuple[int, Any] | None:
        """/batches/{id}[/state|/log]: None when no route matches."""
        batch = self._find(host, batch_id)
        if batch is None:
            return 404, {"msg": f"Session '{batch_id}' not found."}
        if method == "GET" and not rest:
            return 200, batch.as_json(host)
        if method == "GET" and rest == ["state"]:
            return 200, {"id": batch.id, "state": batch.state}
        if method == "GET" and rest == ["log"]:
            return 200, self._log_page(batch, query)
        if method == "DELETE" and not rest:
            return self._delete(batch)
        return None

    @staticmethod
    def _log_page(batch: _Batch, query: dict[str, str]) -> dict[str, Any]:
        size = int(query.get("size", 100))
        start = int(query.get("from", -1))
        if start < 0:  # Livy's default: the last `size` lines
            start = max(0, len(batch.log) - size)
        lines = batch.log[start : start + size]
        return {"id": batch.id, "from": start, "total": len(batch.log), "size": len(lines), "log": lines}

    def _delete(self, batch: _Batch) -> tuple[int, Any]:
        before = batch.state
        if before not in ("success", "dead", "killed", "error"):
            batch.state, batch.yarn_state, batch.yarn_final = "killed", "KILLED", "KILLED"
            if self.runner is not None:
                self.runner.kill(f"livy-{batch.host}-{batch.id}")
        del self._batches[batch.host][batch.id]  # Livy forgets a deleted session
        self.deleted.append((batch.host, batch.id, before))
        self.on_event(f"Livy batch {batch.id} '{batch.name}' on {self._label(batch.host)} deleted (was {before})")
        return 200, {"msg": "deleted"}

    def _yarn_app(self, host: str, app_id: str) -> tuple[int, Any]:
        for batch in self._batches.get(host, {}).values():
            if batch.app_id == app_id:
                return 200, {
                    "app": {
                        "id": app_id,
                        "name": batch.name,
                        "state": batch.yarn_state,
                        "finalStatus": batch.yarn_final,
                        "diagnostics": batch.diagnostics,
                    }
                }
        return 404, {
            "RemoteException": {"exception": "NotFoundException", "message": f"app with id: {app_id} not found"}
        }


class _Handler(BaseHTTPRequestHandler):
    server_ref: LivyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # one line per request otherwise
        pass

    def _serve(self, method: str) -> None:
        livy = self.server_ref
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        split = urllib.parse.urlsplit(self.path)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        livy.requests.append(Recorded(method, self.path, host, dict(self.headers.items()), body))
        if livy.faults.slow_response_seconds:
            time.sleep(livy.faults.slow_response_seconds)
        if livy.faults.take_http_error():
            status, payload = livy.faults.http_error_status, {"msg": "injected fault: Livy is having a bad day"}
        elif (
            livy.faults.require_csrf_header and method in ("POST", "DELETE") and not self.headers.get("X-Requested-By")
        ):
            status, payload = 400, {"msg": "Missing Required Header for CSRF protection."}
        else:
            query = dict(urllib.parse.parse_qsl(split.query))
            try:
                status, payload = livy.handle(method, host, split.path, query, body)
            except (ValueError, KeyError) as exc:
                status, payload = 400, {"msg": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")


@dataclass
class _StepLike:
    """What StepRunner reads of an EMR step."""

    id: str
    name: str
    jar: str
    args: list[str]


def spark_submit_args(request: dict[str, Any]) -> list[str]:
    """A Livy batch request (POST /batches) as the spark-submit command line Livy runs for it."""
    args = ["spark-submit"]
    if request.get("className"):
        args += ["--class", str(request["className"])]
    if request.get("name"):
        args += ["--name", str(request["name"])]
    for key, value in (request.get("conf") or {}).items():
        if key not in ("spark.master", "spark.submit.deployMode"):  # the local runtime picks these
            args += ["--conf", f"{key}={value}"]
    for field_name, option in (("pyFiles", "--py-files"), ("files", "--files"), ("jars", "--jars")):
        if request.get(field_name):
            args += [option, ",".join(str(item) for item in request[field_name])]
    if request.get("archives"):
        args += ["--archives", ",".join(str(item) for item in request["archives"])]
    return [*args, str(request["file"]), *(str(arg) for arg in request.get("args") or [])]


def primary_dns(cluster_id: str) -> str:
    """A stable private DNS name per cluster (moto gives every fleet cluster the same one)."""
    digest = hashlib.sha256(cluster_id.encode()).digest()
    return f"ip-10-{digest[0]}-{digest[1]}-{digest[2]}{DNS_SUFFIX}"


# -------------------------------------------------------------------------------------------------
# Process-wide patches, installed once; they follow whichever server is active.
_active: LivyServer | None = None
_dns_installed = False
_original_getaddrinfo = socket.getaddrinfo


def _activate(server: LivyServer) -> None:
    global _active
    _active = server


def _deactivate(server: LivyServer) -> None:
    global _active
    if _active is server:
        _active = None


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    server = _active
    if server is not None and isinstance(host, str):
        target = server.route(host, port)
        if target is not None:
            host, port = target
    return _original_getaddrinfo(host, port, *args, **kwargs)


def install_dns_patch() -> None:
    """Only inside the local runtime: socket.getaddrinfo learns the emulated primary nodes' names."""
    global _dns_installed
    if _dns_installed:
        return
    _dns_installed = True
    from moto.emr.models import Cluster

    socket.getaddrinfo = _getaddrinfo
    Cluster.master_public_dns_name = property(lambda self: primary_dns(self.id))  # type: ignore[assignment,method-assign]
