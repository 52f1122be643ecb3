"""The Camunda 7 compatible REST API under `/engine-rest`: a thin layer over `engine.api.Engine`.

Every request is authenticated (HTTP Basic against Stageflow's users, as Camunda clients send it, or a Bearer API
token). Members of `admins` may do everything; other users see and work the tasks they are assignee or candidate
of, start processes, correlate messages and work external tasks. Request and response shapes follow the Camunda
7.24 REST reference; errors are Camunda's `{"type": ..., "message": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, UnsupportedMediaType

from engine.api import Engine
from engine.errors import BadRequest, Forbidden, InvalidVariables, NotFound, Unauthorized
from engine.identity import Principal
from engine.variables import from_typed_map, parse_date, transient, transient_names

bp = Blueprint("rest", __name__, url_prefix="/engine-rest")


def engine() -> Engine:
    return current_app.extensions["stageflow"]


def principal() -> Principal:
    return g.principal


def require_admin() -> None:
    """Operations on deployments, jobs, incidents and other people's instances: `admins` only."""
    if not principal().is_admin:
        raise Forbidden(f"user '{principal().user_id}' is not in group 'admins'")


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in ("rest.engines", "rest.version", "rest.openapi"):
        g.principal = None
        return
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    found: Principal | None = None
    identity = engine().identity
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials")
        found = identity.authenticate(user, password)
    elif scheme.lower() == "bearer":
        found = identity.authenticate_token(credentials.strip())
    if found is None:
        raise Unauthorized("authentication required: HTTP Basic with a Stageflow user or a Bearer API token"
                           if not header else "wrong user name, password or token")
    g.principal = found


@bp.before_request
def _check_query() -> None:
    """A list or count refuses the query parameters it does not support (see `validation.check_query`)."""
    if request.endpoint in ("rest.engines", "rest.version", "rest.openapi", "rest.unknown_endpoint"):
        return
    from .validation import check_query

    check_query()


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown_endpoint(unknown: str):  # type: ignore[no-untyped-def]
    """A path under `/engine-rest` that Stageflow has no route for: a 404 that says so (Camunda's JAX-RS answers
    `NotFoundException`), so that a client can tell it from an unknown id; 405 when the path has other methods."""
    # a fixed path with other methods (GET /message): 405, as Camunda's. A path one of whose segments a route
    # reads as an id (PUT /job/suspended, DELETE /incident/{id}) is most often an endpoint of Camunda's that
    # Stageflow lacks: said so below
    if _other_method_route(fewer_arguments_than=1):
        raise MethodNotAllowed(description=f"{request.method} is not supported on {request.path}")
    raise NotFoundEndpoint(f"HTTP 404 Not Found: Stageflow does not support the endpoint {request.method} "
                           f"/engine-rest/{unknown}")


def other_methods_path() -> bool:
    """Whether the request's path, which a route read with an id in it (GET /external-task/{id}), is a fixed path
    of another method's route (POST /external-task/fetchAndLock): Camunda's JAX-RS matches the more literal path
    first and answers 405 there, where the route's "unknown id" would be a 404."""
    rule = request.url_rule
    return rule is not None and bool(rule.arguments) and _other_method_route(fewer_arguments_than=len(rule.arguments))


def _other_method_route(*, fewer_arguments_than: int) -> bool:
    """Whether a route of another method takes the request's path with fewer path arguments than given."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST", "PUT", "DELETE"):
        if method == request.method:
            continue
        try:
            other, _ = adapter.match(request.path, method=method, return_rule=True)
        except HTTPException:
            continue
        if other.endpoint != "rest.unknown_endpoint" and len(other.arguments) < fewer_arguments_than:
            return True
    return False


class NotFoundEndpoint(NotFound):
    """An endpoint Stageflow does not have (not an unknown id): Camunda's type for it."""

    rest_type = "NotFoundException"


def check_sorting_of_query_body() -> None:
    """A POST query (a list or count with the query in the body) takes `sortBy` and `sortOrder` together, and a
    text filter sent as "" matches nothing (`validation.check_query_body`)."""
    from .validation import check_query_body, check_sorting, openapi_path, query_parameters

    if request.url_rule is not None and query_parameters(openapi_path(request.url_rule.rule), request.method) \
            is not None and isinstance(data := request.get_json(silent=True), dict):
        check_sorting(data)
        check_query_body(data)


@bp.after_request
def _answer_empty_filter(response: Response) -> Response:
    from .validation import answer_empty_filter

    return answer_empty_filter(response)


def body() -> dict[str, Any]:
    """The JSON object of the request (an empty one when there is no body), checked against the OpenAPI
    document on first use: a route reads its body after it has checked who may call it."""
    if not request.data:
        if request.form or request.files:  # a form's fields, read off by Flask: not what this route takes
            raise UnsupportedMediaType(f"the request body must be JSON (Content-Type: application/json), not "
                                       f"{request.mimetype}")
        return {}
    if not request.is_json:  # as Camunda's JAX-RS resources, which consume application/json only
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json), not "
                                   f"{request.mimetype or 'a body without a Content-Type'}")
    if not g.get("body_checked"):
        from .validation import check_body

        check_body()
        g.body_checked = True
        check_sorting_of_query_body()
    data = request.get_json(silent=True)
    if data is None:
        from .validation import json_problem

        raise BadRequest(json_problem())
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


def typed_variables(data: dict[str, Any], field: str = "variables") -> dict[str, Any]:
    """`{"name": {"value": ..., "type": ...}}` of the body's `field`, as Python values (400 naming a bad one)."""
    raw = data.get(field)
    if raw is None:
        return {}
    values = from_typed_map(raw)
    names = transient_names(raw) if field != "correlationKeys" else set()
    if names:  # `valueInfo.transient`: for the changes of this request only (see engine.variables.transient)
        scope = transient(names)
        scope.__enter__()
        g.setdefault("transient_scopes", []).append(scope)
    return values


@bp.teardown_request
def _end_transient(_error: BaseException | None) -> None:
    for scope in reversed(g.pop("transient_scopes", [])):
        scope.__exit__(None, None, None)


def body_variable(name: str) -> dict[str, Any]:
    """The body of a PUT of one variable (`{"value": ..., "type": ...}`) as `{name: value}` (400 naming it)."""
    return typed_variables({"v": {name: body()}}, "v")


INT_MAX = 2**31 - 1  # Camunda's query integers are Java ints


def arg_int(name: str, default: int, *, minimum: int = 0, maximum: int = INT_MAX) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter '{name}' must be a whole number, not '{raw}'")
    if not minimum <= value <= maximum:
        raise BadRequest(f"query parameter '{name}' must be between {minimum} and {maximum}")
    return value


def body_int(data: dict[str, Any], name: str, default: int | None = None) -> int:
    """A whole number of the request body (Camunda's are Java ints): `default` when absent or null."""
    value = data.get(name)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not -INT_MAX <= value <= INT_MAX:
        raise BadRequest(f"'{name}' must be a whole number (32 bits)")
    return value


def arg_bool(name: str, source: dict[str, Any] | None = None) -> bool | None:
    raw = (source if source is not None else request.args).get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise BadRequest(f"parameter '{name}' must be true or false, not '{raw}'")


def arg_date(name: str, source: dict[str, Any] | None = None) -> datetime | None:
    raw = (source if source is not None else request.args).get(name)
    if raw is None or raw == "":
        return None
    return date_value(name, raw, source)


def date_value(name: str, raw: Any, source: dict[str, Any] | None = None) -> datetime:
    """`raw` read as the date parameter `name` (of the query string, or of `source`, a JSON body); a 400 that names
    the parameter as Camunda does when it is no date."""
    try:
        return parse_date(name, raw)
    except InvalidVariables:  # a query parameter (or a body's field), not a variable: said as Camunda says it
        raise BadRequest(f"Cannot set {_where(name, source)} to value '{raw}': not an ISO 8601 date such as "
                         "2026-01-05T09:00:00.000+0000") from None


def _where(name: str, source: Any) -> str:
    """A parameter as Camunda names it: of the query string (request.args, a MultiDict), or of a JSON body."""
    return f"'{name}' of the request body" if type(source) is dict else f"query parameter '{name}'"


def arg_long(name: str, source: dict[str, Any] | None = None) -> int | None:
    """A whole-number filter (a Java long, as Camunda's priorities): a number in a body, its digits in a query
    string."""
    raw = (source if source is not None else request.args).get(name)
    if raw is None or raw == "":
        return None
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, str) and raw.removeprefix("-").isdecimal():  # (isdigit() passes "²", which int() refuses)
        value = int(raw)
    if value is None or not -(2 ** 63) <= value < 2 ** 63:
        raise BadRequest(f"Cannot set {_where(name, source)} to value '{raw}': not a whole number of 64 bits")
    return value


def arg_list(name: str, source: dict[str, Any] | None = None) -> list[str] | None:
    """A list parameter: comma-separated in a query string (`processInstanceIds=a,b`), a JSON array in a body."""
    raw = (source if source is not None else request.args).get(name)
    if raw is None or raw == "":
        return None
    items = [str(item) for item in raw] if isinstance(raw, list) else [p for p in str(raw).split(",") if p]
    if not items:
        raise BadRequest(f"parameter '{name}' must name at least one value")
    return items


def deletions(data: dict[str, Any]) -> list[str]:
    """A variables update's `deletions`: the names of the variables to remove (none when absent)."""
    removals = data.get("deletions") or []
    if not isinstance(removals, list) or not all(isinstance(n, str) for n in removals):
        raise BadRequest("deletions must be a list of variable names")
    return removals


def _readable(typed: dict[str, Any]) -> dict[str, Any]:
    info = typed.get("valueInfo") or {}
    if (typed.get("type") == "Object" and info.get("serializationDataFormat") == "application/json"
            and isinstance(typed.get("value"), str)):
        try:
            return {**typed, "value": json.loads(typed["value"])}
        except ValueError:
            return typed
    return typed


def deserialized(typed: Any, flag: str = "deserializeValues") -> Any:
    """Camunda's `deserializeValues` (`deserializeValue` for one value; true unless false) on typed values: an
    Object serialized as JSON comes back as the JSON value it holds, as Camunda gives it once deserialized (into its
    Java class, written back as JSON); false leaves it serialized, as sent. `typed` is one typed value, a
    name -> typed value map, or a list of variable DTOs (each a typed value with more fields)."""
    if arg_bool(flag) is False:
        return typed
    return readable_values(typed)


def readable_values(typed: Any) -> Any:
    """`deserialized` whatever the request says."""
    if isinstance(typed, list):
        return [_readable(item) for item in typed]
    if "type" in typed and "value" in typed:
        return _readable(typed)
    return {name: _readable(item) for name, item in typed.items()}


def sorting(source: dict[str, Any] | None = None) -> list[tuple[str, str]] | None:
    """Camunda's sort order: `sortBy` with `sortOrder`, or a POST query's `sorting` list (every entry)."""
    source = source if source is not None else request.args
    entries = source.get("sorting")
    if isinstance(entries, list) and entries:
        out = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("sortBy") or not entry.get("sortOrder"):
                raise BadRequest("each entry of 'sorting' needs sortBy and sortOrder")
            out.append((str(entry["sortBy"]), str(entry["sortOrder"])))
        return out
    if source.get("sortBy") is None and source.get("sortOrder") is None:
        return None
    if not source.get("sortBy") or not source.get("sortOrder"):
        raise BadRequest("Only a single sorting parameter specified. sortBy and sortOrder required")
    return [(str(source["sortBy"]), str(source["sortOrder"]))]


def paging() -> tuple[int, int]:
    """`firstResult`, `maxResults` (at most 1,000)."""
    return arg_int("firstResult", 0), min(arg_int("maxResults", 100), 1000)


from . import (  # noqa: E402,F401 - the routes register themselves on `bp`
    decisions,
    definitions,
    deployments,
    executions,
    external_tasks,
    history,
    instances,
    jobs,
    messages,
    openapi,
    reports,
    system,
    tasks,
    users,
    variable_instances,
)
