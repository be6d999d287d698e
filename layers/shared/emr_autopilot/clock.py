"""The time the application reads. The local runtime swaps in its fast clock with `use`."""

from collections.abc import Callable
from datetime import UTC, datetime


def _wall() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall


def now() -> datetime:
    return _source()


def use(source: Callable[[], datetime] | None) -> None:
    global _source
    _source = source or _wall
