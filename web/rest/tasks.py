"""Tasks: list and count with Camunda's filters, get, claim, unclaim, assignee, complete, forms, identity links,
comments. A user who is not in `admins` sees and works only the tasks they are assignee or candidate of."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest, Forbidden, NotFound
from engine.variables import to_typed, to_typed_map
from engine.views import TaskView

from . import arg_bool, arg_date, body, bp, engine, paging, principal, typed_variables

_SORT = {"created": "created", "dueDate": "dueDate", "followUpDate": "followUpDate", "priority": "priority",
         "name": "name", "assignee": "assignee", "id": "id", "nameCaseInsensitive": "name"}


def _filters(source: Any) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "assignee": source.get("assignee"),
        "candidate_user": source.get("candidateUser"),
        "candidate_group": source.get("candidateGroup"),
        "candidate_groups": [g for g in (source.get("candidateGroups") or "").split(",") if g]
        if isinstance(source.get("candidateGroups"), str) else source.get("candidateGroups"),
        "include_assigned": bool(arg_bool("includeAssignedTasks", source)),
        "unassigned": bool(arg_bool("unassigned", source)),
        "instance_id": source.get("processInstanceId"),
        "business_key": source.get("processInstanceBusinessKey"),
        "process_key": source.get("processDefinitionKey"),
        "definition_id": source.get("processDefinitionId"),
        "task_definition_key": source.get("taskDefinitionKey"),
        "name_like": (source.get("nameLike") or "").strip("%") or None,
        "due_before": arg_date("dueBefore", source),
        "due_after": arg_date("dueAfter", source),
        "without_due": bool(arg_bool("withoutDueDate", source)),
    }
    me = principal()
    if not me.is_admin:  # only what this person is involved in
        filters["involved_user"] = me.user_id
        filters["involved_groups"] = list(me.groups)
    return filters


def _sorting(source: Any) -> tuple[str, str]:
    sorting = source.get("sorting")
    if isinstance(sorting, list) and sorting:
        source = sorting[0] if isinstance(sorting[0], dict) else {}
    sort_by = source.get("sortBy") or "created"
    if sort_by not in _SORT:
        raise BadRequest(f"cannot sort tasks by '{sort_by}' (use {', '.join(_SORT)})")
    order = source.get("sortOrder") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("sortOrder must be asc or desc")
    return _SORT[sort_by], order


@bp.get("/task")
def list_tasks():  # type: ignore[no-untyped-def]
    first, count = paging()
    sort_by, order = _sorting(request.args)
    rows = engine().tasks.list(sort_by=sort_by, sort_order=order, first=first, max_results=count,
                               **_filters(request.args))
    return jsonify([t.to_json() for t in rows])


@bp.post("/task")
def query_tasks():  # type: ignore[no-untyped-def]
    first, count = paging()
    data = body()
    sort_by, order = _sorting(data)
    rows = engine().tasks.list(sort_by=sort_by, sort_order=order, first=first, max_results=count, **_filters(data))
    return jsonify([t.to_json() for t in rows])


@bp.get("/task/count")
def count_tasks():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().tasks.count(**_filters(request.args))})


@bp.post("/task/count")
def query_count_tasks():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().tasks.count(**_filters(body()))})


def visible_task(task_id: str) -> TaskView:
    """The task, when this person may see it (assignee, candidate, a candidate group's member, an admin)."""
    task = engine().tasks.get(task_id)
    if principal().sees(task):
        return task
    raise Forbidden(f"user '{principal().user_id}' may not see or work task '{task_id}'")


def changeable_task(task_id: str) -> TaskView:
    """The task, when this person sees it and it is theirs, nobody's, or they are an admin."""
    task = visible_task(task_id)
    if not principal().may_change(task):
        raise Forbidden(f"task '{task_id}' is claimed by {task.assignee}")
    return task


@bp.get("/task/<task_id>")
def get_task(task_id: str):  # type: ignore[no-untyped-def]
    return jsonify(visible_task(task_id).to_json())


@bp.post("/task/<task_id>/claim")
def claim_task(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    me = principal()
    user = body().get("userId") or me.user_id
    if user != me.user_id and not me.is_admin:
        raise Forbidden(f"user '{me.user_id}' may claim tasks only for themselves")
    engine().tasks.claim(task_id, user)
    return "", 204


@bp.post("/task/<task_id>/unclaim")
def unclaim_task(task_id: str):  # type: ignore[no-untyped-def]
    changeable_task(task_id)
    engine().tasks.unclaim(task_id, principal().user_id)
    return "", 204


@bp.post("/task/<task_id>/assignee")
def assign_task(task_id: str):  # type: ignore[no-untyped-def]
    changeable_task(task_id)
    data = body()
    if "userId" not in data:
        raise BadRequest("the body needs 'userId' (null to remove the assignee)")
    engine().tasks.assign(task_id, data["userId"], principal().user_id)
    return "", 204


def _complete(task_id: str, *, form: bool):  # type: ignore[no-untyped-def]
    changeable_task(task_id)
    data = body()
    values = engine().tasks.complete(task_id, typed_variables(data), user=principal().user_id, check_form=form)
    if data.get("withVariablesInReturn"):
        return jsonify(to_typed_map(values))
    return "", 204


@bp.post("/task/<task_id>/complete")
def complete_task(task_id: str):  # type: ignore[no-untyped-def]
    return _complete(task_id, form=False)


@bp.post("/task/<task_id>/submit-form")
def submit_task_form(task_id: str):  # type: ignore[no-untyped-def]
    return _complete(task_id, form=True)


@bp.get("/task/<task_id>/form-variables")
def task_form_variables(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    values = engine().tasks.variables(task_id)
    out = {}
    for fld in engine().tasks.form(task_id):
        value = values.get(fld["id"], fld.get("defaultValue"))
        out[fld["id"]] = to_typed(value)
    return jsonify(out)


@bp.get("/task/<task_id>/variables")
def task_variables(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    return jsonify(to_typed_map(engine().tasks.variables(task_id)))


@bp.get("/task/<task_id>/variables/<name>")
def task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    values = engine().tasks.variables(task_id)
    if name not in values:
        raise NotFound(f"task variable with name {name} does not exist")
    return jsonify(to_typed(values[name]))


def _open_task_to_change(task_id: str) -> TaskView:
    task = changeable_task(task_id)
    if task.ended_at is not None:
        raise NotFound(f"task '{task_id}' is {task.outcome or 'completed'}: its variables can no longer change")
    return task


@bp.post("/task/<task_id>/variables")
def modify_task_variables(task_id: str):  # type: ignore[no-untyped-def]
    """Set and remove variables of the task's process instance (a form saved before it is completed)."""
    task = _open_task_to_change(task_id)
    data = body()
    removals = data.get("deletions") or []
    if not isinstance(removals, list) or not all(isinstance(n, str) for n in removals):
        raise BadRequest("deletions must be a list of variable names")
    engine().instances.set_variables(task.process_instance_id, typed_variables(data, "modifications"),
                                     remove=removals, user=principal().user_id)
    return "", 204


@bp.put("/task/<task_id>/variables/<name>")
def put_task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    task = _open_task_to_change(task_id)
    values = typed_variables({"v": {name: body()}}, "v")
    engine().instances.set_variables(task.process_instance_id, values, user=principal().user_id)
    return "", 204


@bp.delete("/task/<task_id>/variables/<name>")
def delete_task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    task = _open_task_to_change(task_id)
    engine().instances.set_variables(task.process_instance_id, {}, remove=[name], user=principal().user_id)
    return "", 204


@bp.get("/task/<task_id>/identity-links")
def identity_links(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    links = [{"userId": task.assignee, "groupId": None, "type": "assignee"}] if task.assignee else []
    links += [{"userId": u, "groupId": None, "type": "candidate"} for u in task.candidate_users]
    links += [{"userId": None, "groupId": grp, "type": "candidate"} for grp in task.candidate_groups]
    wanted = request.args.get("type")
    return jsonify([link for link in links if wanted in (None, link["type"])])


@bp.get("/task/<task_id>/comment")
def task_comments(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    return jsonify(engine().tasks.comments(task_id))


@bp.post("/task/<task_id>/comment/create")
def add_task_comment(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    message = body().get("message")
    if not isinstance(message, str):
        raise BadRequest("the body needs 'message', a string")
    return jsonify(engine().tasks.add_comment(task_id, message, user=principal().user_id))
