"""Deployments: `POST /deployment/create` (multipart, as Camunda Modeler sends it), list, get, delete, and the
deployed files (`/deployment/{id}/resources`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request

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
        raise BadRequest("a deployment needs at least one file part (.bpmn, .dmn, or a resource such as a .form)")
    form = request.form
    if form.get("tenant-id"):  # never ignored: the definitions would not be the tenant's
        raise BadRequest("'tenant-id' is not supported: Stageflow has no tenants (deploy without it)")
    if form.get("deployment-activation-time"):
        raise BadRequest("'deployment-activation-time' is not supported: a deployment's definitions are active at "
                         "once (suspend them with PUT /process-definition/{id}/suspended)")
    # Camunda's duplicate filtering compares with the latest deployment of the same name and source (one without a
    # name matches none): `deploy-changed-only` deploys the files that changed, `enable-duplicate-filtering` alone
    # all of them if one changed
    name = form.get("deployment-name")
    changed_only = bool(arg_bool("deploy-changed-only", form))
    filtering = changed_only or bool(arg_bool("enable-duplicate-filtering", form))
    view = engine().definitions.deploy(files, name=name, source=form.get("deployment-source"),
                                       changed_only=filtering and name is not None, whole=not changed_only)
    body = view.to_json()
    if not view.created:  # nothing new: the latest deployment of that name, which deployed nothing now
        body["deployedProcessDefinitions"] = body["deployedDecisionDefinitions"] = None
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
    require_admin()  # deployments are for admins (README), as creating and deleting them
    first, count = paging()
    rows = engine().definitions.deployments(first, count, sorting=sorting(), **_filters())
    return jsonify([d.to_json() for d in rows])


@bp.get("/deployment/count")
def count_deployments():  # type: ignore[no-untyped-def]
    require_admin()  # deployments are for admins (README), as creating and deleting them
    return jsonify({"count": engine().definitions.count_deployments(**_filters())})


@bp.get("/deployment/<deployment_id>")
def get_deployment(deployment_id: str):  # type: ignore[no-untyped-def]
    require_admin()  # deployments are for admins (README), as creating and deleting them
    return jsonify(engine().definitions.deployment(deployment_id).to_json())


@bp.delete("/deployment/<deployment_id>")
def delete_deployment(deployment_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    engine().definitions.delete_deployment(deployment_id, cascade=bool(arg_bool("cascade")))
    return "", 204


@bp.get("/deployment/<deployment_id>/resources")
def deployment_resources(deployment_id: str):  # type: ignore[no-untyped-def]
    require_admin()  # deployments are for admins (README), as creating and deleting them
    return jsonify([r.to_json() for r in engine().definitions.resources(deployment_id)])


@bp.get("/deployment/<deployment_id>/resources/<resource_id>")
def deployment_resource(deployment_id: str, resource_id: str):  # type: ignore[no-untyped-def]
    require_admin()  # deployments are for admins (README), as creating and deleting them
    return jsonify(engine().definitions.resource(deployment_id, resource_id).to_json())


# Camunda's media types by file extension (DeploymentResourcesResourceImpl); any other is application/octet-stream
MEDIA_TYPES = {"bpmn": "application/xml", "cmmn": "application/xml", "dmn": "application/xml",
               "json": "application/json", "xml": "application/xml", "gif": "image/gif", "jpeg": "image/jpeg",
               "jpe": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "svg": "image/svg+xml",
               "tiff": "image/tiff", "tif": "image/tiff", "groovy": "text/plain", "java": "text/plain",
               "js": "text/plain", "php": "text/plain", "py": "text/plain", "rb": "text/plain",
               "html": "text/html", "txt": "text/plain"}


def attachment(name: str) -> str:
    """Camunda's `Content-Disposition` of a file: `attachment; filename="a.bpmn"; filename*=UTF-8''a.bpmn`.

    The quoted name keeps printable ASCII (quotes and backslashes escaped, anything else `_`: a header is
    Latin-1); `filename*` has the whole name, percent-encoded as Java's URLEncoder does."""
    plain = "".join(c if " " <= c <= "~" else "_" for c in name).replace("\\", "\\\\").replace('"', '\\"')
    encoded = quote(name, safe="*").replace("~", "%7E")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


@bp.get("/deployment/<deployment_id>/resources/<resource_id>/data")
def deployment_resource_data(deployment_id: str, resource_id: str):  # type: ignore[no-untyped-def]
    """The file as deployed, byte for byte, typed by its extension (`.bpmn` and `.dmn`: application/xml)."""
    require_admin()
    resource, content = engine().definitions.resource_data(deployment_id, resource_id)
    name = resource.name.replace("\\", "/")  # the last part of the path; Java's split drops trailing empties
    filename = name.rstrip("/").split("/")[-1] or "data"
    media_type = MEDIA_TYPES.get(name.rstrip(".").split(".")[-1], "application/octet-stream")
    response = Response(content, status=200, content_type=media_type)  # no charset added, as Camunda
    response.headers["Content-Disposition"] = attachment(filename)
    return response
