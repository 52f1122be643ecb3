"""Stageflow's reports (not part of the Camunda API): `GET /engine-rest/report/funnel?processDefinitionKey=deal`."""

from __future__ import annotations

from flask import jsonify, request

from engine.errors import Forbidden
from engine.reports import funnel

from . import bp, engine, principal

REPORT_GROUPS = {"admins", "sales-heads"}


@bp.get("/report/funnel")
def funnel_report():  # type: ignore[no-untyped-def]
    if not REPORT_GROUPS & set(principal().groups):
        raise Forbidden("the funnel report is for admins and sales-heads")
    key = request.args.get("processDefinitionKey") or "deal"
    return jsonify(funnel(engine(), key))
