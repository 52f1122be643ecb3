"""Deployments: `POST /deployment/create` (multipart, as Camunda Modeler sends it), list, get, delete."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest

from . import arg_bool, arg_date, bp, engine, paging, require_admin, sorting

# multipart fields of Camunda's deployment request that are not files
_FIELDS = {"deployment-name", "deployment-source", "deploy-changed-only", "enable-duplicate-filtering",
           "deployment-activation-time", "tenant-id"}


@bp.post("/deployment/create")
def create_deployment():  # type: ignore[no-untyped-def]
    require_admin()
    files = []
    for field, storage in request.files.items(multi=True):
        if field in _FIELDS:
            continue
        files.append((storage.filename or field, storage.read()))
    if not files:
        raise BadRequest("a deployment needs at least one .bpmn or .dmn file part")
    form = request.form
    changed_only = bool(arg_bool("deploy-changed-only", form)) or bool(arg_bool("enable-duplicate-filtering", form))
    view = engine().definitions.deploy(files, name=form.get("deployment-name"),
                                       source=form.get("deployment-source"), changed_only=changed_only)
    body = view.to_json()
    body["links"] = [{"method": "GET", "href": f"{request.host_url}engine-rest/deployment/{view.id}", "rel": "self"}]
    body.setdefault("deployedCaseDefinitions", None)
    body.setdefault("deployedDecisionRequirementsDefinitions", None)
    return jsonify(body)


def _filters() -> dict[str, Any]:
    args = request.args
    return {"id": args.get("id"), "name": args.get("name"), "name_like": args.get("nameLike"),
            "source": args.get("source"), "after": arg_date("after"), "before": arg_date("before")}


@bp.get("/deployment")
def list_deployments():  # type: ignore[no-untyped-def]
    first, count = paging()
    rows = engine().definitions.deployments(first, count, sorting=sorting(), **_filters())
    return jsonify([d.to_json() for d in rows])


@bp.get("/deployment/count")
def count_deployments():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().definitions.count_deployments(**_filters())})


@bp.get("/deployment/<deployment_id>")
def get_deployment(deployment_id: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().definitions.deployment(deployment_id).to_json())


@bp.delete("/deployment/<deployment_id>")
def delete_deployment(deployment_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    engine().definitions.delete_deployment(deployment_id, cascade=bool(arg_bool("cascade")))
    return "", 204
