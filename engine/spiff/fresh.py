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


class _Prepared:
    """A workflow as SpiffWorkflow's constructor leaves it, to copy from (None: this one must be built anew)."""

    def __init__(self, workflow: BpmnWorkflow) -> None:
        plain = not (workflow.subprocesses or workflow.bpmn_events or workflow.correlations or workflow.locks
                     or workflow.event_manager.tasks)
        self.workflow = workflow if plain else None
        self.tasks = list(workflow.tasks.values())  # parents before their children: the order they were made
        self.latest = max(task.last_state_change for task in self.tasks)

    def copy(self, script_engine: Any) -> BpmnWorkflow:
        source = self.workflow
        assert source is not None
        workflow = _new(BpmnWorkflow)
        fields = workflow.__dict__
        fields.update(source.__dict__)
        fields["data"] = deepcopy(source.data) if source.data else {}
        fields["locks"], fields["subprocesses"], fields["bpmn_events"], fields["correlations"] = {}, {}, [], {}
        fields["event_manager"] = EventManager(workflow)
        fields["completed_event"], fields["task_removed_event"] = Event(), Event()
        fields["_BpmnWorkflow__script_engine"] = script_engine
        tasks: dict[Any, Any] = {}
        fields["tasks"] = tasks
        ids: dict[Any, Any] = {}
        shift = time.time() - self.latest
        for old in self.tasks:
            task = _new(old.__class__)
            own = task.__dict__
            own.update(old.__dict__)
            ids[old.id] = own["id"] = new_id = new_uuid()
            own["workflow"] = workflow
            own["_parent"] = ids[old._parent] if old._parent is not None else None
            own["data"] = deepcopy(old.data) if old.data else {}
            own["internal_data"] = deepcopy(old.internal_data) if old.internal_data else {}
            own["last_state_change"] = old.last_state_change + shift
            tasks[new_id] = task
        for task in tasks.values():
            task._children = [ids[child] for child in task._children]
        fields["task_tree"] = tasks[ids[source.task_tree.id]]
        fields["last_task"] = tasks[ids[source.last_task.id]] if source.last_task is not None else None
        return workflow


def new_workflow(compiled: Any, script_engine: Any) -> BpmnWorkflow:
    """A new workflow of `compiled`'s process, as `BpmnWorkflow(spec, subprocess_specs, script_engine=...)` makes
    it (a process whose new workflow holds more than a task tree is built by the constructor each time)."""
    prepared: _Prepared | None = compiled.__dict__.get(_TEMPLATE)
    if prepared is None:
        prepared = compiled.__dict__[_TEMPLATE] = _Prepared(BpmnWorkflow(compiled.spec, compiled.subprocess_specs))
    if prepared.workflow is None:
        return BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=script_engine)
    return prepared.copy(script_engine)
