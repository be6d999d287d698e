"""Counting the application's AWS calls with botocore event hooks.

While an `AppCalls` is active, every client or resource that emr_autopilot.aws creates (it caches
them per process) gets a `before-call` hook: one record per API call the application makes, before
the SDK's own retries (a retried call counts once, as it is one call of the code). Clients the local
runtime, the EMR simulator or the benchmark create for themselves are not counted.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from emr_autopilot import aws


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name: emr, dynamodb, sns, s3, ...
    operation: str
    table: str | None
    at: float  # time.perf_counter()
    thread: int

    @property
    def label(self) -> str:
        return f"{self.service}:{self.operation}" + (f"({self.table})" if self.table else "")


@dataclass
class AppCalls:
    only_thread: int | None = None  # count calls of this thread only (None: every thread)
    calls: list[Call] = field(default_factory=list)
    _saved: tuple[Any, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> AppCalls:
        original_client, original_resource = aws._client, aws._resource
        self._saved = (original_client, original_resource)

        @functools.cache
        def client(service: str, region: str | None, endpoint: str | None) -> Any:
            created = original_client.__wrapped__(service, region, endpoint)
            self._hook(created)
            return created

        @functools.cache
        def resource(service: str, region: str | None, endpoint: str | None) -> Any:
            created = original_resource.__wrapped__(service, region, endpoint)
            self._hook(created.meta.client)
            return created

        aws.reset_clients()
        aws._client, aws._resource = client, resource
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._saved is not None
        aws.reset_clients()
        aws._client, aws._resource = self._saved
        aws.reset_clients()

    def _hook(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register("before-call.*.*", functools.partial(self._record, service))

    def _record(self, service: str, model: Any, params: dict[str, Any], **_: Any) -> None:
        thread = threading.get_ident()
        if self.only_thread is not None and thread != self.only_thread:
            return
        call = Call(service, model.name, _table_name(params), time.perf_counter(), thread)
        with self._lock:
            self.calls.append(call)

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])


def _table_name(params: dict[str, Any]) -> str | None:
    body = params.get("body")
    if isinstance(body, bytes | str) and body:
        try:
            decoded = json.loads(body)
        except ValueError:
            return None
        name = decoded.get("TableName") if isinstance(decoded, dict) else None
        return str(name) if name else None
    return None


def by_operation(calls: list[Call]) -> dict[str, int]:
    return dict(Counter(f"{call.service}:{call.operation}" for call in calls))
