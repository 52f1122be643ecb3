"""Translate Camunda 7 expressions (JUEL, ``${...}``) into Python source for SpiffWorkflow.

SpiffWorkflow evaluates every condition and expression as Python with the task's data as globals.
Camunda diagrams write them in JUEL.  This module translates, at deploy time, the JUEL subset that
Camunda users write in conditions and attributes into readable Python source, with a small hand-written
tokenizer and recursive-descent parser.  Anything outside the subset raises
:class:`~engine.errors.ExpressionError` naming the element, the expression and the unsupported construct.

Supported JUEL: integer, float and string literals (escapes ``\\'``, ``\\"``, ``\\\\``), ``true``,
``false``, ``null``; variables; property access ``a.b``; indexing ``a['k']``, ``a[0]``, ``a[i]``; unary
``!``/``not``, ``-``, ``empty``; ``*``, ``/``/``div``, ``%``/``mod``; ``+``, ``-``; ``<``/``lt``,
``>``/``gt``, ``<=``/``le``, ``>=``/``ge``; ``==``/``eq``, ``!=``/``ne``; ``&&``/``and``; ``||``/``or``;
``a ? b : c``; parentheses; ``execution.getVariable('name')``; ``execution.processBusinessKey`` and
``execution.businessKey`` (also as ``getProcessBusinessKey()`` / ``getBusinessKey()``), and the properties in
:data:`EXECUTION_VARIABLES` (``execution.processInstanceId``, ...); the common Java
methods on text (``trim()``, ``substring(0, 3)``, ``startsWith('A')``, ...), lists (``size()``, ``contains(x)``,
``isEmpty()``, ...), maps (``containsKey(k)``, ``get(k)``, ...) and any value (``equals(x)``, ``toString()``), and
bean getters on a map (``order.isGold()`` reads ``order['gold']``): see :data:`METHODS`.  Any other method call is
refused at deploy.
``#{...}`` is treated as ``${...}``.  In text, ``\\${`` and ``\\#{`` stand for a literal ``${`` / ``#{``.

The generated code calls the functions in :data:`RUNTIME_HELPERS`, which the caller must put into the
evaluation globals, and reads the business key from the variable :data:`BUSINESS_KEY_VARIABLE`
(``_sf_business_key``), which the engine must provide.  Every name the generated code needs starts with
:data:`RESERVED_PREFIX` (``_sf_``), so process variables must not use that prefix.

Operators keep Python semantics on Python data: ``&&``/``||`` become ``and``/``or`` (which return an
operand, with the same truthiness as JUEL's boolean), ``/`` and ``div`` are true division.  Comparisons
follow JUEL's type coercion (``_sf_eq`` and friends): ``flag == 'true'`` holds for the boolean true and
``'3' == 3`` holds, ``amount > '100'`` compares numbers.  A missing variable raises ``NameError``
(as JUEL raises for an unresolved identifier), while ``execution.getVariable('x')`` gives ``None``.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.errors import ExpressionError
from engine.juel_dates import DATE_METHODS, DATE_TIME_METHODS, DateTime, date_time, now
from engine.sandbox import guarded_getattr
from engine.tokens import Token, TokenCursor
from engine.variables import Long

__all__ = [
    "BUSINESS_KEY_VARIABLE",
    "EXECUTION_VARIABLES",
    "RESERVED_PREFIX",
    "RUNTIME_HELPERS",
    "condition_to_python",
    "execution_globals",
    "is_expression",
    "juel_to_python",
    "reserved_name",
    "text_to_python",
]

RESERVED_PREFIX = "_sf_"
"""Prefix of every name the generated code needs in its globals; not allowed for process variables."""


def reserved_name(name: str) -> bool:
    """Whether `name` is the engine's, not a variable's: a dunder (`__builtins__`) or the generated code's prefix."""
    return name.startswith(("__", RESERVED_PREFIX))

BUSINESS_KEY_VARIABLE = "_sf_business_key"
"""Variable the engine must provide in the evaluation globals: the instance's business key (or None)."""

EXECUTION_VARIABLES = {
    "processInstanceId": "_sf_instance_id",
    "id": "_sf_instance_id",  # one execution per instance: its id is the instance's
    "processDefinitionId": "_sf_definition_id",
    "currentActivityId": "_sf_activity_id",
    "activityId": "_sf_activity_id",
    "currentActivityName": "_sf_activity_name",
}
"""The properties of Camunda's ``execution`` read from the evaluation globals (the engine provides them, None
where unknown): each also as its getter (``getProcessInstanceId()``)."""
_EXECUTION_NAMES = frozenset(EXECUTION_VARIABLES.values())
_EXECUTION_GETTERS = {"get" + name[0].upper() + name[1:]: name for name in EXECUTION_VARIABLES}


def execution_globals(instance_id: str | None, definition_id: str | None, activity_id: str | None,
                      activity_name: str | None) -> dict[str, Any]:
    """The evaluation globals that :data:`EXECUTION_VARIABLES` read."""
    return {"_sf_instance_id": instance_id, "_sf_definition_id": definition_id, "_sf_activity_id": activity_id,
            "_sf_activity_name": activity_name}

# An expression start that is not escaped with a backslash.
_EXPRESSION_START = re.compile(r"(?<!\\)[$#]\{")

_JUEL_WORD_OPERATORS = ("empty", "not", "and", "or", "div", "mod", "instanceof")
_JUEL_WORD_COMPARISONS = ("eq", "ne", "lt", "gt", "le", "ge")
_JUEL_KEYWORDS = frozenset(("true", "false", "null", *_JUEL_WORD_OPERATORS, *_JUEL_WORD_COMPARISONS))
_PY_BUILTINS = frozenset(dir(builtins))

# Tokens that are never valid in the subset, with the reason given to the user.
_UNSUPPORTED_TOKENS = {
    ("op", "="): "assignment ('=') is not supported; use '==' to compare",
    ("op", "+="): "string concatenation ('+=') is not supported",
    ("op", ";"): "several expressions separated by ';' are not supported",
    ("op", "->"): "lambda expressions are not supported",
    ("op", "{"): "set and map literals are not supported",
    ("kw", "instanceof"): "the 'instanceof' operator is not supported",
}

_TWO_CHAR_OPS = ("==", "!=", "<=", ">=", "&&", "||", "+=", "->")
_ONE_CHAR_OPS = "+-*/%<>!?:.[](),;={}"

# Python precedence levels of the generated source (higher binds tighter).
_P_TERNARY, _P_OR, _P_AND, _P_NOT, _P_CMP, _P_ADD, _P_MUL, _P_NEG, _P_ATOM = range(9)

_EQUALITY = {"==": "==", "eq": "==", "!=": "!=", "ne": "!="}
_RELATIONAL = {"<": "<", "lt": "<", ">": ">", "gt": ">", "<=": "<=", "le": "<=", ">=": ">=", "ge": ">="}
_COMPARE = {"==": "_sf_eq", "<": "_sf_lt", ">": "_sf_gt", "<=": "_sf_le", ">=": "_sf_ge"}  # JUEL coercion
_ADDITIVE = {"+": "_sf_add", "-": "_sf_sub"}  # JUEL arithmetic (coercion, Java's division and remainder)
_MULTIPLICATIVE = {"*": "_sf_mul", "/": "_sf_div", "div": "_sf_div", "%": "_sf_mod", "mod": "_sf_mod"}


ASCII_DIGITS = frozenset("0123456789")  # a number starts with one (JUEL, FEEL): "²" is a digit to isdigit()


# --------------------------------------------------------------------------------------------------
# Runtime helpers (called by the generated code)
# --------------------------------------------------------------------------------------------------


def _sf_empty(value: Any) -> bool:
    """JUEL ``empty``: True for None, an empty string and an empty collection."""
    if value is None:
        return True
    if isinstance(value, Sized):
        return len(value) == 0
    return False


def _sf_get(obj: Any, name: str) -> Any:
    """JUEL property access ``obj.name``: a dict key (None when missing), else a public attribute."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    if name.startswith("_"):
        raise AttributeError(f"property '{name}' of a {type(obj).__name__} value is not accessible")
    try:
        # The sandbox's attribute guard: no str.format and other escapes through property access.
        return guarded_getattr(obj, name)
    except AttributeError:
        raise AttributeError(f"property '{name}' not found on a {type(obj).__name__} value") from None


def _sf_index(obj: Any, key: Any) -> Any:
    """JUEL index access ``obj[key]``: dict key or list position (None when missing or out of range)."""
    if obj is None or key is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    if isinstance(obj, Sequence):
        index = _to_index(key)
        return obj[index] if 0 <= index < len(obj) else None
    if isinstance(key, str):
        return _sf_get(obj, key)
    raise TypeError(f"a {type(obj).__name__} value cannot be indexed with {key!r}")


def _to_index(key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, str):
        try:
            return int(key.strip())
        except ValueError:
            pass
    raise TypeError(f"a list index must be a whole number, not {key!r}")


def _sf_str(value: Any) -> str:
    """Render a value inside composite text like JUEL: None as "", booleans as "true"/"false", a date as Java's
    `Date.toString()` in UTC (`Sat Dec 05 07:28:15 UTC 2026`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.strftime("%a %b %d %H:%M:%S UTC %Y")
    return str(value)


def _text_arg(value: Any, method: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{method}() takes a string, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__} value"


def _substring(s: str, begin: Any, end: Any = None) -> str:
    begin, end = _to_index(begin), len(s) if end is None else _to_index(end)
    if not 0 <= begin <= end <= len(s):
        raise IndexError(f"substring({begin}, {end}) is out of range for a text of {len(s)} characters")
    return s[begin:end]


# The methods a JUEL expression may call, by the kind of value they are called on (Java's behaviour on Python's
# values): name -> (number of arguments allowed, function of the value and the arguments).
_TEXT_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "length": ((0,), len),
    "isEmpty": ((0,), lambda s: len(s) == 0),
    "isBlank": ((0,), lambda s: not s.strip()),
    "trim": ((0,), str.strip),
    "toUpperCase": ((0,), str.upper),
    "toLowerCase": ((0,), str.lower),
    "startsWith": ((1,), lambda s, x: s.startswith(_text_arg(x, "startsWith"))),
    "endsWith": ((1,), lambda s, x: s.endswith(_text_arg(x, "endsWith"))),
    "contains": ((1,), lambda s, x: _text_arg(x, "contains") in s),
    "indexOf": ((1,), lambda s, x: s.find(_text_arg(x, "indexOf"))),
    "concat": ((1,), lambda s, x: s + _text_arg(x, "concat")),
    "substring": ((1, 2), _substring),
    "replace": ((2,), lambda s, a, b: s.replace(_text_arg(a, "replace"), _text_arg(b, "replace"))),
    "equalsIgnoreCase": ((1,), lambda s, x: isinstance(x, str) and s.casefold() == x.casefold()),
    "charAt": ((1,), lambda s, i: s[_to_index(i)]),
}
_LIST_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "size": ((0,), len),
    "isEmpty": ((0,), lambda c: len(c) == 0),
    "contains": ((1,), lambda c, x: x in c),
    "get": ((1,), lambda c, i: c[_to_index(i)]),
    "indexOf": ((1,), lambda c, x: list(c).index(x) if x in c else -1),
}
_MAP_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "size": ((0,), len),
    "isEmpty": ((0,), lambda c: len(c) == 0),
    "containsKey": ((1,), lambda c, k: k in c),
    "containsValue": ((1,), lambda c, v: v in c.values()),
    "get": ((1,), lambda c, k: c.get(k)),
}
_ANY_METHODS: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
    "equals": ((1,), lambda a, b: (a == b and type(a) is type(b)) or (_number(a) and _number(b) and a == b)),
    "toString": ((0,), lambda a: _sf_str(a)),
}
METHODS = frozenset((*_TEXT_METHODS, *_LIST_METHODS, *_MAP_METHODS, *_ANY_METHODS, *DATE_TIME_METHODS,
                     *DATE_METHODS))
"""The method names a JUEL expression may call (on text, lists, maps, and Java bean getters on a map)."""
_FUNCTIONS = {"now": "_sf_now", "dateTime": "_sf_date_time"}  # Camunda's JUEL functions (`engine.juel_dates`)
_GETTER = re.compile(r"^(get|is)([A-Z][A-Za-z0-9_]*)$")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _sf_call(obj: Any, name: str, *args: Any) -> Any:
    """JUEL method call ``obj.name(args)``: a method of :data:`METHODS` as Java runs it on a string, a list or a
    map, or a bean getter (``getTotal()``, ``isGold()``) on a map: its property (``total``, ``gold``)."""
    if obj is None:
        raise TypeError(f"cannot call {name}() on null")
    table = (_TEXT_METHODS if isinstance(obj, str) else _MAP_METHODS if isinstance(obj, Mapping)
             else _LIST_METHODS if isinstance(obj, (list, tuple)) else DATE_TIME_METHODS if isinstance(obj, DateTime)
             else DATE_METHODS if isinstance(obj, datetime) else {})
    found = table.get(name) or _ANY_METHODS.get(name)
    if found is not None:
        counts, fn = found
        if len(args) not in counts:
            raise TypeError(f"{name}() takes {' or '.join(map(str, counts))} argument(s), not {len(args)}")
        return fn(obj, *args)
    getter = _GETTER.match(name)
    if getter and not args and isinstance(obj, Mapping):
        prop = getter.group(2)[0].lower() + getter.group(2)[1:]
        if prop in obj:
            return obj[prop]
    raise AttributeError(f"{_kind(obj)} has no method {name}() with {len(args)} argument(s)")


def _sf_var(name: str) -> Any:
    """``execution.getVariable(name)``: the variable's value in the caller's evaluation, None when unset.

    Looks the name up in the evaluating frame's locals, then globals (where SpiffWorkflow puts task data);
    Python builtins are never returned.
    """
    if name.startswith("__") or (name.startswith(RESERVED_PREFIX) and name != BUSINESS_KEY_VARIABLE
                                 and name not in _EXECUTION_NAMES):
        raise NameError(f"variable name '{name}' is reserved")
    value = _evaluating_value(name)
    return None if value is _UNSET else value


_UNSET = object()


def _evaluating_value(name: str) -> Any:
    """The value of `name` in the frame evaluating an expression (two frames up: the helper the expression called
    is between): its locals, then its globals, where SpiffWorkflow puts task data; `_UNSET` when neither has it.
    A dunder name (`__builtins__`) is never looked up: the frame's would hand out the interpreter."""
    if not isinstance(name, str) or name.startswith("__"):
        raise NameError(f"variable name '{name}' is reserved")
    frame = sys._getframe(2)
    try:
        if name in frame.f_locals:
            return frame.f_locals[name]
        return frame.f_globals.get(name, _UNSET)
    finally:
        del frame


# JUEL comparison (EL 3.0, 1.8 and 1.9): `==`, `!=`, `<`, `>`, `<=`, `>=` coerce their operands by type before
# comparing. With a floating-point operand both become doubles; with an integer one, longs; (for `==`/`!=`)
# with a boolean one, booleans; with a string one, strings. A string becomes a number as Java's `Long.valueOf` or
# `Double.valueOf` reads it ('' is 0; a long takes no spaces around it) and a boolean when it reads "true" (any
# case, nothing around it); a boolean never becomes a number. `null` equals only `null`, and
# every ordering with `null` is false except `null <= null` and `null >= null`.


def _el_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return "object"


_JAVA_LONG = re.compile(r"[+-]?\d+")  # Long.valueOf: no spaces, no underscores (Python's int takes both)
_JAVA_DOUBLE = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")
_JAVA_HEX_DOUBLE = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?")
_JAVA_SPACE = "".join(map(chr, range(33)))  # what Java's String.trim() drops: every character up to ' '


def _java_number(text: str, kind: str) -> int | float | None:
    """`text` read as Java's `Long.valueOf` (`kind` "long") or `Double.valueOf` reads it; None when it refuses."""
    if kind == "long":
        return int(text) if _JAVA_LONG.fullmatch(text) else None
    text = text.strip(_JAVA_SPACE)  # Double.valueOf trims; Long.valueOf does not
    if _JAVA_DOUBLE.fullmatch(text):
        return float(text.rstrip("fFdD").replace("Infinity", "inf"))
    if _JAVA_HEX_DOUBLE.fullmatch(text):
        return float.fromhex(text.rstrip("fFdD"))
    return None


def _el_number(value: Any, kind: str) -> int | float:
    """`value` coerced to a long (`kind` "long") or a double, as JUEL does; TypeError/ValueError when it can't."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"cannot coerce {_shown(value)} to a number")
    if isinstance(value, str):
        if not value:  # only the empty text is 0: JUEL tests `"".equals(value)` before parsing
            return 0
        number = _java_number(value, kind)
        if number is None:
            raise ValueError(f"cannot coerce {_shown(value)} to a number")
        return number
    return int(value) if kind == "long" and not isinstance(value, int) else value


def _el_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"  # Boolean.valueOf: "true" in any case, nothing around it
    raise TypeError(f"cannot coerce {_shown(value)} to a boolean")


def _el_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def _el_operands(a: Any, b: Any, *, equality: bool) -> tuple[Any, Any]:
    kinds = {_el_kind(a), _el_kind(b)}
    if "double" in kinds:
        return float(_el_number(a, "double")), float(_el_number(b, "double"))
    if "long" in kinds:
        if isinstance(a, str) and "." in a or isinstance(b, str) and "." in b:  # '2.5' against a long
            return float(_el_number(a, "double")), float(_el_number(b, "double"))
        return _el_number(a, "long"), _el_number(b, "long")
    if equality and "boolean" in kinds:
        return _el_boolean(a), _el_boolean(b)
    if "string" in kinds:
        return _el_string(a), _el_string(b)
    return a, b


def _sf_eq(a: Any, b: Any) -> bool:
    """JUEL ``a == b`` with EL coercion: ``flag == 'true'`` holds for the boolean true, ``n == '3'`` for 3."""
    if a is None or b is None:
        return a is b
    x, y = _el_operands(a, b, equality=True)
    return bool(x == y)


def _sf_lt(a: Any, b: Any) -> bool:
    """JUEL ``a < b`` with EL coercion (false when either is null)."""
    if a is None or b is None:
        return False
    x, y = _el_operands(a, b, equality=False)
    return bool(x < y)


def _sf_gt(a: Any, b: Any) -> bool:
    """JUEL ``a > b`` with EL coercion (false when either is null)."""
    return _sf_lt(b, a)


def _sf_le(a: Any, b: Any) -> bool:
    """JUEL ``a <= b`` with EL coercion (``null <= null`` holds; otherwise false when either is null)."""
    if a is None or b is None:
        return a is b
    x, y = _el_operands(a, b, equality=False)
    return bool(x <= y)


def _sf_ge(a: Any, b: Any) -> bool:
    """JUEL ``a >= b`` with EL coercion."""
    return _sf_le(b, a)


# JUEL arithmetic (EL 2.2, 1.7): `+`, `-`, `*` and `%` coerce both operands to doubles when either is a
# floating-point number or a string with '.', 'e' or 'E' in it, else to longs (a string by parsing, null as 0; a
# boolean or another object is an error: `+` joins no strings). `/` always divides doubles, so `1 / 0` is
# Infinity; a long `%` takes the sign of the dividend, as Java's does. A long result is a Long (a variable it sets
# is one, as in Camunda) and wraps around past 64 bits, as Java's does.


def _java_long(value: int | float) -> int | float:
    if isinstance(value, float):
        return value
    return Long((value + 2**63) % 2**64 - 2**63)


def _el_arithmetic(a: Any, b: Any, op: str) -> tuple[int | float, int | float]:
    double = any(isinstance(v, float) or isinstance(v, str) and any(c in v for c in ".eE") for v in (a, b))
    kind = "double" if double else "long"
    try:
        x = 0 if a is None else _el_number(a, kind)
        y = 0 if b is None else _el_number(b, kind)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{err} for '{op}'") from None
    return (float(x), float(y)) if double else (x, y)


def _sf_add(a: Any, b: Any) -> int | float:
    """JUEL ``a + b``: numbers only, with EL coercion (``'3' + 1`` is 4)."""
    x, y = _el_arithmetic(a, b, "+")
    return _java_long(x + y)


def _sf_sub(a: Any, b: Any) -> int | float:
    """JUEL ``a - b`` with EL coercion."""
    x, y = _el_arithmetic(a, b, "-")
    return _java_long(x - y)


def _sf_mul(a: Any, b: Any) -> int | float:
    """JUEL ``a * b`` with EL coercion (``'3' * 2`` is 6, not '33')."""
    x, y = _el_arithmetic(a, b, "*")
    return _java_long(x * y)


def _sf_div(a: Any, b: Any) -> float:
    """JUEL ``a / b`` (``div``): a double; dividing by zero gives Infinity or NaN, as in Java."""
    x, y = (float(v) for v in _el_arithmetic(float(0) if a is None else a, b, "/"))
    if y == 0:
        return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1, y)
    return x / y


def _sf_mod(a: Any, b: Any) -> int | float:
    """JUEL ``a % b`` (``mod``): Java's remainder, with the sign of the dividend; a long modulo zero fails."""
    x, y = _el_arithmetic(a, b, "%")
    if isinstance(x, float):
        return math.nan if y == 0 else math.fmod(x, y)
    if y == 0:
        raise ZeroDivisionError("/ by zero")
    remainder = abs(x) % abs(y)
    return _java_long(-remainder if x < 0 else remainder)


def _sf_neg(a: Any) -> int | float:
    """JUEL unary ``-a`` with EL coercion (null is 0, ``-'2'`` is -2)."""
    x, _ = _el_arithmetic(a, 0, "-")
    return _java_long(-x)


def _sf_name(name: str) -> Any:
    """A variable named in an expression whose name is also a Python builtin or keyword (`input`, `type`): its
    value, and, as for any other name, an error when it is not set (JUEL's "Cannot resolve identifier").
    Only such names: none starts with `_` (a Python condition may call this helper with any text)."""
    if not isinstance(name, str) or name.startswith("_"):
        raise NameError(f"variable name '{name}' is reserved")
    value = _evaluating_value(name)
    if value is _UNSET:
        raise NameError(f"name '{name}' is not defined")
    return value


def _sf_bool(value: Any) -> bool:
    """JUEL's coercion to a boolean (EL 1.8.2): null and '' are false, a text is true when it reads "true" (any
    case); a number or another object is an error, as in JUEL."""
    return False if value is None else _el_boolean(value)


def _sf_condition(value: Any) -> bool:
    """A JUEL condition's result, as Camunda's UelExpressionCondition takes it: a boolean, never coerced."""
    if isinstance(value, bool):
        return value
    if value is None:
        raise ValueError("condition expression returns null")
    raise ValueError(f"condition expression returns non-Boolean: result has class {_java_class(value)} and not "
                     "java.lang.Boolean")


def _java_class(value: Any) -> str:
    """The Java class Camunda would hold `value` as, for messages."""
    for kind, name in ((str, "java.lang.String"), (int, "java.lang.Long"), (float, "java.lang.Double"),
                       (list, "java.util.ArrayList"), (dict, "java.util.LinkedHashMap"), (datetime, "java.util.Date")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _sf_cardinality(value: Any) -> int:
    """A multi-instance activity's loop cardinality as Camunda reads it: a number (a fraction dropped) or a text of
    a whole number, not negative."""
    if isinstance(value, str) and _JAVA_LONG.fullmatch(value):
        value = int(value)  # Integer.valueOf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(value, float) and (
            not math.isfinite(value)):
        raise ValueError(f"the loop cardinality is {_shown(value)}: it must be a whole number")
    if value < 0:  # Camunda's words
        raise ValueError(f"Invalid number of instances: must be a non-negative integer value, but was {int(value)}")
    return int(value)


RUNTIME_HELPERS: dict[str, Callable[..., Any]] = {
    "_sf_cardinality": _sf_cardinality,
    "_sf_bool": _sf_bool,
    "_sf_condition": _sf_condition,
    "_sf_empty": _sf_empty,
    "_sf_get": _sf_get,
    "_sf_index": _sf_index,
    "_sf_call": _sf_call,
    "_sf_str": _sf_str,
    "_sf_var": _sf_var,
    "_sf_name": _sf_name,
    "_sf_eq": _sf_eq,
    "_sf_lt": _sf_lt,
    "_sf_gt": _sf_gt,
    "_sf_le": _sf_le,
    "_sf_ge": _sf_ge,
    "_sf_add": _sf_add,
    "_sf_sub": _sf_sub,
    "_sf_mul": _sf_mul,
    "_sf_div": _sf_div,
    "_sf_mod": _sf_mod,
    "_sf_neg": _sf_neg,
    "_sf_now": now,
    "_sf_date_time": date_time,
}
"""Functions the generated code calls; put them into the evaluation globals."""


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def _error(element_id: str | None, what: str, text: str, reason: str) -> ExpressionError:
    prefix = f"element '{element_id}': " if element_id else ""
    err = ExpressionError(f"{prefix}{what} '{text}': {reason}")
    err.element_id = element_id  # type: ignore[attr-defined]
    err.expression = text  # type: ignore[attr-defined]
    err.reason = reason  # type: ignore[attr-defined]
    return err


class _Fail(Exception):
    """Internal: a translation problem, turned into ExpressionError with the element and text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


_Tok = Token


def _at(pos: int) -> str:
    return f" at column {pos + 1}"


def _lex(text: str, pos: int, *, braced: bool) -> tuple[list[_Tok], int]:
    """Tokenize from ``pos``; when ``braced``, stop after the ``}`` that closes the expression.

    Returns the tokens (ending with an "end" token) and the offset after the last character consumed.
    """
    tokens: list[_Tok] = []
    depth = 0
    n = len(text)
    i = pos
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "}" and braced and depth == 0:
            tokens.append(_Tok("end", "", i))
            return tokens, i + 1
        elif ch in ASCII_DIGITS or (ch == "." and i + 1 < n and text[i + 1] in ASCII_DIGITS):
            i = _lex_number(text, i, tokens)
        elif ch in "'\"":
            i = _lex_string(text, i, tokens)
        elif ch.isalpha() or ch in "_$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            word = text[i:j]
            tokens.append(_Tok("kw" if word in _JUEL_KEYWORDS else "name", word, i))
            i = j
        elif text[i : i + 2] in _TWO_CHAR_OPS:
            tokens.append(_Tok("op", text[i : i + 2], i))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            tokens.append(_Tok("op", ch, i))
            i += 1
        elif ch in "&|":
            raise _Fail(f"unexpected character '{ch}'{_at(i)} (use '{ch * 2}')")
        else:
            raise _Fail(f"unexpected character '{ch}'{_at(i)}")
    if braced:
        raise _Fail("unterminated expression: missing '}'")
    tokens.append(_Tok("end", "", n))
    return tokens, n


_NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def _lex_number(text: str, i: int, tokens: list[_Tok]) -> int:
    m = _NUMBER.match(text, i)
    assert m is not None  # called on a digit or '.' + digit
    literal = m.group(0)
    if "." in literal or m.group(2):
        value = float(literal)
        if not math.isfinite(value):
            raise _Fail(f"number {literal} is out of range")
        tokens.append(_Tok("float", repr(value), i))
    else:
        tokens.append(_Tok("int", str(int(literal)), i))
    return m.end()


def _lex_string(text: str, i: int, tokens: list[_Tok]) -> int:
    quote = text[i]
    chars: list[str] = []
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == quote:
            tokens.append(_Tok("str", "".join(chars), i))
            return j + 1
        if ch == "\\":
            nxt = text[j + 1 : j + 2]
            if nxt not in ("'", '"', "\\"):
                raise _Fail(
                    f"invalid escape sequence '\\{nxt}' in string literal{_at(j)}; "
                    "only \\' \\\" and \\\\ are supported"
                )
            chars.append(nxt)
            j += 2
        else:
            chars.append(ch)
            j += 1
    raise _Fail(f"unterminated string literal{_at(i)}")


# --------------------------------------------------------------------------------------------------
# Parser / emitter
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Py:
    """A piece of generated Python source and the precedence of its outermost operator."""

    src: str
    prec: int
    is_null: bool = False
    is_bool: bool = False  # always a boolean (a comparison, `empty`, `!`, `&&`): needs no coercion to one

    def at(self, min_prec: int) -> str:
        """The source, parenthesized when it binds looser than ``min_prec``."""
        return self.src if self.prec >= min_prec else f"({self.src})"

    def boolean(self) -> _Py:
        """This value coerced to a boolean as JUEL's `!`, `&&`, `||` and `? :` coerce their operands."""
        return self if self.is_bool else _Py(f"_sf_bool({self.src})", _P_ATOM, is_bool=True)


def _check_variable_name(name: str) -> None:
    """Reject JUEL identifiers that cannot be a Python variable reference."""
    hint = f"; use execution.getVariable('{name}')"
    juel_literal = {"True": "true", "False": "false", "None": "null"}.get(name)
    if juel_literal:
        raise _Fail(
            f"'{name}' is not a JUEL literal and clashes with the Python keyword; "
            f"JUEL spells it '{juel_literal}'"
        )
    if name.startswith("__"):
        raise _Fail(f"names starting with '__' are not allowed ('{name}')")
    if name.startswith(RESERVED_PREFIX):
        raise _Fail(f"variable names starting with '{RESERVED_PREFIX}' are reserved ('{name}')")
    if keyword.iskeyword(name):
        raise _Fail(f"variable '{name}' clashes with the Python keyword '{name}'{hint}")
    if name in _PY_BUILTINS:
        raise _Fail(f"variable '{name}' clashes with the Python builtin '{name}'{hint}")
    if not name.isidentifier():
        raise _Fail(f"'{name}' is not a valid Python variable name{hint}")


def _describe(tok: _Tok) -> str:
    if tok.kind == "end":
        return "unexpected end of expression"
    shown = repr(tok.value) if tok.kind == "str" else f"'{tok.value}'"
    return f"unexpected {shown}{_at(tok.pos)}"


class _Parser(TokenCursor):
    """Recursive descent over JUEL precedence levels, emitting Python source."""

    def expect_op(self, value: str, context: str) -> None:
        if not self.is_op(value):
            raise _Fail(f"{_describe(self.tok)}, expected '{value}' {context}")
        self.next()

    def match_word(self, table: Mapping[str, str]) -> str | None:
        tok = self.tok
        if tok.kind in ("op", "kw") and tok.value in table:
            self.next()
            return table[tok.value]
        return None

    # -- grammar
    def parse(self) -> _Py:
        for tok in self.tokens:
            reason = _UNSUPPORTED_TOKENS.get((tok.kind, tok.value))
            if reason:
                raise _Fail(reason)
        if self.tok.kind == "end":
            raise _Fail("the expression is empty")
        result = self.ternary()
        if self.tok.kind != "end":
            raise _Fail(_describe(self.tok))
        return result

    def ternary(self) -> _Py:
        cond = self.logical_or()
        if not self.is_op("?"):
            return cond
        self.next()
        yes = self.ternary()
        self.expect_op(":", "in 'condition ? value : value'")
        no = self.ternary()
        return _Py(f"{yes.at(_P_OR)} if {cond.boolean().at(_P_OR)} else {no.at(_P_TERNARY)}", _P_TERNARY)

    def _logical(self, operand: Callable[[], _Py], table: Mapping[str, str], prec: int) -> _Py:
        left = operand()
        while (op := self.match_word(table)) is not None:
            right = operand()
            left = _Py(f"{left.boolean().at(prec)} {op} {right.boolean().at(prec + 1)}", prec, is_bool=True)
        return left

    def logical_or(self) -> _Py:
        return self._logical(self.logical_and, {"||": "or", "or": "or"}, _P_OR)

    def logical_and(self) -> _Py:
        return self._logical(self.equality, {"&&": "and", "and": "and"}, _P_AND)

    def _comparison(self, operand: Callable[[], _Py], table: Mapping[str, str]) -> _Py:
        # JUEL comparisons are left-associative binary operators; Python would chain them, so
        # nested comparisons are always parenthesized.
        left = operand()
        while (op := self.match_word(table)) is not None:
            right = operand()
            if op in ("==", "!=") and (left.is_null or right.is_null):
                op = "is" if op == "==" else "is not"
                if left.is_null and not right.is_null:
                    left, right = right, left
                left = _Py(f"{left.at(_P_ADD)} {op} {right.at(_P_ADD)}", _P_CMP, is_bool=True)
            elif op == "!=":
                left = _Py(f"not _sf_eq({left.src}, {right.src})", _P_NOT, is_bool=True)
            else:
                left = _Py(f"{_COMPARE[op]}({left.src}, {right.src})", _P_ATOM, is_bool=True)
        return left

    def equality(self) -> _Py:
        return self._comparison(self.relational, _EQUALITY)

    def relational(self) -> _Py:
        return self._comparison(self.additive, _RELATIONAL)

    def _arithmetic(self, operand: Callable[[], _Py], table: Mapping[str, str]) -> _Py:
        left = operand()
        while (helper := self.match_word(table)) is not None:
            right = operand()
            left = _Py(f"{helper}({left.src}, {right.src})", _P_ATOM)
        return left

    def additive(self) -> _Py:
        return self._arithmetic(self.multiplicative, _ADDITIVE)

    def multiplicative(self) -> _Py:
        return self._arithmetic(self.unary, _MULTIPLICATIVE)

    def unary(self) -> _Py:
        tok = self.tok
        if self.is_op("!") or (tok.kind == "kw" and tok.value == "not"):
            self.next()
            return _Py(f"not {self.unary().boolean().at(_P_NOT)}", _P_NOT, is_bool=True)
        if self.is_op("-"):
            self.next()
            if self.tok.kind in ("int", "float"):  # a negative number
                return _Py(f"-{self.unary().at(_P_NEG)}", _P_NEG)
            return _Py(f"_sf_neg({self.unary().src})", _P_ATOM)
        if tok.kind == "kw" and tok.value == "empty":
            self.next()
            return _Py(f"_sf_empty({self.unary().src})", _P_ATOM, is_bool=True)
        return self.value()

    def value(self) -> _Py:
        result = self.primary()
        while True:
            if self.is_op("."):
                self.next()
                tok = self.next()
                if tok.kind not in ("name", "kw"):
                    raise _Fail(f"{_describe(tok)}, expected a property name after '.'")
                if self.is_op("("):
                    result = self.method_call(result, tok.value)
                    continue
                if tok.value.startswith("__"):
                    raise _Fail(f"names starting with '__' are not allowed ('{tok.value}')")
                result = _Py(f"_sf_get({result.src}, {tok.value!r})", _P_ATOM)
            elif self.is_op("["):
                self.next()
                key = self.ternary()
                self.expect_op("]", "to close '['")
                result = _Py(f"_sf_index({result.src}, {key.src})", _P_ATOM)
            elif self.is_op("("):
                raise _Fail("method calls are not supported ('(...)' after a value)")
            else:
                return result

    def method_call(self, target: _Py, name: str) -> _Py:
        """``target.name(args)`` (the cursor is on ``(``): a call of one of :data:`METHODS`, or a bean getter."""
        if name not in METHODS and not _GETTER.match(name):
            raise _Fail(f"method calls are not supported ('.{name}(...)') except {', '.join(sorted(METHODS))} "
                        "and bean getters (getName(), isGold()) on a map")
        self.next()
        args: list[str] = []
        while not self.is_op(")"):
            if args:
                self.expect_op(",", f"between the arguments of '.{name}(...)'")
            args.append(self.ternary().src)
        self.next()
        return _Py(f"_sf_call({', '.join([target.src, repr(name), *args])})", _P_ATOM)

    def primary(self) -> _Py:
        tok = self.next()
        if tok.kind in ("int", "float"):
            return _Py(tok.value, _P_ATOM)
        if tok.kind == "str":
            return _Py(repr(tok.value), _P_ATOM)
        if tok.kind == "kw":
            literal = {"true": "True", "false": "False", "null": "None"}.get(tok.value)
            if literal is None:
                raise _Fail(f"{_describe(tok)}, expected a value")
            return _Py(literal, _P_ATOM, is_null=tok.value == "null", is_bool=tok.value != "null")
        if tok.kind == "name":
            return self.identifier(tok)
        if self.is_op("(", tok=tok):
            inner = self.ternary()  # the emitter re-adds the parentheses Python needs
            self.expect_op(")", "to close '('")
            return inner
        if self.is_op("[", tok=tok):
            raise _Fail("list literals are not supported")
        raise _Fail(f"{_describe(tok)}, expected a value")

    def identifier(self, tok: _Tok) -> _Py:
        name = tok.value
        if name in _FUNCTIONS and self.is_op("(") and self.is_op(")", tok=self.peek()):
            self.next()
            self.next()
            return _Py(f"{_FUNCTIONS[name]}()", _P_ATOM)
        if self.is_op("("):
            raise _Fail(f"function calls are not supported ('{name}(...)')")
        if self.is_op(":") and self.peek().kind == "name" and self.is_op("(", tok=self.peek(2)):
            raise _Fail(f"function calls are not supported ('{name}:{self.peek().value}(...)')")
        if name == "execution":
            return self.execution()
        if not name.startswith("_") and name not in ("True", "False", "None") and (
                keyword.iskeyword(name) or name in _PY_BUILTINS):
            # A process variable called `input`, `type` or `class` is fine in JUEL: read it by name, so it is
            # never mistaken for (or blocked as) the Python builtin or keyword of that name.
            return _Py(f"_sf_name({name!r})", _P_ATOM)
        _check_variable_name(name)
        return _Py(name, _P_ATOM)

    def execution(self) -> _Py:
        supported = (
            "only execution.getVariable('name'), execution.processBusinessKey, execution.businessKey, "
            + ", ".join(f"execution.{name}" for name in EXECUTION_VARIABLES) + " are supported"
        )
        if not self.is_op("."):
            raise _Fail(f"the 'execution' object cannot be used directly; {supported}")
        self.next()
        member = self.next()
        if member.kind not in ("name", "kw"):
            raise _Fail(f"{_describe(member)}, expected a property name after '.'")
        calls = self.is_op("(")
        if not calls and member.value in ("processBusinessKey", "businessKey"):
            return _Py(BUSINESS_KEY_VARIABLE, _P_ATOM)
        if calls and member.value in ("getProcessBusinessKey", "getBusinessKey"):
            self.next()
            self.expect_op(")", f"after 'execution.{member.value}('")
            return _Py(BUSINESS_KEY_VARIABLE, _P_ATOM)
        if not calls and member.value in EXECUTION_VARIABLES:
            return _Py(f"_sf_var({EXECUTION_VARIABLES[member.value]!r})", _P_ATOM)
        if calls and member.value in _EXECUTION_GETTERS:
            self.next()
            self.expect_op(")", f"after 'execution.{member.value}('")
            return _Py(f"_sf_var({EXECUTION_VARIABLES[_EXECUTION_GETTERS[member.value]]!r})", _P_ATOM)
        if calls and member.value == "getVariable":
            self.next()
            arg = self.next()
            if arg.kind != "str" or not self.is_op(")"):
                raise _Fail(
                    "execution.getVariable() takes exactly one string literal, "
                    "e.g. execution.getVariable('amount')"
                )
            self.next()
            name = arg.value
            if not name:
                raise _Fail("execution.getVariable(): the variable name is empty")
            if reserved_name(name):
                raise _Fail(f"execution.getVariable(): variable name '{name}' is reserved")
            return _Py(f"_sf_var({name!r})", _P_ATOM)
        if calls:
            raise _Fail(f"method calls are not supported ('execution.{member.value}(...)'); {supported}")
        raise _Fail(f"'execution.{member.value}' is not supported; {supported}")


# --------------------------------------------------------------------------------------------------
# Text splitting
# --------------------------------------------------------------------------------------------------


def _split(text: str) -> list[str | _Py]:
    """Split text into literal parts (str) and translated ``${...}`` / ``#{...}`` parts (_Py)."""
    parts: list[str | _Py] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 3] in ("${", "#{"):
            literal.append(text[i + 1 : i + 3])
            i += 3
        elif ch in "$#" and text[i + 1 : i + 2] == "{":
            if literal:
                parts.append("".join(literal))
                literal = []
            tokens, i = _lex(text, i + 2, braced=True)
            parts.append(_Parser(tokens).parse())
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _verified(src: str) -> str:
    # The emitter only produces valid Python; this guards against a translation bug.
    try:
        compile(src, "<expression>", "eval")
    except SyntaxError as exc:  # pragma: no cover - would be a bug in this module
        raise _Fail(f"internal error: generated invalid Python {src!r} ({exc.msg})") from None
    return src


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def is_expression(text: str | None) -> bool:
    """True when the text contains a ``${...}`` or ``#{...}`` expression (not escaped as ``\\${``)."""
    return text is not None and _EXPRESSION_START.search(text) is not None


_ORIGINALS: dict[str, str] = {}  # translated source -> the expression as written, for error messages
_ORIGINALS_MAX = 20_000


def _remember(src: str, written: str) -> str:
    if len(_ORIGINALS) >= _ORIGINALS_MAX:
        _ORIGINALS.clear()
    _ORIGINALS[src] = written
    return src


def written_as(source: str, written: str) -> str:
    """Remember that Python `source` (a wrapper the dialect built around a translated expression) was written as
    `written` in the diagram, for `expression_failure`'s messages; returns `source`."""
    return _remember(source, written)


def expression_failure(source: str, error: object) -> str:
    """Why evaluating `source` failed, in the designer's words: the expression as written in the diagram (not its
    translation), and for a variable that is not set Camunda's message ("Unknown property used in expression:
    ${amount > 1}. Cause: Cannot resolve identifier 'amount'")."""
    written = _ORIGINALS.get(source, source)
    missing = re.search(r"NameError: name '([^']+)' is not defined", str(error))
    if missing is not None:
        return f"Unknown property used in expression: {written}. Cause: Cannot resolve identifier '{missing.group(1)}'"
    return f"Error evaluating expression '{written}': {error}"


def juel_to_python(expr: str, *, element_id: str | None = None) -> str:
    """Translate one JUEL expression, either a body (``a > 1``) or a whole ``${a > 1}``, to Python source.

    Raises ExpressionError for anything outside the supported subset or syntactically wrong.
    """
    translated, written = _juel(expr, element_id)
    return _remember(translated.src, written)


def _juel(expr: str, element_id: str | None) -> tuple[_Py, str]:
    """`expr` translated (its source verified) and as it is written whole (`${...}`)."""
    text = expr.strip()
    try:
        if not text:
            raise _Fail("the expression is empty")
        if text.startswith(("${", "#{")):
            parts = _split(text)
            if len(parts) != 1 or isinstance(parts[0], str):
                raise _Fail("expected exactly one ${...} expression with no text around it")
            _verified(parts[0].src)
            return parts[0], text
        tokens, _ = _lex(text, 0, braced=False)
        translated = _Parser(tokens).parse()
        _verified(translated.src)
        return translated, "${" + text + "}"
    except _Fail as fail:
        raise _error(element_id, "expression", text, fail.reason) from None


def condition_to_python(text: str, *, element_id: str | None = None) -> str:
    """Translate a sequence-flow or completion condition to Python source.

    A ``${...}`` condition is JUEL and is translated; any other text is already Python (SpiffWorkflow's
    native form) and is returned stripped once it compiles.
    """
    if is_expression(text):  # Camunda takes a boolean only: `${amount}` is an error, not "true when not zero"
        translated, written = _juel(text, element_id)
        return _remember(translated.src if translated.is_bool else f"_sf_condition({translated.src})", written)
    src = text.strip()
    if not src:
        raise _error(element_id, "condition", src, "the condition is empty")
    try:
        compile(src, "<condition>", "eval")
    except SyntaxError as exc:
        raise _error(
            element_id, "condition", src, f"{exc.msg} (line {exc.lineno}, offset {exc.offset})"
        ) from None
    except ValueError as exc:
        raise _error(element_id, "condition", src, str(exc)) from None
    return src


def text_to_python(text: str, *, element_id: str | None = None) -> str:
    """Translate a Camunda attribute value (assignee, timer, due date, form default, ...) to Python source.

    Text without an expression is a literal: its Python string literal is returned (``'PT5M'``).
    Text that is exactly one ``${expr}`` (surrounding whitespace ignored) becomes that expression,
    keeping the value's type.  Composite text (``Order ${id} for ${name}``) becomes a string
    concatenation in which each expression is rendered like JUEL does: None as "", booleans as
    "true"/"false", anything else with ``str()``.
    """
    if not is_expression(text):
        return repr(text.replace("\\${", "${").replace("\\#{", "#{"))
    try:
        stripped = text.strip()
        parts = _split(stripped)
        if len(parts) == 1 and isinstance(parts[0], _Py):
            return _remember(_verified(parts[0].src), stripped)
        parts = _split(text)
        pieces = [repr(part) if isinstance(part, str) else f"_sf_str({part.src})" for part in parts]
        return _remember(_verified(" + ".join(pieces)), stripped)
    except _Fail as fail:
        raise _error(element_id, "expression", text.strip(), fail.reason) from None
