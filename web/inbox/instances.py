"""A process instance's page: for the people working on it, where it stands; for operations, all of it.

Whoever is involved (`Instances.visible`) sees the diagram with the elements the instance is at, has completed and
failed at marked, its open tasks, timers, incidents, variables with their changes, the notifications it sent and
its history. Admins also change it: edit and remove variables, suspend, resume, cancel, retry an incident. Each
change is a form POST (CSRF token) answered with a redirect to the page and a flash message; an engine refusal
(the instance ended meanwhile, say) is a flash, not an error page.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from engine.errors import NotFound, StageflowError
from engine.variables import make_object, object_json, type_of
from engine.views import HistoryView, InstanceState

from . import bp, engine, me
from .pages import due_state, now

HISTORY_SHOWN = 200
VALUE_TYPES = {"String": "text", "Number": "number", "Boolean": "true / false", "Json": "JSON (object, list)",
               "Null": "empty (null)"}


@bp.app_template_filter("kind")
def element_kind(element_type: str) -> str:
    """`userTask` → `user task`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", element_type or "").lower()


def _visible_state(instance_id: str) -> InstanceState:
    """The instance's state, or a 403 page when this person has no part in it (404 when there is none)."""
    state = engine().instances.state(instance_id, history_limit=HISTORY_SHOWN)
    if not engine().instances.visible(me(), instance_id):  # the REST API's instance reads follow the same rule
        abort(403, "You have no part in this process instance: you neither started it nor work on it.")
    return state


def _admin_only() -> None:
    if not me().is_admin:
        abort(403, "Only administrators can change a process instance.")


def _page(instance_id: str):  # type: ignore[no-untyped-def]
    return redirect(url_for("inbox.instance_page", instance_id=instance_id))


def _edit_form_value(value: Any) -> tuple[str, str]:
    """(type choice, text) with which the edit form shows a variable's current value."""
    kind = type_of(value)
    if kind == "Null":
        return "Null", ""
    if kind == "Boolean":
        return "Boolean", "true" if value else "false"
    if kind in ("Integer", "Long", "Double"):
        return "Number", json.dumps(value)
    if kind == "String":
        return "String", value
    if kind == "Object":  # edited as its serialized text, and saved as the same Java class and format
        plain = object_json(value)["value"]
        return "Object", plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
    return "Json", json.dumps(value, default=str, ensure_ascii=False)


def _value_types(value: Any) -> dict[str, str]:
    """The types the edit form offers for a variable: an Object also keeps its Java class."""
    if type_of(value) != "Object":
        return VALUE_TYPES
    return {"Object": f"object ({value.object_type_name or 'no class'})", **VALUE_TYPES}


def _object_like(existing: Any, name: str, text: str) -> Any:
    """`text` as an Object of the class and format of the variable it replaces (ValueError when that is none)."""
    if type_of(existing) != "Object":
        raise ValueError(f"{name}: only a variable that is an object keeps a Java class; choose JSON")
    try:
        return make_object(text, {"objectTypeName": existing.object_type_name,
                                  "serializationDataFormat": existing.data_format})
    except ValueError as err:
        raise ValueError(f"{name}: the value is not JSON ({str(err).split(':')[0]})") from None


def parse_value(kind: str, text: str) -> Any:
    """The value the edit form means: `text` read as the chosen type; ValueError with a reason if it is not one."""
    if kind == "String":
        return text
    if kind == "Null":
        return None
    if kind == "Boolean":
        if text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        raise ValueError(f"“{text}” is neither true nor false")
    if kind == "Number":
        try:
            number = json.loads(text.strip())
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"“{text}” is not a number (write 1200 or 12.5)")
        return number
    if kind == "Json":
        try:
            return json.loads(text)
        except ValueError as err:
            raise ValueError(f"the value is not JSON ({err.args[0].split(':')[0]})") from None
    raise ValueError(f"unknown type “{kind}”")


def _variable_history(changes: list[HistoryView]) -> dict[str, list[dict[str, Any]]]:
    """Per variable, its changes from outside the process, newest first: when, who, before, after."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in reversed(changes):
        details = change.details or {}
        previous = details.get("previous", {})
        for name, value in details.get("set", {}).items():
            out[name].append({"at": change.at, "by": change.user_id, "before": previous.get(name, None),
                              "had": name in previous, "after": value, "removed": False})
        for name in details.get("removed", []):
            out[name].append({"at": change.at, "by": change.user_id, "before": previous.get(name),
                              "had": True, "after": None, "removed": True})
    return out


@bp.get("/instances/<instance_id>")
@login_required
def instance_page(instance_id: str):  # type: ignore[no-untyped-def]
    eng = engine()
    person = me()
    state = _visible_state(instance_id)
    instance = state.instance
    try:
        definition = eng.definitions.get(instance.definition_id)
        process_name, version = definition.name or definition.key, definition.version
    except NotFound:  # its deployment was deleted: the key will do
        process_name, version = instance.definition_key, None
    at = now()
    names = eng.instances.element_names(instance_id)
    tasks = [(t, person.sees(t), *due_state(t.due, at)) for t in state.tasks]
    timers = []
    for job in eng.jobs.list(instance_id=instance_id):
        due = _parse_iso(job["dueDate"])
        timers.append({**job, "name": names.get(job["activityId"]), "due": due,
                       "overdue": due is not None and due < at and (job["retries"] or 0) > 0})
    incidents = [{**i, "name": names.get(i["activityId"] or ""), "at": _parse_iso(i["incidentTimestamp"]),
                  "can_retry": i["incidentType"] in ("failedJob", "failedExternalTask") and bool(i["jobId"])}
                 for i in eng.jobs.incidents(instance_id=instance_id)]
    changes = _variable_history(eng.instances.variable_changes(instance_id))
    variables = [{"name": n, "value": v, "type": type_of(v), "edit": _edit_form_value(v), "types": _value_types(v),
                  "changes": changes.get(n, [])} for n, v in sorted(state.variables.items())]
    removed = sorted(n for n in changes if n not in state.variables)
    notifications = [{**o, "at": _parse_iso(o.get("time"))} for o in eng.handlers.outbox(instance_id)]
    decisions = _decisions(eng.decision_history.list(person, instance_id=instance_id, roots_only=True,
                                                     include_inputs=True, include_outputs=True, max_results=50))
    markers = eng.instances.markers(instance_id)
    return render_template(
        "instance.html", state=state, instance=instance, process_name=process_name, version=version,
        tasks=tasks, timers=timers, incidents=incidents, variables=variables, removed_variables=removed,
        variable_changes=changes, value_types=VALUE_TYPES, notifications=notifications, decisions=decisions,
        waiting=state.subscriptions, external_tasks=state.external_tasks, names=names,
        history=list(reversed(state.history)), history_shown=HISTORY_SHOWN, markers=markers.to_json(),
        is_admin=person.is_admin)


@bp.get("/instances/<instance_id>/diagram.xml")
@login_required
def instance_diagram(instance_id: str) -> Response:
    """The BPMN document of the instance's process, for the page's diagram."""
    state = _visible_state(instance_id)
    xml = engine().definitions.xml(state.instance.definition_id)
    return Response(xml, mimetype="application/xml", headers={"Cache-Control": "private, max-age=3600"})


def _change(instance_id: str, action: Callable[[], str]):  # type: ignore[no-untyped-def]
    """Run an admin's change of the instance and flash what it did, or why the engine refused it."""
    _admin_only()
    engine().instances.get(instance_id)  # 404 for an unknown instance
    try:
        flash(action(), "success")
    except StageflowError as err:
        flash(err.message, "error")
    except ValueError as err:
        flash(str(err), "error")
    return _page(instance_id)


@bp.post("/instances/<instance_id>/variables")
@login_required
def set_variable(instance_id: str):  # type: ignore[no-untyped-def]
    """Set one variable from the edit form: a name, a type and the value as text."""
    name = request.form.get("name", "").strip()
    kind = request.form.get("type", "String")
    text = request.form.get("value", "")

    def action() -> str:
        if not name or len(name) > 255:
            raise ValueError("Name the variable (at most 255 characters).")
        if kind == "Object":
            value = _object_like(engine().instances.variables(instance_id).get(name), name, text)
        else:
            try:
                value = parse_value(kind, text)
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        engine().instances.set_variables(instance_id, {name: value}, user=me().user_id)
        return f"{name} is now {json.dumps(value, ensure_ascii=False)}."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/variables/remove")
@login_required
def remove_variable(instance_id: str):  # type: ignore[no-untyped-def]
    name = request.form.get("name", "").strip()

    def action() -> str:
        if name not in engine().instances.variables(instance_id):
            raise ValueError(f"The instance has no variable “{name}”.")
        engine().instances.set_variables(instance_id, {}, remove=[name], user=me().user_id)
        return f"Removed the variable {name}."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/suspend")
@login_required
def suspend_instance(instance_id: str):  # type: ignore[no-untyped-def]
    def action() -> str:
        engine().instances.suspend(instance_id, user=me().user_id)
        return "Suspended: its tasks, timers and external tasks wait until it is resumed."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/resume")
@login_required
def resume_instance(instance_id: str):  # type: ignore[no-untyped-def]
    def action() -> str:
        engine().instances.resume(instance_id, user=me().user_id)
        return "Resumed: the instance goes on."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/cancel")
@login_required
def cancel_instance(instance_id: str):  # type: ignore[no-untyped-def]
    reason = request.form.get("reason", "").strip()[:1000] or None

    def action() -> str:
        if request.form.get("confirm") != "yes":
            raise ValueError("Tick the box to confirm the cancellation: nothing was changed.")
        engine().instances.cancel(instance_id, reason=reason, user=me().user_id)
        return "Cancelled: its open tasks, timers and subscriptions are gone."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/incidents/<incident_id>/retry")
@login_required
def retry_incident(instance_id: str, incident_id: str):  # type: ignore[no-untyped-def]
    """Retry what failed: a job gets one more try, run at once; an external task is offered to workers again."""
    eng = engine()

    def action() -> str:
        incident = next((i for i in eng.jobs.incidents(instance_id=instance_id, max_results=1000)
                         if i["id"] == incident_id), None)
        if incident is None:
            raise ValueError("This incident is resolved already.")
        if incident["incidentType"] == "failedExternalTask" and incident["jobId"]:
            eng.external_tasks.set_retries(incident["jobId"], 1)
            return "The external task is offered to its workers again."
        if incident["incidentType"] != "failedJob" or not incident["jobId"]:
            raise ValueError("This failure has nothing to retry: the action that failed was undone; do it again "
                             "once its cause is fixed.")
        job_id = incident["jobId"]
        eng.jobs.retry(job_id)
        ran = eng.jobs.execute(job_id)
        again = [i for i in eng.jobs.incidents(instance_id=instance_id, max_results=1000) if i["jobId"] == job_id]
        if again:
            raise ValueError(f"The retry failed again: {again[-1]['incidentMessage']}")
        what = incident["activityId"] or "the job"
        if ran:
            return f"Retried {what}: it ran, and the instance goes on."
        return f"{what} gets another try: it runs as soon as the instance may go on."
    return _change(instance_id, action)


@bp.post("/instances/<instance_id>/incidents/<incident_id>/resolve")
@login_required
def resolve_incident(instance_id: str, incident_id: str):  # type: ignore[no-untyped-def]
    """Close an incident with nothing to retry (its failed change was undone)."""
    def action() -> str:
        engine().instances.resolve_incident(instance_id, incident_id)
        return "The incident is marked resolved."
    return _change(instance_id, action)


def _decisions(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decisions the instance's business rule tasks took, newest first: each with its inputs and its matched
    rules' outputs, grouped by rule (what made a card gold, who must approve)."""
    out = []
    for decision in reversed(found):
        rules: dict[Any, list[dict[str, Any]]] = {}
        for output in decision["outputs"] or []:
            rules.setdefault(output["ruleId"] or output["ruleOrder"], []).append(output)
        out.append({**decision, "at": _parse_iso(decision["evaluationTime"]), "rules": list(rules.items())})
    return out


def _parse_iso(text: str | None) -> datetime | None:
    """A datetime from the engine's Camunda date text (None stays None)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z") if text else None
