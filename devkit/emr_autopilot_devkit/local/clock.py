"""A fast clock: virtual time runs `speedup` times faster than wall time.

Step Functions Wait states, Retry intervals, task and execution timeouts, `.sync` polling,
EMR state changes and scheduler deadlines all read this clock, so an hour-long run takes
seconds. While a step runs for real (a process on this machine), virtual time slows to wall
time: a real 10-second Spark job must not blow a 30-minute step timeout that the fast clock
would otherwise squeeze into 3 seconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

# Longest real sleep between clock checks, so a change of rate is noticed promptly.
_SLICE = 0.05


class FastClock:
    def __init__(self, speedup: float = 600.0) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.speedup = speedup
        self._lock = threading.Lock()
        self._real0 = time.monotonic()
        self._virtual0 = datetime.now(UTC)
        self._holds = 0

    def _rate(self) -> float:
        return 1.0 if self._holds else self.speedup

    def _now_locked(self) -> datetime:
        return self._virtual0 + timedelta(seconds=(time.monotonic() - self._real0) * self._rate())

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def timestamp(self) -> float:
        return self.now().timestamp()

    def real_seconds(self, virtual_seconds: float) -> float:
        with self._lock:
            return max(float(virtual_seconds), 0.0) / self._rate()

    @contextlib.contextmanager
    def real_time(self) -> Iterator[None]:
        """Run virtual time at wall-clock speed for the duration of the block."""
        with self._lock:
            self._virtual0, self._real0 = self._now_locked(), time.monotonic()
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._virtual0, self._real0 = self._now_locked(), time.monotonic()
                self._holds -= 1

    def wait_for(self, waiter: Callable[[float], bool], virtual_seconds: float) -> bool:
        """Call waiter(real_timeout) until it returns True or the virtual deadline passes."""
        deadline = self.timestamp() + max(float(virtual_seconds), 0.0)
        while True:
            remaining = deadline - self.timestamp()
            if remaining <= 0:
                return False
            if waiter(min(self.real_seconds(remaining), _SLICE)):
                return True

    def sleep(self, virtual_seconds: float) -> None:
        def nap(real: float) -> bool:
            time.sleep(real)
            return False

        self.wait_for(nap, virtual_seconds)

    def advance(self, virtual_seconds: float) -> None:
        """Jump ahead, e.g. to leave a cluster idle for an hour at once."""
        with self._lock:
            self._virtual0 += timedelta(seconds=virtual_seconds)


_active = FastClock(speedup=1.0)


def active_clock() -> FastClock:
    return _active


def set_active_clock(clock: FastClock) -> None:
    global _active
    _active = clock
