"""New workflows copied from one prepared per process, instead of built by SpiffWorkflow's constructor each time.

`BpmnWorkflow(spec)` creates the root task and predicts the whole tree of the process (a task per element it can
reach, each made through `Task.__init__` with its parent's notification): the same tree for every instance of a
process, built anew at every start. Here it is built once per compiled process and copied: the same tasks, states,
structure and data, with new ids and the time of the copy (the prepared tree's order of changes kept).
`tests/engine/test_fresh_workflows.py` checks the copy against the constructor for the shipped processes and the
conformance corpus's samples.
"""

from __future__ import annotations

import time
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.util.event import EventManager
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.event import Event

from ..ids import new_uuid

_TEMPLATE = "_sf_fresh_template"  # where a compiled process keeps its prepared workflow
_new = object.__new__


# The attributes SpiffWorkflow 3.2's constructors set, in their order. A copy sets them one by one in that order, as
# the constructors do: objects made that way keep their attributes in the compact layout CPython shares between
# instances of a class, where filling `__dict__` wholesale would give each a dictionary of its own, slower to read
# all through the run (measured: more instructions an instance than the constructor it saves).
_WORKFLOW_FIELDS = ("subprocess_specs", "subprocesses", "bpmn_events", "correlations", "event_manager", "spec", "data",
                    "locks", "last_task", "success", "tasks", "completed", "completed_event", "task_removed_event",
                    "task_tree", "_BpmnWorkflow__script_engine")
_TASK_FIELDS = ("id", "workflow", "_parent", "_children", "_state", "triggered", "task_spec", "thread_id", "data",
                "internal_data", "last_state_change")


class _Prepared:
    """A workflow as SpiffWorkflow's constructor leaves it, to copy from (`workflow` None: one that holds more than
    a task tree, or attributes this module does not know, is built anew each time)."""

    def __init__(self, workflow: BpmnWorkflow) -> None:
        self.tasks = list(workflow.tasks.values())  # parents before their children: the order they were made
        # each task's parent and children as positions in `tasks`: a copy maps them by position, not through a
        # dict of the template's ids (a UUID's hash is a Python method, and a copy would call it twice a task)
        position = {task.id: i for i, task in enumerate(self.tasks)}
        self.parents = [position[t._parent] if t._parent is not None else None for t in self.tasks]
        self.children = [[position[c] for c in t._children] for t in self.tasks]
        self.root = position[workflow.task_tree.id]
        self.last = position[workflow.last_task.id] if workflow.last_task is not None else None
        self.latest = max(task.last_state_change for task in self.tasks)
        plain = (tuple(vars(workflow)) == _WORKFLOW_FIELDS and type(workflow) is BpmnWorkflow
                 and not (workflow.subprocesses or workflow.bpmn_events or workflow.correlations or workflow.locks
                          or workflow.event_manager.tasks)
                 and all(tuple(vars(task)) == _TASK_FIELDS for task in self.tasks))
        self.workflow = workflow if plain else None

    def copy(self, script_engine: Any) -> BpmnWorkflow:
        source = self.workflow
        assert source is not None
        workflow = _new(BpmnWorkflow)
        workflow.subprocess_specs = source.subprocess_specs or {}  # the compiled process's, or its own empty one
        workflow.subprocesses, workflow.bpmn_events, workflow.correlations = {}, [], {}
        workflow.event_manager = EventManager(workflow)
        workflow.spec = source.spec
        workflow.data = deepcopy(source.data) if source.data else {}
        workflow.locks = {}
        workflow.last_task = None
        workflow.success = source.success
        workflow.tasks = tasks = {}
        workflow.completed = source.completed
        workflow.completed_event, workflow.task_removed_event = Event(), Event()
        ids = [new_uuid() for _ in self.tasks]
        made = []
        shift = time.time() - self.latest
        for old, new_id, parent, children in zip(self.tasks, ids, self.parents, self.children, strict=True):
            task = _new(old.__class__)
            task.id = new_id
            task.workflow = workflow
            task._parent = ids[parent] if parent is not None else None
            task._children = [ids[child] for child in children]
            task._state = old._state
            task.triggered = old.triggered
            task.task_spec = old.task_spec
            task.thread_id = old.thread_id
            task.data = deepcopy(old.data) if old.data else {}
            task.internal_data = deepcopy(old.internal_data) if old.internal_data else {}
            task.last_state_change = old.last_state_change + shift
            tasks[new_id] = task
            made.append(task)
        workflow.task_tree = made[self.root]
        workflow._BpmnWorkflow__script_engine = script_engine  # type: ignore[attr-defined]
        if self.last is not None:
            workflow.last_task = made[self.last]
        return workflow


def new_workflow(compiled: Any, script_engine: Any) -> BpmnWorkflow:
    """A new workflow of `compiled`'s process, as `BpmnWorkflow(spec, subprocess_specs, script_engine=...)` makes
    it (a process whose new workflow holds more than a task tree is built by the constructor each time)."""
    prepared: _Prepared | None = getattr(compiled, _TEMPLATE, None)  # (not through `__dict__`: see above)
    if prepared is None:
        prepared = _Prepared(BpmnWorkflow(compiled.spec, compiled.subprocess_specs))
        setattr(compiled, _TEMPLATE, prepared)
    if prepared.workflow is None:
        return BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=script_engine)
    return prepared.copy(script_engine)
