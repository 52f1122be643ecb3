"""Tasks: list and count with Camunda's filters, get, claim, unclaim, assignee, delegate, resolve, complete, BPMN
errors and escalations, forms, identity links, comments. A user who is not in `admins` sees and works only the tasks
they are assignee, owner (they delegated it) or candidate of."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Response, jsonify, request

from engine.errors import BadRequest, Forbidden, NotFound
from engine.forms import form_variables
from engine.variables import parse_date, to_typed_map
from engine.views import TaskView

from . import (
    arg_bool,
    arg_date,
    arg_list,
    body,
    body_variable,
    bp,
    deletions,
    deserialized,
    engine,
    paging,
    principal,
    typed_variables,
)
from .variable_instances import value_conditions

_SORT = {"created": "created", "dueDate": "dueDate", "followUpDate": "followUpDate", "priority": "priority",
         "name": "name", "assignee": "assignee", "id": "id", "nameCaseInsensitive": "name"}


def _candidate_groups(source: Any) -> list[str]:
    raw = source.get("candidateGroups")
    groups = [g for g in raw.split(",") if g] if isinstance(raw, str) else list(raw or [])
    if source.get("candidateGroup"):
        groups.append(source["candidateGroup"])
    return groups


def _delegation_state(source: Any) -> str | None:
    """Camunda's `delegationState` filter: PENDING or RESOLVED, in any case."""
    raw = source.get("delegationState")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or raw.upper() not in ("PENDING", "RESOLVED"):
        raise BadRequest(f"Valid values for property 'delegationState' are 'PENDING' or 'RESOLVED', but was '{raw}'")
    return raw.upper()


def _filters(source: Any) -> dict[str, Any]:
    user = source.get("candidateUser")
    groups = _candidate_groups(source)
    if user and groups:
        raise BadRequest("Invalid query usage: cannot set both candidateUser and candidateGroup(s)")
    if user:  # as Camunda's taskCandidateUser: offered to the user, or to one of the user's groups
        try:
            groups = list(engine().identity.principal(user).groups)
        except NotFound:
            groups = []
    filters: dict[str, Any] = {
        "assignee": source.get("assignee"),
        "candidate_user": user,
        "candidate_groups": groups,
        "include_assigned": bool(arg_bool("includeAssignedTasks", source)),
        "unassigned": bool(arg_bool("unassigned", source)),
        "instance_id": source.get("processInstanceId"),
        "business_key": source.get("processInstanceBusinessKey"),
        "process_key": source.get("processDefinitionKey"),
        "definition_id": source.get("processDefinitionId"),
        "task_definition_key": source.get("taskDefinitionKey"),
        "owner": source.get("owner"),
        "delegation_state": _delegation_state(source),
        "name_like": source.get("nameLike") or None,
        "due_before": arg_date("dueBefore", source),
        "due_after": arg_date("dueAfter", source),
        "without_due": bool(arg_bool("withoutDueDate", source)),
        "task_id": source.get("taskId"),
        "task_ids": arg_list("taskIdIn", source),
        "name": source.get("name"),
        "process_keys": arg_list("processDefinitionKeyIn", source),
        "assignees": arg_list("assigneeIn", source),
        "business_keys": arg_list("processInstanceBusinessKeyIn", source),
        "created_before": arg_date("createdBefore", source),
        "created_after": arg_date("createdAfter", source),
        "process_variables": value_conditions(source, "processVariables") or None,
        "suspended": _one_of(source, "suspended", "active"),
        "with_candidate_groups": _one_of(source, "withCandidateGroups", "withoutCandidateGroups"),
    }
    me = principal()
    involved = source.get("involvedUser")
    if involved and not me.is_admin and involved != me.user_id:
        raise BadRequest(f"involvedUser '{involved}': a user who is not in 'admins' may ask only for themselves")
    if not me.is_admin:  # only what this person is involved in
        filters["involved_user"] = me.user_id
        filters["involved_groups"] = list(me.groups)
    if involved:  # Camunda's involvedUser: assignee or candidate user, not through a group
        filters["involved_user"], filters["involved_groups"] = involved, []
    return filters


def _one_of(source: Any, yes: str, no: str) -> bool | None:
    """Camunda's pair of flags (`suspended`/`active`): True for the first, False for the second, None for neither;
    a flag given as false filters nothing, as Camunda's."""
    if arg_bool(yes, source) and arg_bool(no, source):
        raise BadRequest(f"Invalid query usage: cannot set both {yes} and {no}")
    return True if arg_bool(yes, source) else (False if arg_bool(no, source) else None)


def _one_sorting(sort_by: Any, order: Any) -> tuple[str, str]:
    if (sort_by is None) != (order is None):
        raise BadRequest("Only a single sorting parameter specified. sortBy and sortOrder required")
    if sort_by not in _SORT:
        raise BadRequest(f"Cannot set query parameter 'sortBy' to value '{sort_by}' (use {', '.join(_SORT)})")
    if order not in ("asc", "desc"):
        raise BadRequest(f"Cannot set query parameter 'sortOrder' to value '{order}' (use asc or desc)")
    return _SORT[sort_by], order


def _sorting(source: Any) -> list[tuple[str, str]]:
    """The sort keys in order: `sortBy`/`sortOrder` (both or neither, as Camunda), then each entry of a POST
    body's `sorting` array; creation time when none is given."""
    keys = []
    if source.get("sortBy") is not None or source.get("sortOrder") is not None:
        keys.append(_one_sorting(source.get("sortBy"), source.get("sortOrder")))
    sorting = source.get("sorting") if source is not request.args else None  # a POST body's only
    if sorting is not None:
        if not isinstance(sorting, list) or not all(isinstance(e, dict) for e in sorting):
            raise BadRequest("sorting must be a list of {sortBy, sortOrder} objects")
        keys += [_one_sorting(e.get("sortBy"), e.get("sortOrder")) for e in sorting]
    return keys or [("created", "asc")]


def _list(source: Any) -> list[TaskView]:
    first, count = paging()
    (sort_by, order), *more = _sorting(source)
    extra = {"then_by": more} if more else {}
    return engine().tasks.list(sort_by=sort_by, sort_order=order, first=first, max_results=count, **extra,
                               **_filters(source))


@bp.get("/task")
def list_tasks():  # type: ignore[no-untyped-def]
    return jsonify([t.to_json() for t in _list(request.args)])


@bp.post("/task")
def query_tasks():  # type: ignore[no-untyped-def]
    return jsonify([t.to_json() for t in _list(body())])


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
        how = "delegated to" if task.delegation_state == "PENDING" else "claimed by"
        raise Forbidden(f"task '{task_id}' is {how} {task.assignee}")
    return task


@bp.get("/task/<task_id>")
def get_task(task_id: str):  # type: ignore[no-untyped-def]
    """An open task: a completed or cancelled one is no longer found, as Camunda's runtime task query."""
    if engine().tasks.get(task_id).ended_at is not None:
        raise NotFound(f"No matching task with id {task_id}")
    return jsonify(visible_task(task_id).to_json())


@bp.put("/task/<task_id>")
def update_task(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's update: every updatable field is set from the body, as a client sends back the task it read."""
    changeable_task(task_id)
    data = body()
    for unsupported, what in (("parentTaskId", "subtasks"), ("caseInstanceId", "cases (CMMN)"),
                              ("tenantId", "tenants")):
        if data.get(unsupported) is not None:
            raise BadRequest(f"'{unsupported}' must be null: Stageflow has no {what}")
    dates = {}
    for name in ("due", "followUp"):
        moment = parse_date(name, data[name]) if data.get(name) not in (None, "") else None
        dates[name] = moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
    priority = data.get("priority")
    engine().tasks.update(task_id, name=data.get("name"), description=data.get("description"),
                          assignee=data.get("assignee"), owner=data.get("owner"),
                          delegation_state=data.get("delegationState"), due=dates["due"],
                          follow_up=dates["followUp"], priority=0 if priority is None else priority,
                          user=principal().user_id)
    return "", 204


@bp.post("/task/<task_id>/claim")
def claim_task(task_id: str):  # type: ignore[no-untyped-def]
    user = body().get("userId")
    if user is None:  # Camunda's ClaimTaskCmd: a claim for no one leaves the task to no one
        return unclaim_task(task_id)
    if not isinstance(user, str) or not user:
        raise BadRequest("'userId' must name a user (or be null: the task is then left to no one)")
    visible_task(task_id)
    me = principal()
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


@bp.post("/task/<task_id>/delegate")
def delegate_task(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's delegate: the assignee (or, unclaimed, a candidate; an admin) hands the task to `userId`, who
    gives it back with `resolve`."""
    changeable_task(task_id)
    user_id = body().get("userId")
    if not isinstance(user_id, str) or not user_id.strip():
        raise BadRequest("the body needs 'userId': the user to delegate the task to")
    engine().tasks.delegate(task_id, user_id, principal().user_id)
    return "", 204


@bp.post("/task/<task_id>/resolve")
def resolve_task(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's resolve: the delegate hands a PENDING task back to its owner, setting `variables` as a
    completion would; the task stays open."""
    changeable_task(task_id)
    engine().tasks.resolve(task_id, typed_variables(body()), user=principal().user_id, check_form=False)
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


@bp.post("/task/<task_id>/bpmnError")
def task_bpmn_error(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's handleBpmnError: the person working the task reports a business error (`errorCode`,
    `errorMessage`, `variables`); the catching error event takes over and the task ends."""
    changeable_task(task_id)
    data = body()  # its schema (TaskBpmnErrorRequest) has checked the fields' types and that errorCode is there
    engine().tasks.bpmn_error(task_id, data["errorCode"], data.get("errorMessage"), typed_variables(data),
                              user=principal().user_id)
    return "", 204


@bp.post("/task/<task_id>/bpmnEscalation")
def task_bpmn_escalation(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's handleEscalation: the person working the task reports an escalation (`escalationCode`,
    `variables`); the catching escalation event takes over (a non-interrupting one leaves the task open)."""
    changeable_task(task_id)
    data = body()  # checked by its schema (TaskEscalationRequest)
    engine().tasks.bpmn_escalation(task_id, data["escalationCode"], typed_variables(data), user=principal().user_id)
    return "", 204


def variable_names() -> list[str] | None:
    """`variableNames=a,b`: only these (None: all)."""
    raw = request.args.get("variableNames")
    return None if raw is None else [n for n in raw.split(",") if n]


@bp.get("/task/<task_id>/form")
def task_form(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's getForm: the task's form key (camunda:formKey, null for a generated form or none)."""
    task = visible_task(task_id)
    return jsonify({"key": task.form_key, "contextPath": None})


@bp.get("/task/<task_id>/deployed-form")
def task_deployed_form(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's getDeployedTaskForm: the file the task's `camunda:formKey` (`embedded:deployment:...`,
    `camunda-forms:deployment:...`) names in its process's deployment, for a client that renders it."""
    task = visible_task(task_id)
    return deployed_file(*engine().definitions.deployed_form(task.process_definition_id, task.form_key))


def deployed_file(name: str, content: bytes, media: str) -> Response:
    """A deployed form for a client to render: opened in a browser instead, its scripts do not run here (a
    sandbox with nothing allowed), so a deployed file cannot act for whoever opens it."""
    answer = Response(content, mimetype=media)
    answer.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


@bp.get("/task/<task_id>/form-variables")
def task_form_variables(task_id: str):  # type: ignore[no-untyped-def]
    """As Camunda's GetTaskFormVariablesCmd: the form fields typed by their form types, then the task's other
    variables (a task without a form answers all its variables)."""
    task = visible_task(task_id)
    names = variable_names()
    values = engine().tasks.variables(task_id)
    out = form_variables(task.form, values, names)
    for name, typed in _all_variables(task_id, values).items():
        if name not in out and (names is None or name in names):
            out[name] = typed
    return jsonify(deserialized(out))


def _all_variables(task_id: str, values: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """What a task sees, typed: its instance's variables, and its own (local ones) over those of the same name."""
    values = engine().tasks.variables(task_id) if values is None else values
    local = engine().tasks.local_variables(task_id) if engine().tasks.get(task_id).ended_at is None else {}
    return {**to_typed_map(values), **local}


@bp.get("/task/<task_id>/variables")
def task_variables(task_id: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    return jsonify(deserialized(_all_variables(task_id)))


@bp.get("/task/<task_id>/variables/<name>")
def task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    values = _all_variables(task_id)
    if name not in values:
        raise NotFound(f"task variable with name {name} does not exist")
    return jsonify(deserialized(values[name], "deserializeValue"))


@bp.get("/task/<task_id>/localVariables")
def task_local_variables(task_id: str):  # type: ignore[no-untyped-def]
    """The task's own variables (Camunda's local ones): not its instance's."""
    visible_task(task_id)
    return jsonify(deserialized(engine().tasks.local_variables(task_id)))


@bp.get("/task/<task_id>/localVariables/<name>")
def task_local_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    visible_task(task_id)
    values = engine().tasks.local_variables(task_id)
    if name not in values:
        raise NotFound(f"task variable with name {name} does not exist")
    return jsonify(deserialized(values[name], "deserializeValue"))


@bp.post("/task/<task_id>/localVariables")
def modify_task_local_variables(task_id: str):  # type: ignore[no-untyped-def]
    _open_task_to_change(task_id)
    data = body()
    removals = deletions(data)
    engine().tasks.set_local_variables(task_id, typed_variables(data, "modifications"), remove=removals,
                                       user=principal().user_id)
    return "", 204


@bp.put("/task/<task_id>/localVariables/<name>")
def put_task_local_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    _open_task_to_change(task_id)
    engine().tasks.set_local_variables(task_id, body_variable(name), user=principal().user_id)
    return "", 204


@bp.delete("/task/<task_id>/localVariables/<name>")
def delete_task_local_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    _open_task_to_change(task_id)
    engine().tasks.set_local_variables(task_id, {}, remove=[name], user=principal().user_id)
    return "", 204


def _open_task_to_change(task_id: str) -> TaskView:
    task = changeable_task(task_id)
    if task.ended_at is not None:
        raise NotFound(f"task '{task_id}' is {task.outcome or 'completed'}: its variables can no longer change")
    return task


@bp.post("/task/<task_id>/variables")
def modify_task_variables(task_id: str):  # type: ignore[no-untyped-def]
    """Set and remove the variables the task sees (a form saved before it is completed): as Camunda's task
    service, a name the task holds as its own changes that one, any other the instance's."""
    task = _open_task_to_change(task_id)
    data = body()
    _change_task_variables(task, typed_variables(data, "modifications"), deletions(data))
    return "", 204


def _change_task_variables(task: TaskView, values: dict[str, Any], removals: list[str]) -> None:
    local = engine().tasks.local_variables(task.id)
    own = {n: v for n, v in values.items() if n in local}
    own_removals = [n for n in removals if n in local]
    if own or own_removals:
        engine().tasks.set_local_variables(task.id, own, remove=own_removals, user=principal().user_id)
    rest = {n: v for n, v in values.items() if n not in local}
    rest_removals = [n for n in removals if n not in local]
    if rest or rest_removals or not (own or own_removals):
        engine().instances.set_variables(task.process_instance_id, rest, remove=rest_removals,
                                         user=principal().user_id, task_id=task.id)


@bp.put("/task/<task_id>/variables/<name>")
def put_task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    task = _open_task_to_change(task_id)
    _change_task_variables(task, body_variable(name), [])
    return "", 204


@bp.delete("/task/<task_id>/variables/<name>")
def delete_task_variable(task_id: str, name: str):  # type: ignore[no-untyped-def]
    task = _open_task_to_change(task_id)
    _change_task_variables(task, {}, [name])
    return "", 204


@bp.get("/task/<task_id>/identity-links")
def identity_links(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    links = [{"userId": task.assignee, "groupId": None, "type": "assignee"}] if task.assignee else []
    links += [{"userId": task.owner, "groupId": None, "type": "owner"}] if task.owner else []  # as Camunda's
    links += [{"userId": u, "groupId": None, "type": "candidate"} for u in task.candidate_users]
    links += [{"userId": None, "groupId": grp, "type": "candidate"} for grp in task.candidate_groups]
    wanted = request.args.get("type")
    return jsonify([link for link in links if wanted in (None, link["type"])])


@bp.post("/task/<task_id>/identity-links")
def add_identity_link(task_id: str):  # type: ignore[no-untyped-def]
    """Camunda's: a candidate user or group offered the task, or the assignee or owner set."""
    return _link(task_id, add=True)


@bp.post("/task/<task_id>/identity-links/delete")
def delete_identity_link(task_id: str):  # type: ignore[no-untyped-def]
    return _link(task_id, add=False)


def _link(task_id: str, *, add: bool):  # type: ignore[no-untyped-def]
    changeable_task(task_id)
    data = body()
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadRequest("an identity link needs a 'type': candidate, assignee or owner")
    engine().tasks.link(task_id, user_id=data.get("userId"), group_id=data.get("groupId"), kind=kind, add=add,
                        user=principal().user_id)
    return "", 204


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
