"""Make SpiffWorkflow's timers read Stageflow's injectable clock.

SpiffWorkflow's timer module calls `datetime.now(timezone.utc)` on a module-level `datetime`. Replacing that name
with a subclass whose `now` reads `engine.clock.current_clock()` lets a virtual clock drive every timer, per
thread (the current clock is a context variable), without touching the library's code.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

from ..clock import current_clock


class ClockDatetime(datetime):
    """`datetime` whose `now()` is the current Stageflow clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = current_clock().now()
        if tz is None:
            return datetime.fromtimestamp(moment.timestamp())
        return moment.astimezone(tz)

    @classmethod
    def utcnow(cls) -> datetime:  # type: ignore[override]
        return current_clock().now().astimezone(UTC).replace(tzinfo=None)


def install() -> None:
    """Patch SpiffWorkflow's timer module (idempotent)."""
    if _timer_module.datetime is not ClockDatetime:
        _timer_module.datetime = ClockDatetime
