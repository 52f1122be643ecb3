"""History as Camunda's history service answers it: process instances (running and ended), activity instances and
tasks, each filtered, sorted and paged in SQL so that a page and a count see the same rows."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from .errors import BadRequest, NotFound
from .identity import Principal
from .instances import involving
from .queries import INSTANCE_SORT, order_by
from .spiff.runtime import MULTI_INSTANCE_BODY, parse_stored_moment
from .store import models as m
from .views import iso
from .xmlsafe import parse_xml

if TYPE_CHECKING:
    from .api import Engine

_PI, _HT, _HE = m.ProcessInstance, m.HumanTask, m.HistoryEvent
HISTORIC_INSTANCE_SORT = {**INSTANCE_SORT}
TASK_SORT = {"taskId": _HT.id, "startTime": _HT.created_at, "endTime": _HT.ended_at, "taskName": _HT.name,
             "assignee": _HT.assignee, "dueDate": _HT.due, "followUpDate": _HT.follow_up, "priority": _HT.priority,
             "taskDefinitionKey": _HT.element_id, "processInstanceId": _HT.instance_id,
             "processDefinitionId": _HT.definition_id, "processDefinitionKey": _HT.definition_key}
# a task's end as Camunda's historic task names it: a task ended by its instance's end or a boundary event is "deleted"
_TASK_END = {"cancelled": "deleted"}
ACTIVITY_SORT = ("activityInstanceId", "activityId", "activityName", "activityType", "startTime", "endTime",
                 "duration")
_STATE = {"CANCELED": "EXTERNALLY_TERMINATED", "FAILED": "INTERNALLY_TERMINATED"}
_STORED_STATE = {camunda: stored for stored, camunda in _STATE.items()}
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class History:
    """Camunda's historic process instances, activity instances and tasks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._types: OrderedDict[str, ElementTypes] = OrderedDict()
        self._types_lock = Lock()

    # -- process instances ------------------------------------------------------------------------------------
    def _instances(self, visible_to: Principal | None, filters: dict[str, Any]) -> Select:  # type: ignore[type-arg]
        from .queries import instance_conditions

        query = select(_PI, m.ProcessDefinition.name, m.ProcessDefinition.version).join(
            m.ProcessDefinition, m.ProcessDefinition.id == _PI.definition_id, isouter=True)
        query = query.where(*instance_conditions(filters))
        if visible_to is not None and not visible_to.is_admin:
            query = query.where(involving(visible_to))
        for name, column in (("instance_id", _PI.id), ("definition_key", _PI.definition_key),
                             ("definition_id", _PI.definition_id), ("business_key", _PI.business_key)):
            if filters.get(name):
                query = query.where(column == filters[name])
        if filters.get("state"):  # Camunda's name of the state (EXTERNALLY_TERMINATED: cancelled)
            stored = _STORED_STATE.get(filters["state"], filters["state"])
            query = query.where(_PI.state == stored)
            if stored in ("ACTIVE", "SUSPENDED"):
                query = query.where(_PI.ended_at.is_(None))
        return query

    def instances(self, *, visible_to: Principal | None = None, sorting: list[tuple[str, str]] | None = None,
                  first: int = 0, max_results: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """Historic process instances (see `queries.instance_conditions` and `_instances` for the filters), newest
        first unless sorted, as Camunda's `HistoricProcessInstanceDto`."""
        order = order_by(sorting, HISTORIC_INSTANCE_SORT, "historic process instances") or [_PI.started_at.desc()]
        with self.engine.db.read() as session:
            rows = session.execute(self._instances(visible_to, filters).order_by(*order, _PI.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            ends = self._start_and_end_activities(session, [r[0].id for r in rows])
            return [_historic_instance(row, name, version, ends.get(row.id, (None, None)))
                    for row, name, version in rows]

    def count_instances(self, *, visible_to: Principal | None = None, **filters: Any) -> int:
        with self.engine.db.read() as session:
            query = self._instances(visible_to, filters).with_only_columns(_PI.id)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def instance(self, instance_id: str, visible_to: Principal | None = None) -> dict[str, Any]:
        from .errors import NotFound

        found = self.instances(visible_to=visible_to, instance_id=instance_id, max_results=1)
        if not found:
            raise NotFound(f"historic process instance '{instance_id}' not found")
        return found[0]

    @staticmethod
    def _start_and_end_activities(session, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
        """Per instance: the start event it started at and the end event it ended at (None when not known)."""
        if not ids:
            return {}
        rows = session.execute(select(_HE.instance_id, _HE.element_id, _HE.element_type).where(
            _HE.instance_id.in_(ids), _HE.event == "completed", _HE.element_type.in_(("startEvent", "endEvent")))
            .order_by(_HE.seq)).all()
        out: dict[str, list[str | None]] = {}
        for instance_id, element_id, element_type in rows:
            pair = out.setdefault(instance_id, [None, None])
            if element_type == "startEvent" and pair[0] is None:
                pair[0] = element_id
            elif element_type == "endEvent":
                pair[1] = element_id
        return {k: (v[0], v[1]) for k, v in out.items()}

    # -- tasks --------------------------------------------------------------------------------------------------
    def _tasks(self, visible_to: Principal | None, filters: dict[str, Any]) -> Select:  # type: ignore[type-arg]
        query = select(_HT)
        if visible_to is not None and not visible_to.is_admin:
            query = query.where(_HT.instance_id.in_(select(_PI.id).where(involving(visible_to))))
        for name, column in (("task_id", _HT.id), ("instance_id", _HT.instance_id),
                             ("definition_key", _HT.definition_key), ("definition_id", _HT.definition_id),
                             ("business_key", _HT.business_key), ("task_definition_key", _HT.element_id)):
            if filters.get(name):
                query = query.where(column == filters[name])
        if filters.get("assignee"):  # Camunda's taskAssignee: who had it (completing a task assigns it to no one)
            query = query.where(_HT.assignee == filters["assignee"])
        if filters.get("finished") is True:
            query = query.where(_HT.ended_at.isnot(None))
        elif filters.get("finished") is False:
            query = query.where(_HT.ended_at.is_(None))
        return query

    def tasks(self, *, visible_to: Principal | None = None, sorting: list[tuple[str, str]] | None = None,
              first: int = 0, max_results: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """Tasks open and ended, oldest first unless sorted, as Camunda's `HistoricTaskInstanceDto`."""
        order = order_by(sorting, TASK_SORT, "historic tasks") or [_HT.created_at]
        with self.engine.db.read() as session:
            rows = session.scalars(self._tasks(visible_to, filters).order_by(*order, _HT.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_historic_task(r) for r in rows]

    def count_tasks(self, *, visible_to: Principal | None = None, **filters: Any) -> int:
        with self.engine.db.read() as session:
            query = self._tasks(visible_to, filters).with_only_columns(_HT.id)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    # -- activity instances ---------------------------------------------------------------------------------
    def activities(self, instance_id: str, *, activity_id: str | None = None, activity_type: str | None = None,
                   finished: bool | None = None, sorting: list[tuple[str, str]] | None = None, first: int = 0,
                   max_results: int = 100) -> list[dict[str, Any]]:
        """What one instance went through and where it waits, as Camunda's `HistoricActivityInstanceDto`.

        Ended activities come from the instance's history rows; their ids are the row's sequence number (a user
        task's is `element:taskId`, as `/history/task` names it), so they do not change with paging. A user
        task starts when its task was created, an element that waited (a timer, a message, an external task) when it
        began to wait; another element that completed in one step starts when it ended.
        Open activities (tasks, timers, external tasks, message and signal waits) follow, with no end time.
        The whole of one instance's history is read (at most 5,000 rows), then filtered, sorted and paged.
        """
        for name, order in sorting or []:
            if name not in ACTIVITY_SORT or order not in ("asc", "desc"):
                raise BadRequest(f"cannot sort activity instances by '{name}' {order} "
                                 f"(use {', '.join(ACTIVITY_SORT)} with asc or desc)")
        with self.engine.db.read() as session:
            instance = session.get(_PI, instance_id)
            if instance is None:
                from .errors import NotFound

                raise NotFound(f"process instance '{instance_id}' not found")
            types = self._activity_types(session, instance.definition_id)
            tasks = {t.id: t for t in session.scalars(select(_HT).where(_HT.instance_id == instance_id))}
            events = session.scalars(select(_HE).where(_HE.instance_id == instance_id,
                                                       _HE.event.in_(("completed", "cancelled")))
                                     .order_by(_HE.seq).limit(5000)).all()
            out = []
            for e in events:
                if e.element_type == "process":
                    continue
                if e.element_type == MULTI_INSTANCE_BODY:  # `miTasks#multiInstanceBody`, around its instances
                    out.append(self._body(instance, types, e, out))
                    continue
                task = tasks.get(e.task_id) if e.element_type == "userTask" else None
                since = (e.details or {}).get("since") if task is None else None  # what waited: from its wait
                started = task.created_at if task is not None else (parse_stored_moment(since) or e.at)
                out.append(self._activity(instance, types.of_file((e.details or {}).get("file")), e.element_id,
                                          e.element_name or None,
                                          f"{e.element_id}:{task.id}" if task else f"{e.element_id}:{e.seq}",
                                          task.id if task else None, task.assignee if task else None, started,
                                          e.at, e.event == "cancelled"))
            if instance.ended_at is None:
                out.extend(self._open_activities(session, instance, types, tasks))
        if activity_id:
            out = [a for a in out if a["activityId"] == activity_id]
        if activity_type:
            out = [a for a in out if a["activityType"] == activity_type]
        if finished is not None:
            out = [a for a in out if (a["endTime"] is not None) == finished]
        for name, order in reversed(sorting or []):
            key = "durationInMillis" if name == "duration" else ("id" if name == "activityInstanceId" else name)
            present = [a for a in out if a[key] is not None]
            missing = [a for a in out if a[key] is None]  # Camunda's SQL puts NULLs first ascending
            present.sort(key=lambda a: a[key], reverse=order == "desc")
            out = missing + present if order == "asc" else present + missing
        return out[first:first + min(max_results, 1000)]

    def _open_activities(self, session, instance: m.ProcessInstance, types: dict[str, tuple[str, str | None]],  # type: ignore[no-untyped-def]
                         tasks: dict[str, m.HumanTask],
                         waits: list[tuple[datetime, str, str]] | None = None) -> list[dict[str, Any]]:
        """The open activities of a running instance, as its activity tree lists them: its open `tasks`, and the
        external tasks, timers and subscriptions it waits on (`waits`, from `waits_of`; read here when None)."""
        out = []
        for task in sorted(tasks.values(), key=lambda t: (t.created_at, t.id)):
            if task.ended_at is None:
                out.append(self._activity(instance, types, task.element_id, task.name, f"{task.element_id}:{task.id}",
                                          task.id, task.assignee, task.created_at, None, False))
        if waits is None:
            waits = self.waits_of(session, [instance.id]).get(instance.id, [])
        at_gateway = self._gateways_of_events(session, instance.definition_id)
        seen: set[str] = set()
        for created, element_id, row_id in sorted(waits, key=lambda w: (iso(w[0]) or "", w[1], w[2])):
            kind = types.get(element_id, ("", None))[0] or ""
            if kind.startswith(("boundary", "start")) or kind.endswith("StartEvent"):
                # a boundary event waits with its activity, an event subprocess's start event with its scope: each
                # is an event subscription, an activity instance only once it fires (Camunda)
                continue
            if element_id in at_gateway:  # the events after an event-based gateway: the gateway is what is open
                element_id = at_gateway[element_id]
                if element_id in seen:
                    continue
                seen.add(element_id)
            out.append(self._activity(instance, types, element_id, types.get(element_id, ("", None))[1],
                                      f"{element_id}:{row_id}", None, None, created, None, False))
        return out

    @staticmethod
    def waits_of(session, instances: Any) -> dict[str, list[tuple[datetime, str, str]]]:  # type: ignore[no-untyped-def]
        """Per instance id of `instances` (ids, or a SELECT of ids): (created, element id, row id) of each
        external task, timer and event subscription it waits on, in three queries whatever their number. An async
        continuation not yet run has not started its element (Camunda: a transition instance): not among them."""
        found: dict[str, list[tuple[datetime, str, str]]] = {}
        for model, more in ((m.ExternalTask, ()), (m.Job, (m.Job.job_type == "timer",)), (m.EventSubscription, ())):
            rows = session.execute(select(model.instance_id, model.created_at, model.element_id, model.id)
                                   .where(model.instance_id.in_(instances), *more))
            for instance_id, created, element_id, row_id in rows:
                found.setdefault(instance_id, []).append((created, element_id, row_id))
        return found

    def _gateways_of_events(self, session, definition_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
        """Per event after an event-based gateway of a definition: the gateway's id."""
        try:
            compiled = self.engine.definitions.compiled(session, definition_id)
        except NotFound:  # its deployment was deleted
            return {}
        return {info.element_id: info.event_gateway for info in compiled.elements.values() if info.event_gateway}

    def _body(self, instance: m.ProcessInstance, types: dict[str, tuple[str, str | None]], event: m.HistoryEvent,
              before: list[dict[str, Any]]) -> dict[str, Any]:
        """Camunda's multi-instance body: `<activity>#multiInstanceBody`, of type `multiInstanceBody`, from its first
        instance's start to its end, with no task or assignee of its own."""
        starts = [a["startTime"] for a in before if a["activityId"] == event.element_id and a["startTime"]]
        body_id = f"{event.element_id}#{MULTI_INSTANCE_BODY}"
        name = event.element_name or types.get(event.element_id, ("", None))[1]
        started = min(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z") for s in starts) if starts else event.at
        return self._activity(instance, {body_id: (MULTI_INSTANCE_BODY, name)}, body_id, name, f"{body_id}:{event.seq}",
                              None, None, started, event.at, event.event == "cancelled")

    @staticmethod
    def _activity(instance: m.ProcessInstance, types: dict[str, tuple[str, str | None]], element_id: str,
                  name: str | None, activity_instance_id: str, task_id: str | None, assignee: str | None,
                  started: datetime | None, ended: datetime | None, canceled: bool) -> dict[str, Any]:
        kind, known_name = types.get(element_id, (None, None))
        duration = int((ended - started).total_seconds() * 1000) if ended and started else None
        return {"id": activity_instance_id, "parentActivityInstanceId": instance.id, "activityId": element_id,
                "activityName": name or known_name, "activityType": kind, "processInstanceId": instance.id,
                "processDefinitionId": instance.definition_id, "processDefinitionKey": instance.definition_key,
                "executionId": instance.id, "taskId": task_id, "assignee": assignee,
                "calledProcessInstanceId": None, "calledCaseInstanceId": None, "startTime": iso(started),
                "endTime": iso(ended), "durationInMillis": duration, "canceled": canceled, "completeScope": False,
                "tenantId": None, "removalTime": None, "rootProcessInstanceId": instance.id}

    def element_types(self, definition_id: str) -> dict[str, tuple[str, str | None]]:
        """Per element id of a definition: (Camunda's activity type, the element's name)."""
        with self.engine.db.read() as session:
            return self._activity_types(session, definition_id)

    def _activity_types(self, session, definition_id: str) -> ElementTypes:  # type: ignore[no-untyped-def]
        """Per element id of a definition: (Camunda's activity type, the element's name), read from its BPMN and
        from the processes it calls (which run inside its instances), its own elements first where ids meet; and
        per file (`ElementTypes.of_file`), for a called process's element whose id the caller also uses."""
        with self._types_lock:
            if definition_id in self._types:
                return self._types[definition_id]
        definition = session.get(m.ProcessDefinition, definition_id)
        types = ElementTypes()
        if definition is not None:
            for resource_id in reversed((definition.description or {}).get("resources", [])):
                resource = session.get(m.Resource, resource_id)
                if resource is not None:
                    types.files[resource.name] = found = activity_types(resource.content, resource.name)
                    types.update(found)
        with self._types_lock:
            self._types[definition_id] = types
            while len(self._types) > 64:
                self._types.popitem(last=False)
        return types


# Camunda's ActivityTypes: the element's tag, refined by its event definition for events.
_EVENT_KINDS = ("timer", "message", "signal", "error", "escalation", "compensate", "conditional", "link",
                "terminate", "cancel")
_START = {None: "startEvent", "timer": "startTimerEvent", "message": "messageStartEvent",
          "signal": "signalStartEvent", "conditional": "conditionalStartEvent", "error": "errorStartEvent",
          "escalation": "escalationStartEvent", "compensate": "compensationStartEvent"}
_END = {None: "noneEndEvent", "message": "messageEndEvent", "signal": "signalEndEvent", "error": "errorEndEvent",
        "escalation": "escalationEndEvent", "compensate": "compensationEndEvent", "terminate": "terminateEndEvent",
        "cancel": "cancelEndEvent"}
_CATCH = {"timer": "intermediateTimer", "message": "intermediateMessageCatch", "signal": "intermediateSignalCatch",
          "conditional": "intermediateConditional", "link": "intermediateLinkCatch"}
_THROW = {None: "intermediateNoneThrowEvent", "message": "intermediateMessageThrowEvent",
          "signal": "intermediateSignalThrow", "escalation": "intermediateEscalationThrowEvent",
          "compensate": "intermediateCompensationThrowEvent", "link": "intermediateLinkThrow"}
_BOUNDARY = {"timer": "boundaryTimer", "message": "boundaryMessage", "signal": "boundarySignal",
             "error": "boundaryError", "escalation": "boundaryEscalation", "compensate": "boundaryCompensation",
             "conditional": "boundaryConditional", "cancel": "cancelBoundaryCatch"}


def camunda_activity_type(tag: str, event_kind: str | None) -> str:
    """Camunda's name for an element's type (`userTask`, `intermediateTimer`, `noneEndEvent`, ...)."""
    table = {"startEvent": _START, "endEvent": _END, "intermediateCatchEvent": _CATCH,
             "intermediateThrowEvent": _THROW, "boundaryEvent": _BOUNDARY}.get(tag)
    if table is None:
        return tag
    return table.get(event_kind) or table.get(None) or tag


class ElementTypes(dict):  # type: ignore[type-arg]
    """Per element id: (Camunda's activity type, the element's name), a definition's own elements first; `files`:
    the same per file of the definition (a called process's among them)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, dict[str, tuple[str, str | None]]] = {}

    def of_file(self, file: str | None) -> dict[str, tuple[str, str | None]]:
        """The types of one file's elements (a history row of a called process names its file), else all."""
        return self.files.get(file, self) if file else self


def activity_types(xml: bytes, filename: str) -> dict[str, tuple[str, str | None]]:
    """Per element id of a BPMN document: (Camunda's activity type, the element's name)."""
    out: dict[str, tuple[str, str | None]] = {}
    tree = parse_xml(xml, filename)
    for el in tree.iter(f"{{{_BPMN}}}*"):
        element_id = el.get("id")
        tag = el.tag.split("}", 1)[1]
        if element_id is None or tag in ("sequenceFlow", "definitions", "message", "signal", "error",
                                         "escalation", "lane", "laneSet", "collaboration", "participant"):
            continue
        kind = None
        for child in el:
            child_tag = child.tag.split("}", 1)[1] if isinstance(child.tag, str) and "}" in child.tag else ""
            if child_tag.endswith("EventDefinition"):
                kind = child_tag.removesuffix("EventDefinition")
                break
        out[element_id] = (camunda_activity_type(tag, kind if kind in _EVENT_KINDS else None), el.get("name"))
    return out


def _historic_instance(row: m.ProcessInstance, name: str | None, version: int | None,
                       ends: tuple[str | None, str | None]) -> dict[str, Any]:
    duration = int((row.ended_at - row.started_at).total_seconds() * 1000) if row.ended_at else None
    state = row.state if row.ended_at is None or row.state != "ACTIVE" else "COMPLETED"
    return {"id": row.id, "businessKey": row.business_key, "processDefinitionId": row.definition_id,
            "processDefinitionKey": row.definition_key, "processDefinitionName": name,
            "processDefinitionVersion": version, "startTime": iso(row.started_at), "endTime": iso(row.ended_at),
            "removalTime": None, "durationInMillis": duration, "startUserId": row.start_user,
            "startActivityId": ends[0], "endActivityId": ends[1] if row.ended_at else None,
            "deleteReason": row.delete_reason, "rootProcessInstanceId": row.id, "superProcessInstanceId": None,
            "superCaseInstanceId": None, "caseInstanceId": None, "tenantId": None,
            "state": _STATE.get(state, state)}


def _historic_task(r: m.HumanTask) -> dict[str, Any]:
    return {"id": r.id, "processDefinitionKey": r.definition_key, "processDefinitionId": r.definition_id,
            "processInstanceId": r.instance_id, "executionId": r.instance_id,
            "activityInstanceId": f"{r.element_id}:{r.id}", "name": r.name, "description": r.description,
            "deleteReason": _TASK_END.get(r.outcome, r.outcome), "owner": r.owner,
            "assignee": r.assignee,
            "startTime": iso(r.created_at), "endTime": iso(r.ended_at),
            "duration": int((r.ended_at - r.created_at).total_seconds() * 1000) if r.ended_at else None,
            "taskDefinitionKey": r.element_id, "priority": r.priority, "due": iso(r.due),
            "followUp": iso(r.follow_up), "parentTaskId": None, "caseDefinitionKey": None,
            "caseDefinitionId": None, "caseInstanceId": None, "caseExecutionId": None, "tenantId": None,
            "removalTime": None, "rootProcessInstanceId": r.instance_id}

