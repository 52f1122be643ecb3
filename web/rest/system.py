"""`/engine`, `/version` and the OpenAPI document."""

from __future__ import annotations

from flask import jsonify

from engine import __version__

from . import bp


@bp.get("/engine")
def engines():  # type: ignore[no-untyped-def]
    return jsonify([{"name": "default"}])


@bp.get("/version")
def version():  # type: ignore[no-untyped-def]
    return jsonify({"version": f"7.24.0-stageflow-{__version__}"})
