"""Errors and escalations caught by the event subprocesses of embedded subprocesses, as in Camunda 7.

SpiffWorkflow 3.2 looks for an error or escalation's catcher among the waiting events of the thrower's scope, then
of each enclosing one, and last starts the process's own event subprocesses. The event subprocesses of an
embedded subprocess are never started (SpiffWorkflow starts a scope's event subprocesses only for the process),
so an error thrown inside a subprocess went past its own event subprocess to the subprocess's boundary event or
the process. Here, at each scope of that walk where nothing waiting catches the event, an event subprocess of the
scope whose start event catches it is started and takes it: the innermost catcher wins. Patched at import
(idempotent), as `inclusive` and `clockpatch` do.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import CodeEventDefinition
from SpiffWorkflow.bpmn.util.event import EventManager

from .tree import start_event_subprocess


def install() -> None:
    """Patch `EventManager.catch` once."""
    if getattr(EventManager.catch, "sf_scoped", False):
        return
    plain = EventManager.catch

    def catch(self: EventManager, event: Any, internal: bool = True) -> int:
        routed = (event.target is None or not isinstance(event.event_definition, CodeEventDefinition)
                  or _route_to_event_subprocess(self, event))
        return plain(self, event, internal) if routed else 0

    catch.sf_scoped = True  # type: ignore[attr-defined]
    EventManager.catch = catch  # type: ignore[method-assign]


def _route_to_event_subprocess(manager: EventManager, event: Any) -> bool:
    """Point `event` at the innermost event subprocess that catches it, when no waiting event of a scope in
    between does; False when nothing may catch it. An event thrown inside an event subprocess goes past the
    event subprocesses of that one's scope (Camunda: a handler does not catch what it throws again, which goes
    to the scope's boundary events or further out). The process's own event subprocesses are SpiffWorkflow's to
    start, unless the event comes from one of them."""
    top = manager.workflow
    scope, came_from = event.target, None
    while scope is not None:
        if any(t.workflow is scope and t.task_spec.event_definition.catches(t, event)
               for t in manager.tasks.values()):
            event.target = scope  # a waiting event of this scope catches it (SpiffWorkflow finds it there)
            return True
        from_handler = came_from is not None and came_from.spec.name in scope.spec.start.trigger_specs
        if scope is top:
            event.target = top  # SpiffWorkflow's walk goes on to the process's event subprocesses
            return not from_handler
        if not from_handler:
            started = _start_catching_subprocess(top, scope, event)
            if started is not None:
                event.target = started
                return True
        came_from, scope = scope, scope.parent_workflow
    return True


def _start_catching_subprocess(top: Any, scope: Any, event: Any) -> Any:
    """The event subprocess of `scope` whose start event catches `event`, started (or already waiting there)."""
    for name in scope.spec.start.trigger_specs:
        spec = top.subprocess_specs.get(name)
        if spec is not None and any(start.event_definition == event.event_definition
                                    for start in getattr(spec, "bpmn_start_events", [])):
            return start_event_subprocess(top, scope, name)
    return None
