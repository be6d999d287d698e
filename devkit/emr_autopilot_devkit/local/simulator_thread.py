"""What both EMR simulators share: the daemon thread that advances them on the fast clock, and the slot through
which the patched moto backends (installed once per process) find the simulator of the runtime that is up."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

TICK_SECONDS = 0.005


class TickThread:
    """Calls `tick` every TICK_SECONDS on a daemon thread until stop(). An exception is printed and the loop goes
    on, so one bad tick never freezes the emulated service; the runtime log shows the bug."""

    def __init__(self, name: str, tick: Callable[[], None]) -> None:
        self.name = name
        self._tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as exc:
                print(f"{self.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(TICK_SECONDS)


class ActiveSlot(Generic[T]):
    """The one simulator of a kind that the patched backends delegate to (None when no runtime is up)."""

    def __init__(self) -> None:
        self._current: T | None = None

    def activate(self, simulator: T | None) -> None:
        self._current = simulator

    def active(self) -> T | None:
        return self._current
