"""Each in-process Lambda handler sees its own function's environment, without touching anyone else's.

On Lambda every function runs in its own process with its own environment. Here all handlers share
one process with moto's server threads and the Step Functions interpreter's threads. Setting a
function's variables in the process-wide os.environ for the length of an invocation (as the runtime
once did) leaks them to every other thread, and removing them afterwards races with any thread that
iterates os.environ at that moment: botocore looks up proxy settings on every client and request
(urllib's getproxies_environment lists the keys, then reads each one), so a variable removed between
the two raised KeyError in an unrelated thread. With 8 runs in flight about 1 execution in 24 failed
with States.Runtime "'POWERTOOLS_SERVICE_NAME'".

Design: the process keeps one environment. `overlay(values)` gives the calling context (a
contextvars.ContextVar: one per thread, or per asyncio task) a private layer of variables on top of
it. os.environ's class is swapped in place for a subclass whose reads, writes and iteration consult
that layer first, so every existing reference to os.environ (and os.getenv, which reads it) sees the
layer, and no other thread ever sees it or a half-removed variable. Writes inside a layer stay in the
layer (a handler's os.environ["X"] = ... does not outlive its invocation, as on Lambda, where it
does not reach other functions). Threads a handler starts do not inherit the layer (contextvars are
not copied into new threads); the project's handlers start none. Subprocesses get the process
environment unless given env=dict(os.environ) explicitly.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from typing import Any

_DELETED = object()
_layer: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("handler_environment", default=None)


class _LayeredEnviron(os._Environ[str]):
    """os.environ with the current context's layer on top; without a layer it is os._Environ as is."""

    def __getitem__(self, key: str) -> str:
        layer = _layer.get()
        if layer is not None and key in layer:
            value = layer[key]
            if value is _DELETED:
                raise KeyError(key)
            return str(value)
        return str(super().__getitem__(key))

    def __setitem__(self, key: str, value: str) -> None:
        layer = _layer.get()
        if layer is None:
            super().__setitem__(key, value)
            return
        if not isinstance(key, str) or not isinstance(value, str):  # as os.environ refuses them
            raise TypeError(f"str expected, not {type(key if not isinstance(key, str) else value).__name__}")
        layer[key] = value

    def __delitem__(self, key: str) -> None:
        layer = _layer.get()
        if layer is None:
            super().__delitem__(key)
            return
        if key not in self:
            raise KeyError(key)
        layer[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        layer = _layer.get()
        if layer is None:
            yield from super().__iter__()
            return
        snapshot = dict(layer)
        for key in super().__iter__():
            if key not in snapshot:
                yield key
        for key, value in snapshot.items():
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return super().__len__() if _layer.get() is None else sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"environ({dict(self.items())!r})"


def install() -> None:
    """Swap os.environ's class in place (idempotent): every reference to it, old or new, gets the layers."""
    if type(os.environ) is not _LayeredEnviron:
        os.environ.__class__ = _LayeredEnviron


@contextlib.contextmanager
def overlay(values: dict[str, str]) -> Iterator[None]:
    """Within the block, this context (only) sees `values` on top of the process environment."""
    install()
    token = _layer.set(dict(values))
    try:
        yield
    finally:
        _layer.reset(token)
