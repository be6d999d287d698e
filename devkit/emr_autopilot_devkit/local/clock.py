"""A fast clock: virtual time runs `speedup` times faster than wall time.

Step Functions Wait states, Retry intervals, task timeouts and `.sync` polling, EMR state
changes and scheduler deadlines all read this clock, so an hour-long run takes seconds and
timing stays proportional (a 10-minute timeout still fires after a 5-minute step would end).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class FastClock:
    def __init__(self, speedup: float = 600.0) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.speedup = speedup
        self._lock = threading.Lock()
        self._real0 = time.monotonic()
        self._virtual0 = datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            return self._virtual0 + timedelta(seconds=(time.monotonic() - self._real0) * self.speedup)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(float(virtual_seconds), 0.0) / self.speedup

    def sleep(self, virtual_seconds: float) -> None:
        time.sleep(self.real_seconds(virtual_seconds))

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
