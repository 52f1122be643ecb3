"""Generated forms as HTML inputs, and what a submitted HTML form means as variables.

A form field (`engine.forms.FormField.to_json()`) becomes one input: `string` a text box, `long` a number box,
`boolean` a checkbox, `date` a date picker, `enum` a select. The constraints become HTML attributes (`required`,
`min`, `max`, `minlength`, `maxlength`, `readonly`) so that the browser checks them first; the engine checks
them again on submission (`InvalidVariables`), and its message is shown next to the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.forms import java_date_pattern_to_strptime

PREFIX = "var."  # input names: a field id can never clash with `csrf_token` or `businessKey`

_INPUT_TYPES = {"string": "text", "long": "number", "boolean": "checkbox", "date": "date", "enum": "select"}


@dataclass
class Input:
    """One form field as the template renders it."""

    id: str
    label: str
    type: str
    input_type: str
    value: str = ""
    checked: bool = False
    required: bool = False
    readonly: bool = False
    min: int | float | None = None
    max: int | float | None = None
    minlength: int | None = None
    maxlength: int | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def name(self) -> str:
        return PREFIX + self.id

    @property
    def html_id(self) -> str:
        return "field-" + self.id

    @property
    def hint(self) -> str | None:
        """The constraints in words, shown under the input."""
        parts = []
        if self.type == "long":
            if self.min is not None and self.max is not None:
                parts.append(f"a whole number from {_fmt(self.min)} to {_fmt(self.max)}")
            elif self.min is not None:
                parts.append(f"a whole number, at least {_fmt(self.min)}")
            elif self.max is not None:
                parts.append(f"a whole number, at most {_fmt(self.max)}")
        if self.maxlength is not None and self.minlength:
            parts.append(f"{self.minlength} to {self.maxlength} characters")
        elif self.maxlength is not None:
            parts.append(f"at most {self.maxlength} characters")
        elif self.minlength:
            parts.append(f"at least {self.minlength} characters")
        return "; ".join(parts).capitalize() or None


def inputs(fields: list[dict[str, Any]], current: Mapping[str, Any] | None = None,
           submitted: Mapping[str, str] | None = None,
           errors: list[tuple[str, str]] | None = None) -> list[Input]:
    """The inputs of a form: filled with what was `submitted` (after an error), else the `current` variables,
    else the fields' defaults; `errors` are (field id, reason) pairs from the engine, each marked on its field."""
    reasons = dict(reversed(errors or []))  # a field's first reason
    current = current or {}
    out = []
    for fld in fields:
        item = Input(id=fld["id"], label=fld.get("label") or fld["id"], type=fld["type"],
                     input_type=_INPUT_TYPES.get(fld["type"], "text"), required=bool(fld.get("required")),
                     readonly=bool(fld.get("readonly")), min=fld.get("min"), max=fld.get("max"),
                     minlength=fld.get("minlength"), maxlength=fld.get("maxlength"),
                     options=[(v["id"], v.get("name") or v["id"]) for v in fld.get("values") or []])
        if submitted is not None and not item.readonly:
            raw: Any = submitted.get(item.name, "")
            if item.type == "boolean":
                item.checked = item.name in submitted
            else:
                item.value = str(raw)
        else:
            value = current.get(item.id, fld.get("defaultValue"))
            if item.type == "boolean":
                item.checked = value is True or (isinstance(value, str) and value.strip().lower() == "true")
            else:
                item.value = _text(item.type, value, fld.get("datePattern"))
        if item.id in reasons:
            item.error = reasons[item.id][:1].upper() + reasons[item.id][1:]
        out.append(item)
    return out


def submission(fields: list[dict[str, Any]], form: Mapping[str, str]) -> dict[str, Any]:
    """The variables an HTML form submits: every writable field, raw text for the engine to check and coerce.

    An unchecked checkbox sends nothing, so a boolean field absent from the form is `false`.
    """
    values: dict[str, Any] = {}
    for fld in fields:
        if fld.get("readonly"):
            continue
        name = PREFIX + fld["id"]
        if fld["type"] == "boolean":
            values[fld["id"]] = "true" if name in form else "false"
        elif name in form:
            values[fld["id"]] = form[name]
    return values


def _text(ftype: str, value: Any, date_pattern: str | None) -> str:
    if value is None:
        return ""
    if ftype == "date":
        return _date_text(value, date_pattern)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _date_text(value: Any, date_pattern: str | None) -> str:
    """`YYYY-MM-DD`, what a date input shows (empty when the value is no date)."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    if date_pattern:
        try:
            return dt.datetime.strptime(text, java_date_pattern_to_strptime(date_pattern)).date().isoformat()
        except ValueError:
            pass
    return ""


def _fmt(number: int | float) -> str:
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def split_errors(errors: list[tuple[str, str]] | None, fields: list[dict[str, Any]],
                 form_error: str | None) -> tuple[list[tuple[str, str]], str | None]:
    """(the errors of the form's fields, marked on them; the page's message for the others, if any)."""
    ids = {f["id"] for f in fields}
    on_fields = [e for e in errors or [] if e[0] in ids]
    others = [f"{field}: {reason}" for field, reason in errors or [] if field not in ids]
    return on_fields, "; ".join(others) if others else form_error
