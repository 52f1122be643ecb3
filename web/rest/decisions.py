"""Decision definitions: list, get (by id or key), DMN XML, and evaluate with variables (Camunda's decision
service over REST)."""

from __future__ import annotations

from flask import jsonify, request

from . import arg_bool, body, bp, engine, paging, principal, typed_variables


def _query():  # type: ignore[no-untyped-def]
    args = request.args
    return dict(key=args.get("key"), name=args.get("name"), latest_only=bool(arg_bool("latestVersion")))


@bp.get("/decision-definition")
def list_decisions():  # type: ignore[no-untyped-def]
    first, count = paging()
    rows = engine().decisions.list(**_query(), first=first, max_results=count)
    return jsonify([d.to_json() for d in rows])


@bp.get("/decision-definition/count")
def count_decisions():  # type: ignore[no-untyped-def]
    return jsonify({"count": len(engine().decisions.list(**_query(), max_results=1000))})


@bp.get("/decision-definition/<definition_id>")
def get_decision(definition_id: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().decisions.get(definition_id).to_json())


@bp.get("/decision-definition/key/<key>")
def get_decision_by_key(key: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().decisions.latest(key).to_json())


def _xml(definition_id: str):  # type: ignore[no-untyped-def]
    return jsonify({"id": definition_id, "dmnXml": engine().decisions.xml(definition_id).decode("utf-8")})


@bp.get("/decision-definition/<definition_id>/xml")
def decision_xml(definition_id: str):  # type: ignore[no-untyped-def]
    return _xml(definition_id)


@bp.get("/decision-definition/key/<key>/xml")
def decision_xml_by_key(key: str):  # type: ignore[no-untyped-def]
    return _xml(engine().decisions.latest(key).id)


@bp.post("/decision-definition/<definition_id>/evaluate")
def evaluate_decision(definition_id: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().decisions.evaluate(definition_id, typed_variables(body()), user=principal().user_id))


@bp.post("/decision-definition/key/<key>/evaluate")
def evaluate_decision_by_key(key: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().decisions.evaluate(engine().decisions.latest(key).id, typed_variables(body()),
                                               user=principal().user_id))
