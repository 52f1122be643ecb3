"""Camunda 7's date functions in JUEL: ``now()`` (a ``java.util.Date``) and ``dateTime()`` (a Joda ``DateTime``).

Designers write due dates and timers with them: ``${dateTime().plusDays(2).toDate()}``,
``${now()}``. Both read the engine's clock (`engine.clock.current_clock`, the virtual clock in tests), in UTC.
A ``DateTime`` here offers Joda's arithmetic (``plusDays``, ``minusHours``, ...), ``withTimeAtStartOfDay()``,
comparisons (``isBefore``, ``isAfter``), ``toDate()`` for a date Stageflow stores, and ``toString()`` as ISO 8601;
a ``Date`` (any date-time value) offers ``before``, ``after`` and ``getTime()``.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .clock import current_clock


class DateTime:
    """Joda's ``DateTime`` as JUEL expressions use it: an aware UTC moment with Joda's method names."""

    __slots__ = ("moment",)

    def __init__(self, moment: datetime) -> None:
        self.moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def __repr__(self) -> str:
        return f"DateTime({self.moment.isoformat()})"

    def __str__(self) -> str:  # Joda's toString(), as text templates (`Due ${dateTime()}`) show it
        return self.moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateTime) and other.moment == self.moment

    def __hash__(self) -> int:
        return hash(self.moment)


def now() -> datetime:
    """``now()``: the current moment."""
    return current_clock().now()


def date_time() -> DateTime:
    """``dateTime()``: the current moment as a Joda ``DateTime``."""
    return DateTime(current_clock().now())


def _whole(value: Any, method: str) -> int:
    """The argument of a Joda method taking an `int`, coerced as JUEL coerces it: a number loses its fraction
    (`plusDays(1.5)` adds one day), a text is read as a whole number, null and the empty text are 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return int(value)  # toward zero, as Java's intValue()
    raise TypeError(f"{method}() takes a whole number, not {value!r}")


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _plus_months(moment: datetime, months: int) -> datetime:
    """Joda's month arithmetic: the same day of the month, the month's last day where it has fewer."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _shift(unit: str, sign: int) -> Callable[[DateTime, Any], DateTime]:
    def shift(value: DateTime, amount: Any) -> DateTime:
        n = sign * _whole(amount, ("plus" if sign > 0 else "minus") + unit)
        if unit == "Years":
            return DateTime(_plus_months(value.moment, 12 * n))
        if unit == "Months":
            return DateTime(_plus_months(value.moment, n))
        span = {"Weeks": "weeks", "Days": "days", "Hours": "hours", "Minutes": "minutes", "Seconds": "seconds",
                "Millis": "milliseconds"}[unit]
        return DateTime(value.moment + timedelta(**{span: n}))
    return shift


def _moment_of(value: Any, method: str) -> datetime:
    if isinstance(value, DateTime):
        return value.moment
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    raise TypeError(f"{method}() takes a date, not {type(value).__name__}")


_UNITS = ("Years", "Months", "Weeks", "Days", "Hours", "Minutes", "Seconds", "Millis")

DATE_TIME_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    **{f"plus{unit}": ((1,), _shift(unit, 1)) for unit in _UNITS},
    **{f"minus{unit}": ((1,), _shift(unit, -1)) for unit in _UNITS},
    "toDate": ((0,), lambda d: d.moment),
    "withTimeAtStartOfDay": ((0,), lambda d: DateTime(d.moment.replace(hour=0, minute=0, second=0, microsecond=0))),
    "isBefore": ((1,), lambda d, other: d.moment < _moment_of(other, "isBefore")),
    "isAfter": ((1,), lambda d, other: d.moment > _moment_of(other, "isAfter")),
    "isBeforeNow": ((0,), lambda d: d.moment < current_clock().now()),
    "isAfterNow": ((0,), lambda d: d.moment > current_clock().now()),
    "getMillis": ((0,), lambda d: int(d.moment.timestamp() * 1000)),
    "toString": ((0,), str),
}
"""Joda ``DateTime`` methods: name -> (numbers of arguments allowed, function of the value and the arguments)."""

DATE_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "before": ((1,), lambda d, other: _moment_of(d, "before") < _moment_of(other, "before")),
    "after": ((1,), lambda d, other: _moment_of(d, "after") > _moment_of(other, "after")),
    "getTime": ((0,), lambda d: int(_moment_of(d, "getTime").timestamp() * 1000)),
}
"""``java.util.Date`` methods on a date-time value."""
