"""Camunda 7 generated forms: ``camunda:formData`` / ``camunda:formField`` on user tasks and start events.

:func:`parse_form` reads the form of one element at deploy time into :class:`FormField` objects and refuses,
with a :class:`~engine.errors.DefinitionError` naming the file, the field (or the element) and the line,
what Camunda would refuse or what could only fail at run time: a field without an id, duplicate field ids,
an unknown type (Camunda's custom form types are not supported), an unknown constraint (including the
custom ``validator`` constraint), a constraint on a type it cannot apply to (``min``/``max`` only on
``long``; ``minlength``/``maxlength`` only on ``string`` and ``enum``), a bad constraint ``config``, an enum
without values, duplicate enum value or property ids, a ``datePattern`` strptime cannot follow, and a
``businessKey`` naming no field.  A field without ``type`` is a ``string`` field.  Harmless leftovers
Camunda ignores are ignored too (``camunda:value`` on a non-enum field, ``datePattern`` on a non-date field).
The ``defaultValue`` is kept as raw text (it may be a ``${...}`` expression the engine evaluates).

:func:`validate_submission` checks and coerces the variables a task completion (or start form) submits:

* ``string``: a ``str``; a number or a boolean becomes its text (``5`` -> ``"5"``, ``True`` -> ``"true"``), as
  Camunda's ``StringFormType`` converts it; lists and objects are refused.  ``minlength``/``maxlength`` in
  characters.
* ``long``: an ``int`` (not ``bool``), a float or ``Decimal`` with no fraction, or a string of a whole
  number (``"12"``, ``" -3 "``, ``"12.0"``); the result is a :class:`~engine.variables.Long` (an ``int``
  that reads back as Camunda's ``Long``) within Java's long range.
  ``min``/``max`` are inclusive bounds.
* ``boolean``: a ``bool``, or the strings ``true``/``false`` (any case) and ``on`` (what an HTML checkbox
  sends).  Numbers and ``"1"``/``"0"`` are refused.
* ``date``: a ``datetime`` (kept), a ``date`` (midnight of that day), or a string in ISO 8601
  (``2026-11-22``, ``2026-11-22T10:00:00``, with ``Z`` or an offset) or, failing that, in the field's
  ``datePattern`` (Java ``SimpleDateFormat`` letters, e.g. ``dd/MM/yyyy HH:mm``; Camunda's default
  ``dd/MM/yyyy`` when the field has none); the result is a ``datetime`` (timezone-aware when the text had an
  offset).
* ``enum``: a string that is one of the value ids.

Missing means absent, ``None`` or ``""`` (for non-string fields also a blank string).  A ``required`` field
that is missing is an error, except with ``partial=True``, which checks only the fields submitted (a
submitted empty value of a required field is still an error).  An optional field submitted empty becomes
``None`` (``""`` stays ``""`` for a string field).  A ``readonly`` field cannot be changed by a submission: a
value submitted for one is refused (``is read-only: ...``), as Camunda's ``ReadOnlyValidator`` refuses any value
but null; a null is dropped (the variable keeps its value) and a readonly field is never required.  Variables
that are not form fields pass through unchanged, as Camunda lets a completion carry other variables.

:func:`form_variables` gives the fields' values as Camunda's form service reads them
(``GetTaskFormVariablesCmd``/``GetStartFormVariablesCmd``): each typed by its field's form type.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import numbers
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree

from engine.errors import DefinitionError, InvalidVariables
from engine.expressions import RESERVED_PREFIX, is_expression
from engine.variables import Long

__all__ = [
    "CAMUNDA_NS",
    "FIELD_TYPES",
    "FormField",
    "form_variables",
    "java_date_pattern_to_strptime",
    "parse_form",
    "validate_submission",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

FIELD_TYPES = ("string", "long", "boolean", "date", "enum")
DEFAULT_DATE_PATTERN = "dd/MM/yyyy"  # Camunda's DateFormType when a date field declares no datePattern
FORM_VALUE_TYPES = {"string": "String", "long": "Long", "boolean": "Boolean", "date": "String", "enum": "String"}
_CONSTRAINTS = ("required", "readonly", "min", "max", "minlength", "maxlength")

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

_INT_RE = re.compile(r"[+-]?\d+")
_WHOLE_RE = re.compile(r"([+-]?(\d+))(?:\.0*)?")  # "12", "-3", "12.0"


@dataclass(frozen=True)
class FormField:
    """One ``camunda:formField``.

    ``default`` is the raw ``defaultValue`` text (maybe a ``${...}`` expression) or None.  ``min``/``max``
    are numbers (only on long fields), ``minlength``/``maxlength`` non-negative ints.  ``enum_values`` are
    ``(id, name)`` pairs in document order (the name is the id when the diagram gives none);
    ``properties`` are ``(id, value)`` pairs; ``date_pattern`` is the Java pattern as written.
    """

    id: str
    label: str | None = None
    type: str = "string"
    default: str | None = None
    required: bool = False
    readonly: bool = False
    min: int | float | None = None
    max: int | float | None = None
    minlength: int | None = None
    maxlength: int | None = None
    enum_values: tuple[tuple[str, str], ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    date_pattern: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The field for a REST API or an HTML form generator (``defaultValue`` is the raw text)."""
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "defaultValue": self.default,
            "required": self.required,
            "readonly": self.readonly,
            "min": self.min,
            "max": self.max,
            "minlength": self.minlength,
            "maxlength": self.maxlength,
            "datePattern": self.date_pattern,
            "values": [{"id": vid, "name": name} for vid, name in self.enum_values],
            "properties": dict(self.properties),
        }


# ------------------------------------------------------------------------------------------------ parsing


def _c(name: str) -> str:
    return f"{{{CAMUNDA_NS}}}{name}"


def _number(text: str | None) -> int | float | None:
    if text is None:
        return None
    text = text.strip()
    try:
        if _INT_RE.fullmatch(text):
            return int(text)  # ValueError beyond sys.get_int_max_str_digits()
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_form(element: etree._Element, filename: str) -> list[FormField]:
    """The generated form of a userTask or startEvent element: its fields in document order ([] if none)."""
    element_id = element.get("id")
    form_datas = element.findall("bpmn:extensionElements/camunda:formData", _NS)
    if not form_datas:
        return []
    if len(form_datas) > 1:
        raise DefinitionError(
            "more than one camunda:formData",
            file=filename,
            element_id=element_id,
            line=form_datas[1].sourceline,
        )
    form_data = form_datas[0]
    fields: list[FormField] = []
    seen: set[str] = set()
    for el in form_data.findall("camunda:formField", _NS):
        fld = _parse_field(el, filename, element_id)
        if fld.id in seen:
            raise DefinitionError(
                f"duplicate form field id '{fld.id}' in the form of '{element_id}'",
                file=filename,
                element_id=fld.id,
                line=el.sourceline,
            )
        seen.add(fld.id)
        fields.append(fld)
    business_key = form_data.get("businessKey")
    if business_key and business_key not in seen:
        raise DefinitionError(
            f"businessKey '{business_key}' names no form field",
            file=filename,
            element_id=element_id,
            line=form_data.sourceline,
        )
    return fields


def _parse_field(el: etree._Element, filename: str, element_id: str | None) -> FormField:
    field_id = (el.get("id") or "").strip()

    def fail(reason: str, at: etree._Element = el) -> DefinitionError:
        if not field_id:
            return DefinitionError(reason, file=filename, element_id=element_id, line=at.sourceline)
        return DefinitionError(
            f"form field of '{element_id}': {reason}", file=filename, element_id=field_id, line=at.sourceline
        )

    if not field_id:
        raise fail("form field without an id")
    if field_id.startswith(RESERVED_PREFIX):
        raise fail(f"form field ids must not start with '{RESERVED_PREFIX}'")
    ftype = (el.get("type") or "string").strip()
    if ftype not in FIELD_TYPES:
        raise fail(f"unknown form field type '{ftype}' (supported: {', '.join(FIELD_TYPES)})")

    limits: dict[str, Any] = {"required": False, "readonly": False}
    given: set[str] = set()
    for validation in el.findall("camunda:validation", _NS):
        for con in validation.findall("camunda:constraint", _NS):
            name = (con.get("name") or "").strip()
            if not name:
                raise fail("constraint without a name", con)
            if name not in _CONSTRAINTS:
                raise fail(f"unknown constraint '{name}' (supported: {', '.join(_CONSTRAINTS)})", con)
            if name in given:
                raise fail(f"constraint '{name}' given twice", con)
            given.add(name)
            config = con.get("config")
            if name in ("required", "readonly"):
                limits[name] = True
            elif name in ("min", "max"):
                if ftype != "long":
                    raise fail(f"constraint '{name}' applies only to long fields, not {ftype}", con)
                number = _number(config)
                if number is None:
                    raise fail(f"constraint '{name}' needs a number as config, got {config!r}", con)
                limits[name] = number
            else:  # minlength, maxlength
                if ftype not in ("string", "enum"):
                    raise fail(f"constraint '{name}' applies only to string fields, not {ftype}", con)
                text = (config or "").strip()
                if not (text.isascii() and text.isdigit()):
                    raise fail(
                        f"constraint '{name}' needs a whole number >= 0 as config, got {config!r}", con
                    )
                limits[name] = int(text)
    if limits.get("min") is not None and limits.get("max") is not None and limits["min"] > limits["max"]:
        raise fail(f"constraint min ({limits['min']}) is greater than max ({limits['max']})")
    if (
        limits.get("minlength") is not None
        and limits.get("maxlength") is not None
        and limits["minlength"] > limits["maxlength"]
    ):
        raise fail(
            f"constraint minlength ({limits['minlength']}) is greater than maxlength ({limits['maxlength']})"
        )

    enum_values: list[tuple[str, str]] = []
    if ftype == "enum":
        for val in el.findall("camunda:value", _NS):
            vid = val.get("id")
            if not vid:
                raise fail("enum value without an id", val)
            if any(vid == known for known, _ in enum_values):
                raise fail(f"duplicate enum value id '{vid}'", val)
            enum_values.append((vid, val.get("name") or vid))
        if not enum_values:
            raise fail("enum field without values (camunda:value)")

    properties: list[tuple[str, str]] = []
    for prop in el.findall("camunda:properties/camunda:property", _NS):
        pid = prop.get("id")
        if not pid:
            raise fail("property without an id", prop)
        if any(pid == known for known, _ in properties):
            raise fail(f"duplicate property id '{pid}'", prop)
        properties.append((pid, prop.get("value") or ""))

    date_pattern = None
    if ftype == "date" and el.get("datePattern"):
        date_pattern = el.get("datePattern")
        try:
            java_date_pattern_to_strptime(date_pattern)
        except ValueError as err:
            raise fail(f"datePattern {date_pattern!r}: {err}")

    return FormField(
        id=field_id,
        label=el.get("label"),
        type=ftype,
        default=el.get("defaultValue"),
        required=limits["required"],
        readonly=limits["readonly"],
        min=limits.get("min"),
        max=limits.get("max"),
        minlength=limits.get("minlength"),
        maxlength=limits.get("maxlength"),
        enum_values=tuple(enum_values),
        properties=tuple(properties),
        date_pattern=date_pattern,
    )


# ------------------------------------------------------------------------------------------ date patterns


def _letter_format(letter: str, count: int) -> str:
    if letter == "y":
        return "%y" if count == 2 else "%Y"
    if letter == "M":
        return "%m" if count <= 2 else ("%b" if count == 3 else "%B")
    if letter == "E":
        return "%a" if count <= 3 else "%A"
    simple = {
        "d": "%d",
        "H": "%H",
        "h": "%I",
        "m": "%M",
        "s": "%S",
        "S": "%f",
        "a": "%p",
        "Z": "%z",
        "X": "%z",
    }
    if letter in simple:
        return simple[letter]
    raise ValueError(f"pattern letter '{letter}' is not supported")


@functools.lru_cache(maxsize=256)
def java_date_pattern_to_strptime(pattern: str) -> str:
    """Translate a Java ``SimpleDateFormat`` pattern (``dd/MM/yyyy HH:mm``) into a ``strptime`` format.

    Supported letters: ``y`` ``M`` ``d`` ``H`` ``h`` ``m`` ``s`` ``S`` ``a`` ``E`` ``Z`` ``X``; quoted text
    (``'T'``, ``''`` for a quote) is literal.  Other letters raise ``ValueError``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if pattern.startswith("''", i):
                out.append("'")
                i += 2
                continue
            end = pattern.find("'", i + 1)
            while end != -1 and pattern.startswith("''", end):
                end = pattern.find("'", end + 2)
            if end == -1:
                raise ValueError("unterminated quote")
            out.append(pattern[i + 1 : end].replace("''", "'").replace("%", "%%"))
            i = end + 1
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            out.append(_letter_format(ch, j - i))
            i = j
        else:
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out)


# -------------------------------------------------------------------------------------------- submissions


def _is_missing(fld: FormField, value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == "" if fld.type == "string" else value.strip() == ""
    return False


def _fmt(number: int | float) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _to_long(fld: FormField, value: object) -> int:
    bad = InvalidVariables(fld.id, "must be a whole number")
    out_of_range = InvalidVariables(fld.id, f"must be between {LONG_MIN} and {LONG_MAX}")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, numbers.Integral):
        result = int(value)
    elif isinstance(value, (float, Decimal)):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            raise bad
        if isinstance(value, Decimal) and value.adjusted() > 19:  # before int(): 1E+999999999 is huge
            raise out_of_range
        if value != int(value):
            raise bad
        result = int(value)
    elif isinstance(value, str):
        match = _WHOLE_RE.fullmatch(value.strip())
        if not match:
            raise bad
        if len(match.group(2).lstrip("0")) > 19:  # before int(): no giant numbers from a form
            raise out_of_range
        result = int(match.group(1))
    else:
        raise bad
    if not LONG_MIN <= result <= LONG_MAX:
        raise out_of_range
    if fld.min is not None and result < fld.min:
        raise InvalidVariables(fld.id, f"must be at least {_fmt(fld.min)}")
    if fld.max is not None and result > fld.max:
        raise InvalidVariables(fld.id, f"must be at most {_fmt(fld.max)}")
    return Long(result)  # a Long, as Camunda's LongFormType makes it


def _to_boolean(fld: FormField, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "on"):
            return True
        if text == "false":
            return False
    raise InvalidVariables(fld.id, "must be true or false")


def _to_date(fld: FormField, value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.strptime(text, java_date_pattern_to_strptime(fld.date_pattern or DEFAULT_DATE_PATTERN))
        except ValueError:
            pass
    hint = f"e.g. 2026-11-22 or 2026-11-22T10:00:00Z, or {fld.date_pattern or DEFAULT_DATE_PATTERN}"
    raise InvalidVariables(fld.id, f"must be a date ({hint})")


def _length_checks(fld: FormField, text: str) -> None:
    if fld.minlength is not None and len(text) < fld.minlength:
        raise InvalidVariables(fld.id, f"must be at least {fld.minlength} characters")
    if fld.maxlength is not None and len(text) > fld.maxlength:
        raise InvalidVariables(fld.id, f"must be at most {fld.maxlength} characters")


def _coerce(fld: FormField, value: object) -> object:
    if fld.type == "long":
        return _to_long(fld, value)
    if fld.type == "boolean":
        return _to_boolean(fld, value)
    if fld.type == "date":
        return _to_date(fld, value)
    if fld.type == "enum":
        ids = [vid for vid, _ in fld.enum_values]
        if not isinstance(value, str) or value not in ids:
            raise InvalidVariables(fld.id, f"must be one of {', '.join(ids)}")
        _length_checks(fld, value)
        return value
    if isinstance(value, bool):
        value = "true" if value else "false"  # Java's Boolean.toString
    elif isinstance(value, (numbers.Integral, float, Decimal)):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidVariables(fld.id, "must be a string")
    _length_checks(fld, value)
    return value


def validate_submission(
    fields: list[FormField], values: Mapping[str, object], *, partial: bool = False,
    existing: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Check and coerce submitted ``values`` against a form; returns a new dict (see the module docstring).

    Every field is checked, in form order, and the first problem raises
    :class:`~engine.errors.InvalidVariables` (its ``problems`` lists every wrong field, so that a form can mark all
    of them at once) with the field id and a reason such as ``is required``,
    ``must be a whole number``, ``must be at least 1``, ``must be one of gold, silver`` or
    ``must be at most 200 characters`` or ``is read-only: ...``.  The result keeps the submission's order;
    a null submitted for a readonly field is dropped, variables that are not form fields are passed through
    unchanged, and a field that was not submitted takes its literal ``defaultValue`` (as in Camunda, readonly
    or not; an expression default is left out).

    ``existing``: the variables the task sees. As Camunda's ``RequiredValidator`` has it, a required field
    that is not sent (or sent as null) is satisfied by a variable of that name that already holds a value; an
    empty text is still refused.
    """
    existing = existing or {}
    coerced: dict[str, object] = {}
    dropped: set[str] = set()
    problems: list[InvalidVariables] = []
    for fld in fields:
        try:
            _check_field(fld, values, existing, partial, coerced, dropped)
        except InvalidVariables as err:
            problems.append(err)
    if problems:
        first = problems[0]
        first.problems = [(p.field, p.reason) for p in problems]
        raise first
    out = {key: coerced.get(key, value) for key, value in values.items() if key not in dropped}
    out.update({key: value for key, value in coerced.items() if key not in out})  # defaults of unsent fields
    return out


def _check_field(fld: FormField, values: Mapping[str, object], existing: Mapping[str, object], partial: bool,
                 coerced: dict[str, object], dropped: set[str]) -> None:
    """Check and coerce one field of a submission into `coerced` (see `validate_submission`)."""
    if fld.readonly and fld.id in values:
        if values[fld.id] is not None:
            raise InvalidVariables(fld.id, "is read-only: a form submission cannot set it")
        dropped.add(fld.id)
        return
    if fld.id not in values:
        if fld.readonly:
            if fld.default is not None and not partial and not is_expression(fld.default):
                coerced[fld.id] = _coerce(fld, fld.default)
            return
        if fld.required and not partial and existing.get(fld.id) is None:
            raise InvalidVariables(fld.id, "is required")
        if fld.default is not None and not partial and not is_expression(fld.default):
            coerced[fld.id] = _coerce(fld, fld.default)  # as Camunda: an optional field not sent takes its default
        return
    value = values[fld.id]
    if _is_missing(fld, value):
        if fld.required and (value is not None or existing.get(fld.id) is None):
            raise InvalidVariables(fld.id, "is required")
        coerced[fld.id] = "" if fld.type == "string" and value == "" else None
        return
    coerced[fld.id] = _coerce(fld, value)


# ---------------------------------------------------------------------------------------------- form values


def format_java_date(moment: dt.date, pattern: str) -> str:
    """``moment`` written with a Java ``SimpleDateFormat`` pattern (``dd/MM/yyyy`` -> ``04/01/2027``)."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    fmt = (java_date_pattern_to_strptime(pattern).replace("%f", f"{moment.microsecond // 1000:03d}")
           .replace("%Y", f"{moment.year:04d}"))  # strftime writes year 26 as `26`
    return moment.strftime(fmt)


class _NoFormValue(Exception):
    """A value the field's form type cannot show (Camunda fails the whole read; Stageflow shows it as it is)."""


def _form_value(field: Mapping[str, Any], value: object) -> object:
    """Camunda's ``convertToFormValue(convertToModelValue(value))`` of the field's form type."""
    ftype = field.get("type") or "string"
    if value is None:
        return None
    if ftype == "long":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise _NoFormValue
        if isinstance(value, str):
            if not _INT_RE.fullmatch(value.strip()):
                raise _NoFormValue
            value = int(value.strip())
        if not LONG_MIN <= value <= LONG_MAX:
            raise _NoFormValue
        return value
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.strip().lower() == "true"  # Java's new Boolean(String)
        raise _NoFormValue
    if ftype == "date":
        pattern = field.get("datePattern") or DEFAULT_DATE_PATTERN
        probe = FormField(id=str(field.get("id")), type="date", date_pattern=pattern)
        try:
            moment = _to_date(probe, value)
        except InvalidVariables:
            raise _NoFormValue
        return format_java_date(moment, pattern)
    if ftype == "enum":
        if not isinstance(value, str):
            raise _NoFormValue
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise _NoFormValue


def form_variables(fields: list[Mapping[str, Any]], values: Mapping[str, Any],
                   names: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """The form fields' values in Camunda's typed form, in form order, as ``GET .../form-variables`` answers.

    ``fields`` are ``FormField.to_json()`` dicts (a task's, with defaults evaluated); each field's value is the
    variable of that name when ``values`` has it, else the field's ``defaultValue``, converted to the field's
    type as Camunda's form types do: ``long`` -> ``Long``, ``boolean`` -> ``Boolean`` (the text ``"false"`` is
    ``false``), ``string`` and ``enum`` -> ``String``, ``date`` -> ``String`` written with the field's
    ``datePattern`` (default ``dd/MM/yyyy``).  Unset, it is a null of that type.  A value the type cannot show
    (a variable ``"abc"`` under a long field) keeps its own type.  ``names``: only the fields named.
    """
    from .variables import to_typed

    out: dict[str, dict[str, Any]] = {}
    for fld in fields:
        field_id = fld["id"]
        if names is not None and field_id not in names:
            continue
        raw = values[field_id] if field_id in values else fld.get("defaultValue")
        try:
            value = _form_value(fld, raw)
        except _NoFormValue:
            out[field_id] = to_typed(raw)
            continue
        out[field_id] = {"value": value, "type": FORM_VALUE_TYPES.get(fld.get("type") or "string", "String"),
                         "valueInfo": {}}
    return out
