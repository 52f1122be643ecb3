"""Process definitions: list, get (by id or key), start, XML, start form variables, statistics."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from engine.errors import BadRequest
from engine.instances import DefinitionCounts
from engine.variables import to_typed_map
from engine.views import incident_counts_json

from . import (
    arg_bool,
    arg_int,
    arg_list,
    body,
    bp,
    engine,
    paging,
    principal,
    require_admin,
    sorting,
    typed_variables,
)


def _by_key(key: str) -> str:
    return engine().definitions.latest(key).id


def _filters() -> dict[str, Any]:
    args = request.args
    version = arg_int("version", -1)  # a Java int, as Camunda's
    suspended = True if arg_bool("suspended") else (False if arg_bool("active") else None)
    return {"key": args.get("key"), "latest_only": bool(arg_bool("latestVersion")),
            "keys": arg_list("keysIn"), "key_like": args.get("keyLike"), "name": args.get("name"),
            "name_like": args.get("nameLike"), "deployment_id": args.get("deploymentId"),
            "version": version if version >= 0 else None, "id": args.get("processDefinitionId"),
            "ids": arg_list("processDefinitionIdIn"), "version_tag": args.get("versionTag"),
            "suspended": suspended}


@bp.get("/process-definition")
def list_definitions():  # type: ignore[no-untyped-def]
    first, count = paging()
    rows = engine().definitions.list(**_filters(), sorting=sorting(), first=first, max_results=count)
    return jsonify([d.to_json() for d in rows])


@bp.get("/process-definition/count")
def count_definitions():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().definitions.count(**_filters())})


@bp.get("/process-definition/<definition_id>")
def get_definition(definition_id: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().definitions.get(definition_id).to_json())


@bp.get("/process-definition/key/<key>")
def get_definition_by_key(key: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().definitions.latest(key).to_json())


def _xml(definition_id: str):  # type: ignore[no-untyped-def]
    return jsonify({"id": definition_id, "bpmn20Xml": engine().definitions.xml(definition_id).decode("utf-8")})


@bp.get("/process-definition/<definition_id>/xml")
def definition_xml(definition_id: str):  # type: ignore[no-untyped-def]
    return _xml(definition_id)


@bp.get("/process-definition/key/<key>/xml")
def definition_xml_by_key(key: str):  # type: ignore[no-untyped-def]
    return _xml(_by_key(key))


def _start(definition_id: str, *, form: bool = False):  # type: ignore[no-untyped-def]
    data = body()
    variables = typed_variables(data)
    business_key = data.get("businessKey")
    if business_key is not None and not isinstance(business_key, str):
        raise BadRequest("businessKey must be a string")
    for unsupported in ("startInstructions", "skipCustomListeners", "skipIoMappings"):
        if data.get(unsupported):  # never ignored: the instance would not start where the client asked
            raise BadRequest(f"'{unsupported}' is not supported by Stageflow: an instance starts at its start event")

    instance = engine().instances.start(definition_id, business_key=business_key, variables=variables,
                                        user=principal().user_id, validate_form=form,
                                        idempotency_key=request.headers.get("Idempotency-Key") or None)
    out: dict[str, Any] = instance.to_json()
    out.pop("variables", None)
    out["links"] = [{"method": "GET", "href": f"{request.host_url}engine-rest/process-instance/{instance.id}",
                     "rel": "self"}]
    if data.get("withVariablesInReturn") and not form:
        out["variables"] = to_typed_map(engine().instances.variables(instance.id))
    response = jsonify(out)
    if instance.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/process-definition/<definition_id>/start")
def start_by_id(definition_id: str):  # type: ignore[no-untyped-def]
    return _start(engine().definitions.get(definition_id).id)


@bp.post("/process-definition/key/<key>/start")
def start_by_key(key: str):  # type: ignore[no-untyped-def]
    return _start(_by_key(key))


@bp.post("/process-definition/<definition_id>/submit-form")
def submit_form(definition_id: str):  # type: ignore[no-untyped-def]
    return _start(engine().definitions.get(definition_id).id, form=True)


@bp.post("/process-definition/key/<key>/submit-form")
def submit_form_by_key(key: str):  # type: ignore[no-untyped-def]
    return _start(_by_key(key), form=True)


def _form_variables(definition_id: str) -> Response:
    from engine.forms import form_variables  # each default typed by its field's form type, as Camunda

    from .tasks import variable_names

    return jsonify(form_variables(engine().definitions.start_form_fields(definition_id), {}, variable_names()))


@bp.get("/process-definition/<definition_id>/startForm")
def start_form_key(definition_id: str):  # type: ignore[no-untyped-def]
    """Camunda's getStartForm: the start event's form key (camunda:formKey; null for a generated form or none)."""
    return jsonify({"key": engine().definitions.start_form_key(definition_id), "contextPath": None})


@bp.get("/process-definition/key/<key>/startForm")
def start_form_key_by_key(key: str):  # type: ignore[no-untyped-def]
    return start_form_key(_by_key(key))


@bp.get("/process-definition/<definition_id>/deployed-start-form")
def deployed_start_form(definition_id: str):  # type: ignore[no-untyped-def]
    """Camunda's getDeployedStartForm: the file its start event's `camunda:formKey` names in its deployment."""
    from .tasks import deployed_file

    definitions = engine().definitions
    return deployed_file(*definitions.deployed_form(definition_id, definitions.start_form_key(definition_id)))


@bp.get("/process-definition/key/<key>/deployed-start-form")
def deployed_start_form_by_key(key: str):  # type: ignore[no-untyped-def]
    return deployed_start_form(_by_key(key))


@bp.get("/process-definition/<definition_id>/form-variables")
def form_variables(definition_id: str):  # type: ignore[no-untyped-def]
    return _form_variables(definition_id)


@bp.get("/process-definition/key/<key>/form-variables")
def form_variables_by_key(key: str):  # type: ignore[no-untyped-def]
    return _form_variables(_by_key(key))


_STATISTICS_CLASS = "org.camunda.bpm.engine.rest.dto.repository.ProcessDefinitionStatisticsResultDto"


@bp.get("/process-definition/statistics")
def statistics():  # type: ignore[no-untyped-def]
    """Per definition: running instances, and on request failed jobs (`failedJobs`) and open incidents
    (`incidents` for every type or `incidentsForType` for one, not both), as Camunda's."""
    require_admin()  # counts over every instance, failed jobs and incidents: as /incident and /job, admins only
    incident_type = _one_incident_filter()
    counts = engine().instances.counts_by_definition(incident_type)
    failed_jobs, with_incidents = bool(arg_bool("failedJobs")), bool(arg_bool("incidents")) or incident_type is not None
    out = []
    for definition in engine().definitions.list(max_results=arg_int("maxResults", 1000)):
        found = counts.get(definition.id) or DefinitionCounts()
        out.append({"@class": _STATISTICS_CLASS, "id": definition.id, "instances": found.running,
                    "failedJobs": found.failed_jobs if failed_jobs else 0,
                    "incidents": incident_counts_json(found.incidents) if with_incidents else [],
                    "definition": definition.to_json(), "tenantId": None})
    return jsonify(out)


def _one_incident_filter() -> str | None:
    """`incidentsForType`, refused beside `incidents` (Camunda's message)."""
    incident_type = request.args.get("incidentsForType")
    if request.args.get("incidents") not in (None, "") and incident_type is not None:
        raise BadRequest("Only one of the query parameter includeIncidents or includeIncidentsForType can be set.")
    return incident_type


def _activity_statistics(definition_id: str):  # type: ignore[no-untyped-def]
    """Camunda's activity statistics: `failedJobs`, and `incidents` or `incidentsForType` (not both)."""
    from engine.statistics import activity_statistics

    require_admin()  # counts over every instance, failed jobs and incidents: as /incident and /job, admins only
    incident_type = _one_incident_filter()
    rows = activity_statistics(engine(), definition_id, failed_jobs=bool(arg_bool("failedJobs")),
                               incidents=bool(arg_bool("incidents")), incident_type=incident_type)
    return jsonify([r.to_json() for r in rows])


@bp.get("/process-definition/<definition_id>/statistics")
def activity_statistics_by_id(definition_id: str):  # type: ignore[no-untyped-def]
    """Per activity of the definition: running instances there, failed jobs, open incidents (an unknown id has
    none: an empty list, as Camunda's)."""
    return _activity_statistics(definition_id)


@bp.get("/process-definition/key/<key>/statistics")
def activity_statistics_by_key(key: str):  # type: ignore[no-untyped-def]
    return _activity_statistics(_by_key(key))
