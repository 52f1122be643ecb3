"""A process instance as the people working on it see it: where it stands, its open tasks, its history.

The full operations view (diagram, timers, incidents, editing variables) is for a later page; this one is what a
person who started a case, or works on it, needs to follow it.
"""

from __future__ import annotations

from flask import abort, render_template
from flask_login import login_required

from engine.errors import NotFound
from engine.identity import Principal
from engine.views import InstanceState

from . import bp, engine, me
from .pages import due_state, now


def involved(person: Principal, state: InstanceState) -> bool:
    """Admins; whoever started the instance or acted in it; whoever may see one of its open tasks."""
    if person.is_admin or any(person.sees(t) for t in state.tasks):
        return True
    if any(h.user_id == person.user_id for h in state.history):
        return True
    first = engine().instances.history(state.instance.id, max_results=1)  # the start, past the latest 200 steps
    return bool(first) and first[0].user_id == person.user_id


@bp.get("/instances/<instance_id>")
@login_required
def instance_page(instance_id: str):  # type: ignore[no-untyped-def]
    eng = engine()
    person = me()
    state = eng.instances.state(instance_id, history_limit=200)
    if not involved(person, state):
        abort(403, "You have no part in this process instance: you neither started it nor work on it.")
    try:
        definition = eng.definitions.get(state.instance.definition_id)
        process_name, version = definition.name or definition.key, definition.version
    except NotFound:  # its deployment was deleted: the key will do
        process_name, version = state.instance.definition_key, None
    at = now()
    tasks = [(t, person.sees(t), *due_state(t.due, at)) for t in state.tasks]
    return render_template("instance.html", state=state, instance=state.instance, process_name=process_name,
                           version=version, tasks=tasks, history=list(reversed(state.history)))
