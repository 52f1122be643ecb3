"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine.api import Engine
from engine.errors import StageflowError

from . import inbox
from .rest import bp as rest_bp


def create_app(test_config: dict[str, Any] | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the app around an engine (one from the environment unless given)."""
    app = Flask(__name__)
    app.config.from_mapping(JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    app.extensions["stageflow"] = engine = engine or Engine()
    app.register_blueprint(rest_bp)
    inbox.init_app(app, engine, apis=(rest_bp,))  # pages with sessions and CSRF tokens; the REST API has neither

    @app.errorhandler(StageflowError)
    def _engine_error(err: StageflowError):  # type: ignore[no-untyped-def]
        response = jsonify(err.to_json())
        response.status_code = err.status
        if err.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Stageflow"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        return jsonify({"type": type(err).__name__, "message": err.description}), err.code

    @app.errorhandler(Exception)
    def _fault(err: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unexpected error")
        return jsonify({"type": "ProcessEngineException", "message": f"internal error: {type(err).__name__}"}), 500

    return app
