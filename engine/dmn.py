"""Stageflow's own DMN engine: decision tables and literal expressions, evaluated as Camunda 7 evaluates them.

:func:`parse_dmn` reads every ``decision`` of a DMN 1.1, 1.2, 1.3 or 1.5 file (as returned by
:func:`engine.xmlsafe.parse_xml`) into a :class:`Decision`.  Every cell is translated ONCE, at parse time,
into a Python expression; :meth:`Decision.evaluate` runs those expressions in the
:class:`~engine.sandbox.ScriptSandbox` and applies the hit policy.  Every parse problem is a
:class:`~engine.errors.DefinitionError` naming the file, the element (rule or decision id) and the line;
every evaluation problem is a :class:`DecisionError` (a :class:`~engine.errors.ScriptError`) naming the
decision and the rule, input or output.

Expression languages
--------------------
* Input entries (unary tests), FEEL by default: ``-`` or empty (any value); literals ``"gold"``,
  ``'gold'``, ``42``, ``-1.5``, ``true``, ``false``, ``null``; comparisons ``< 10``, ``<= x``, ``> limit``,
  ``>= date("2026-01-01")``; ranges ``[1..10]``, ``]1..10[``, ``(1..10)``, ``[1..10)``; disjunctions
  ``"a","b"`` / ``< 5, > 10``; ``not(...)`` around any of those; a boolean expression using ``?`` (the
  input value) or the input variable (``cellInput``), e.g. ``? > limit and ? < 100``; and ``${...}`` JUEL
  (or ``expressionLanguage="juel"``), which matches when it evaluates to ``true``.  Strings compare exactly,
  numbers as numbers (``1 = 1.0``, but never ``1 = true`` or ``"1" = 1``); values of different types never
  match and never raise.  A ``None`` input matches only ``-``/empty, ``null`` (also in a list) and a JUEL or
  ``?`` expression that accepts it: ``not(...)`` does not match ``None``.
* Input expressions, output entries and literal expressions: ``${...}`` or ``expressionLanguage="juel"`` is
  JUEL (:func:`engine.expressions.juel_to_python`); anything else is a small FEEL subset: literals, names
  and paths (``customer.category``), ``+ - * / **``, ``= != < <= > >=``, ``and``/``or``/``not(x)``,
  ``if c then a else b``, parentheses, ``date(...)``, ``date and time(...)``, ``time(...)``,
  ``duration(...)`` (days to seconds).  Plain text that is not valid in that subset but is valid JUEL
  without ``${}`` (``a > 1 && b``) is taken as JUEL, as Camunda's pre-FEEL default was.  An unknown
  variable is an error (Camunda: "Unknown property used in expression"); arithmetic on ``None`` fails.
* ``date`` and ``date and time`` values compare with ``datetime.date``/``datetime`` values and ISO strings;
  a date compared with a datetime compares the datetime's date; a naive datetime compared with an aware
  one is taken as UTC.

Not supported (a :class:`~engine.errors.DefinitionError` at parse time): other expression languages
(groovy, javascript, python), FEEL lists, filters, contexts, ``for``/``some``/``every``/``between``/``in``,
functions other than the four above (``now()``/``today()`` too: they would bypass the engine clock),
names with spaces, ``@"..."`` temporal literals; decision logic other than a decision table or a literal
expression (contexts, invocations, BKMs).  ``inputValues``, ``defaultOutputEntry`` and ``requiredInput``
are ignored, as Camunda 7 ignores them.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree

from engine.errors import DefinitionError, ExpressionError, ScriptError, ScriptRejected
from engine.expressions import ASCII_DIGITS, RUNTIME_HELPERS, is_expression, juel_to_python, reserved_name
from engine.feel_functions import FUNCTIONS as FEEL_FUNCTIONS
from engine.feel_functions import HELPERS as FEEL_HELPERS
from engine.feel_functions import helper_name as feel_helper_name
from engine.sandbox import ScriptFailure, ScriptSandbox
from engine.tokens import Token, TokenCursor
from engine.xmlsafe import DMN_MODEL_NAMESPACES, element_line

__all__ = [
    "AGGREGATIONS",
    "CAMUNDA_DMN_NS",
    "DMN_HELPERS",
    "HIT_POLICIES",
    "RESULT_KINDS",
    "Decision",
    "DecisionError",
    "DecisionInput",
    "DecisionOutput",
    "DecisionResult",
    "DecisionRule",
    "feel_expression_to_python",
    "feel_unary_tests_to_python",
    "parse_dmn",
]

CAMUNDA_DMN_NS = "http://camunda.org/schema/1.0/dmn"

HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")
RESULT_KINDS = ("singleEntry", "singleResult", "collectEntries", "resultList")

DEFAULT_INPUT_VARIABLE = "cellInput"

# Names the generated code reads from its evaluation context (all start with the reserved prefix `_sf_`).
_IN = "_sf_dmn_in"  # the value of the input column being tested
_VARS = "_sf_dmn_vars"  # the variables, for FEEL name lookups


class DecisionError(ScriptError):
    """A decision failed while it was evaluated (a cell raised, a hit policy was violated, ...).

    Subclasses :class:`~engine.errors.ScriptError`, so the engine treats it like a failing script.  The
    message names the decision and, where one applies, the rule, input or output; ``decision_id`` and
    ``rule_ids`` carry them too.
    """

    def __init__(
        self,
        message: str,
        *,
        decision_id: str | None = None,
        rule_ids: Iterable[str] = (),
        element_id: str | None = None,
        instance_id: str | None = None,
        line: int | None = None,
    ) -> None:
        self.decision_id = decision_id
        self.rule_ids = tuple(rule_ids)
        super().__init__(message, element_id=element_id, instance_id=instance_id, line=line)


# --------------------------------------------------------------------------------------------------
# Runtime helpers (called by the generated code)
# --------------------------------------------------------------------------------------------------

_NUMBER_TYPES = (int, float, Decimal)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def _temporal_kind(value: Any) -> str | None:
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return None


def _parse_temporal(text: str, kind: str) -> Any:
    if kind == "date":
        return _sf_dmn_date(text)
    if kind == "datetime":
        return _sf_dmn_datetime(text)
    return _sf_dmn_time(text)


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """``(a, b)`` made comparable (numbers, strings, booleans, temporal values), or None when they are not."""
    if _is_number(a) and _is_number(b):
        return a, b
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a, b
    if isinstance(a, bool) or isinstance(b, bool):
        return (a, b) if isinstance(a, bool) and isinstance(b, bool) else None
    ka, kb = _temporal_kind(a), _temporal_kind(b)
    if ka or kb:
        try:
            if ka is None:
                if not isinstance(a, str):
                    return None
                a, ka = _parse_temporal(a, kb), kb  # type: ignore[arg-type]
            elif kb is None:
                if not isinstance(b, str):
                    return None
                b, kb = _parse_temporal(b, ka), ka
        except ValueError:
            return None
        if ka == kb:
            if ka != "date" and (a.tzinfo is None) != (b.tzinfo is None):
                if ka == "time":
                    return None
                a = a if a.tzinfo else a.replace(tzinfo=UTC)
                b = b if b.tzinfo else b.replace(tzinfo=UTC)
            return a, b
        if {ka, kb} == {"date", "datetime"}:
            return (a.date() if ka == "datetime" else a), (b.date() if kb == "datetime" else b)
        return None
    if a is None or b is None:
        return None
    if ta is tb or isinstance(a, tb) or isinstance(b, ta):
        return a, b
    return None


def _sf_dmn_eq(a: Any, b: Any) -> bool:
    """FEEL ``a = b``: null equals only null; values of different types are not equal."""
    if a is None or b is None:
        return a is None and b is None
    pair = _comparable(a, b)
    if pair is None:
        return False
    try:
        return bool(pair[0] == pair[1])
    except (TypeError, ValueError):
        return False


_COMPARATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _sf_dmn_cmp(a: Any, op: str, b: Any) -> bool:
    """FEEL ``a < b`` (and ``<=``, ``>``, ``>=``): False for null and for values that have no order."""
    if a is None or b is None:
        return False
    pair = _comparable(a, b)
    if pair is None or isinstance(pair[0], bool):
        return False
    try:
        return bool(_COMPARATORS[op](*pair))
    except (TypeError, ValueError):
        return False


def _sf_dmn_range(value: Any, low: Any, low_closed: bool, high: Any, high_closed: bool) -> bool:
    """FEEL range test ``[low..high]`` with open (``]``/``(``) or closed ends."""
    return _sf_dmn_cmp(value, ">=" if low_closed else ">", low) and _sf_dmn_cmp(
        value, "<=" if high_closed else "<", high
    )


def _sf_dmn_test(value: Any, result: Any) -> bool:
    """An input entry that is an expression (`age > 17`, `limit`, `[1, 2]` given by a variable): it holds when the
    expression gives true, equals the input, or is a list that holds the input (feel-scala's
    `unaryTestExpression`, Camunda 7's FEEL engine)."""
    if result is True or _sf_dmn_eq(value, result):
        return True
    return isinstance(result, list) and any(_sf_dmn_eq(value, item) for item in result)


def _sf_dmn_true(value: Any) -> bool:
    """A boolean test result: only ``True`` counts (Camunda: ``result.equals(true)``)."""
    return value is True


def _sf_dmn_var(variables: Mapping[str, Any], name: str) -> Any:
    """A FEEL name: the variable's value; an unknown variable is an error, as in Camunda."""
    try:
        return variables[name]
    except KeyError:
        raise NameError(f"Unknown property used in expression: cannot resolve identifier '{name}'") from None


def _sf_dmn_date(value: Any) -> date | None:
    """FEEL ``date(x)``: from an ISO ``yyyy-mm-dd`` string, a date or a datetime (its date)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise TypeError(f"date() needs a string, a date or a datetime, not {type(value).__name__}")


def _sf_dmn_datetime(value: Any) -> datetime | None:
    """FEEL ``date and time(x)``: from an ISO string, a datetime or a date (midnight)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip())
    raise TypeError(f"date and time() needs a string, a date or a datetime, not {type(value).__name__}")


def _sf_dmn_time(value: Any) -> time | None:
    """FEEL ``time(x)``: from an ISO ``hh:mm[:ss]`` string, a time or a datetime (its time)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        return time.fromisoformat(value.strip())
    raise TypeError(f"time() needs a string, a time or a datetime, not {type(value).__name__}")


_DURATION = re.compile(
    r"(-)?P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE
)


def _sf_dmn_duration(value: Any) -> timedelta | None:
    """FEEL ``duration(x)`` for days-to-seconds durations (``P2D``, ``PT1H30M``, ``-P1W``)."""
    if value is None or isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise TypeError(f"duration() needs a string, not {type(value).__name__}")
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise ValueError(f"'{value}' is not a duration of weeks, days, hours, minutes and seconds (like P1DT2H)")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    result = timedelta(
        weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
        seconds=float(seconds or 0),
    )
    return -result if sign else result


DMN_HELPERS: dict[str, Callable[..., Any]] = {
    "_sf_dmn_eq": _sf_dmn_eq,
    "_sf_dmn_cmp": _sf_dmn_cmp,
    "_sf_dmn_range": _sf_dmn_range,
    "_sf_dmn_true": _sf_dmn_true,
    "_sf_dmn_test": _sf_dmn_test,
    "_sf_dmn_var": _sf_dmn_var,
    "_sf_dmn_date": _sf_dmn_date,
    "_sf_dmn_datetime": _sf_dmn_datetime,
    "_sf_dmn_time": _sf_dmn_time,
    "_sf_dmn_duration": _sf_dmn_duration,
    **FEEL_HELPERS,
}
"""Functions the generated DMN code calls (besides :data:`engine.expressions.RUNTIME_HELPERS`)."""

_HELPERS: dict[str, Callable[..., Any]] = {**RUNTIME_HELPERS, **DMN_HELPERS}

_BUILTIN_NAMES = sorted(FEEL_FUNCTIONS, key=lambda name: -len(name.split(" ")))  # `string length` before `string`

_FUNCTIONS = {
    "date": "_sf_dmn_date",
    "date and time": "_sf_dmn_datetime",
    "time": "_sf_dmn_time",
    "duration": "_sf_dmn_duration",
}


# --------------------------------------------------------------------------------------------------
# typeRef coercion
# --------------------------------------------------------------------------------------------------

_TYPE_ALIASES = {
    "string": "string",
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "double": "double",
    "float": "double",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
    "date and time": "date",
}


def _normal_type(type_ref: str | None) -> str | None:
    """The coercion a typeRef asks for (None: keep the value as it is, like Camunda's unknown types)."""
    if not type_ref:
        return None
    name = type_ref.strip().rsplit(":", 1)[-1].strip().lower()
    return _TYPE_ALIASES.get(name)


def _coerce(value: Any, kind: str | None) -> Any:
    """Convert a value to a (normalized) typeRef like Camunda's type transformers; ValueError when it can't."""
    if value is None or kind is None:
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (date, time)):
            return value.isoformat()
        return str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"{value!r} is not a boolean")
    if kind == "date":
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date (expected yyyy-MM-dd'T'HH:mm:ss)") from None
        raise ValueError(f"{value!r} is not a date")
    if isinstance(value, bool) or not (_is_number(value) or isinstance(value, str)):
        raise ValueError(f"{value!r} is not a number")
    if kind == "integer":
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not an integer") from None
        if isinstance(value, int):
            return value
        if math.isfinite(value) and value == int(value):
            return int(value)
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text) if kind == "number" and re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    return float(value) if kind == "double" else value


# --------------------------------------------------------------------------------------------------
# FEEL (the subset) -> Python
# --------------------------------------------------------------------------------------------------


class _Fail(Exception):
    """Internal: a translation problem; the caller adds the element, the cell and the file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_Tok = Token


_KEYWORDS = frozenset({"true", "false", "null", "and", "or", "not", "if", "then", "else"})
_TWO_CHAR = ("..", "<=", ">=", "!=", "**")
_ONE_CHAR = "<>=+-*/()[],.?"
_NUMBER = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("..", i):
            tokens.append(_Tok("op", "..", i))
            i += 2
        elif ch in ASCII_DIGITS or (ch == "." and i + 1 < n and text[i + 1] in ASCII_DIGITS):
            m = _NUMBER.match(text, i)
            assert m is not None
            literal = m.group(0)
            if "." in literal or "e" in literal.lower():
                value: Any = float(literal)
                if not math.isfinite(value):
                    raise _Fail(f"number {literal} is out of range")
            else:
                value = int(literal)
            tokens.append(_Tok("num", value, i))
            i = m.end()
        elif ch in "\"'":
            i = _lex_string(text, i, tokens)
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            tokens.append(_Tok("kw" if word in _KEYWORDS else "name", word, i))
            i = j
        elif text[i : i + 2] in _TWO_CHAR:
            tokens.append(_Tok("op", text[i : i + 2], i))
            i += 2
        elif ch in _ONE_CHAR:
            tokens.append(_Tok("op", ch, i))
            i += 1
        else:
            raise _Fail(f"unexpected character '{ch}' at column {i + 1}")
    tokens.append(_Tok("end", "", n))
    return tokens


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
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2 : j + 6]):
                chars.append(chr(int(text[j + 2 : j + 6], 16)))
                j += 6
                continue
            if nxt not in _ESCAPES:
                raise _Fail(f"invalid escape sequence '\\{nxt}' in a string at column {j + 1}")
            chars.append(_ESCAPES[nxt])
            j += 2
        else:
            chars.append(ch)
            j += 1
    raise _Fail(f"unterminated string starting at column {i + 1}")


def _describe(tok: _Tok) -> str:
    if tok.kind == "end":
        return "unexpected end of text"
    shown = repr(tok.value) if tok.kind == "str" else f"'{tok.value}'"
    return f"unexpected {shown} at column {tok.pos + 1}"


def _check_name(name: str) -> None:
    if reserved_name(name):
        raise _Fail(f"the name '{name}' is reserved")


class _Feel(TokenCursor):
    """Recursive descent over the FEEL subset, emitting Python source."""

    def __init__(self, text: str, *, input_name: str | None = None) -> None:
        super().__init__(_lex(text))
        self.input_name = input_name  # the input variable, inside an input entry
        self.uses_input = False

    def is_kw(self, value: str, tok: _Tok | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "kw" and tok.value == value

    def expect_op(self, value: str, context: str) -> None:
        if not self.is_op(value):
            raise _Fail(f"{_describe(self.tok)}, expected '{value}' {context}")
        self.next()

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            raise _Fail(_describe(self.tok))

    # -- entry points
    def whole_expression(self) -> str:
        if self.tok.kind == "end":
            raise _Fail("the expression is empty")
        src = self.expression()
        self.expect_end()
        return src

    def unary_tests(self) -> str:
        if self.is_kw("not") and self.is_op("(", tok=self.peek()):
            self.next()
            self.next()
            inner = self.positive_tests()
            self.expect_op(")", "to close 'not('")
            self.expect_end()
            return f"({_IN} is not None and not {inner})"
        src = self.positive_tests()
        self.expect_end()
        return src

    def literal_list(self) -> list[Any]:
        values = []
        while True:
            src = self.expression()
            try:
                value = ast.literal_eval(src)
            except (ValueError, SyntaxError):
                raise _Fail("only literals (strings, numbers, true, false) are allowed here") from None
            values.append(value)
            if not self.is_op(","):
                break
            self.next()
        self.expect_end()
        return values

    # -- unary tests
    def positive_tests(self) -> str:
        tests = [self.positive_test()]
        while self.is_op(","):
            self.next()
            tests.append(self.positive_test())
        return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"

    def positive_test(self) -> str:
        tok = self.tok
        if tok.kind == "end" or self.is_op(",", ")"):
            raise _Fail(f"{_describe(tok)}, expected a test")
        if self.is_op("<", "<=", ">", ">="):
            self.next()
            return f"_sf_dmn_cmp({_IN}, {tok.value!r}, {self.additive()})"
        if self.is_op("[", "]", "("):
            interval = self.interval()
            if interval is not None:
                return interval
        self.uses_input = False
        src = self.expression()
        if self.uses_input:  # a boolean test of the input (`? > 5`, `cellInput < limit`)
            return f"_sf_dmn_true({src})"
        try:
            ast.literal_eval(src)
        except (ValueError, SyntaxError):  # an expression: true, the input's value, or a list holding it
            return f"_sf_dmn_test({_IN}, {src})"
        return f"_sf_dmn_eq({_IN}, {src})"  # a literal ("gold", 5, true) is compared with the input

    def interval(self) -> str | None:
        start = self.i
        opener = self.next()
        try:
            low = self.additive()
        except _Fail:
            if opener.value == "(":
                self.i = start
                return None
            raise
        if not self.is_op(".."):
            if opener.value == "(":
                self.i = start
                return None
            raise _Fail(f"{_describe(self.tok)}, expected '..' in a range")
        self.next()
        high = self.additive()
        closer = self.tok
        if not self.is_op("]", "[", ")"):
            raise _Fail(f"{_describe(closer)}, expected ']', '[' or ')' to close the range")
        self.next()
        return f"_sf_dmn_range({_IN}, {low}, {opener.value == '['}, {high}, {closer.value == ']'})"

    # -- expressions
    def expression(self) -> str:
        if self.is_kw("if"):
            self.next()
            cond = self.expression()
            if not self.is_kw("then"):
                raise _Fail(f"{_describe(self.tok)}, expected 'then'")
            self.next()
            yes = self.expression()
            if not self.is_kw("else"):
                raise _Fail(f"{_describe(self.tok)}, expected 'else'")
            self.next()
            no = self.expression()
            return f"({yes} if _sf_dmn_true({cond}) else {no})"
        return self.disjunction()

    def disjunction(self) -> str:
        left = self.conjunction()
        while self.is_kw("or"):
            self.next()
            left = f"({left} or {self.conjunction()})"
        return left

    def conjunction(self) -> str:
        left = self.comparison()
        while self.is_kw("and"):
            self.next()
            left = f"({left} and {self.comparison()})"
        return left

    def comparison(self) -> str:
        left = self.additive()
        tok = self.tok
        if self.is_op("=", "!=", "<", "<=", ">", ">="):
            self.next()
            right = self.additive()
            if tok.value == "=":
                return f"_sf_dmn_eq({left}, {right})"
            if tok.value == "!=":
                return f"(not _sf_dmn_eq({left}, {right}))"
            return f"_sf_dmn_cmp({left}, {tok.value!r}, {right})"
        return left

    def additive(self) -> str:
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.next().value
            left = f"({left} {op} {self.multiplicative()})"
        return left

    def multiplicative(self) -> str:
        left = self.power()
        while self.is_op("*", "/"):
            op = self.next().value
            left = f"({left} {op} {self.power()})"
        return left

    def power(self) -> str:
        left = self.unary()
        while self.is_op("**"):
            self.next()
            left = f"({left} ** {self.unary()})"
        return left

    def unary(self) -> str:
        if self.is_op("-"):
            self.next()
            return f"(-{self.unary()})"
        return self.postfix()

    def postfix(self) -> str:
        result = self.primary()
        while True:
            if self.is_op("."):
                self.next()
                tok = self.next()
                if tok.kind not in ("name", "kw"):
                    raise _Fail(f"{_describe(tok)}, expected a property name after '.'")
                if tok.value.startswith("_"):
                    raise _Fail(f"the property name '{tok.value}' is not allowed")
                result = f"_sf_get({result}, {tok.value!r})"
            elif self.is_op("("):
                raise _Fail(f"calling a value ('(' at column {self.tok.pos + 1}) is not supported")
            else:
                return result

    def primary(self) -> str:
        tok = self.next()
        if tok.kind in ("num", "str"):
            return repr(tok.value)
        if tok.kind == "kw":
            if tok.value in ("true", "false", "null"):
                return {"true": "True", "false": "False", "null": "None"}[tok.value]
            if tok.value == "not" and self.is_op("("):
                self.next()
                inner = self.expression()
                self.expect_op(")", "to close 'not('")
                return f"(not {inner})"
            raise _Fail(f"{_describe(tok)}, expected a value")
        if self.is_op("?", tok=tok):
            if self.input_name is None:
                raise _Fail("'?' (the input value) can only be used in an input entry")
            self.uses_input = True
            return _IN
        if self.is_op("(", tok=tok):
            inner = self.expression()
            self.expect_op(")", "to close '('")
            return inner
        if self.is_op("[", tok=tok):
            raise _Fail(f"lists ('[' at column {tok.pos + 1}) are not supported here")
        if tok.kind == "name":
            if (tok.value == "date" and self.is_kw("and") and self.peek().kind == "name"
                    and self.peek().value == "time" and self.is_op("(", tok=self.peek(2))):
                self.next()
                self.next()
                return self.call("date and time")
            builtin = self._builtin(tok)
            if builtin is not None:
                return builtin
            if self.is_op("("):
                return self.call(tok.value)
            _check_name(tok.value)
            if tok.value == self.input_name:
                self.uses_input = True
                return _IN
            return f"_sf_dmn_var({_VARS}, {tok.value!r})"
        raise _Fail(f"{_describe(tok)}, expected a value")

    def _builtin(self, tok: _Tok) -> str | None:
        """A call of one of FEEL's built-in functions (`engine.feel_functions`) whose name starts at `tok`, the
        longest name first (`string length(s)`, `string(n)`); None when none is called here."""
        for name in _BUILTIN_NAMES:
            words = name.split(" ")
            if words[0] != tok.value or not all(
                    self.peek(k).kind in ("name", "kw") and self.peek(k).value == word
                    for k, word in enumerate(words[1:])) or not self.is_op("(", tok=self.peek(len(words) - 1)):
                continue
            for _ in words[1:]:
                self.next()
            self.next()  # (
            args: list[str] = []
            while not self.is_op(")"):
                if args:
                    self.expect_op(",", f"between the arguments of '{name}()'")
                args.append(self.expression())
            self.next()
            _, fewest, most = FEEL_FUNCTIONS[name]
            if len(args) < fewest or (most is not None and len(args) > most):
                takes = f"{fewest}" if fewest == most else (f"{fewest} to {most}" if most else f"at least {fewest}")
                raise _Fail(f"'{name}()' takes {takes} argument{'s' if most != 1 else ''}, not {len(args)}")
            return f"{feel_helper_name(name)}({', '.join(args)})"
        return None

    def call(self, name: str) -> str:
        helper = _FUNCTIONS.get(name)
        if helper is None:
            supported = ", ".join([*_FUNCTIONS, *FEEL_FUNCTIONS])
            raise _Fail(f"the function '{name}()' is not supported (supported: {supported})")
        self.expect_op("(", f"after '{name}'")
        arg = self.expression()
        if self.is_op(","):
            raise _Fail(f"'{name}()' takes one argument")
        self.expect_op(")", f"to close '{name}('")
        try:
            literal = ast.literal_eval(arg)
        except (ValueError, SyntaxError):
            literal = None
        if isinstance(literal, str):
            try:
                DMN_HELPERS[helper](literal)
            except ValueError as err:
                raise _Fail(f"{name}(\"{literal}\") is not valid: {err}") from None
        return f"{helper}({arg})"


def feel_expression_to_python(text: str) -> str:
    """Translate a FEEL expression of the supported subset to Python source; raises ExpressionError.

    The source reads variables through ``_sf_dmn_var(_sf_dmn_vars, name)`` and calls :data:`DMN_HELPERS`
    and :data:`engine.expressions.RUNTIME_HELPERS`.
    """
    try:
        return _Feel(text).whole_expression()
    except _Fail as fail:
        raise ExpressionError(f"FEEL expression '{text.strip()}': {fail.reason}") from None


def feel_unary_tests_to_python(text: str, input_variable: str = DEFAULT_INPUT_VARIABLE) -> str | None:
    """Translate FEEL unary tests (an input entry) to a Python boolean expression over ``_sf_dmn_in``.

    Returns None for ``-`` and empty text (any value matches).  Raises ExpressionError.
    """
    stripped = text.strip()
    if stripped in ("", "-"):
        return None
    try:
        return _Feel(stripped, input_name=input_variable).unary_tests()
    except _Fail as fail:
        raise ExpressionError(f"FEEL unary tests '{stripped}': {fail.reason}") from None


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    text: str
    source: str | None  # None: an input entry that matches anything / an empty output entry


@dataclass(frozen=True)
class DecisionInput:
    """One input column: its expression (translated), typeRef and the variable its cells test."""

    id: str | None
    label: str | None
    expression: str
    source: str | None  # None: empty input expression (the value is None)
    type_ref: str | None
    variable: str
    line: int | None

    @property
    def display(self) -> str:
        return self.label or self.id or self.expression


@dataclass(frozen=True)
class DecisionOutput:
    """One output column; ``values`` are the ``outputValues`` (PRIORITY / OUTPUT ORDER), highest first."""

    id: str | None
    name: str
    label: str | None
    type_ref: str | None
    values: tuple[Any, ...]
    line: int | None


@dataclass(frozen=True)
class DecisionRule:
    """One rule (row): its input entries and output entries, translated."""

    id: str | None
    index: int
    inputs: tuple[_Cell, ...]
    outputs: tuple[_Cell, ...]
    description: str | None
    line: int | None

    @property
    def display(self) -> str:
        return self.id or f"#{self.index + 1}"


@dataclass
class DecisionTrace:
    """What one evaluation of one decision saw and gave, for its history (Camunda's historic decision instance):
    each input column's value, each matched rule with its outputs (before a COLLECT aggregation; a literal
    expression gives one entry with no rule), and the aggregated value of a COLLECT with an aggregator."""

    decision: Decision
    inputs: list[tuple[DecisionInput, Any]] = field(default_factory=list)
    matched: list[tuple[DecisionRule | None, dict[str, Any]]] = field(default_factory=list)
    collect_result: Any = None


class DecisionResult(list):  # type: ignore[type-arg]
    """The rule results of one evaluation: a list of dicts (output name -> value), in order.

    The helpers match Camunda's ``camunda:mapDecisionResult``.  An output entry that is empty (or ``-``)
    is left out of its rule's dict, as Camunda leaves it out.
    """

    def __init__(self, results: Iterable[dict[str, Any]] = (), *, decision_id: str | None = None) -> None:
        super().__init__(results)
        self.decision_id = decision_id

    def _error(self, message: str) -> DecisionError:
        prefix = f"decision '{self.decision_id}': " if self.decision_id else ""
        return DecisionError(prefix + message, decision_id=self.decision_id)

    def single_result(self) -> dict[str, Any] | None:
        """The only rule result (a dict); None when no rule matched; DecisionError for more than one."""
        if not self:
            return None
        if len(self) > 1:
            raise self._error(f"more than one result ({len(self)} rule results) where a single result was expected")
        return dict(self[0])

    def single_entry(self) -> Any:
        """The value of the only output of the only rule result; None when there is none."""
        result = self.single_result()
        if not result:
            return None
        if len(result) > 1:
            raise self._error(
                f"more than one result: the rule result has {len(result)} entries "
                f"({', '.join(result)}) where a single entry was expected"
            )
        return next(iter(result.values()))

    def collect_entries(self) -> list[Any]:
        """The values of the single output, one per rule result; DecisionError when there are several outputs."""
        names: list[str] = []
        for result in self:
            names.extend(name for name in result if name not in names)
        if len(names) > 1:
            raise self._error(
                f"more than one result: collectEntries needs a single output, but the results have {', '.join(names)}"
            )
        return [result[names[0]] for result in self if names[0] in result] if names else []

    def result_list(self) -> list[dict[str, Any]]:
        """Every rule result, as a list of dicts."""
        return [dict(result) for result in self]

    def map_result(self, kind: str) -> Any:
        """Camunda's ``mapDecisionResult``: singleEntry, singleResult, collectEntries or resultList."""
        if kind == "singleEntry":
            return self.single_entry()
        if kind == "singleResult":
            return self.single_result()
        if kind == "collectEntries":
            return self.collect_entries()
        if kind == "resultList":
            return self.result_list()
        raise ValueError(f"unknown decision result mapping '{kind}' (expected one of {', '.join(RESULT_KINDS)})")


def _base_context(variables: Mapping[str, Any]) -> dict[str, Any]:
    context = dict(variables)
    context.setdefault("_sf_business_key", None)
    context.update(_HELPERS)
    context[_VARS] = variables
    return context


def _failure_text(err: ScriptFailure | ScriptRejected) -> str:
    message = err.message
    if isinstance(getattr(err, "original", None), NameError) and "Unknown property" not in message:
        message = f"Unknown property used in expression: {message}"
    return message


class Decision:
    """One DMN decision: a decision table or a literal expression, ready to evaluate.

    Attributes: ``id``, ``name``, ``file``, ``line``, ``kind`` ("decisionTable" | "literalExpression"),
    ``required_decisions`` (ids, in document order), ``version_tag``, ``history_time_to_live``; for a table
    ``hit_policy``, ``aggregation``, ``inputs``, ``outputs``, ``rules``; for a literal expression
    ``expression`` (the text), ``result_name`` and ``type_ref``.
    """

    def __init__(
        self,
        *,
        id: str,
        name: str | None,
        file: str | None,
        line: int | None,
        kind: str,
        required_decisions: tuple[str, ...] = (),
        version_tag: str | None = None,
        history_time_to_live: str | None = None,
        hit_policy: str = "UNIQUE",
        aggregation: str | None = None,
        inputs: tuple[DecisionInput, ...] = (),
        outputs: tuple[DecisionOutput, ...] = (),
        rules: tuple[DecisionRule, ...] = (),
        expression: str | None = None,
        expression_source: str | None = None,
        result_name: str | None = None,
        type_ref: str | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.file = file
        self.line = line
        self.kind = kind
        self.required_decisions = required_decisions
        self.version_tag = version_tag
        self.history_time_to_live = history_time_to_live
        self.hit_policy = hit_policy
        self.aggregation = aggregation
        self.inputs = inputs
        self.outputs = outputs
        self.rules = rules
        self.expression = expression
        self._expression_source = expression_source
        self.result_name = result_name
        self.type_ref = type_ref
        self.definition_id: str | None = None  # its decision definition (a stored version), once loaded as one
        self._output_types = tuple(_normal_type(o.type_ref) for o in outputs)
        self._input_types = tuple(_normal_type(i.type_ref) for i in inputs)

    def __repr__(self) -> str:
        return f"<Decision {self.id!r} {self.kind}>"

    @property
    def is_decision_table(self) -> bool:
        return self.kind == "decisionTable"

    # -- evaluation -------------------------------------------------------------------------------------
    def evaluate(
        self,
        variables: Mapping[str, Any],
        sandbox: ScriptSandbox,
        decisions: Mapping[str, Decision] | None = None,
        trace: list[DecisionTrace] | None = None,
    ) -> DecisionResult:
        """Evaluate the decision with ``variables``; required decisions first, as Camunda does. ``trace`` gets
        one `DecisionTrace` per decision evaluated, in that order (this one last).

        ``decisions`` (id -> Decision) resolves required decisions.  Each required decision is evaluated
        once, in dependency order, and its result becomes variables for the ones after it: a single rule
        result adds its entries (output name -> value); several results (or a COLLECT without aggregation
        or a RULE ORDER table) add one list per output name.  Raises DecisionError.
        """
        order: list[Decision] = []
        self._collect(decisions or {self.id: self}, order, set())
        context = dict(variables)
        result = DecisionResult(decision_id=self.id)
        for decision in order:
            result = decision._evaluate_logic(context, sandbox, trace)
            if decision is not self:
                decision._add_result(result, context)
        return result

    def _collect(self, decisions: Mapping[str, Decision], order: list[Decision], visiting: set[str]) -> None:
        if self in order:
            return
        if self.id in visiting:
            raise DecisionError(f"decision '{self.id}': the required decisions form a cycle", decision_id=self.id)
        visiting.add(self.id)
        for required_id in self.required_decisions:
            required = decisions.get(required_id)
            if required is None:
                raise DecisionError(
                    f"decision '{self.id}': the required decision '{required_id}' is not available",
                    decision_id=self.id,
                )
            required._collect(decisions, order, visiting)
        visiting.discard(self.id)
        order.append(self)

    def _add_result(self, result: DecisionResult, context: dict[str, Any]) -> None:
        if not result:
            return
        listed = self.is_decision_table and (
            self.hit_policy == "RULE ORDER" or (self.hit_policy == "COLLECT" and self.aggregation is None)
        )
        if len(result) == 1 and not listed:
            context.update(result[0])
            return
        names: list[str] = []
        for entry in result:
            names.extend(name for name in entry if name not in names)
        for name in names:
            context[name] = [entry[name] for entry in result if name in entry]

    def _evaluate_logic(self, variables: Mapping[str, Any], sandbox: ScriptSandbox,
                        trace: list[DecisionTrace] | None = None) -> DecisionResult:
        base = _base_context(variables)
        record = DecisionTrace(self)
        if not self.is_decision_table:
            value = self._run(sandbox, self._expression_source, base, f"literal expression '{self.expression}'")
            value = self._coerced(value, _normal_type(self.type_ref), f"the result '{self.result_name}'")
            if trace is not None:
                record.matched.append((None, {self.result_name: value}))
                trace.append(record)
            return DecisionResult([{self.result_name: value}], decision_id=self.id)
        matching = list(self.rules)
        for index, column in enumerate(self.inputs):
            value = None
            if column.source is not None:
                value = self._run(
                    sandbox, column.source, base, f"input '{column.display}' (expression '{column.expression}')"
                )
            value = self._coerced(value, self._input_types[index], f"input '{column.display}'")
            record.inputs.append((column, value))
            if not matching:
                continue  # Camunda evaluates every input expression
            cell_vars = dict(variables)
            cell_vars[column.variable] = value
            context = dict(base)
            context[column.variable] = value
            context[_IN] = value
            context[_VARS] = cell_vars
            seen: dict[str, bool] = {}
            kept = []
            for rule in matching:
                cell = rule.inputs[index]
                if cell.source is None:
                    kept.append(rule)
                    continue
                hit = seen.get(cell.source)
                if hit is None:
                    what = f"rule '{rule.display}', input entry '{cell.text}' of input '{column.display}'"
                    hit = self._run(sandbox, cell.source, context, what, rule) is True
                    seen[cell.source] = hit
                if hit:
                    kept.append(rule)
            matching = kept
        result = self._apply_hit_policy(matching, base, sandbox, record)
        if trace is not None:
            trace.append(record)
        return result

    def _run(
        self, sandbox: ScriptSandbox, source: str | None, context: dict[str, Any], what: str,
        rule: DecisionRule | None = None,
    ) -> Any:
        if source is None:
            return None
        try:
            return sandbox.evaluate(source, context)
        except (ScriptFailure, ScriptRejected) as err:
            raise DecisionError(
                f"decision '{self.id}': {what} failed: {_failure_text(err)}",
                decision_id=self.id,
                rule_ids=(rule.id,) if rule is not None and rule.id else (),
            ) from err

    def _coerced(self, value: Any, kind: str | None, what: str, rule: DecisionRule | None = None) -> Any:
        try:
            return _coerce(value, kind)
        except ValueError as err:
            where = f"rule '{rule.display}', " if rule is not None else ""
            raise DecisionError(
                f"decision '{self.id}': {where}{what}: {err} (typeRef '{kind}')",
                decision_id=self.id,
                rule_ids=(rule.id,) if rule is not None and rule.id else (),
            ) from None

    def _outputs_of(self, rule: DecisionRule, base: dict[str, Any], sandbox: ScriptSandbox) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for column, cell, kind in zip(self.outputs, rule.outputs, self._output_types, strict=True):
            if cell.source is None:
                continue  # an empty output entry is left out, as in Camunda
            what = f"rule '{rule.display}', output entry '{cell.text}' of output '{column.name}'"
            value = self._run(sandbox, cell.source, base, what, rule)
            result[column.name] = self._coerced(value, kind, f"output '{column.name}'", rule)
        return result

    def _priority(self, outputs: dict[str, Any]) -> tuple[int, ...]:
        key = []
        for column in self.outputs:
            if column.values:
                value = outputs.get(column.name)
                position = next(
                    (i for i, allowed in enumerate(column.values) if _sf_dmn_eq(value, allowed)), len(column.values)
                )
                key.append(position)
        return tuple(key)

    def _apply_hit_policy(
        self, matching: list[DecisionRule], base: dict[str, Any], sandbox: ScriptSandbox, record: DecisionTrace
    ) -> DecisionResult:
        policy = self.hit_policy
        if policy == "UNIQUE" and len(matching) > 1:
            ids = ", ".join(f"'{rule.display}'" for rule in matching)
            raise DecisionError(
                f"decision '{self.id}': hit policy UNIQUE allows only one matching rule, but rules {ids} matched",
                decision_id=self.id,
                rule_ids=[rule.id for rule in matching if rule.id],
            )
        if policy == "FIRST":
            matching = matching[:1]
        results = [(rule, self._outputs_of(rule, base, sandbox)) for rule in matching]
        if policy == "ANY" and results:
            first = results[0][1]
            differing = [rule for rule, outputs in results if outputs != first]
            if differing:
                ids = ", ".join(f"'{rule.display}'" for rule, _ in results)
                raise DecisionError(
                    f"decision '{self.id}': hit policy ANY needs all matching rules to have equal outputs, "
                    f"but rules {ids} matched with different outputs",
                    decision_id=self.id,
                    rule_ids=[rule.id for rule, _ in results if rule.id],
                )
            results = results[:1]
        elif policy in ("PRIORITY", "OUTPUT ORDER"):
            results.sort(key=lambda item: self._priority(item[1]))  # stable: rule order among equals
            if policy == "PRIORITY":
                results = results[:1]
        record.matched = list(results)
        if policy == "COLLECT" and self.aggregation:
            aggregated = self._aggregate([outputs for _, outputs in results])
            record.collect_result = next(iter(aggregated[0].values())) if aggregated else None
            return DecisionResult(aggregated, decision_id=self.id)
        return DecisionResult([outputs for _, outputs in results], decision_id=self.id)

    def _aggregate(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        name = self.outputs[0].name
        values = [result[name] for result in results if name in result]
        if self.aggregation == "COUNT":
            return [{name: len(values)}]
        numbers = [value for value in values if value is not None]
        wrong = [value for value in numbers if not _is_number(value)]
        if wrong:
            raise DecisionError(
                f"decision '{self.id}': COLLECT {self.aggregation} needs numbers, but output '{name}' "
                f"has {wrong[0]!r}",
                decision_id=self.id,
            )
        if not numbers:
            return []
        if self.aggregation == "SUM":
            return [{name: sum(numbers)}]
        return [{name: min(numbers) if self.aggregation == "MIN" else max(numbers)}]


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------

_VALIDATOR = ScriptSandbox()  # only compiles (the compile cache is shared with every sandbox)

_FEEL_LANGUAGES = frozenset({"feel", "feel-scala", "feel-juel", "feel-scala-untyped"})


def _language(value: str | None) -> str | None:
    """'juel', 'feel', None (the default), or the unsupported language as given."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    lower = text.lower()
    if lower == "juel":
        return "juel"
    if lower in _FEEL_LANGUAGES or "feel" in lower:
        return "feel"
    return text


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


class _Parser:
    def __init__(self, filename: str, ns: str) -> None:
        self.file = filename
        self.ns = ns

    # -- helpers
    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def fail(self, message: str, el: etree._Element | None, element_id: str | None) -> DefinitionError:
        return DefinitionError(message, file=self.file, element_id=element_id, line=element_line(el))

    def child(self, el: etree._Element, name: str) -> etree._Element | None:
        return el.find(self.q(name))

    def children(self, el: etree._Element, name: str) -> list[etree._Element]:
        return el.findall(self.q(name))

    def text_of(self, el: etree._Element | None) -> str:
        """The text of an element's ``<text>`` child ('' when missing)."""
        if el is None:
            return ""
        text_el = self.child(el, "text")
        return (text_el.text or "").strip() if text_el is not None else ""

    def camunda(self, el: etree._Element, name: str) -> str | None:
        return el.get(f"{{{CAMUNDA_DMN_NS}}}{name}")

    def compiled(self, source: str, what: str, el: etree._Element, element_id: str) -> str:
        try:
            _VALIDATOR.compile_expression(source)
        except ScriptRejected as err:
            raise self.fail(f"{what}: {err.message}", el, element_id) from None
        return source

    def translate(
        self, text: str, language: str | None, what: str, el: etree._Element, element_id: str
    ) -> str:
        """An input expression, output entry or literal expression as Python source."""
        if language not in (None, "juel", "feel"):
            raise self.fail(
                f"{what}: expression language '{language}' is not supported (use FEEL or JUEL)", el, element_id
            )
        try:
            if is_expression(text) or language == "juel":
                source = juel_to_python(text)
            else:
                try:
                    source = _Feel(text).whole_expression()
                except _Fail as fail:
                    if language == "feel":
                        raise ExpressionError(fail.reason) from None
                    try:
                        source = juel_to_python(text)  # Camunda's pre-FEEL default: JUEL without ${}
                    except ExpressionError:
                        raise ExpressionError(fail.reason) from None
        except ExpressionError as err:
            raise self.fail(f"{what} cannot be parsed: {err.message}", el, element_id) from None
        return self.compiled(source, what, el, element_id)

    # -- decisions
    def decision(self, el: etree._Element) -> Decision:
        decision_id = (el.get("id") or "").strip()
        if not decision_id:
            raise self.fail("a decision has no id", el, None)
        name = el.get("name")
        required = []
        for requirement in self.children(el, "informationRequirement"):
            ref = self.child(requirement, "requiredDecision")
            if ref is None:
                continue
            href = (ref.get("href") or "").strip()
            target = href.rsplit("#", 1)[-1].strip()
            if not target:
                raise self.fail("a requiredDecision has no href", ref, decision_id)
            required.append((target, ref))
        common: dict[str, Any] = {
            "id": decision_id,
            "name": name,
            "file": self.file,
            "line": element_line(el),
            "required_decisions": tuple(target for target, _ in required),
            "version_tag": self.camunda(el, "versionTag"),
            "history_time_to_live": self.camunda(el, "historyTimeToLive"),
        }
        table = self.child(el, "decisionTable")
        if table is not None:
            decision = self.decision_table(table, decision_id, common)
        else:
            literal = self.child(el, "literalExpression")
            if literal is None:
                kinds = sorted({_local(c.tag) for c in el} - {
                    "", "informationRequirement", "knowledgeRequirement", "authorityRequirement", "variable",
                    "description", "question", "allowedAnswers", "extensionElements"})
                found = f" (found {', '.join(kinds)})" if kinds else ""
                raise self.fail(
                    f"decision '{decision_id}' has no decisionTable or literalExpression{found}; "
                    "only those are supported", el, decision_id,
                )
            decision = self.literal_expression(el, literal, decision_id, common)
        decision._requirement_elements = required  # type: ignore[attr-defined]
        return decision

    def literal_expression(
        self, el: etree._Element, literal: etree._Element, decision_id: str, common: dict[str, Any]
    ) -> Decision:
        text = self.text_of(literal)
        if not text:
            raise self.fail(f"the literal expression of decision '{decision_id}' is empty", literal, decision_id)
        variable = self.child(el, "variable")
        result_name = (variable.get("name") if variable is not None else None) or decision_id
        type_ref = (variable.get("typeRef") if variable is not None else None) or literal.get("typeRef")
        source = self.translate(
            text, _language(literal.get("expressionLanguage")), f"literal expression '{text}'", literal, decision_id
        )
        return Decision(
            kind="literalExpression", expression=text, expression_source=source, result_name=result_name,
            type_ref=type_ref, **common,
        )

    def decision_table(self, table: etree._Element, decision_id: str, common: dict[str, Any]) -> Decision:
        raw_policy = (table.get("hitPolicy") or "UNIQUE").strip()
        policy = " ".join(raw_policy.replace("_", " ").upper().split())
        if policy not in HIT_POLICIES:
            raise self.fail(
                f"unknown hit policy '{raw_policy}' (expected one of {', '.join(HIT_POLICIES)})", table, decision_id
            )
        aggregation = table.get("aggregation")
        if aggregation is not None:
            aggregation = aggregation.strip().upper()
            if aggregation not in AGGREGATIONS:
                raise self.fail(
                    f"unknown aggregation '{table.get('aggregation')}' (expected one of {', '.join(AGGREGATIONS)})",
                    table, decision_id,
                )
            if policy != "COLLECT":
                raise self.fail(
                    f"aggregation {aggregation} is only allowed with hit policy COLLECT, not {policy}",
                    table, decision_id,
                )

        inputs = tuple(self.input(el, decision_id) for el in self.children(table, "input"))
        outputs = tuple(self.output(el, decision_id) for el in self.children(table, "output"))
        if not outputs:
            raise self.fail(f"the decision table of decision '{decision_id}' has no output", table, decision_id)
        if len(outputs) > 1:
            seen: set[str] = set()
            for column, el in zip(outputs, self.children(table, "output"), strict=True):
                if not el.get("name"):
                    raise self.fail(
                        f"the decision table has several outputs, so every output needs a name "
                        f"(output '{column.id or column.label}' has none)", el, decision_id,
                    )
                if column.name in seen:
                    raise self.fail(f"two outputs are named '{column.name}'", el, decision_id)
                seen.add(column.name)
        if aggregation and len(outputs) > 1:
            raise self.fail(
                f"COLLECT {aggregation} needs exactly one output, but the table has {len(outputs)}", table, decision_id
            )
        if policy in ("PRIORITY", "OUTPUT ORDER") and not any(column.values for column in outputs):
            raise self.fail(
                f"hit policy {policy} needs outputValues on an output to order the results by", table, decision_id
            )
        rules = tuple(
            self.rule(el, index, decision_id, inputs, outputs)
            for index, el in enumerate(self.children(table, "rule"))
        )
        return Decision(
            kind="decisionTable", hit_policy=policy, aggregation=aggregation, inputs=inputs, outputs=outputs,
            rules=rules, **common,
        )

    def input(self, el: etree._Element, decision_id: str) -> DecisionInput:
        label = el.get("label")
        input_id = el.get("id")
        expression = self.child(el, "inputExpression")
        element_id = input_id or decision_id
        text = self.text_of(expression)
        type_ref = expression.get("typeRef") if expression is not None else None
        variable = (self.camunda(el, "inputVariable") or DEFAULT_INPUT_VARIABLE).strip()
        if not variable.isidentifier() or reserved_name(variable):
            raise self.fail(f"camunda:inputVariable '{variable}' is not a usable variable name", el, element_id)
        source = None
        if text:
            assert expression is not None
            source = self.translate(
                text, _language(expression.get("expressionLanguage")),
                f"input expression '{text}' of input '{label or input_id or text}'", expression, element_id,
            )
        return DecisionInput(
            id=input_id, label=label, expression=text, source=source, type_ref=type_ref, variable=variable,
            line=element_line(el),
        )

    def output(self, el: etree._Element, decision_id: str) -> DecisionOutput:
        output_id = el.get("id")
        name = el.get("name") or output_id or el.get("label") or "output"
        values: tuple[Any, ...] = ()
        allowed = self.child(el, "outputValues")
        text = self.text_of(allowed)
        if text:
            try:
                values = tuple(_Feel(text).literal_list())
            except _Fail as fail:
                raise self.fail(
                    f"outputValues '{text}' of output '{name}' cannot be parsed: {fail.reason}", allowed,
                    output_id or decision_id,
                ) from None
            kind = _normal_type(el.get("typeRef"))
            try:
                values = tuple(_coerce(value, kind) for value in values)
            except ValueError as err:
                raise self.fail(f"outputValues of output '{name}': {err}", allowed, output_id or decision_id) from None
        return DecisionOutput(
            id=output_id, name=name, label=el.get("label"), type_ref=el.get("typeRef"), values=values,
            line=element_line(el),
        )

    def rule(
        self,
        el: etree._Element,
        index: int,
        decision_id: str,
        inputs: tuple[DecisionInput, ...],
        outputs: tuple[DecisionOutput, ...],
    ) -> DecisionRule:
        rule_id = el.get("id")
        element_id = rule_id or decision_id
        shown = f"rule '{rule_id}'" if rule_id else f"rule #{index + 1}"
        input_entries = self.children(el, "inputEntry")
        output_entries = self.children(el, "outputEntry")
        if len(input_entries) != len(inputs):
            raise self.fail(
                f"{shown} has {len(input_entries)} input entries, but the table has {len(inputs)} inputs",
                el, element_id,
            )
        if len(output_entries) != len(outputs):
            raise self.fail(
                f"{shown} has {len(output_entries)} output entries, but the table has {len(outputs)} outputs",
                el, element_id,
            )
        cells = []
        for column, entry in zip(inputs, input_entries, strict=True):
            text = self.text_of(entry)
            what = f"{shown}: input entry '{text}' of input '{column.display}'"
            cells.append(_Cell(text, self.input_entry(text, column, entry, what, element_id)))
        results = []
        for column, entry in zip(outputs, output_entries, strict=True):
            text = self.text_of(entry)
            source = None
            if text not in ("", "-"):
                language = _language(entry.get("expressionLanguage"))
                source = self.translate(
                    text, language, f"{shown}: output entry '{text}' of output '{column.name}'", entry, element_id
                )
            results.append(_Cell(text, source))
        description = self.child(el, "description")
        return DecisionRule(
            id=rule_id, index=index, inputs=tuple(cells), outputs=tuple(results),
            description=(description.text or "").strip() or None if description is not None else None,
            line=element_line(el),
        )

    def input_entry(
        self, text: str, column: DecisionInput, entry: etree._Element, what: str, element_id: str
    ) -> str | None:
        language = _language(entry.get("expressionLanguage"))
        if language not in (None, "juel", "feel"):
            raise self.fail(f"{what}: expression language '{language}' is not supported (use FEEL or JUEL)",
                            entry, element_id)
        if text in ("", "-"):
            return None
        try:
            if is_expression(text) or language == "juel":
                source = f"_sf_dmn_true({juel_to_python(text)})"
            else:
                source = _Feel(text, input_name=column.variable).unary_tests()
        except ExpressionError as err:
            raise self.fail(f"{what} cannot be parsed: {err.message}", entry, element_id) from None
        except _Fail as fail:
            raise self.fail(f"{what} cannot be parsed: {fail.reason}", entry, element_id) from None
        return self.compiled(source, what, entry, element_id)


def _check_requirements(parser: _Parser, decisions: dict[str, Decision]) -> None:
    for decision in decisions.values():
        for target, ref in decision._requirement_elements:  # type: ignore[attr-defined]
            if target not in decisions:
                raise parser.fail(
                    f"decision '{decision.id}' requires decision '{target}', which does not exist in this file",
                    ref, decision.id,
                )
    done: set[str] = set()

    def visit(decision: Decision, path: list[str]) -> None:
        if decision.id in done:
            return
        if decision.id in path:
            cycle = " -> ".join([*path[path.index(decision.id):], decision.id])
            raise DefinitionError(
                f"the required decisions form a cycle: {cycle}", file=parser.file, element_id=decision.id,
                line=decision.line,
            )
        path.append(decision.id)
        for target in decision.required_decisions:
            visit(decisions[target], path)
        path.pop()
        done.add(decision.id)

    for decision in decisions.values():
        visit(decision, [])
    for decision in decisions.values():
        del decision._requirement_elements  # type: ignore[attr-defined]


def parse_dmn(tree: etree._ElementTree | etree._Element, filename: str) -> dict[str, Decision]:
    """Every decision of a DMN file (as returned by :func:`engine.xmlsafe.parse_xml`), keyed by id.

    Raises DefinitionError (file, element id, line) for anything that cannot be evaluated.
    """
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    qname = etree.QName(root.tag)
    if qname.namespace not in DMN_MODEL_NAMESPACES or qname.localname != "definitions":
        raise DefinitionError(
            f"not a DMN document (root element '{root.tag}')", file=filename, line=element_line(root)
        )
    parser = _Parser(filename, qname.namespace)
    decisions: dict[str, Decision] = {}
    for el in root.iterchildren(parser.q("decision")):
        decision = parser.decision(el)
        if decision.id in decisions:
            raise parser.fail(f"two decisions have the id '{decision.id}'", el, decision.id)
        decisions[decision.id] = decision
    _check_requirements(parser, decisions)
    return decisions
