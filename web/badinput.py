"""Input the database cannot store, refused with a 400 that names the parameter instead of failing with a 500.

PostgreSQL refuses NUL characters in text and values longer than their column (SQLite stores both, so the same
request would behave differently on the two databases); a JSON string may carry an unpaired surrogate
(`"\\ud800"`), which is no Unicode character and cannot be encoded; JSON nested a few thousand deep exhausts
Python's recursion. `check_request` refuses the first two before any route runs, for the REST API and the inbox's
forms alike; `bad_input` turns what still reaches the database (a value too long for its column) into a 400.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from flask import request
from sqlalchemy.exc import DataError

from engine.errors import BadRequest
from engine.variables import unstorable_text

_SUSPECT = re.compile(rb"\\u0000|\\ud[89a-f]|\\udc|\x00", re.IGNORECASE)


def _walk(value: Any, where: str) -> None:
    """Check every string in `value`; `where` names it in the message (`body field 'variables.x.value'`)."""
    if isinstance(value, str):
        problem = unstorable_text(value)
        if problem:
            raise BadRequest(f"{where} {problem}")
    elif isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            inner = f"{where.rstrip(chr(39))}.{key!s:.80}'" if where.endswith("'") else f"{where} '{key!s:.80}'"
            if isinstance(key, str):
                _walk(key, f"the name {key!r:.80} in {where}")
            _walk(item, inner)


def check_request() -> None:
    """Refuse NUL characters and unpaired surrogates in the path, the query, the form, the JSON body and the
    `Idempotency-Key` header, naming where they are."""
    for name, value in (request.view_args or {}).items():
        _walk(value, f"path parameter '{name}'")
    for name, value in request.args.items(multi=True):
        _walk(name, "a query parameter name")
        _walk(value, f"query parameter '{name}'")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            _walk(value, f"form field '{name}'")
    _walk(request.headers.get("Idempotency-Key", ""), "the Idempotency-Key header")
    if request.is_json:
        raw = request.get_data(cache=True)
        if _SUSPECT.search(raw):  # the walk costs a parse: only for bodies that may need it
            with contextlib.suppress(ValueError, RecursionError):  # malformed or too deep: the route reports it
                _walk(json.loads(raw), "body field")


def bad_input(err: BaseException) -> BadRequest | None:
    """The 400 for an error that bad input caused deeper down, else None."""
    if isinstance(err, RecursionError) and request.content_length:
        return BadRequest("the request body is nested too deeply")
    if isinstance(err, UnicodeEncodeError) and "surrogate" in err.reason:  # one the checks before could not see
        return BadRequest("a value cannot be stored: it contains an unpaired surrogate, which is not a Unicode "
                          "character")
    # SQLAlchemy's DataError, or the driver's own where the store writes on the driver's cursor (psycopg)
    if isinstance(err, DataError) or any(c.__name__ == "DataError" for c in type(err).__mro__):
        orig = getattr(err, "orig", None) or err
        reason = (str(orig).strip() or type(orig).__name__).splitlines()[0]
        params = getattr(err, "params", None)
        params = params if isinstance(params, dict) else {}
        limit = re.search(r"varying\((\d+)\)", reason)
        if "too long" in reason and limit:
            found = _too_long(request.get_json(silent=True), int(limit.group(1)), "body field")
            if found:
                return BadRequest(f"{found[0]} is too long: {found[1]} characters, at most {limit.group(1)}")
            longest = max(((k, v) for k, v in params.items() if isinstance(v, str)), key=lambda kv: len(kv[1]),
                          default=None)
            if longest is not None:
                column = re.sub(r"_\d+$", "", longest[0])
                return BadRequest(f"'{column}' is too long: {len(longest[1])} characters, at most {limit.group(1)}")
        return BadRequest(f"a value cannot be stored: {reason}")


def _too_long(value: Any, limit: int, where: str) -> tuple[str, int] | None:
    """The first name or short-field value in `value` longer than `limit` (long variable values are fine)."""
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where.rstrip(chr(39))}.{key!s:.80}'" if where.endswith("'") else f"{where} '{key!s:.80}'"
            if isinstance(key, str) and len(key) > limit:
                return f"the name '{key:.40}...' in {where}", len(key)
            if key == "value" and isinstance(item, str):
                continue
            found = _too_long(item, limit, inner)
            if found:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _too_long(item, limit, f"{where} [{n}]")
            if found:
                return found
    elif isinstance(value, str) and len(value) > limit:
        return where, len(value)
    return None
    return None
