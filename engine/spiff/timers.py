"""Turn a due date, follow-up date or timer value into a moment, with SpiffWorkflow's ISO 8601 arithmetic;
and Camunda's cron timer cycles."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


class TimerValueError(ValueError):
    """A timer's date, duration or cycle (as written or as its expression gave it) that does not parse: its message
    names the value and the forms that would."""


def parse_moment(value: Any, now: datetime) -> datetime:
    """A datetime, an ISO date-time string, or an ISO duration (`P2D`, meaning now plus two days)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    text = str(value).strip()
    if text.upper().startswith("P"):
        try:
            parsed = TimerEventDefinition.parse_iso_duration(text)
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception
            raise TimerValueError(f"'{text}' is not an ISO 8601 duration")
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimerValueError(f"'{text}' is neither an ISO 8601 date-time nor a duration")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- cron cycles ---------------------------------------------------------------------------------------------
# Camunda 7 also accepts a Quartz cron expression as a timer cycle: `sec min hour day-of-month month
# day-of-week [year]`, `?` for "no specific value", day-of-week 1-7 counted from Sunday. It repeats for ever.
_CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week", "year")
_CRON_MAX = {"second": 59, "minute": 59, "hour": 23, "day": 31, "month": 12, "day_of_week": 7, "year": 2199}
_QUARTZ_DAYS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}


def is_cron(text: str) -> bool:
    """Whether a timer cycle is written as a cron expression (six or seven fields) rather than ISO 8601."""
    fields = str(text).split()
    return len(fields) in (6, 7) and not fields[0].upper().startswith(("R", "P"))


def _cron_field(name: str, value: str) -> str:
    if any(c in re.sub(r"[A-Za-z]{3}", "", value) for c in "LW#") or value.upper() in ("L", "LW"):
        raise ValueError(f"the {name.replace('_', ' ')} field '{value}' uses L, W or #, which Stageflow does "
                         "not support")
    if value == "?":
        return "*"
    parts = []
    for part in value.split(","):
        if "/" in part and part.split("/")[0] not in ("*", "") and "-" not in part:
            start, step = part.split("/", 1)
            part = f"{start}-{_CRON_MAX[name]}/{step}"  # Quartz's `0/5`: from 0 every 5
        if name == "day_of_week":
            part = "".join(_QUARTZ_DAYS.get(c, c) for c in re.split(r"([-/,])", part)) if not part.startswith("*") \
                else part
        parts.append(part)
    return ",".join(parts)


def cron_trigger(text: str) -> CronTrigger:
    """The APScheduler trigger of a Quartz cron expression; ValueError naming the problem when it is invalid."""
    fields = str(text).split()
    if len(fields) not in (6, 7):
        raise ValueError(f"'{text}' is not a cron expression (sec min hour day month weekday [year])")
    try:
        values = {name: _cron_field(name, value) for name, value in zip(_CRON_FIELDS, fields, strict=False)}
        return CronTrigger(timezone=UTC, **values)
    except ValueError as err:
        raise ValueError(f"cron expression '{text}': {err}") from None


def next_cron(text: str, after: datetime) -> datetime | None:
    """The first firing of cron expression `text` strictly after `after` (None when it never fires again)."""
    moment = cron_trigger(text).get_next_fire_time(None, after + timedelta(microseconds=1))
    return moment.astimezone(UTC) if moment is not None else None


def install_cron_cycles() -> None:
    """Let SpiffWorkflow's cycle timers take a cron expression: the first firing is the next one after now,
    the period the gap to the one after (the runtime sets each later firing from the expression itself)."""
    original = TimerEventDefinition.__dict__["parse_iso_recurring_interval"]
    if getattr(original, "sf_cron", False):
        return

    def parse(expression: str) -> tuple[int, datetime, timedelta]:
        if not is_cron(expression):
            try:
                return original.__func__(expression)
            except Exception:  # noqa: BLE001 - SpiffWorkflow's parse fails with whatever int() or its own raise
                raise TimerValueError(f"timer cycle '{expression}' is neither an ISO 8601 repeating interval "
                                      "(R3/PT10M, R/2026-01-05T09:00:00Z/P1D) nor a cron expression (0 0 9 * * ?)")
        from ..clock import current_clock

        start = next_cron(expression, current_clock().now())
        if start is None:
            raise TimerValueError(f"cron expression '{expression}' never fires")
        following = next_cron(expression, start) or start
        return -1, start, following - start

    parse.sf_cron = True  # type: ignore[attr-defined]
    TimerEventDefinition.parse_iso_recurring_interval = staticmethod(parse)  # type: ignore[method-assign]


def skip_past_repetitions(value: dict[str, Any], now: datetime, *, at_now_too: bool = False) -> None:
    """Move a cycle timer's next time (`value`, SpiffWorkflow's `{cycles, next, duration}`) past `now`, using up
    the repetitions it passes (an endless cycle, `cycles` -1, has no count). `at_now_too`: also past a repetition
    due exactly at `now` (Camunda's first due time of a cycle: the first repetition after now)."""
    try:
        moment = datetime.fromisoformat(value["next"])
    except ValueError:
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    step = timedelta(seconds=value["duration"])
    while (moment <= now if at_now_too else moment < now) and value["cycles"] != 0:
        moment += step
        if value["cycles"] > 0:
            value["cycles"] -= 1
    value["next"] = moment.isoformat()
