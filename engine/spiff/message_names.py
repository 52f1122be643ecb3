"""Message names written with expressions (`<message name="pay-${orderId}"/>`), as Camunda 7 reads them: a catching
event, receive task or boundary event waits for the name its expression gives in the waiting task's variables when
it starts to wait ("resolved as soon as a process reaches the scope"), and only that name correlates.

SpiffWorkflow compares a message's name as written; `install` makes its catch compare the resolved name, and the
engine lists the resolved name as the subscription (`resolved_name`).
"""

from __future__ import annotations

from copy import copy
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from ..expressions import is_expression, text_to_python

RESOLVED = "sf_message_names"  # a waiting task's internal data: {name as written: the name it gave}


@lru_cache(maxsize=1024)
def _source(name: str) -> str:
    return text_to_python(name)


def has_expression(definition: Any) -> bool:
    """Whether a message event definition's name holds an expression."""
    name = getattr(definition, "name", None)
    return isinstance(name, str) and ("${" in name or "#{" in name) and is_expression(name)


def resolved_name(task: Any, definition: Any) -> str:
    """The name `task` waits for: its message's name, its expression evaluated once, in the task's variables
    (a `WorkflowTaskException` naming the task when the expression fails)."""
    if not has_expression(definition):
        return definition.name
    resolved = task.internal_data.setdefault(RESOLVED, {})  # (an event-based gateway waits for several)
    found = resolved.get(definition.name)
    if found is None:
        value = task.workflow.script_engine.evaluate(task, _source(definition.name))
        found = resolved[definition.name] = "" if value is None else str(value)
    return found


def _matches(task: Any, definition: Any, event: Any) -> bool:
    if definition == event.event_definition:
        return True
    return (has_expression(definition) and isinstance(event.event_definition, MessageEventDefinition)
            and resolved_name(task, definition) == event.event_definition.name)


def install() -> None:
    """Make SpiffWorkflow's message catch compare the resolved name of a name with an expression."""
    catches = MessageEventDefinition.catches
    if getattr(catches, "sf_resolved", False):
        return

    def resolved_catches(self, my_task, event):  # type: ignore[no-untyped-def]
        if not has_expression(self):
            return catches(self, my_task, event)
        probe = copy(self)
        probe.name = resolved_name(my_task, self)
        return catches(probe, my_task, event)

    def gateway_run_hook(self, my_task):  # type: ignore[no-untyped-def]
        # SpiffWorkflow's own, finding the branch of a caught event by the resolved name (it compared the written
        # name: `list.index` of the event's definition)
        matches = []
        for event in my_task.internal_data.get("seen_events", []):
            idx = next(i for i, d in enumerate(self.event_definition.event_definitions) if _matches(my_task, d, event))
            event_definition = self.event_definition.event_definitions[idx]
            event_definition.catch(my_task, event)
            event_definition.update_task_data(my_task)
            matches.append(my_task.children[idx].task_spec)
        my_task._sync_children(matches, TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True

    resolved_catches.sf_resolved = True  # type: ignore[attr-defined]
    MessageEventDefinition.catches = resolved_catches  # type: ignore[method-assign]
    EventBasedGateway._run_hook = gateway_run_hook  # type: ignore[method-assign]


install()
