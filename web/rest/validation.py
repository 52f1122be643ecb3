"""Request bodies checked against the OpenAPI document before a route runs: a malformed body is a 400 that names
the field, whatever the route, and the document stays the one contract of the API."""

from __future__ import annotations

import json
import re
from copy import deepcopy
from functools import cache
from typing import Any

from flask import Response, current_app, g, request
from jsonschema import Draft7Validator

from engine.errors import BadRequest
from engine.variables import CAMUNDA_TYPES

from .openapi import PATHS, SCHEMAS

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def openapi_path(rule: str) -> str:
    """`/engine-rest/task/<task_id>/complete` -> `/task/{id}/complete` (as the document names it)."""
    path = rule.removeprefix("/engine-rest")
    return _PARAM.sub(lambda m: "{name}" if m.group(1) == "name" else ("{key}" if m.group(1) == "key" else "{id}"),
                      path)


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 (`nullable`, `$ref` to components) to plain JSON Schema."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _json_schema(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    out = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    required = set(schema.get("required", []))
    for name, prop in out.get("properties", {}).items():
        if name not in required:  # an optional field sent as null means "not given", as Camunda reads it
            out["properties"][name] = {"anyOf": [prop, {"type": "null"}]}
    return out


@cache
def _validator(path: str, method: str) -> Draft7Validator | None:
    operation = PATHS.get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return Draft7Validator(_json_schema(deepcopy(content["application/json"]["schema"])))


VARIABLE_MAPS = {"variables", "modifications", "processVariables", "localVariables", "correlationKeys"}


def json_problem() -> str:
    """Why the request's body gives no JSON object: the parser's own words, with the line and column, or that it
    is null."""
    try:
        parsed = current_app.json.loads(request.get_data())
    except (ValueError, RecursionError) as err:
        return f"the request body is not valid JSON: {str(err)[:200] or type(err).__name__}"
    if parsed is None:
        return "the request body must be a JSON object, not null"
    return "the request body is not valid JSON: not a JSON document"


def check_body() -> None:
    """Raise `BadRequest` naming the first field of the JSON body that does not fit the documented schema."""
    if request.method not in ("POST", "PUT") or request.url_rule is None or not request.data:
        return
    validator = _validator(openapi_path(request.url_rule.rule), request.method)
    if validator is None:
        return
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest(json_problem())
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        while error.context:  # no branch of a oneOf/anyOf fits: name the deepest complaint, the likeliest meant
            error = max(error.context, key=lambda e: len(e.absolute_path))
        path = [str(p) for p in error.absolute_path]
        where = ".".join(path) or "body"
        message = error.message
        shown = repr(error.instance)  # jsonschema writes the value as Python does: say it as JSON (null, true)
        if message.startswith(shown):
            message = json.dumps(error.instance, default=str) + message[len(shown):]
        message = message if len(message) <= 200 else message[:200] + "..."
        if error.validator == "enum" and path[-1:] == ["type"] and set(path) & VARIABLE_MAPS:
            raise BadRequest(f"{where}: {json.dumps(error.instance, default=str)} is not a variable type Stageflow "
                             f"knows: use one of {', '.join(CAMUNDA_TYPES)} (the first letter in either case)")
        if any(part in VARIABLE_MAPS for part in path[:-1]):  # inside a map of variables (a topic's `variables`
            # is a list of names)
            message += ' (a variable is an object such as {"value": 1200, "type": "Integer"})'
        raise BadRequest(f"{where}: {message}")


# Every list and count takes these, whether or not its entry in the document names them.
ALWAYS_ALLOWED = frozenset({"firstResult", "maxResults"})


@cache
def query_parameters(path: str, method: str) -> dict[str, dict[str, Any]] | None:
    """The documented query parameters of a list or count route (name -> schema), None for other routes.

    A list or count is a GET answering an array or a count, with no id in its path, or a POST query (a list or
    count with the query in the body). Routes of one resource (`/task/{id}/variables?deserializeValues=...`)
    are not checked: Camunda clients send options there that change nothing Stageflow answers."""
    operation = PATHS.get(path, {}).get(method.lower())
    if operation is None or "{" in path:
        return None
    ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
    is_list = ok.get("type") == "array" or ok.get("$ref", "").endswith("/Count")
    if not is_list:
        return None
    return {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p["in"] == "query"}


def check_query() -> None:
    """Raise `BadRequest` for a query parameter that a list or count route does not support.

    A filter Camunda has but Stageflow does not would otherwise be ignored and the whole list answered: a client
    acting on that list would act on everything. Values of a documented enumeration (`sortBy`, `sortOrder`) are
    checked too, and `sortBy` and `sortOrder` go together, as in Camunda."""
    if request.url_rule is None or not request.args:
        return
    path = openapi_path(request.url_rule.rule)
    documented = query_parameters(path, request.method)
    if documented is None:
        return
    for name in request.args:
        if name in documented and name not in ALWAYS_ALLOWED and "" in request.args.getlist(name):
            _empty_filter(name, documented[name])
        if name not in documented and name not in ALWAYS_ALLOWED:
            supported = ", ".join(sorted(set(documented) | ALWAYS_ALLOWED))
            raise BadRequest(f"Stageflow does not support the query parameter '{name}' of {path} "
                             f"(supported: {supported})")
        allowed = documented.get(name, {}).get("enum")
        if allowed is not None:
            for value in request.args.getlist(name):
                if value not in allowed:
                    raise BadRequest(f"query parameter '{name}' of {path} cannot be '{value}' "
                                     f"(use one of {', '.join(allowed)})")
    check_sorting(request.args)


def _empty_filter(name: str, schema: dict[str, Any]) -> None:
    """A filter given with no value (`?processInstanceId=`): for a text filter, a list that matches nothing, as
    Camunda reads it (the empty text is the value looked for; see `answer_empty_filter`); for a boolean, a number
    or one of a set of values, a 400. Never the unfiltered list: a script whose id variable came out empty would
    act on everything."""
    if schema.get("type", "string") != "string" or "enum" in schema:
        raise BadRequest(f"query parameter '{name}' has no value")
    g.empty_filter = name


def check_query_body(data: Any) -> None:
    """The same for a POST query (a list or count with the query in the body, beside its GET form): a text field
    of the query sent as "" matches nothing."""
    if request.url_rule is None or not isinstance(data, dict):
        return
    path = openapi_path(request.url_rule.rule)
    if query_parameters(path, request.method) is None or "get" not in PATHS.get(path, {}):
        return  # not a query (`/external-task/fetchAndLock` answers a list, and acts)
    for name, value in data.items():
        if value == "" and name not in ("sortBy", "sortOrder"):
            g.empty_filter = name
            return


def answer_empty_filter(response: Response) -> Response:
    """A list or count whose text filter was given empty (`_empty_filter`) answers what matches it: nothing.

    The route ran as usual (who may call it, the other parameters checked) and its answer is replaced."""
    if g.get("empty_filter") is None or response.status_code != 200 or not response.is_json:
        return response
    answer = response.get_json()
    if isinstance(answer, list):
        response.set_data(current_app.json.dumps([]))
    elif isinstance(answer, dict) and set(answer) == {"count"}:
        response.set_data(current_app.json.dumps({"count": 0}))
    return response


def check_sorting(source: Any) -> None:
    """`sortBy` and `sortOrder` are given together or not at all (Camunda answers 400 otherwise)."""
    if (source.get("sortBy") is None) != (source.get("sortOrder") is None):
        raise BadRequest("Only a single sorting parameter specified. sortBy and sortOrder required")
