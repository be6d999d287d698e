"""The template's Lambda functions, run in this process: loaded from their CodeUri with their own environment,
invoked as `sam local invoke` would, and invoked asynchronously as Lambda does (retries, then OnFailure)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from emr_autopilot_devkit.local import handler_environment
from emr_autopilot_devkit.local.account import ACCOUNT_ID, REGION
from emr_autopilot_devkit.local.clock import FastClock


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
            with environment(self.environment):
                spec.loader.exec_module(module)
            self.module = module
        return getattr(self.module, self.handler_name)


def environment(values: dict[str, str]) -> contextlib.AbstractContextManager[None]:
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


class HandlerInvoker:
    """Calls handlers one at a time, whichever thread (an event, a Task) asks: they share sys.stdout and the log
    handlers' streams. Each sees its own function's environment (handler_environment), other threads never do."""

    def __init__(self, clock: FastClock, quiet: bool, log_buffer: io.StringIO) -> None:
        self.clock = clock
        self.quiet = quiet
        self.log_buffer = log_buffer
        self.lock = threading.RLock()

    def invoke(self, function: LocalFunction, event: Any) -> Any:
        context = LambdaContext(function.name)
        capture = io.StringIO()
        # A handler runs in real time, like a real step: its cold start is not minutes of EMR time.
        with self.lock, self.clock.real_time():
            handler = function.load()
        with self.lock, environment(function.environment), self._lambda_output(capture), self.clock.real_time():
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


def invoke_async(
    function: LocalFunction, event: dict[str, Any], invoke: Callable[[str, Any], Any], sqs: Callable[[], Any]
) -> Invocation:
    """Asynchronous invocation: retried as EventInvokeConfig says, then sent to the OnFailure queue."""
    record = Invocation(function.logical_id, event)
    for attempt in range(1, function.max_retries + 2):
        record.attempts = attempt
        try:
            record.result = invoke(function.logical_id, event)
            record.error = None
            break
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
    if record.error is not None:
        record.dead_lettered = True
        queue_url = function.environment.get("DEAD_LETTER_QUEUE_URL")
        if queue_url:
            sqs().send_message(
                QueueUrl=queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"functionArn": function.name, "condition": "RetriesExhausted"},
                        "responseContext": {"functionError": record.error},
                        "requestPayload": event,
                    }
                ),
            )
    return record
