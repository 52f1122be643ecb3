"""The inbox lists and the task page: claim, unclaim, the generated form, complete (resolve, for a task delegated
to me), comments.

Lists: "My tasks" (assigned to me), "My groups' tasks" (offered to me or my groups, not yet claimed) and, for
`admins`, "All". The filters narrow the list and its count alike; counts stop at 1,000 ("1,000+") so that a
page costs the same with a hundred open tasks or a hundred thousand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine.errors import (
    AlreadyClaimed,
    BadRequest,
    Conflict,
    InvalidVariables,
    NotFound,
    ScriptError,
    StageflowError,
    Suspended,
)
from engine.identity import Principal
from engine.views import TaskView

from . import bp, engine, me, visible_task
from .auth import login_page, safe_next
from .forms import inputs, split_errors, submission
from .pages import due_state, now

PAGE_SIZE = 25
COUNT_CAP = 1000
HISTORY_SHOWN = 30

LISTS = {"mine": "My tasks", "groups": "My groups' tasks", "delegated": "Delegated by me", "all": "All tasks"}
DUE = {"": "Any due date", "overdue": "Overdue", "today": "Due today", "week": "Due this week", "none": "No due date"}
PRIORITY = {"": "Any priority", "high": "High (above 50)", "normal": "Normal (50)", "low": "Low (below 50)"}
SORTS = {  # value: (label, engine column, order)
    "-created": ("Newest first", "created", "desc"),
    "created": ("Oldest first", "created", "asc"),
    "due": ("Due date, soonest first", "dueDate", "asc"),
    "-due": ("Due date, latest first", "dueDate", "desc"),
    "-priority": ("Highest priority first", "priority", "desc"),
    "priority": ("Lowest priority first", "priority", "asc"),
}
# newest first, as Camunda's tasklist: it reads the open-task index in order and stops after a page, where sorting
# by due date sorts every matching task (human_task has no index on due)
DEFAULT_SORT = "-created"


@dataclass
class Query:
    """The inbox's query string: which list, filters, sort and page."""

    list: str
    process: str
    due: str
    priority: str
    q: str
    sort: str
    page: int

    @classmethod
    def from_args(cls, args: Any, person: Principal) -> Query:
        which = args.get("list", "mine")
        if which not in LISTS or (which == "all" and not person.is_admin):
            which = "mine"
        try:
            page = max(1, min(int(args.get("page", "1")), 10_000))
        except ValueError:
            page = 1
        due = args.get("due", "")
        priority = args.get("priority", "")
        sort = args.get("sort", DEFAULT_SORT)
        return cls(list=which, process=args.get("process", "").strip()[:255], due=due if due in DUE else "",
                   priority=priority if priority in PRIORITY else "", q=args.get("q", "").strip()[:100],
                   sort=sort if sort in SORTS else DEFAULT_SORT, page=page)

    def url(self, **changes: Any) -> str:
        """This query with some parameters changed (defaults left out of the URL)."""
        values = {**self.__dict__, **changes}
        if "page" not in changes:
            values["page"] = 1 if changes else self.page
        defaults = {"list": "mine", "sort": DEFAULT_SORT, "page": 1}
        params = {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}
        return url_for("inbox.index") + ("?" + urlencode(params) if params else "")

    @property
    def narrowed(self) -> bool:
        return bool(self.process or self.due or self.priority or self.q)


def list_filters(which: str, person: Principal) -> dict[str, Any]:
    if which == "mine":
        return {"assignee": person.user_id}
    if which == "groups":
        return {"candidate_user": person.user_id, "candidate_groups": list(person.groups)}  # unclaimed ones
    if which == "delegated":  # handed to someone who gives it back (resolves it): the person can take it back
        return {"owner": person.user_id, "delegation_state": "PENDING"}
    return {}  # all: admins only (Query.from_args)


def narrowing(query: Query, at: datetime) -> dict[str, Any]:
    """The engine filters of the process, due, priority and search choices."""
    filters: dict[str, Any] = {}
    if query.process:
        filters["process_key"] = query.process
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    just_before = timedelta(microseconds=1)
    if query.due == "overdue":
        filters["due_before"] = at
    elif query.due == "today":
        filters.update(due_after=day - just_before, due_before=day + timedelta(days=1))
    elif query.due == "week":
        monday = day - timedelta(days=day.weekday())
        filters.update(due_after=monday - just_before, due_before=monday + timedelta(days=7))
    elif query.due == "none":
        filters["without_due"] = True
    if query.priority == "high":
        filters["min_priority"] = 51
    elif query.priority == "normal":
        filters.update(min_priority=50, max_priority=50)
    elif query.priority == "low":
        filters["max_priority"] = 49
    if query.q:
        filters["search"] = query.q
    return filters


def inbox_data(query: Query, person: Principal) -> dict[str, Any]:
    """The counts of every list and the rows of the chosen page."""
    eng = engine()
    at = now()
    narrow = narrowing(query, at)
    lists = [k for k in LISTS if k != "all" or person.is_admin]
    counts = {k: eng.tasks.count(at_most=COUNT_CAP + 1, **list_filters(k, person), **narrow) for k in lists}
    if not counts["delegated"] and query.list != "delegated":  # shown while the person has delegated some
        lists.remove("delegated")
        del counts["delegated"]
    _, column, order = SORTS[query.sort]
    rows = eng.tasks.list(sort_by=column, sort_order=order, nulls_last=True, first=(query.page - 1) * PAGE_SIZE,
                          max_results=PAGE_SIZE, **list_filters(query.list, person), **narrow)
    return {"at": at, "lists": lists, "counts": counts, "rows": rows}


def count_text(count: int) -> str:
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return login_page()
    person = me()
    query = Query.from_args(request.args, person)
    data = inbox_data(query, person)
    total = data["counts"][query.list]
    first = (query.page - 1) * PAGE_SIZE
    processes = {d.key: d.name or d.key for d in engine().definitions.list(latest_only=True, max_results=1000)}
    return render_template(
        "inbox.html", query=query, lists=data["lists"], list_names=LISTS, counts=data["counts"],
        count_text=count_text, rows=[(t, *due_state(t.due, data["at"])) for t in data["rows"]],
        processes=processes, due_choices=DUE, priority_choices=PRIORITY, sorts=SORTS,
        shown_from=first + 1 if data["rows"] else 0, shown_to=first + len(data["rows"]),
        total_text=count_text(total), has_prev=query.page > 1,
        has_next=len(data["rows"]) == PAGE_SIZE and (total > first + PAGE_SIZE),
        fingerprint=fingerprint(data))


@bp.get("/inbox/state")
@login_required
def inbox_state():  # type: ignore[no-untyped-def]
    """The list's counts and a fingerprint of its page, for the page to notice changes without reloading."""
    person = me()
    data = inbox_data(Query.from_args(request.args, person), person)
    return {"counts": {k: count_text(v) for k, v in data["counts"].items()}, "fingerprint": fingerprint(data)}


def fingerprint(data: dict[str, Any]) -> str:
    rows = ";".join(f"{t.id}:{t.assignee or ''}:{t.priority}:{t.due}" for t in data["rows"])
    counts = ",".join(f"{k}={v}" for k, v in sorted(data["counts"].items()))
    return hashlib.sha256(f"{rows}|{counts}".encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ task page


def render_task(task: TaskView, *, submitted: Any = None, errors: list[tuple[str, str]] | None = None,
                form_error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    eng = engine()
    person = me()
    variables: dict[str, Any] = {}
    if task.ended_at is None:
        try:
            variables = eng.tasks.variables(task.id)
        except (Conflict, NotFound):  # completed or gone in the meantime
            task = eng.tasks.get(task.id)
    field_errors, form_error = split_errors(errors, task.form, form_error)
    try:
        history = eng.instances.history(task.process_instance_id, max_results=5000)
    except NotFound:
        history = []
    try:
        definition = eng.definitions.get(task.process_definition_id)
        process_name = definition.name or definition.key
    except NotFound:
        process_name = task.process_definition_key
    mine = task.assignee == person.user_id
    delegated = mine and task.delegation_state == "PENDING"  # as Camunda's tasklist: resolved, not completed
    lent = not mine and task.owner == person.user_id and task.delegation_state == "PENDING"  # she delegated it
    state, due_text = due_state(task.due, now())
    form_fields = {f["id"] for f in task.form}
    return render_template(
        "task.html", task=task, process_name=process_name, fields=inputs(task.form, variables, submitted,
                                                                           field_errors),
        form_error=form_error, open=task.ended_at is None, mine=mine, delegated=delegated, lent=lent,
        can_unclaim=task.ended_at is None and task.assignee is not None and (mine or person.is_admin),
        can_assign=task.ended_at is None and (task.assignee in (None, person.user_id) or person.is_admin),
        colleagues=colleagues(task) if task.ended_at is None else [],
        due_state=state, due_text=due_text, history=list(reversed(history[-HISTORY_SHOWN:])),
        history_total=len(history), comments=eng.tasks.comments(task.id),
        variables=sorted((k, v) for k, v in variables.items() if k not in form_fields),
        back=safe_next(request.values.get("back")),
    ), status


@bp.get("/tasks/<task_id>")
@login_required
def task_page(task_id: str):  # type: ignore[no-untyped-def]
    return render_task(visible_task(task_id))


def _task_url(task_id: str, anchor: str | None = None) -> str:
    back = request.values.get("back")
    url = url_for("inbox.task_page", task_id=task_id, back=back or None)
    return url + (f"#{anchor}" if anchor else "")


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    try:
        engine().tasks.claim(task.id, me().user_id)
        flash(f"You claimed “{task.name or task.task_definition_key}”.", "success")
    except AlreadyClaimed:  # someone was quicker: say who, in the words the other conflicts use
        now = engine().tasks.get(task.id)
        flash(f"This task is claimed by {now.assignee}." if now.assignee else "This task was claimed and given back "
              "meanwhile: claim it again.", "error")
    except Conflict as err:
        flash(err.message, "error")
    return redirect(_task_url(task.id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    person = me()
    if not person.may_change(task):
        flash(f"Only {task.assignee} or an admin can give this task back.", "error")
        return redirect(_task_url(task.id))
    try:
        engine().tasks.unclaim(task.id, person.user_id)
        flash("The task is back in its group's list.", "success")
    except Conflict as err:
        flash(err.message, "error")
    return redirect(_task_url(task.id))


@bp.post("/tasks/<task_id>/take-back")
@login_required
def take_back(task_id: str):  # type: ignore[no-untyped-def]
    """The owner of a delegated task takes it back before the delegate resolves it (a resolution by the owner)."""
    task = visible_task(task_id)
    person = me()
    if task.ended_at is not None or task.owner != person.user_id or task.delegation_state != "PENDING":
        flash("Only who delegated a task can take it back, while it is delegated.", "error")
        return redirect(_task_url(task.id))
    try:
        engine().tasks.resolve(task.id, {}, user=person.user_id, check_form=False)
        flash(f"You took “{task.name or task.task_definition_key}” back from {task.assignee}.", "success")
    except (Conflict, Suspended, BadRequest) as err:
        flash(err.message, "error")
    return redirect(_task_url(task.id))


def colleagues(task: TaskView) -> list[str]:
    """The people this task may be handed to: its candidate users and the members of its candidate groups."""
    groups = set(task.candidate_groups)
    return sorted({u["id"] for u in engine().identity.users() if groups & set(u["groups"])}  # type: ignore[arg-type]
                  | set(task.candidate_users))


@bp.post("/tasks/<task_id>/assign")
@login_required
def assign(task_id: str):  # type: ignore[no-untyped-def]
    """Hand the task to a colleague: its assignee (or, unclaimed, any candidate) may, to a candidate; an admin may,
    to anyone."""
    task = visible_task(task_id)
    person = me()
    colleague = request.form.get("assignee", "").strip()
    if not person.may_change(task):
        flash(f"Only {task.assignee} or an admin can hand this task on.", "error")
    elif not colleague:
        flash("Name the colleague to hand the task to.", "error")
    elif not person.is_admin and colleague not in colleagues(task):
        flash(f"{colleague} is not one of this task's candidates.", "error")
    else:
        try:
            engine().identity.principal(colleague)
            engine().tasks.assign(task.id, colleague, person.user_id)
            flash(f"“{task.name or task.task_definition_key}” is now {colleague}'s.", "success")
        except (NotFound, Conflict) as err:
            flash(err.message, "error")
    return redirect(_task_url(task.id))


@bp.post("/tasks/<task_id>/complete")
@login_required
def complete(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    person = me()
    if task.ended_at is not None:
        flash(f"This task was already {task.outcome or 'completed'}.", "error")
        return redirect(_task_url(task.id))
    if task.assignee != person.user_id:
        flash("Claim the task before completing it." if task.assignee is None
              else f"This task is claimed by {task.assignee}.", "error")
        return redirect(_task_url(task.id))
    delegated = task.delegation_state == "PENDING"
    try:
        if delegated:  # a task delegated to me goes back to its owner, who completes it
            engine().tasks.resolve(task.id, submission(task.form, request.form), user=person.user_id,
                                   check_form=True)
        else:
            engine().tasks.complete(task.id, submission(task.form, request.form), user=person.user_id)
    except InvalidVariables as err:
        return render_task(task, submitted=request.form, errors=err.problems, status=422)
    except Conflict as err:
        flash(err.message, "error")
        return redirect(_task_url(task.id))
    except ScriptError as err:  # a failing script after the task: the task stays open, the input kept
        message = (f"The process could not go on after this task, so it is still open and your input is kept. "
                   f"Tell your process administrator (an incident is recorded): {err.message}")
        return render_task(task, submitted=request.form, form_error=message, status=err.status)
    except StageflowError as err:
        return render_task(task, submitted=request.form, form_error=err.message, status=err.status)
    name = task.name or task.task_definition_key
    if delegated:
        flash(f"Resolved “{name}”: it is back with {task.owner}." if task.owner
              else f"Resolved “{name}”: it is back with its candidates.", "success")
        return redirect(safe_next(request.values.get("back")))
    following = engine().tasks.list(instance_id=task.process_instance_id, assignee=person.user_id, max_results=1)
    if following:
        following_name = following[0].name or following[0].task_definition_key
        flash(f"Completed “{name}”. Next for you in this process: “{following_name}”.", "success")
        return redirect(url_for("inbox.task_page", task_id=following[0].id, back=request.values.get("back")))
    flash(f"Completed “{name}”.", "success")
    return redirect(safe_next(request.values.get("back")))


@bp.post("/tasks/<task_id>/comments")
@login_required
def comment(task_id: str):  # type: ignore[no-untyped-def]
    task = visible_task(task_id)
    try:
        engine().tasks.add_comment(task.id, request.form.get("message", "")[:5000], user=me().user_id)
    except BadRequest as err:
        flash(err.message, "error")
    return redirect(_task_url(task.id, "comments"))
