"""The start page: the startable processes (latest versions) and their start forms."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from engine.errors import Conflict, InvalidVariables
from engine.views import DefinitionView

from . import bp, engine, me
from .forms import inputs, split_errors, submission

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def startable() -> list[DefinitionView]:
    return [d for d in engine().definitions.list(latest_only=True, max_results=1000)
            if d.in_tasklist and not d.suspended]


@bp.get("/start")
@login_required
def start_list():  # type: ignore[no-untyped-def]
    return render_template("start.html", definitions=startable())


def start_form(definition: DefinitionView, *, submitted: Any = None, errors: list[tuple[str, str]] | None = None,
               form_error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    fields = engine().definitions.start_form_fields(definition.id)
    field_errors, form_error = split_errors(errors, fields, form_error)
    token = submitted.get("token") if submitted is not None and _TOKEN.match(submitted.get("token", "")) else None
    return render_template(
        "start_form.html", definition=definition, fields=inputs(fields, None, submitted, field_errors),
        business_key=(submitted or {}).get("businessKey", ""), form_error=form_error,
        token=token or uuid.uuid4().hex), status


@bp.get("/start/<definition_id>")
@login_required
def start_page(definition_id: str):  # type: ignore[no-untyped-def]
    return start_form(engine().definitions.get(definition_id))


@bp.post("/start/<definition_id>")
@login_required
def start_process(definition_id: str):  # type: ignore[no-untyped-def]
    eng = engine()
    person = me()
    definition = eng.definitions.get(definition_id)
    fields = eng.definitions.start_form_fields(definition.id)
    business_key = request.form.get("businessKey", "").strip()[:255] or None
    token = request.form.get("token", "")
    # the form's one-time token makes a double click or a resent form return the first instance
    idempotency = f"inbox:{person.user_id}:{token}" if _TOKEN.match(token) else None
    try:
        instance = eng.instances.start(definition.id, business_key=business_key,
                                       variables=submission(fields, request.form), user=person.user_id,
                                       validate_form=True, idempotency_key=idempotency)
    except InvalidVariables as err:
        return start_form(definition, submitted=request.form, errors=err.problems, status=422)
    except Conflict as err:
        return start_form(definition, submitted=request.form, form_error=err.message, status=409)
    title = definition.name or definition.key
    label = f"“{title}”" + (f" ({instance.business_key})" if instance.business_key else "")
    # a first task the starter may work now: theirs, or not claimed and offered to them or their groups (any, for
    # an admin)
    offered: dict[str, Any] = {"unassigned": True} if person.is_admin else {
        "candidate_user": person.user_id, "candidate_groups": list(person.groups)}
    yours = (eng.tasks.list(instance_id=instance.id, assignee=person.user_id, max_results=1)
             or eng.tasks.list(instance_id=instance.id, max_results=1, **offered))
    if yours:
        flash(f"Started {label}. Its first task is yours to do.", "success")
        return redirect(url_for("inbox.task_page", task_id=yours[0].id))
    others = [] if instance.ended else eng.tasks.list(instance_id=instance.id, max_results=1)
    if others and others[0].assignee:
        first = others[0]
        news = f" Its first task, “{first.name or first.task_definition_key}”, is {first.assignee}'s."
    else:
        news = "" if instance.ended else " It has no task for you now."
    flash(f"Started {label}.{news}", "success")
    return redirect(url_for("inbox.instance_page", instance_id=instance.id))
