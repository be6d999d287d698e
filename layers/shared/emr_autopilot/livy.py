"""A small, typed client for Apache Livy's batch API, on the standard library only.

Not the PyPI `livy` package: it pulls in pandas, far too heavy for a Lambda layer. What this adds
over a bare urlopen: separate connect and read timeouts, bounded retries with backoff on
connection errors and 5xx, errors an ASL Catch can tell apart, an optional CA bundle and extra
headers, and an optional cross-check of a batch's final state against YARN's ResourceManager.
"""

import contextlib
import http.client
import json
import random
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot.errors import BatchNotFound, ClusterGone, LivyHttpError, LivyUnavailable

LIVY_PORT = 8998
YARN_RM_PORT = 8088

# Livy's session states (batches use a subset); the last four are final.
SUCCESS_STATES = frozenset({"success"})
FAILED_STATES = frozenset({"dead", "killed", "error"})
FINAL_STATES = SUCCESS_STATES | FAILED_STATES

# Livy rejects POST and DELETE without this header when CSRF protection is on; it costs nothing otherwise.
DEFAULT_HEADERS = {"Accept": "application/json", "X-Requested-By": "emr-autopilot"}

_LIST_PAGE = 100


class LivyOptions(NamedTuple):
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    attempts: int = 3  # per call, including the first
    backoff_seconds: float = 0.25
    max_backoff_seconds: float = 2.0
    ca_bundle: str | None = None  # PEM file to verify Livy's certificate with (https URLs)
    headers: Mapping[str, str] = MappingProxyType({})  # e.g. Authorization for a Knox/LDAP front
    yarn_timeout: float = 3.0


class Batch(BaseModel):
    """A batch as Livy returns it (GET /batches/{id}); unknown fields are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    id: int
    name: str | None = None
    state: str
    app_id: str | None = Field(default=None, alias="appId")
    app_info: dict[str, Any] | None = Field(default=None, alias="appInfo")
    log: list[str] = Field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class YarnApp(NamedTuple):
    id: str
    state: str  # NEW ... RUNNING, FINISHED, FAILED, KILLED
    final_status: str  # UNDEFINED, SUCCEEDED, FAILED, KILLED
    diagnostics: str = ""


class CrossCheck(NamedTuple):
    """Livy's verdict on a finished batch next to YARN's; YARN wins when they disagree."""

    livy_state: str
    yarn_final_status: str | None  # None: not checked or YARN not reachable
    succeeded: bool
    agrees: bool | None
    note: str


class _Retry(Exception):
    """A failure worth another attempt; carries what to report if attempts run out."""

    def __init__(self, reason: str, *, sent: bool, gone: bool = False) -> None:
        super().__init__(reason)
        self.sent = sent  # the request may have reached Livy
        self.gone = gone  # the host name no longer resolves


class _Connection(http.client.HTTPConnection):
    """Connects within connect_timeout, then waits at most read_timeout for each read."""

    def __init__(self, host: str, *, connect_timeout: float, read_timeout: float, **kwargs: Any) -> None:
        kwargs.pop("timeout", None)  # urllib passes its single timeout; ours are split
        super().__init__(host, timeout=connect_timeout, **kwargs)
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


class _TlsConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, connect_timeout: float, read_timeout: float, **kwargs: Any) -> None:
        kwargs.pop("timeout", None)
        super().__init__(host, timeout=connect_timeout, **kwargs)
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()  # the TLS handshake counts against connect_timeout
        self.sock.settimeout(self._read_timeout)


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        super().__init__()
        self._connection = partial(_Connection, connect_timeout=connect_timeout, read_timeout=read_timeout)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, connect_timeout: float, read_timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.ssl_context = context
        self._connection = partial(_TlsConnection, connect_timeout=connect_timeout, read_timeout=read_timeout)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self.ssl_context)


def build_opener(options: LivyOptions) -> urllib.request.OpenerDirector:
    """An opener with split timeouts, the CA bundle, and no proxy from the environment
    (a Lambda's HTTP(S)_PROXY must not capture calls to a cluster inside the VPC)."""
    context = ssl.create_default_context(cafile=options.ca_bundle)
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _HttpHandler(options.connect_timeout, options.read_timeout),
        _HttpsHandler(options.connect_timeout, options.read_timeout, context),
    )


def _livy_message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "msg" in parsed:
            return str(parsed["msg"])
    return text[:500] or "(empty body)"


class LivyClient:
    """One Livy server, e.g. http://<primary-node-dns>:8998."""

    def __init__(
        self,
        url: str,
        options: LivyOptions | None = None,
        *,
        yarn_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not a Livy URL: {url!r}")
        self.url = url.rstrip("/")
        self.yarn_url = yarn_url.rstrip("/") if yarn_url else None
        self.options = options or LivyOptions()
        self.opener = build_opener(self.options)
        self._sleep = sleep

    # -- the batch API ------------------------------------------------------------------------
    def submit(self, request: Mapping[str, Any]) -> Batch:
        """POST /batches. With a `name`, safe to repeat: an attempt after an answer that may have
        been lost first looks the name up, so a retry never starts the batch twice."""
        name = request.get("name")
        last: _Retry | None = None
        for attempt in range(self.options.attempts):
            if attempt:
                self._backoff(attempt)
                if name and last is not None and last.sent:
                    existing = self.find_by_name(str(name))
                    if existing is not None:
                        return existing
            try:
                return Batch.model_validate(self._once("POST", "/batches", dict(request)))
            except _Retry as exc:
                last = exc
            except LivyHttpError as exc:
                # Livy (0.7+) refuses a second live session with the same name: ours got there first.
                if name and exc.status == 400 and "duplicate session name" in exc.livy_message.lower():
                    existing = self.find_by_name(str(name))
                    if existing is not None:
                        return existing
                raise
        assert last is not None
        raise self._give_up("POST /batches", last)

    def get(self, batch_id: int) -> Batch:
        return Batch.model_validate(self._call("GET", f"/batches/{int(batch_id)}", batch_id=batch_id))

    def state(self, batch_id: int) -> str:
        return str(self._call("GET", f"/batches/{int(batch_id)}/state", batch_id=batch_id)["state"])

    def log(self, batch_id: int, *, start: int | None = None, size: int = 100) -> list[str]:
        """GET /batches/{id}/log. Without `start`, Livy returns the last `size` lines."""
        query = {"size": str(size)} | ({"from": str(start)} if start is not None else {})
        response = self._call("GET", f"/batches/{int(batch_id)}/log?{urllib.parse.urlencode(query)}", batch_id=batch_id)
        return [str(line) for line in response.get("log") or []]

    def delete(self, batch_id: int) -> bool:
        """DELETE /batches/{id}: kills the batch if it still runs. False if Livy no longer knows it."""
        try:
            self._call("DELETE", f"/batches/{int(batch_id)}", batch_id=batch_id)
        except BatchNotFound:
            return False
        return True

    def batches(self) -> Iterator[Batch]:
        start = 0
        while True:
            page = self._call("GET", f"/batches?from={start}&size={_LIST_PAGE}")
            sessions = page.get("sessions") or []
            for item in sessions:
                yield Batch.model_validate(item)
            if len(sessions) < _LIST_PAGE:
                return
            start += len(sessions)

    def find_by_name(self, name: str) -> Batch | None:
        """The newest batch with this name (Livy keeps names unique among live sessions)."""
        found = [batch for batch in self.batches() if batch.name == name]
        return max(found, key=lambda batch: batch.id) if found else None

    # -- YARN ---------------------------------------------------------------------------------
    def yarn_app(self, app_id: str) -> YarnApp | None:
        """The ResourceManager's view of the application; None when YARN cannot be asked."""
        if not self.yarn_url:
            return None
        request = urllib.request.Request(
            f"{self.yarn_url}/ws/v1/cluster/apps/{urllib.parse.quote(app_id)}",
            headers={**DEFAULT_HEADERS, **self.options.headers},
        )
        try:
            with self.opener.open(request, timeout=self.options.yarn_timeout) as response:
                app = json.loads(response.read())["app"]
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            return None  # one attempt: the cross-check is a bonus, never a reason to fail
        return YarnApp(
            id=str(app.get("id", app_id)),
            state=str(app.get("state", "")),
            final_status=str(app.get("finalStatus", "")),
            diagnostics=str(app.get("diagnostics", ""))[:500],
        )

    def cross_check(self, batch: Batch) -> CrossCheck:
        livy_ok = batch.state in SUCCESS_STATES
        app = self.yarn_app(batch.app_id) if batch.app_id else None
        if app is None:
            why = "no YARN application id" if not batch.app_id else "YARN not reachable or not asked"
            return CrossCheck(batch.state, None, livy_ok, None, f"not cross-checked ({why}); Livy's state used")
        if app.final_status not in ("SUCCEEDED", "FAILED", "KILLED"):
            return CrossCheck(
                batch.state,
                app.final_status,
                livy_ok,
                None,
                f"YARN has no verdict yet ({app.state}/{app.final_status})",
            )
        yarn_ok = app.final_status == "SUCCEEDED"
        if yarn_ok == livy_ok:
            return CrossCheck(batch.state, app.final_status, livy_ok, True, f"YARN agrees: {app.final_status}")
        # Livy is known to misreport final states (e.g. client deploy mode); the ResourceManager is the record.
        note = f"YARN DISAGREES: Livy says {batch.state}, YARN finalStatus {app.final_status}; YARN's verdict used"
        if app.diagnostics:
            note += f" ({app.diagnostics})"
        return CrossCheck(batch.state, app.final_status, yarn_ok, False, note)

    # -- plumbing -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, batch_id: int | None = None) -> dict[str, Any]:
        """Idempotent calls (GET, DELETE): retried on connection errors, timeouts and 5xx."""
        last: _Retry | None = None
        for attempt in range(self.options.attempts):
            if attempt:
                self._backoff(attempt)
            try:
                return self._once(method, path, None, batch_id=batch_id)
            except _Retry as exc:
                last = exc
        assert last is not None
        raise self._give_up(f"{method} {path}", last)

    def _once(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, batch_id: int | None = None
    ) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {**DEFAULT_HEADERS, **self.options.headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            status, message = exc.code, _livy_message(exc.read() or b"")
            if status >= 500:
                raise _Retry(f"HTTP {status}: {message}", sent=True) from exc
            if status == 404 and batch_id is not None:
                raise BatchNotFound(f"Livy at {self.url} has no batch {batch_id}: {message}") from exc
            raise LivyHttpError(status, message) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                # Not transient: the certificate does not verify against the CA bundle.
                raise LivyUnavailable(f"TLS verification of {self.url} failed: {reason}") from exc
            if isinstance(reason, socket.gaierror):
                raise _Retry(
                    f"{urllib.parse.urlsplit(self.url).hostname} does not resolve", sent=False, gone=True
                ) from exc
            raise _Retry(f"cannot connect: {reason}", sent=False) from exc
        except (OSError, http.client.HTTPException) as exc:
            # Connected and sent, but no (complete) answer within read_timeout.
            raise _Retry(f"no answer: {type(exc).__name__}: {exc}", sent=True) from exc
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise _Retry(f"not JSON: {raw[:200]!r}", sent=True) from exc
        return parsed if isinstance(parsed, dict) else {"value": parsed}

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.options.max_backoff_seconds, self.options.backoff_seconds * 2 ** (attempt - 1))
        self._sleep(ceiling * (0.5 + random.random() / 2))  # equal jitter

    def _give_up(self, what: str, last: _Retry) -> Exception:
        tries = f"after {self.options.attempts} attempt(s)"
        if last.gone:
            return ClusterGone(f"{what} at {self.url}: {last} {tries}; the primary node is gone")
        return LivyUnavailable(f"{what} at {self.url}: {last} {tries}")


Outcome = Literal["running", "succeeded", "failed"]


def outcome_of(batch: Batch, check: CrossCheck | None = None) -> Outcome:
    if not batch.final:
        return "running"
    if check is not None:
        return "succeeded" if check.succeeded else "failed"
    return "succeeded" if batch.state in SUCCESS_STATES else "failed"
