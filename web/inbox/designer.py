"""The process designer's pages: deploy `.bpmn`/`.dmn` files, list definitions and their versions, read the
diagram and XML of any version, and edit a definition in the browser (bpmn-js Modeler) to deploy a new version.

For members of `admins` and `designers`; others get no link and a 403. A deploy error names the file, the
element and the line, and the page draws the uploaded diagram with that element marked when it can.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import validate_csrf
from lxml import etree
from wtforms import ValidationError

from engine.definitions import nothing_to_deploy
from engine.errors import DefinitionError, StageflowError
from engine.identity import Principal
from engine.views import DecisionView, DefinitionView, DeploymentView
from engine.xmlsafe import BPMN_MODEL_NS, parse_xml

from . import bp, engine, me

DESIGNERS = "designers"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml")
NEW_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="definitions" targetNamespace="http://stageflow/processes">
  <bpmn:process id="{process_id}" name="New process" isExecutable="true">
    <bpmn:startEvent id="start" name="Start"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram">
    <bpmndi:BPMNPlane id="plane" bpmnElement="{process_id}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36"/>
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def may_design(person: Principal | None) -> bool:
    """Admins and members of `designers`."""
    return person is not None and (person.is_admin or DESIGNERS in person.groups)


def designer() -> Principal:
    """The signed-in person, or a 403 page when they may not design processes."""
    person = me()
    if not may_design(person):
        abort(403, "The process designer is for members of the designers group and for admins.")
    return person


@bp.app_context_processor
def _designer_globals() -> dict[str, Any]:
    person = current_user.principal if current_user and current_user.is_authenticated else None
    return {"may_design": may_design(person)}


@bp.record_once
def _exempt_json_deploy(state: Any) -> None:
    # the modeler's endpoint checks its token itself (the X-CSRFToken header), to answer a JSON error
    state.app.extensions["csrf"].exempt(f"{__name__}.deploy_xml")


# -- the list and the upload ---------------------------------------------------------------------------------
@dataclass
class ProcessRow:
    """One process key with its versions (newest first) and the instance counts of each version."""

    key: str
    versions: list[DefinitionView]
    running: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> DefinitionView:
        return self.versions[0]

    @property
    def total_running(self) -> int:
        return sum(self.running.values())

    @property
    def total_ended(self) -> int:
        return sum(self.ended.values())


def process_rows() -> list[ProcessRow]:
    eng = engine()
    rows: dict[str, ProcessRow] = {}
    for d in eng.definitions.list(max_results=1000):  # by key, newest version first
        rows.setdefault(d.key, ProcessRow(d.key, [])).versions.append(d)
    running = {d: counts.running for d, counts in eng.instances.counts_by_definition().items()}
    for row in rows.values():
        for d in row.versions:
            row.running[d.id] = running.get(d.id, 0)
            row.ended[d.id] = eng.instances.count(definition_id=d.id) - row.running[d.id]
    return list(rows.values())


def decision_rows() -> list[list[DecisionView]]:
    """The deployed decisions, one list of versions (newest first) per key."""
    rows: dict[str, list[DecisionView]] = {}
    for d in engine().decisions.list(max_results=1000):
        rows.setdefault(d.key, []).append(d)
    return list(rows.values())


@bp.get("/designer")
@login_required
def designer_home():  # type: ignore[no-untyped-def]
    designer()
    return render_template("designer.html", processes=process_rows(), decisions=decision_rows(),
                           suffixes=SUFFIXES)


def deployed_message(deployment: DeploymentView) -> str:
    what = [f"“{d.name or d.key}” version {d.version}" for d in deployment.definitions]
    what += [f"decision “{d.name or d.key}” version {d.version}" for d in deployment.decisions]
    listed = ", ".join(what) or "nothing"
    if not deployment.created:
        return f"Nothing changed: the files are the same as the latest versions ({listed}); no new version was made."
    return f"Deployed {listed}."


@bp.post("/designer/deploy")
@login_required
def deploy_files():  # type: ignore[no-untyped-def]
    person = designer()
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    if not uploads:
        flash("Choose one or more .bpmn or .dmn files to deploy.", "error")
        return redirect(url_for("inbox.designer_home"))
    limit = engine().settings.max_definition_bytes
    files = [(upload.filename or "upload.bpmn", upload.read(limit + 1)) for upload in uploads]
    name = request.form.get("name", "").strip()[:255] or None
    try:
        deployment = engine().definitions.deploy(files, name=name, source=f"designer:{person.user_id}")
    except DefinitionError as err:
        return deploy_error_page(err, dict(files)), 400
    if not deployment.definitions and not deployment.decisions:
        why = nothing_to_deploy(files, limit)
        flash(f"Nothing deployed: {why}." + (" Tick “Executable” on the process in the modeler, or set "
                                             "isExecutable=\"true\", to deploy it." if "skipped" in why else ""),
              "error")
        return redirect(url_for("inbox.designer_home"))
    flash(deployed_message(deployment), "success" if deployment.created else "info")
    return redirect(url_for("inbox.designer_home"))


# -- deploy errors on the diagram ----------------------------------------------------------------------------
def drawable(content: bytes | None, filename: str) -> bool:
    """Whether `content` is a BPMN document with a diagram that the viewer can draw."""
    if not content:
        return False
    try:
        root = parse_xml(content, filename).getroot()
    except DefinitionError:
        return False
    return (etree.QName(root).namespace == BPMN_MODEL_NS
            and root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None)


def element_at_line(content: bytes, filename: str, line: int) -> str | None:
    """The id of the innermost element with an id that starts on `line`, for errors that name only a line."""
    try:
        root = parse_xml(content, filename).getroot()
    except DefinitionError:
        return None
    found = None
    for el in root.iter():
        if isinstance(el.tag, str) and el.sourceline == line and el.get("id"):
            found = el.get("id")
    return found


def error_details(err: DefinitionError, files: dict[str, bytes]) -> dict[str, Any]:
    """What the page and the modeler show of a deploy error: the message and where it is."""
    content = files.get(err.file or "") if err.file else (next(iter(files.values())) if len(files) == 1 else None)
    element = err.element_id
    if element is None and err.line and content:
        element = element_at_line(content, err.file or "upload.bpmn", err.line)
    return {"message": err.message, "reason": err.reason, "file": err.file, "elementId": element,
            "line": err.line, "xml": content.decode("utf-8", "replace")
            if drawable(content, err.file or "upload.bpmn") else None}


def deploy_error_page(err: DefinitionError, files: dict[str, bytes]) -> str:
    return render_template("designer_error.html", error=error_details(err, files), files=sorted(files))


# -- one version ---------------------------------------------------------------------------------------------
@bp.get("/designer/definitions/<definition_id>")
@login_required
def definition_page(definition_id: str):  # type: ignore[no-untyped-def]
    designer()
    eng = engine()
    definition = eng.definitions.get(definition_id)
    xml = eng.definitions.xml(definition.id).decode("utf-8", "replace")
    versions = eng.definitions.list(key=definition.key, max_results=1000)
    found = eng.instances.counts_by_definition().get(definition.id)
    running = found.running if found else 0
    total = eng.instances.count(definition_id=definition.id)
    return render_template("designer_definition.html", definition=definition, xml=xml, versions=versions,
                           running=running, ended=total - running)


@bp.get("/designer/definitions/<definition_id>/xml")
@login_required
def definition_xml(definition_id: str):  # type: ignore[no-untyped-def]
    designer()
    definition = engine().definitions.get(definition_id)
    content = engine().definitions.xml(definition.id)
    filename = f"{definition.key}-v{definition.version}.bpmn"
    return Response(content, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- one decision version ------------------------------------------------------------------------------------
@bp.route("/designer/decisions/<definition_id>", methods=["GET", "POST"])
@login_required
def decision_page(definition_id: str):  # type: ignore[no-untyped-def]
    """A decision version: its table as a table, its XML, and a form to try it with variables (JSON)."""
    designer()
    eng = engine()
    decision = eng.decisions.get(definition_id)
    context: dict[str, Any] = {"decision": decision, "logic": eng.decisions.logic(definition_id),
                               "xml": eng.decisions.xml(definition_id).decode("utf-8", "replace"),
                               "versions": eng.decisions.list(key=decision.key, max_results=1000),
                               "variables": request.form.get("variables", ""), "results": None, "problem": None}
    if request.method == "GET":  # a start: the names the table's inputs read, to fill in
        logic = context["logic"]
        names = [i.expression.strip() for i in getattr(logic, "inputs", ()) if i.expression.strip().isidentifier()]
        context["variables"] = json.dumps(dict.fromkeys(names)) if names else ""
    if request.method == "POST":
        try:
            variables = json.loads(context["variables"] or "{}")
            if not isinstance(variables, dict):
                raise ValueError("give the variables as a JSON object, such as {\"amount\": 1200}")
            context["results"] = eng.decisions.evaluate_plain(definition_id, variables)
        except (ValueError, StageflowError) as err:
            context["problem"] = getattr(err, "message", None) or f"The variables are not valid JSON: {err}"
        status = 400 if context["problem"] else 200
        return render_template("designer_decision.html", **context), status
    return render_template("designer_decision.html", **context)


@bp.get("/designer/decisions/<definition_id>/xml")
@login_required
def decision_xml(definition_id: str):  # type: ignore[no-untyped-def]
    designer()
    decision = engine().decisions.get(definition_id)
    filename = f"{decision.key}-v{decision.version}.dmn"
    return Response(engine().decisions.xml(definition_id), mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- the modeler ---------------------------------------------------------------------------------------------
@bp.get("/designer/new")
@login_required
def modeler_new():  # type: ignore[no-untyped-def]
    designer()
    # a process id of its own, as Camunda Modeler gives a new diagram: two designers' new drawings are never
    # versions of one process
    process_id = "Process_" + "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(7))
    return render_template("modeler.html", definition=None, xml=NEW_DIAGRAM.replace("{process_id}", process_id),
                           filename=f"{process_id}.bpmn")


@bp.get("/designer/definitions/<definition_id>/edit")
@login_required
def modeler_edit(definition_id: str):  # type: ignore[no-untyped-def]
    designer()
    definition = engine().definitions.get(definition_id)
    xml = engine().definitions.xml(definition.id).decode("utf-8", "replace")
    return render_template("modeler.html", definition=definition, xml=xml, filename=definition.resource)


def json_error(status: int, message: str, kind: str = "BadRequest", **extra: Any):  # type: ignore[no-untyped-def]
    return jsonify({"type": kind, "message": message, **extra}), status


@bp.post("/designer/deploy.json")
@login_required
def deploy_xml():  # type: ignore[no-untyped-def]
    """The modeler's "Deploy as new version": `{"xml": ..., "fileName": ...}` in, the new version (or the
    error, with the element to mark) out."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or (request.get_json(silent=True) or {}).get("csrf_token"))
    except ValidationError as err:
        return json_error(400, f"The page's CSRF token is missing or wrong ({err}); reload the page.",
                          "CSRFError")
    person = me()
    if not may_design(person):
        return json_error(403, "The process designer is for members of the designers group and for admins.",
                          "AuthorizationException")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        return json_error(400, 'Send a JSON object with the diagram as "xml".')
    filename = str(body.get("fileName") or "diagram.bpmn").strip()[:200] or "diagram.bpmn"
    if not filename.endswith((".bpmn", ".bpmn20.xml")):
        filename += ".bpmn"
    content = body["xml"].encode()
    try:
        deployment = engine().definitions.deploy([(filename, content)], name=filename,
                                                 source=f"modeler:{person.user_id}")
    except DefinitionError as err:
        details = error_details(err, {filename: content})
        details.pop("xml")
        return json_error(400, err.message, "ParseException", details=details)
    if not deployment.definitions:
        return json_error(400, "The diagram has no executable process to deploy.")
    definition = deployment.definitions[0]
    message = deployed_message(deployment)
    flash(message, "success" if deployment.created else "info")
    return jsonify({"created": deployment.created, "message": message, "definitionId": definition.id,
                    "key": definition.key, "version": definition.version,
                    "url": url_for("inbox.definition_page", definition_id=definition.id)})
