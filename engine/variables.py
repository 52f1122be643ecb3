"""Process variables: Camunda's typed form, the CLI's `name=value` form, and the queryable projection."""

from __future__ import annotations

import json
import math
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from dateutil import parser as dateparser

from .errors import InvalidVariables
from .scoped import scoped
from .views import iso

CAMUNDA_TYPES = ("String", "Boolean", "Integer", "Short", "Long", "Double", "Date", "Json", "Object", "Null")
BINARY_TYPES = ("File", "Bytes")  # Camunda's types of binary content, which Stageflow does not keep
_INT_RANGES = {"Integer": (-(2**31), 2**31 - 1), "Short": (-(2**15), 2**15 - 1), "Long": (-(2**63), 2**63 - 1)}


class Long(int):
    """A whole number declared as Camunda's `Long`: it stays a Long through the engine (stored, reloaded, read
    back over REST), as a Java client that set one expects. Arithmetic on it gives a plain int (an Integer)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return int.__repr__(self)


class Short(int):
    """A whole number declared as Camunda's `Short` (see `Long`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return int.__repr__(self)


_DECLARED = {"Long": Long, "Short": Short}


def beyond_long(value: Any) -> str | None:
    """Why a whole number cannot be a variable, or None: one beyond a Long's range, which no Camunda client (nor
    a double, past 1e308) can hold."""
    low, high = _INT_RANGES["Long"]
    if type(value) is int and not low <= value <= high:
        # (Python writes no more than 4,300 digits of a number: count them by its bits past that)
        shown = str(value) if value.bit_length() < 4000 else f"a number of {int(value.bit_length() * 0.30103)} digits"
        return (f"{shown[:20]}{'...' if len(shown) > 20 else ''} is a whole number beyond a Long's range "
                f"({low} to {high}); keep it as a Double or a String")
    return None


def unstorable_text(value: Any) -> str | None:
    """Why a text in `value` (a string, or one in a list or dict, keys too) cannot be stored alike on every
    database, or None: a NUL character (PostgreSQL refuses it in text, SQLite keeps it), or an unpaired surrogate
    (`"\\ud800"` in JSON), which is no Unicode character and no UTF-8 database stores."""
    if type(value) is JsonText:  # the value its JSON text holds (`"\\u0000"` would reach the database escaped)
        value = json.loads(value)
    if type(value) is str:
        if value.isascii():
            return "contains a NUL character" if "\x00" in value else None
        if "\x00" in value:
            return "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate, which is not a Unicode character"
        return None
    if isinstance(value, dict):
        return next((why for item in value.items() for part in item if (why := unstorable_text(part))), None)
    if isinstance(value, list):
        return next((why for item in value if (why := unstorable_text(item))), None)
    return None


MAX_STORED_ITEMS = 10_000_000
"""Most items the lists and maps of one variable may hold, nested, each appearance counted: what a value writes
as JSON. A script's `[[0] * 10**6] * 10**6` is small in memory (one inner list a million times) and 10**12
items as JSON, which the save would write for ever."""


def too_many_items(value: Any, limit: int = MAX_STORED_ITEMS) -> str | None:
    """Why `value` is too large to store (more than `limit` items in its lists and maps, nested), or None. Stops
    as soon as the count passes the limit, so that a value that repeats a large list costs no more to check. A
    value that is no list or map is None at once."""
    if not isinstance(value, (list, tuple, dict)):
        return None
    left = limit
    pending = [value]
    while pending:
        current = pending.pop()
        items = current.values() if isinstance(current, dict) else current
        left -= len(current)
        if left < 0:
            return (f"holds more than {limit:,} items in its lists and maps (each repeat counted): too large to "
                    "store")
        pending.extend(item for item in items if isinstance(item, (list, tuple, dict)))
    return None


JSON_FORMAT = "application/json"


class _Serialized:
    """Camunda's `Object` variable: its Java class (`objectTypeName`) and the format it is serialized in
    (`serializationDataFormat`) travel with it, so that a Java client reads back the object it wrote."""

    object_type_name: str | None
    data_format: str

    def value_info(self) -> dict[str, Any]:
        return {"objectTypeName": self.object_type_name, "serializationDataFormat": self.data_format}


class ObjectDict(_Serialized, dict):  # type: ignore[type-arg]
    """An `Object` serialized as a JSON object: scripts and expressions read it as a dict."""

    def __init__(self, value: Any = (), *, object_type_name: str | None = None, data_format: str = JSON_FORMAT):
        dict.__init__(self, value)
        self.object_type_name, self.data_format = object_type_name, data_format


class ObjectList(_Serialized, list):  # type: ignore[type-arg]
    """An `Object` serialized as a JSON array (a Java list): scripts read it as a list."""

    def __init__(self, value: Any = (), *, object_type_name: str | None = None, data_format: str = JSON_FORMAT):
        list.__init__(self, value)
        self.object_type_name, self.data_format = object_type_name, data_format


class SerializedObject(_Serialized, str):
    """An `Object` kept as the text it was sent as: a JSON scalar, or another format (Java serialization in base64,
    XML) that Stageflow does not read, handed back unchanged."""

    def __new__(cls, text: str, *, object_type_name: str | None = None, data_format: str = JSON_FORMAT) -> Any:
        made = str.__new__(cls, text)
        made.object_type_name, made.data_format = object_type_name, data_format
        return made

    def __reduce__(self) -> Any:  # copies and pickles keep the class and its valueInfo
        return (_serialized_object, (str(self), self.object_type_name, self.data_format))


def _serialized_object(text: str, object_type_name: str | None, data_format: str) -> SerializedObject:
    return SerializedObject(text, object_type_name=object_type_name, data_format=data_format)


OBJECT_TYPES = (ObjectDict, ObjectList, SerializedObject)


class JsonText(str):
    """A `Json` variable whose JSON is one text, number, boolean or null (`"42"`, `"\"late\""`, `"null"`), kept as
    that JSON text, compact: it stays Json, as Camunda's Spin value does, where a parsed `42` would come back an
    Integer. Scripts read the JSON text (Camunda's scripts get a Spin node). A Json object or array is kept parsed,
    as a dict or a list."""

    __slots__ = ()

    def __reduce__(self) -> Any:  # copies and pickles keep the class
        return (JsonText, (str(self),))


def json_value(text: str) -> Any:
    """A `Json` variable's value from its JSON text: a dict or a list, or a `JsonText` for a single value
    (`json.JSONDecodeError` for text that is not JSON)."""
    parsed = json.loads(text)
    if isinstance(parsed, (dict, list)):
        return parsed
    return JsonText(json.dumps(parsed, separators=(",", ":"), ensure_ascii=False))


def make_object(value: Any, value_info: dict[str, Any] | None) -> Any:
    """An `Object` variable from its serialized value and valueInfo (see `_Serialized`)."""
    info = value_info or {}
    type_name = info.get("objectTypeName")
    data_format = info.get("serializationDataFormat") or JSON_FORMAT
    options = {"object_type_name": str(type_name) if type_name is not None else None, "data_format": data_format}
    if data_format == JSON_FORMAT and isinstance(value, str):
        parsed = json.loads(value)  # the caller reports a JSONDecodeError
        if isinstance(parsed, dict):
            return ObjectDict(parsed, **options)
        if isinstance(parsed, list):
            return ObjectList(parsed, **options)
        return SerializedObject(value, **options)
    if isinstance(value, dict):
        return ObjectDict(value, **options)
    if isinstance(value, list):
        return ObjectList(value, **options)
    return SerializedObject(value if isinstance(value, str) else json.dumps(value), **options)


def object_json(value: Any) -> dict[str, Any]:
    """An `Object` as plain JSON (the runtime's and the variable table's form), read back by `object_from_json`."""
    plain = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else str(value)
    return {"value": plain, "objectTypeName": value.object_type_name, "serializationDataFormat": value.data_format,
            "kind": type(value).__name__}


def object_from_json(stored: dict[str, Any]) -> Any:
    kinds = {"ObjectDict": ObjectDict, "ObjectList": ObjectList, "SerializedObject": SerializedObject}
    kind = kinds.get(stored.get("kind", ""), SerializedObject)
    return kind(stored.get("value"), object_type_name=stored.get("objectTypeName"),
                data_format=stored.get("serializationDataFormat") or JSON_FORMAT)


def type_of(value: Any) -> str:
    """The Camunda type name of a Python value."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (Long, Short)):
        return type(value).__name__
    if isinstance(value, OBJECT_TYPES):
        return "Object"
    if isinstance(value, JsonText):
        return "Json"
    if isinstance(value, int):
        return "Integer" if _INT_RANGES["Integer"][0] <= value <= _INT_RANGES["Integer"][1] else "Long"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "String"
    if isinstance(value, (datetime, date)):
        return "Date"
    return "Json"


def to_typed(value: Any) -> dict[str, Any]:
    """A value in Camunda's typed form: `{"value": ..., "type": ..., "valueInfo": {}}`."""
    kind = type_of(value)
    if kind == "Date":
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return {"value": iso(moment), "type": "Date", "valueInfo": {}}
    if kind == "Json":  # compact, as Camunda's JSON serializer writes it
        text = str(value) if isinstance(value, JsonText) else json.dumps(value, default=_json_default,
                                                                         separators=(",", ":"))
        return {"value": text, "type": "Json", "valueInfo": {}}
    if kind == "Object":  # serialized as it came, with its class and format
        text = str(value) if isinstance(value, SerializedObject) else json.dumps(value, default=str,
                                                                                 separators=(",", ":"))
        return {"value": text, "type": "Object", "valueInfo": value.value_info()}
    return {"value": value, "type": kind, "valueInfo": {}}


def from_typed(name: str, typed: Any) -> Any:
    """Read one Camunda typed variable; a value that does not fit its type is `InvalidVariables` naming it."""
    if not isinstance(typed, dict):
        raise InvalidVariables(name, "must be an object with 'value' and 'type'")
    kind = typed.get("type")
    value = typed.get("value")
    if kind is None:
        return value
    if not isinstance(kind, str):
        raise InvalidVariables(name, "type must be a string")
    kind = kind[0].upper() + kind[1:] if kind else kind  # Camunda's clients may lower the first letter only
    if kind in BINARY_TYPES:
        raise InvalidVariables(name, f"type '{kind}' (binary content) is not supported: Stageflow keeps no files "
                                     "or bytes; keep the content elsewhere and send where it is as a String")
    if kind not in CAMUNDA_TYPES:
        raise InvalidVariables(name, f"unsupported type '{kind}' (use one of {', '.join(CAMUNDA_TYPES)})")
    if value is None or kind == "Null":
        return None
    if kind == "String":
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int, float)):  # Camunda's REST maps a number or a boolean to its text
            return java_text(value)
        raise InvalidVariables(name, f"value {value!r} is not a String")
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidVariables(name, f"value {value!r} is not a Boolean")
    if kind in _INT_RANGES:
        number = _whole(name, kind, value)
        low, high = _INT_RANGES[kind]
        if not low <= number <= high:
            raise InvalidVariables(name, f"value {value!r} is out of range for {kind}")
        return _DECLARED[kind](number) if kind in _DECLARED else number
    if kind == "Double":
        if isinstance(value, bool):
            raise InvalidVariables(name, f"value {value!r} is not a Double")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidVariables(name, f"value {value!r} is not a Double")
        if not math.isfinite(number):  # '1e400', 'nan': JSON could not hand the value back
            raise InvalidVariables(name, f"value {value!r} is not a finite Double")
        return number
    if kind == "Date":
        return parse_date(name, value)
    if kind == "Object":
        info = typed.get("valueInfo")
        if info is not None and not isinstance(info, dict):
            raise InvalidVariables(name, "valueInfo must be an object")
        try:
            return make_object(value, info)
        except json.JSONDecodeError as err:
            raise InvalidVariables(name, f"value is not valid JSON ({JSON_FORMAT}, the serializationDataFormat "
                                         f"given or assumed): {err.msg}")
    if kind == "Json":
        if isinstance(value, str):
            try:
                return json_value(value)
            except json.JSONDecodeError as err:
                raise InvalidVariables(name, f"value is not valid JSON: {err.msg}")
        return value if isinstance(value, (dict, list)) else JsonText(json.dumps(value, separators=(",", ":")))
    return value  # pragma: no cover - every type is handled above


def java_text(value: bool | int | float) -> str:
    """A JSON number or boolean as Java writes it (`String.valueOf`): what Camunda stores when a String variable
    comes as `{"value": 12345, "type": "String"}`. `true`, `12345`, `1.5`, `1.0E20`, `1.0E-4`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    for precision in range(17):  # the fewest digits that read back as the same double, in scientific form
        text = f"{value:.{precision}e}"
        if float(text) == value:
            break
    digits, exponent = text.split("e")
    if "." not in digits:
        digits += ".0"
    return f"{digits}E{int(exponent)}"


def _whole(name: str, kind: str, value: Any) -> int:
    article = "an" if kind[0] in "AEIOU" else "a"
    if isinstance(value, bool):
        raise InvalidVariables(name, f"value {value!r} is not {article} {kind}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidVariables(name, f"value {value!r} is not {article} {kind}")


def parse_date(name: str, value: Any) -> datetime:
    """An ISO 8601 date or date-time (Camunda's `2026-01-05T09:00:00.000+0100` too)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise InvalidVariables(name, f"value {value!r} is not a Date")
    try:
        return dateparser.isoparse(value.strip())
    except (ValueError, OverflowError):
        raise InvalidVariables(name, f"value {value!r} is not an ISO 8601 date such as 2026-01-05T09:00:00Z")


def from_typed_map(variables: Any) -> dict[str, Any]:
    """A whole `{"name": {"value":..., "type":...}}` map."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidVariables("variables", "must be an object of name: {value, type}")
    return {name: from_typed(name, typed) for name, typed in variables.items()}


def to_typed_map(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: to_typed(value) for name, value in values.items()}


def parse_assignment(text: str) -> tuple[str, Any]:
    """`name=value` from the command line: the value is JSON where it parses, else a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InvalidVariables(text, "expected name=value")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def stored_value(kind: str, encoded: str) -> Any:
    """A variable's value from its projected row: the JSON encoding, a Date back as a datetime."""
    value = json.loads(encoded)
    if kind == "Object" and isinstance(value, dict):
        return object_from_json(value)
    if kind == "Json" and isinstance(value, str):  # a single JSON value, kept as its text (`JsonText`)
        return JsonText(value)
    if kind == "Date" and isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif kind in _DECLARED and isinstance(value, int) and not isinstance(value, bool):
        value = _DECLARED[kind](value)
    return value


def changed_values(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The variables of `after` that are new or differ from `before`. A new type is a change even for an equal
    value (1 and True, 5 and 5.0, 5 and Long 5): the variable's type and text differ."""
    return {name: value for name, value in after.items()
            if name not in before or type(before[name]) is not type(value) or before[name] != value}


def project_variable(value: Any) -> dict[str, Any]:
    """The columns of a `variable` row: type, text and number forms for queries, and the JSON value."""
    kind = type_of(value)
    text_value = None
    number_value = None
    if kind == "String":
        text_value = value[:4000]
    elif kind == "Boolean":
        text_value = "true" if value else "false"
    elif kind in ("Integer", "Short", "Long", "Double"):
        number_value = float(value) if kind == "Double" or abs(value) < 1e300 else None  # (refused at the door)
        text_value = str(value)
    elif kind == "Date":
        text_value = value.isoformat()
    elif kind == "Object":
        value = object_json(value)
    return {"type": kind, "text_value": text_value, "number_value": number_value,
            "value": json.dumps(value) if type(value) in _PLAIN else json.dumps(
                value, default=_json_default if kind == "Json" else _default)}


# values json.dumps writes without `default` (which costs a new encoder a call)
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):  # a JSON array, as the runtime keeps it (and Jackson writes a Set)
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    return str(value)


def _json_default(value: Any) -> Any:
    """A value inside a Json variable that JSON has no form for: a date as Camunda writes one
    (`2026-01-05T09:00:00.000+0000`), a set as an array; anything else as its text."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return iso(datetime(value.year, value.month, value.day))
    return _default(value)


def finite_json(value: Any) -> Any:
    """`value` with each NaN or infinite number replaced by the text `"NaN"`, `"Infinity"` or `"-Infinity"`, as
    Camunda's Jackson writes a Java double by default: JSON has no words for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)`, always valid JSON (see `finite_json`)."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite_json(value), **options)



# Camunda's transient variables (`valueInfo.transient`): seen by the change that sets them (conditions, scripts,
# mappings), never stored. The names given in this context (a request) are dropped from the instance at its save.
_TRANSIENT: ContextVar[frozenset[str]] = ContextVar("stageflow_transient", default=frozenset())


def transient_names(variables: Any) -> set[str]:
    """The names of a typed map's variables marked `valueInfo: {"transient": true}`."""
    if not isinstance(variables, dict):
        return set()
    return {name for name, typed in variables.items()
            if isinstance(typed, dict) and isinstance(typed.get("valueInfo"), dict)
            and typed["valueInfo"].get("transient") is True}


def transient(names: set[str]) -> scoped[frozenset[str]]:
    """Changes inside the block take `names` (besides those already given) as transient variables."""
    return scoped(_TRANSIENT, _TRANSIENT.get() | frozenset(names))


def transient_now() -> frozenset[str]:
    """The names of the transient variables of the change going on (none outside `transient`)."""
    return _TRANSIENT.get()
