"""The Camunda-compatible REST API under `/engine-rest` (the start of it; see the REST issue)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from engine import __version__
from engine.api import Engine

bp = Blueprint("rest", __name__, url_prefix="/engine-rest")


def engine() -> Engine:
    return current_app.extensions["stageflow"]


@bp.get("/engine")
def engines():  # type: ignore[no-untyped-def]
    return jsonify([{"name": "default"}])


@bp.get("/version")
def version():  # type: ignore[no-untyped-def]
    return jsonify({"version": f"7.24.0-stageflow-{__version__}"})


@bp.get("/process-definition")
def process_definitions():  # type: ignore[no-untyped-def]
    latest = request.args.get("latestVersion", "false").lower() == "true"
    rows = engine().definitions.list(key=request.args.get("key"), latest_only=latest,
                                     first=request.args.get("firstResult", 0, type=int),
                                     max_results=request.args.get("maxResults", 100, type=int))
    return jsonify([d.to_json() for d in rows])
