"""One injectable clock: the system's, or a virtual one that tests and the simulator move by hand."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .scoped import scoped


class Clock(Protocol):
    """Anything that tells the time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` (or timedelta keyword arguments) and return the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (never backwards)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            if moment < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = moment.astimezone(UTC)


_current: ContextVar[Clock | None] = ContextVar("stageflow_clock", default=None)
_SYSTEM = SystemClock()


def current_clock() -> Clock:
    """The clock of the engine operation running in this thread (the system clock outside one)."""
    return _current.get() or _SYSTEM


def using_clock(clock: Clock) -> scoped[Clock | None]:
    """Make `clock` the current clock for the code inside the block (this thread/context only)."""
    return scoped(_current, clock)


def clock_from_name(name: str) -> Clock:
    """`system`, or `virtual[:ISO-DATETIME]` for a virtual clock starting then."""
    if name == "system":
        return SystemClock()
    if name.startswith("virtual"):
        _, _, start = name.partition(":")
        return VirtualClock(datetime.fromisoformat(start) if start else None)
    raise ValueError(f"unknown clock '{name}': use 'system' or 'virtual[:2026-01-05T09:00:00+00:00]'")
