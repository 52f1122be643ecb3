"""Timers fire in a transaction of their own, never inside the change that reached them (Camunda's timer jobs).

SpiffWorkflow fires a timer as soon as an engine step finds it due: a timer whose date is already past when the
token arrives (`timeDate` of yesterday, a due date a variable gave) fired inside the start or the completion that
reached it, and everything after it ran there too. A script failing after the timer then failed the start, where in
Camunda the start commits with the instance waiting at the timer and the timer's job fails on its own (retries,
then an incident).

While timers are held (`held()`, around every step of a change) a timer reached by that change records its due time
as usual but does not fire; the engine saves it as a job due at once, and the scheduler fires it after the commit
(`Run.fire_timers` lets it fire: that is the timer's own transaction). Patched into SpiffWorkflow's timer event
definitions at import (idempotent), as `clockpatch` does.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from ..clock import current_clock
from ..scoped import scoped
from .timers import skip_past_repetitions

_HELD: ContextVar[bool] = ContextVar("stageflow_timers_held", default=False)
_MISSING = object()


def held() -> scoped[bool]:
    """Timers that fall due inside the block do not fire (they stay waiting, due)."""
    return scoped(_HELD, True)


def released() -> scoped[bool]:
    """Due timers fire inside the block (the timer's own transaction), even within a held change."""
    return scoped(_HELD, False)


def _holding_has_fired(original: Any) -> Any:
    def has_fired(self: Any, my_task: Any) -> bool:
        if not _HELD.get():
            return original(self, my_task)
        before = my_task.internal_data.get("event_fired", _MISSING)
        if before is True:
            return True  # it fired in its own transaction earlier
        original(self, my_task)  # computes and keeps the due time on first sight
        if before is _MISSING:
            my_task.internal_data.pop("event_fired", None)
        else:
            my_task.internal_data["event_fired"] = before
        return False

    has_fired.stageflow_held = True  # type: ignore[attr-defined]
    return has_fired


def _holding_cycle(original: Any) -> Any:
    def cycle_complete(self: Any, my_task: Any) -> bool:
        first_sight = my_task.internal_data.get("event_value") is None
        ready = original(self, my_task)
        if not _HELD.get():
            return ready
        value = my_task.internal_data.get("event_value")
        if ready:  # the repetition it counted: give it back, unfired
            value["next"] = (datetime.fromisoformat(value["next"]) - timedelta(seconds=value["duration"])).isoformat()
            value["cycles"] += 1
        if first_sight and isinstance(value, dict) and value.get("duration"):
            # Camunda: a cycle whose start has passed first falls due at its first repetition after now
            skip_past_repetitions(value, current_clock().now(), at_now_too=True)
        return False

    cycle_complete.stageflow_held = True  # type: ignore[attr-defined]
    return cycle_complete


def install() -> None:
    """Patch SpiffWorkflow's timer event definitions (idempotent)."""
    for cls in (TimeDateEventDefinition, DurationTimerEventDefinition):
        if not getattr(cls.has_fired, "stageflow_held", False):
            cls.has_fired = _holding_has_fired(cls.has_fired)
    if not getattr(CycleTimerEventDefinition.cycle_complete, "stageflow_held", False):
        CycleTimerEventDefinition.cycle_complete = _holding_cycle(CycleTimerEventDefinition.cycle_complete)
