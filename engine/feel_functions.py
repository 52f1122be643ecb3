"""FEEL's built-in functions that Camunda 7's DMN tables use most (DMN 1.3, 10.3.4): conversion, text, numbers and
lists. As in FEEL, an argument of the wrong type, or null, gives null; texts count from 1, and a negative position
counts from the end. Each function is `_sf_feel_<name>` to the generated code (`engine.dmn`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(*values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


def _feel_number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def string(value: Any) -> str | None:
    """`string(from)`: a value as FEEL writes it (`true`, `12`, `1.5`, a date as ISO)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if _number(value):
        return _feel_number_text(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"P{value.days}DT{value.seconds}S" if value.days else f"PT{value.seconds}S"
    return str(value)


def number(value: Any) -> int | float | None:
    """`number(from)`: a text of a number, or null."""
    if _number(value):
        return value
    if not isinstance(value, str):
        return None
    try:
        return int(value) if value.strip().lstrip("+-").isdigit() else float(value)
    except ValueError:
        return None


def substring(text: Any, start: Any, length: Any = None) -> str | None:
    """`substring(string, start position, length?)`: from 1, a negative start counting from the end."""
    if not isinstance(text, str) or not _number(start) or (length is not None and not _number(length)):
        return None
    begin = int(start) - 1 if start > 0 else len(text) + int(start)
    begin = max(begin, 0)
    return text[begin:] if length is None else text[begin:begin + max(int(length), 0)]


def string_length(text: Any) -> int | None:
    return len(text) if isinstance(text, str) else None


def upper_case(text: Any) -> str | None:
    return text.upper() if isinstance(text, str) else None


def lower_case(text: Any) -> str | None:
    return text.lower() if isinstance(text, str) else None


def substring_before(text: Any, match: Any) -> str | None:
    if not _text(text, match):
        return None
    at = text.find(match)
    return "" if at < 0 else text[:at]


def substring_after(text: Any, match: Any) -> str | None:
    if not _text(text, match):
        return None
    at = text.find(match)
    return "" if at < 0 else text[at + len(match):]


def contains(text: Any, match: Any) -> bool | None:
    return match in text if _text(text, match) else None


def starts_with(text: Any, match: Any) -> bool | None:
    return text.startswith(match) if _text(text, match) else None


def ends_with(text: Any, match: Any) -> bool | None:
    return text.endswith(match) if _text(text, match) else None


def decimal(value: Any, scale: Any) -> float | None:
    """`decimal(n, scale)`: rounded half to even, as FEEL's."""
    if not _number(value) or not _number(scale):
        return None
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-int(scale)), rounding=ROUND_HALF_EVEN)
    return float(rounded)


def floor(value: Any) -> int | None:
    return math.floor(value) if _number(value) and math.isfinite(value) else None


def ceiling(value: Any) -> int | None:
    return math.ceil(value) if _number(value) and math.isfinite(value) else None


def absolute(value: Any) -> int | float | None:
    return abs(value) if _number(value) else None


def modulo(dividend: Any, divisor: Any) -> int | float | None:
    """`modulo(dividend, divisor)`: the sign of the divisor, as FEEL's; null for a divisor of 0."""
    if not _number(dividend) or not _number(divisor) or divisor == 0:
        return None
    return dividend % divisor


def _items(args: tuple[Any, ...]) -> list[Any] | None:
    """A list function's items: one list, or the arguments themselves (`max(1, 2)`)."""
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    return list(args)


def count(items: Any) -> int | None:
    return len(items) if isinstance(items, list) else None


def total(*args: Any) -> int | float | None:
    values = _items(args)
    return sum(values) if values and all(_number(v) for v in values) else None


def _extreme(pick: Callable[[list[Any]], Any], args: tuple[Any, ...]) -> Any:
    values = _items(args)
    try:
        return pick(values) if values and None not in values else None
    except TypeError:  # values with no order between them
        return None


def smallest(*args: Any) -> Any:
    return _extreme(min, args)


def largest(*args: Any) -> Any:
    return _extreme(max, args)


def mean(*args: Any) -> float | None:
    values = _items(args)
    return sum(values) / len(values) if values and all(_number(v) for v in values) else None


def list_contains(items: Any, element: Any) -> bool | None:
    return element in items if isinstance(items, list) else None


# FEEL name -> (implementation, fewest arguments, most arguments (None: any number))
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "string": (string, 1, 1),
    "number": (number, 1, 1),
    "substring": (substring, 2, 3),
    "string length": (string_length, 1, 1),
    "upper case": (upper_case, 1, 1),
    "lower case": (lower_case, 1, 1),
    "substring before": (substring_before, 2, 2),
    "substring after": (substring_after, 2, 2),
    "contains": (contains, 2, 2),
    "starts with": (starts_with, 2, 2),
    "ends with": (ends_with, 2, 2),
    "decimal": (decimal, 2, 2),
    "floor": (floor, 1, 1),
    "ceiling": (ceiling, 1, 1),
    "abs": (absolute, 1, 1),
    "modulo": (modulo, 2, 2),
    "count": (count, 1, 1),
    "sum": (total, 1, None),
    "min": (smallest, 1, None),
    "max": (largest, 1, None),
    "mean": (mean, 1, None),
    "list contains": (list_contains, 2, 2),
}


def helper_name(name: str) -> str:
    """The name the generated code calls FEEL function `name` by."""
    return "_sf_feel_" + name.replace(" ", "_")


HELPERS: dict[str, Callable[..., Any]] = {helper_name(name): fn for name, (fn, _, _) in FUNCTIONS.items()}
