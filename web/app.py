"""The Flask application factory."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from engine.api import Engine
from engine.errors import DefinitionError, StageflowError, TooManyAttempts
from engine.variables import finite_json

from . import inbox
from .badinput import bad_input, check_request
from .rest import bp as rest_bp
from .rest import other_methods_path
from .unavailable import RETRY_AFTER_SECONDS, unavailable


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a number")
    return value


class StrictJSON(DefaultJSONProvider):
    """JSON request bodies as the standard has them: `NaN`, `Infinity` and numbers beyond a double's range
    (`1e999`) are refused (400) instead of becoming values no client or database can read back."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return super().loads(s, parse_constant=_no_constant, parse_float=_finite, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Valid JSON always: a NaN or infinite number (a script can compute one) is written as the text
        `"NaN"`, `"Infinity"` or `"-Infinity"`, as Camunda's Jackson writes a Java double by default."""
        try:
            return super().dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return super().dumps(finite_json(obj), **kwargs)


def _named_engine(wsgi: Any) -> Any:
    """Camunda's `/engine-rest/engine/{name}/...`: any method under the name of an engine. Stageflow's one engine is
    `default` (as `GET /engine` lists it): its prefix is taken off the path; another name is left for the unknown
    endpoint's 404."""
    prefix = "/engine-rest/engine/default"

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(prefix + "/"):
            environ["PATH_INFO"] = "/engine-rest" + path[len(prefix):]
        return wsgi(environ, start_response)

    return app


def create_app(test_config: dict[str, Any] | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the app around an engine (one from the environment unless given)."""
    app = Flask(__name__)
    app.json = StrictJSON(app)
    engine = engine or Engine()
    # a deployment may carry a few files of the largest size accepted; a larger body is refused with a 413
    app.config.from_mapping(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=4 * engine.settings.max_definition_bytes)
    if test_config:
        app.config.update(test_config)
    app.extensions["stageflow"] = engine
    engine.identity.prepare_sign_in()
    # long-polling fetchAndLock requests that may wait at once in this process (see web/rest/external_tasks.py);
    # `stageflow serve` gives half its threads per worker
    app.extensions["stageflow_long_polls"] = threading.BoundedSemaphore(app.config.get("LONG_POLL_SLOTS", 4))
    app.wsgi_app = _named_engine(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(check_request)
    app.register_blueprint(rest_bp)
    inbox.init_app(app, engine, apis=(rest_bp,))  # pages with sessions and CSRF tokens; the REST API has neither

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        if response.status_code == 204:  # an empty answer has no media type (Flask's default said text/html)
            response.headers.pop("Content-Type", None)
        # no page of Stageflow's in another site's frame (clickjacking), no guessing of media types
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(StageflowError)
    def _engine_error(err: StageflowError):  # type: ignore[no-untyped-def]
        err = unavailable(err) or err
        if err.status == 404 and request.blueprint == rest_bp.name and other_methods_path():
            return _http_error(MethodNotAllowed(description=f"{request.method} is not supported on {request.path}"))
        body = err.to_json()
        if isinstance(err, DefinitionError) and request.blueprint == rest_bp.name:
            body["details"] = err.camunda_details()  # what Camunda's REST clients (and Modeler) read
        response = jsonify(body)
        response.status_code = err.status
        if err.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Stageflow"'
        if err.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if isinstance(err, TooManyAttempts):
            response.headers["Retry-After"] = str(err.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        if err.code == 413:
            err.description = f"the request body is too large: at most {app.config['MAX_CONTENT_LENGTH']} bytes"
        return jsonify({"type": type(err).__name__, "message": err.description, "code": 0}), err.code

    @app.errorhandler(Exception)
    def _fault(err: Exception):  # type: ignore[no-untyped-def]
        known = unavailable(err) or bad_input(err)
        if known is not None:  # a connection error or bad input that surfaced below the engine's own checks
            return _engine_error(known)
        app.logger.exception("unexpected error")
        return jsonify({"type": "ProcessEngineException", "message": f"internal error: {type(err).__name__}",
                        "code": 0}), 500

    return app
