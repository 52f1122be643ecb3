"""The task service: query, claim, unclaim, assign, delegate, resolve and complete human tasks, and report a BPMN
error or an escalation at one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, text
from sqlalchemy.sql import ClauseElement

from .errors import AlreadyClaimed, BadRequest, Conflict, NotFound, Suspended
from .executor import TASK_STATE, lock_instance_of
from .forms import validate_submission
from .ids import new_id
from .spiff.runtime import check_variables_serializable
from .store import models as m
from .store.fastpath import FastStatement, fetch_all
from .variable_instances import having_variables
from .variables import to_typed
from .views import TaskView, iso

if TYPE_CHECKING:
    from .api import Engine

SORT_COLUMNS = {
    "created": m.HumanTask.created_at,
    "dueDate": m.HumanTask.due,
    "followUpDate": m.HumanTask.follow_up,
    "priority": m.HumanTask.priority,
    "name": m.HumanTask.name,
    "assignee": m.HumanTask.assignee,
    "id": m.HumanTask.id,
}


_T = m.HumanTask.__table__
# Filters of `Tasks.query` that compare a column with one value: a list with them is built once per shape (which
# filters, sort, order), with placeholders for the values, and run as a `FastStatement`. Building a SELECT and its
# cache key costs more than running it.
_BOUND = frozenset({"assignee", "candidate_user", "candidate_group", "instance_id", "business_key", "process_key",
                    "definition_id", "task_definition_key", "due_before", "due_after", "involved_user", "owner",
                    "delegation_state"})
_FLAGS = frozenset({"unassigned", "without_due", "include_assigned",  # their truth changes the shape only
                    "offered_unassigned"})
_TRI_STATE = frozenset({"suspended", "with_candidate_groups"})  # True, False or None (no filter)
_LISTS: dict[tuple[Any, ...], FastStatement] = {}
_LISTS_MAX = 256

PENDING, RESOLVED = "PENDING", "RESOLVED"  # Camunda's delegation states (None: not delegated)
_NAME_LIMIT = 255  # a user id's column


class Tasks:
    """Human tasks as a person or a client sees them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def query(self, *, correlated: bool = True, **filters: Any) -> Select:  # type: ignore[type-arg]
        """A SELECT of active tasks with the filters of Camunda's task query (see `list`).

        `correlated` chooses how candidate links are matched: a correlated EXISTS per task (best for a page read
        in creation order, which stops after a page) or one IN over the person's links (best for counts and
        for other orders, whose cost then follows the person's links instead of the table; see `_linked`).
        """
        q = select(_T).where(m.HumanTask.ended_at.is_(None))
        if _given(filters.get("assignee")):
            q = q.where(m.HumanTask.assignee == filters["assignee"])
        if _given(filters.get("unassigned")):
            q = q.where(m.HumanTask.assignee.is_(None))
        user = filters.get("candidate_user")
        groups = list(filters.get("candidate_groups") or [])
        if _given(filters.get("candidate_group")):
            groups.append(filters["candidate_group"])
        if _given(user) or groups:
            conditions = []
            if _given(user):
                conditions.append(m.IdentityLink.user_id == user)
            if groups:
                conditions.append(m.IdentityLink.group_id.in_(groups))
            q = q.where(_linked(or_(*conditions), correlated))
            if not _given(filters.get("include_assigned")):
                q = q.where(m.HumanTask.assignee.is_(None))
        involved = filters.get("involved_user")
        if _given(involved):
            involved_groups = list(filters.get("involved_groups") or [])
            link_cond = [m.IdentityLink.user_id == involved]
            if involved_groups:
                link_cond.append(m.IdentityLink.group_id.in_(involved_groups))
            # Camunda's involvedUser: assignee, owner (a task they delegated) or candidate; with
            # `offered_unassigned`, a candidate of a task no one has claimed (what the inbox offers them)
            offered = _linked(or_(*link_cond), correlated)
            if _given(filters.get("offered_unassigned")):
                offered = and_(m.HumanTask.assignee.is_(None), offered)
            q = q.where(or_(m.HumanTask.assignee == involved, m.HumanTask.owner == involved, offered))
        for name, column in (("instance_id", m.HumanTask.instance_id),
                             ("business_key", m.HumanTask.business_key),
                             ("process_key", m.HumanTask.definition_key),
                             ("definition_id", m.HumanTask.definition_id),
                             ("task_definition_key", m.HumanTask.element_id),
                             ("owner", m.HumanTask.owner),
                             ("delegation_state", m.HumanTask.delegation_state)):
            if _given(filters.get(name)):
                q = q.where(column == filters[name])
        for name, column in (("process_keys", m.HumanTask.definition_key), ("assignees", m.HumanTask.assignee),
                             ("business_keys", m.HumanTask.business_key)):
            if filters.get(name) is not None:
                q = q.where(column.in_(list(filters[name])))
        if _given(filters.get("name")):
            q = q.where(m.HumanTask.name == filters["name"])
        if _given(filters.get("created_before")):
            q = q.where(m.HumanTask.created_at < filters["created_before"])
        if _given(filters.get("created_after")):
            q = q.where(m.HumanTask.created_at > filters["created_after"])
        if filters.get("process_variables"):
            q = q.where(*having_variables(m.HumanTask.instance_id, filters["process_variables"]))
        if filters.get("suspended") is not None:  # Camunda's `suspended` (True) or `active` (False)
            q = q.where(m.HumanTask.suspended == bool(filters["suspended"]))
        if filters.get("with_candidate_groups") is not None:  # offered to some group (True) or to none (False)
            offered = _linked(m.IdentityLink.group_id.isnot(None), correlated)
            q = q.where(offered if filters["with_candidate_groups"] else ~offered)
        if _given(filters.get("task_id")):
            q = q.where(m.HumanTask.id == filters["task_id"])
        if filters.get("task_ids") is not None:
            q = q.where(m.HumanTask.id.in_(list(filters["task_ids"])))
        if filters.get("name_like"):
            q = q.where(m.HumanTask.name.ilike(filters["name_like"], escape="\\"))  # a LIKE pattern, as Camunda
        if _given(filters.get("due_before")):
            q = q.where(m.HumanTask.due < filters["due_before"])
        if _given(filters.get("due_after")):
            q = q.where(m.HumanTask.due > filters["due_after"])
        if _given(filters.get("without_due")):
            q = q.where(m.HumanTask.due.is_(None))
        if filters.get("min_priority") is not None:
            q = q.where(m.HumanTask.priority >= filters["min_priority"])
        if filters.get("max_priority") is not None:
            q = q.where(m.HumanTask.priority <= filters["max_priority"])
        if filters.get("search"):  # the inbox's search box: a business key or a task name containing the text
            pattern = "%" + _escape_like(filters["search"]) + "%"
            q = q.where(or_(m.HumanTask.business_key.ilike(pattern, escape="\\"),
                            m.HumanTask.name.ilike(pattern, escape="\\")))
        return q

    def list(self, *, sort_by: str = "created", sort_order: str = "asc", first: int = 0, max_results: int = 100,
             nulls_last: bool = False, then_by: list[tuple[str, str]] | None = None,
             **filters: Any) -> list[TaskView]:
        """Active tasks filtered by assignee, candidate user or groups, instance, business key, process key,
        element id, owner, delegation state, due date, priority and a search text; sorted and paginated (at most
        1,000 a page).

        `nulls_last` puts tasks without a value of the sort column (no due date) after the others on every
        database (SQLite and PostgreSQL disagree about where NULLs go otherwise). `then_by`: more (sort_by,
        sort_order) keys after the first, as a Camunda `sorting` array.
        """
        for name in [sort_by, *(b for b, _ in then_by or [])]:
            if name not in SORT_COLUMNS:
                raise BadRequest(f"cannot sort tasks by '{name}' (use {', '.join(SORT_COLUMNS)})")
        correlated = sort_by == "created" and not filters.get("search")
        shaped = None if then_by else self._shaped(filters, (sort_by, sort_order, nulls_last, correlated))
        with self.engine.db.read() as session:
            self._plan_each_search(session, filters)
            if shaped is not None:
                statement, values, key = shaped
                if statement is None:
                    statement = self._shape(key, values)
                values["f_first"], values["f_limit"] = first, min(max_results, 1000)
                rows = statement.all(session, values)
            else:
                rows = fetch_all(session, self.query(correlated=correlated, **filters)
                                 .order_by(_order(sort_by, sort_order, nulls_last),
                                           *(_order(b, o, nulls_last) for b, o in then_by or []), m.HumanTask.id)
                                 .offset(first).limit(min(max_results, 1000)))
            return [TaskView.of(r) for r in rows]

    @staticmethod
    def _shaped(filters: dict[str, Any], sort: tuple[Any, ...]) -> Any:
        """(the list's statement of this shape or None when not built yet, its values), or None when a filter
        is not a plain value (a list of groups, a search text): such lists are built per call."""
        values: dict[str, Any] = {}
        applied = []
        for name, value in filters.items():
            if name in ("min_priority", "max_priority"):
                if value is None:
                    continue
                if type(value) is not int:
                    return None
                values[f"f_{name}"] = value
            elif name in _TRI_STATE:
                if value is not None:  # False filters too: built per call
                    return None
            elif not value:
                continue
            elif name in _FLAGS:
                pass
            elif name in _BOUND and type(value) in (str, datetime):
                values[f"f_{name}"] = value
            else:
                return None
            applied.append(name)
        key = (*sort, *sorted(applied))
        return _LISTS.get(key), values, key

    def _shape(self, key: tuple[Any, ...], values: dict[str, Any]) -> FastStatement:
        sort_by, sort_order, nulls_last, correlated = key[:4]
        filters: dict[str, Any] = {name: True for name in key[4:] if name in _FLAGS}
        filters.update({name[2:]: bindparam(name) for name in values})
        statement = FastStatement(self.query(correlated=correlated, **filters)
                                  .order_by(_order(sort_by, sort_order, nulls_last), m.HumanTask.id)
                                  .offset(bindparam("f_first")).limit(bindparam("f_limit")))
        if len(_LISTS) >= _LISTS_MAX:
            _LISTS.clear()
        _LISTS[key] = statement
        return statement

    def count(self, *, at_most: int | None = None, **filters: Any) -> int:
        """How many active tasks match the filters (of `list`); with `at_most`, counting stops there, so that
        a count shown as "1,000+" costs no more than reading 1,000 rows."""
        query = self.query(correlated=False, **filters)
        if at_most is not None:
            query = query.limit(at_most)
        with self.engine.db.read() as session:
            self._plan_each_search(session, filters)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def _plan_each_search(self, session: Any, filters: dict[str, Any]) -> None:
        """On PostgreSQL, plan a list searched by text for its own pattern. A statement run often is prepared
        and then planned once for any pattern; for `ILIKE '%work%'` that generic plan scanned every open task
        where the pattern's own plan reads the newest in index order (bench/inbox_list.py, 100,000 open tasks,
        `q=work`: 619 ms against 117 ms a page)."""
        if (filters.get("search") or filters.get("name_like")) and not self.engine.db.is_sqlite:
            session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    def get(self, task_id: str) -> TaskView:
        """A task, active or finished."""
        with self.engine.db.read() as session:
            row = session.get(m.HumanTask, task_id)
            if row is None:
                raise NotFound(f"task '{task_id}' not found")
            return TaskView.of(row)

    def claim(self, task_id: str, user: str) -> TaskView:
        """Take a task: it becomes the user's; someone else's claim is a `Conflict`."""
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            if row.assignee and row.assignee != user:
                raise AlreadyClaimed(f"task '{task_id}' is already claimed by {row.assignee}")
            row.assignee = user
            self._note(session, row, "claimed", user)
            return TaskView.of(row)

    def unclaim(self, task_id: str, user: str | None = None) -> TaskView:
        """Give a task back to its candidates."""
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            row.assignee = None
            self._note(session, row, "unclaimed", user)
            return TaskView.of(row)

    def assign(self, task_id: str, assignee: str | None, user: str | None = None) -> TaskView:
        """Set the assignee, whoever holds the task now (an admin's reassignment)."""
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            row.assignee = assignee or None
            self._note(session, row, "assigned", user, {"assignee": assignee})
            return TaskView.of(row)

    def delegate(self, task_id: str, user_id: str, user: str | None = None) -> TaskView:
        """Hand a task to `user_id` to work on and give back (Camunda's delegate): a task with no owner yet gets
        its current assignee as owner, `user_id` becomes the assignee and the delegation state PENDING."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise BadRequest("delegating a task needs the id of the user to delegate it to ('userId')")
        if len(user_id) > _NAME_LIMIT:
            raise BadRequest(f"'userId' is too long ({len(user_id)} characters): at most {_NAME_LIMIT}")
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            if row.owner is None:
                row.owner = row.assignee
            row.assignee = user_id
            row.delegation_state = PENDING
            self._note(session, row, "delegated", user, {"assignee": user_id, "owner": row.owner})
            return TaskView.of(row)

    def update(self, task_id: str, *, name: str | None, description: str | None, assignee: str | None,
               owner: str | None, delegation_state: str | None, due: datetime | None, follow_up: datetime | None,
               priority: int, user: str | None = None) -> TaskView:
        """Replace a task's own fields, every one of them, as Camunda's `PUT /task/{id}` does (a field not given is
        cleared, the priority 0): a client reads the task, changes what it wants and sends it all back."""
        for field_name, value in (("name", name), ("assignee", assignee), ("owner", owner)):
            if value is not None and len(value) > _NAME_LIMIT:
                raise BadRequest(f"'{field_name}' is too long ({len(value)} characters): at most {_NAME_LIMIT}")
        if delegation_state is not None and delegation_state.upper() not in (PENDING, RESOLVED):
            raise BadRequest(f"Valid values for property 'delegationState' are 'PENDING' or 'RESOLVED', but was "
                             f"'{delegation_state}'")
        if isinstance(priority, bool) or not isinstance(priority, int) or not -2**31 <= priority < 2**31:
            raise BadRequest(f"'priority' must be a whole number from {-2**31} to {2**31 - 1}, not {priority!r}")
        new = {"name": name, "description": description, "assignee": assignee or None, "owner": owner or None,
               "delegation_state": delegation_state.upper() if delegation_state else None, "due": due,
               "follow_up": follow_up, "priority": priority}
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            changed = {}
            for column, value in new.items():
                before = getattr(row, column)
                if before != value:
                    changed[column] = iso(value) if isinstance(value, datetime) else value
                    setattr(row, column, value)
            if changed:
                self._note(session, row, "updated", user, changed)
            return TaskView.of(row)

    def link(self, task_id: str, *, user_id: str | None, group_id: str | None, kind: str, add: bool,
             user: str | None = None) -> TaskView:
        """Add (`add`) or remove an identity link, as Camunda's `/task/{id}/identity-links` (and `/delete`): a
        `candidate` user or group offers the task to them; an `assignee` or `owner` link sets (removes) that
        person (removing clears it, whoever the link names). A candidate already there is not added twice; one not
        there is not an error to remove."""
        if (user_id is None) == (group_id is None):
            raise BadRequest("Identity Link requires userId or groupId, but not both.")
        who = user_id if user_id is not None else group_id
        if not isinstance(who, str) or not who.strip() or len(who) > _NAME_LIMIT:
            raise BadRequest(f"an identity link's {'userId' if user_id is not None else 'groupId'} must be a name "
                             f"of 1 to {_NAME_LIMIT} characters")
        if kind not in ("candidate", "assignee", "owner"):
            raise BadRequest(f"identity link type '{kind}' is not supported: use candidate, assignee or owner")
        if kind != "candidate" and group_id is not None:
            raise BadRequest(f"Incompatible usage: cannot use type '{kind}' together with a groupId")
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            if kind == "candidate":
                column = "candidate_users" if user_id is not None else "candidate_groups"
                names = list(getattr(row, column) or [])
                if add == (who in names):
                    return TaskView.of(row)
                setattr(row, column, [*names, who] if add else [n for n in names if n != who])
                if add:
                    session.add(m.IdentityLink(task_id=task_id, user_id=user_id, group_id=group_id))
                else:
                    session.execute(delete(m.IdentityLink).where(
                        m.IdentityLink.task_id == task_id,
                        m.IdentityLink.user_id == user_id if user_id is not None else m.IdentityLink.group_id == who))
            else:
                # removing one clears it, whoever it names (Camunda's DeleteUserIdentityLinkCmd)
                setattr(row, "assignee" if kind == "assignee" else "owner", who if add else None)
            link = {"type": kind, "userId" if user_id is not None else "groupId": who}
            self._note(session, row, "linked" if add else "unlinked", user, link)
            return TaskView.of(row)

    def resolve(self, task_id: str, variables: dict[str, Any] | None = None, *, user: str | None = None,
                check_form: bool = True) -> TaskView:
        """Give a delegated task back to its owner (Camunda's resolve): the owner is its assignee again (nobody,
        when it had none) and the delegation state RESOLVED; the task stays open for the owner to complete.

        `variables` are set as a completion sets them, checked against the task's form with `check_form` (the
        fields given, as `complete` checks them; none is required yet: the owner completes the task; Camunda's
        REST `/resolve`, like its `/complete`, does not check). Only a PENDING task
        is resolved, as Camunda's reference says (a `BadRequest` otherwise).
        """
        variables = dict(variables or {})
        check_variables_serializable(variables)
        eng = self.engine
        with eng.transaction() as session:
            loaded = None
            if variables or check_form:  # the instance first, then the task: the order a completion locks them in
                state, loaded = eng.executor.task_and_load(session, task_id)
                if state is None:
                    raise NotFound(f"task '{task_id}' not found")
            row = self._active(session, task_id)
            if row.delegation_state != PENDING:
                raise BadRequest(f"task '{task_id}' cannot be resolved: it is not delegated (delegationState "
                                 f"{row.delegation_state or 'null'}, only PENDING can be resolved)")
            if loaded is not None:
                variables = self._submission(loaded, task_id, variables, check_form, partial=True)
                if variables:
                    eng.executor.apply(loaded, lambda run: run.set_variables_at(task_id, variables))
                    eng.executor.save(session, loaded, user=user)
            row.assignee = row.owner
            row.delegation_state = RESOLVED
            details: dict[str, Any] = {"assignee": row.owner}
            if variables:
                details["variables"] = sorted(variables)
            self._note(session, row, "resolved", user, details)
            return TaskView.of(row)

    def variables(self, task_id: str) -> dict[str, Any]:
        """The variables a task sees: its scope's data (in a called process, that process's variables)."""
        with self.engine.db.read() as session:
            row = TASK_STATE.first(session, {"task_id": task_id})
            if row is None:
                raise NotFound(f"task '{task_id}' not found")
            if row.ended_at is not None:
                raise Conflict(f"task '{task_id}' was already {row.outcome or 'completed'}")
            loaded = self.engine.executor.load(session, row.instance_id, for_change=False)
            return loaded.run.task_variables(task_id)

    def local_variables(self, task_id: str) -> dict[str, dict[str, Any]]:
        """An open task's own variables, typed (Camunda's task-local variables): never its instance's."""
        with self.engine.db.read() as session:
            row = session.get(m.HumanTask, task_id)
            if row is None or row.ended_at is not None:
                raise NotFound(f"task '{task_id}' not found" if row is None
                               else f"task '{task_id}' is {row.outcome or 'completed'}: it has no variables any more")
            return dict(row.local_variables or {})

    def set_local_variables(self, task_id: str, values: dict[str, Any], *, remove: list[str] | None = None,
                            user: str | None = None) -> None:
        """Set (and `remove`) variables of an open task's own: they shadow the instance's of the same name where
        the task's variables are read, and go when the task ends (Camunda's `setVariablesLocal`)."""
        check_variables_serializable(values)
        with self.engine.db.write() as session:
            row = self._active(session, task_id)
            local = dict(row.local_variables or {})
            for name in remove or []:
                local.pop(name, None)
            local.update({name: to_typed(value) for name, value in values.items()})
            row.local_variables = local or None
            self._note(session, row, "updated", user, {"localVariables": sorted({*values, *(remove or [])})})

    def form(self, task_id: str) -> list[dict[str, Any]]:
        """The task's generated form fields, with defaults evaluated when the task was created."""
        return self.get(task_id).form

    def complete(self, task_id: str, variables: dict[str, Any] | None = None, *, user: str | None = None,
                 check_form: bool = True) -> dict[str, Any]:
        """Complete a task with variables checked against its form; returns the instance's variables.

        A missing required field or a wrong type is `InvalidVariables` and the task stays open. Two people
        completing the same task: one succeeds, the other gets a `Conflict`.
        """
        variables = dict(variables or {})
        check_variables_serializable(variables)
        eng = self.engine
        with eng.transaction() as session:
            row, loaded = self._open_and_loaded(session, task_id)
            variables = self._submission(loaded, task_id, variables, check_form)
            user = user or row.assignee  # who completes a claimed task when no one is named: its assignee
            eng.executor.apply(loaded, lambda run: run.complete(task_id, variables))
            eng.executor.save(session, loaded, user=user)
            return loaded.variables()

    def bpmn_error(self, task_id: str, error_code: str, error_message: str | None = None,
                   variables: dict[str, Any] | None = None, *, user: str | None = None) -> None:
        """Report a business error at an open task (Camunda's `handleBpmnError`): the error boundary event or event
        subprocess catching `error_code` takes over, the task ends; nothing catches it: the task's path ends
        there, as in Camunda. `variables` go with the error, as a worker's do."""
        if not error_code or not str(error_code).strip():
            raise BadRequest("errorCode is empty: a BPMN error needs the code its catching event waits for")
        self._report(task_id, variables, user, lambda run, values: run.throw_error(task_id, error_code, error_message,
                                                                                    values))

    def bpmn_escalation(self, task_id: str, escalation_code: str, variables: dict[str, Any] | None = None, *,
                        user: str | None = None) -> None:
        """Report an escalation at an open task (Camunda's `handleEscalation`): the escalation boundary event or
        event subprocess catching `escalation_code` takes over (a non-interrupting one leaves the task open);
        nothing catches it: `BadRequest`, and nothing changes."""
        if not escalation_code or not str(escalation_code).strip():
            raise BadRequest("escalationCode is empty: an escalation needs the code its catching event waits for")
        self._report(task_id, variables, user, lambda run, values: run.throw_escalation(task_id, escalation_code,
                                                                                         values))

    def _report(self, task_id: str, variables: dict[str, Any] | None, user: str | None,
                throw: Callable[[Any, dict[str, Any]], None]) -> None:
        values = dict(variables or {})
        check_variables_serializable(values)
        eng = self.engine
        with eng.transaction() as session:
            row, loaded = self._open_and_loaded(session, task_id)
            if loaded.row.state == "SUSPENDED":
                raise Suspended(f"process instance '{loaded.row.id}' is suspended")
            eng.executor.apply(loaded, lambda run: throw(run, values))
            eng.executor.save(session, loaded, user=user or row.assignee)

    def _open_and_loaded(self, session: Any, task_id: str) -> tuple[Any, Any]:
        """An open, active task's state row and its instance, locked for a change (`NotFound`, `Conflict` when
        it has ended, `Suspended`)."""
        row, loaded = self.engine.executor.task_and_load(session, task_id)
        if row is None:
            raise NotFound(f"task '{task_id}' not found")
        if row.ended_at is not None:
            who = f" by {row.completed_by}" if row.completed_by else ""
            raise Conflict(f"task '{task_id}' was already {row.outcome or 'completed'}{who}")
        if row.suspended:
            raise Suspended(f"task '{task_id}' is suspended")
        return row, loaded

    def _submission(self, loaded: Any, task_id: str, variables: dict[str, Any], check_form: bool,
                    partial: bool = False) -> dict[str, Any]:
        """The variables a task's completion or resolution sets, checked against its form with `check_form`
        (`partial`: only the fields given, none required); a suspended instance takes none."""
        if loaded.row.state == "SUSPENDED":
            raise Suspended(f"process instance '{loaded.row.id}' is suspended")
        if not check_form:
            return variables
        task = loaded.run.task(task_id)
        info = loaded.run.compiled.element(task.task_spec) if task is not None else None
        if info is None or not info.form:  # no form: the variables as they came
            return variables
        return validate_submission(info.form, variables, partial=partial, existing=task.data)

    def add_comment(self, task_id: str, message: str, *, user: str | None = None) -> dict[str, Any]:
        """Comment on a task (open or ended); returns the comment in Camunda's shape."""
        if not (message or "").strip():
            raise BadRequest("a comment needs a message")
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            row = session.get(m.HumanTask, task_id)
            if row is None:
                raise NotFound(f"task '{task_id}' not found")
            comment = m.TaskComment(id=new_id(), task_id=task_id, instance_id=row.instance_id,
                                    user_id=user, message=message, created_at=now)
            session.add(comment)
            return _comment_json(comment)

    def comments(self, task_id: str) -> list[dict[str, Any]]:
        """A task's comments, oldest first."""
        with self.engine.db.read() as session:
            if session.get(m.HumanTask, task_id) is None:
                raise NotFound(f"task '{task_id}' not found")
            rows = session.scalars(select(m.TaskComment).where(m.TaskComment.task_id == task_id)
                                   .order_by(m.TaskComment.created_at, m.TaskComment.id)).all()
            return [_comment_json(r) for r in rows]

    def _active(self, session, task_id: str) -> m.HumanTask:  # type: ignore[no-untyped-def]
        query = select(m.HumanTask).where(m.HumanTask.id == task_id)
        if not self.engine.db.is_sqlite:
            lock_instance_of(session, m.HumanTask, task_id)
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"task '{task_id}' not found")
        if row.ended_at is not None:
            raise Conflict(f"task '{task_id}' was already {row.outcome or 'completed'}")
        if row.suspended:  # as Camunda: a suspended task is neither claimed nor handed on until it is resumed
            raise Suspended(f"task '{task_id}' is suspended")
        return row

    def _note(self, session, row: m.HumanTask, event: str, user: str | None,  # type: ignore[no-untyped-def]
              details: dict[str, Any] | None = None) -> None:
        session.add(m.HistoryEvent(instance_id=row.instance_id, element_id=row.element_id, element_type="userTask",
                                   element_name=row.name, event=event, task_id=row.id, user_id=user,
                                   at=self.engine.clock.now(), details=details))


def _comment_json(row: m.TaskComment) -> dict[str, Any]:
    return {"id": row.id, "userId": row.user_id, "taskId": row.task_id, "processInstanceId": row.instance_id,
            "time": iso(row.created_at), "message": row.message, "removalTime": None, "rootProcessInstanceId":
            row.instance_id}


def _order(sort_by: str, sort_order: str, nulls_last: bool) -> Any:
    column = SORT_COLUMNS[sort_by]
    order = column.desc() if sort_order == "desc" else column.asc()
    return order.nulls_last() if nulls_last else order


def _given(value: Any) -> bool:
    """A filter is applied: a value that is set, or a placeholder for one (see `_shaped`)."""
    return isinstance(value, ClauseElement) or bool(value)


def _escape_like(text: str) -> str:
    """`text` taken literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _linked(condition: Any, correlated: bool = True) -> Any:
    """The task has an identity link matching `condition`.

    Correlated: an EXISTS per task, so that an inbox page read in index order (newest first) looks up the links
    of the tasks it walks and stops after a page. Otherwise: the task is IN the person's links, read once through
    the group and user indexes; SQLite would scan every open task for the EXISTS of a count (361 ms for an
    admin's "All" page with 100,000 open tasks, 28 ms with IN: bench/inbox_list.py).
    """
    if correlated:
        return select(m.IdentityLink.id).where(m.IdentityLink.task_id == m.HumanTask.id, condition).exists()
    return m.HumanTask.id.in_(select(m.IdentityLink.task_id).where(condition))
