"""Non-interrupting event branches as Camunda 7 runs them, on SpiffWorkflow.

A branch a non-interrupting boundary event or event subprocess starts writes process variables (merged into the
instance when it ends, then pruned), and a message or signal boundary event starts one for every event while its
activity runs; branches already started run on after the activity ends. Installed on import (by `runtime`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from . import scopes
from .tree import ACTIVE, BRANCH_MERGED, callers, drop_subprocess, earlier_join_arrivals

# -- non-interrupting event branches -------------------------------------------------------------------------------
# A non-interrupting boundary event (each firing of a cycle) and a non-interrupting event subprocess (each run) start
# a branch beside the main flow. SpiffWorkflow gives the branch its own copy of the data and keeps its tasks until
# the scope's end join, which merges every arrival's data (the last arrival's winning): until then what the branch
# wrote is invisible, an older copy can overwrite newer values at the end, and the tree grows with each firing.
# Camunda's process variables are global to the instance. So when a branch's token reaches the end join, what the
# branch changed since it started (relative to the data of the event it started from) is written into every task
# that carries the instance's data for the rest of it (`carriers`): a value it set wins (the last write is the
# branch's end), a variable it deleted is deleted. Its own arrival keeps only those changes, and once it has
# finished the branch is pruned (`drop_ended_branches`).
_BRANCH_ENDED = "sf_branch_ended"  # internal data of a branch's first task once the branch's changes are merged
_CARRYING = ACTIVE | TaskState.FUTURE


def _opens_branch(task: SpiffTask) -> bool:
    """Whether each child of `task` starts a non-interrupting event branch: `task` is a non-interrupting boundary
    event, or the start event of a non-interrupting event subprocess (a cycle's firings are its children)."""
    spec = task.task_spec
    if isinstance(spec, BoundaryEvent):
        return not spec.cancel_activity
    return getattr(spec, "sf_non_interrupting", False)


def _non_interrupting_run(workflow: Any) -> bool:
    """Whether `workflow` is a run of a non-interrupting event subprocess."""
    return workflow is not workflow.top_workflow and any(
        getattr(start, "sf_non_interrupting", False) for start in getattr(workflow.spec, "bpmn_start_events", []))


def _branch_of(arrival: SpiffTask) -> tuple[SpiffTask, SpiffTask] | None:
    """(the task whose data the branch started from, the branch's first task) when `arrival`, a token reaching its
    scope's end join, ends a non-interrupting event branch; None for the scope's other tokens."""
    below, task = arrival, arrival.parent
    while task is not None:
        if _opens_branch(task):
            return task, below
        if task._parent is None and _non_interrupting_run(task.workflow):
            return task, below  # a run whose start event was pruned: its start task holds the same data
        below, task = task, task.parent
    return None


def _merge_branch(arrival: SpiffTask, start: SpiffTask, first: SpiffTask) -> None:
    """Write what the branch ending at `arrival` changed since `start` into the instance's data (see above)."""
    end = arrival.parent
    before, after = start.data, end.data
    updates = {name: value for name, value in after.items() if name not in before or before[name] != value}
    deletions = [name for name in before if name not in after]
    path = set()
    task = arrival
    while task is not None and task is not start:
        path.add(task.id)
        task = task.parent
    if updates or deletions:  # each name into the scope that defines it (see `scopes`)
        scopes.write(arrival, updates, deletions, carriers(arrival.workflow, path))
    end.data = updates  # what the end join merges from this arrival: the branch's own writes only
    first.internal_data[_BRANCH_ENDED] = True
    arrival.internal_data[BRANCH_MERGED] = True


def carriers(workflow: Any, skip: set[UUID]) -> list[SpiffTask]:
    """The tasks that carry the variables of the instance `workflow` belongs to, outside the tasks in `skip`.

    In the instance's process and its embedded and event subprocesses (not called processes, whose variables are
    their own): the open and future tasks, the parent of each waiting task (it copies its data from it when it
    moves on), the predecessors of the arrivals a join holds (it merges their data as it fires), the events that
    open branches (a later firing, or another token of the same branch, starts from their data), and each scope's
    start task (a message event subprocess starts from it).
    """
    top = workflow.top_workflow
    scope = _instance_scope(workflow)
    found: dict[UUID, SpiffTask] = {}
    for wf in [scope, *(sub for sub in top.subprocesses.values() if sub is not scope and not sub.completed
                        and _instance_scope(sub) is scope)]:
        pinned = earlier_join_arrivals(wf)
        found[wf.task_tree.id] = wf.task_tree
        for task in wf.tasks.values():
            if task.id in skip or task.internal_data.get(BRANCH_MERGED):
                continue
            if task._state & _CARRYING or _opens_branch(task):
                found[task.id] = task
            if task._state == TaskState.WAITING or task.id in pinned:
                parent = task.parent
                if parent is not None and parent.id not in skip:
                    found[parent.id] = parent
    return list(found.values())


def _instance_scope(workflow: Any) -> Any:
    """The workflow of the process instance `workflow` belongs to in Camunda's sense: the top workflow, or the
    called process of the call activity it runs in (embedded and event subprocesses share their process's
    variables)."""
    for task in callers(workflow):
        if getattr(task.task_spec, "sf_called_process", False):
            break
        workflow = task.workflow
    return workflow


def _end_join_update_hook(self: Any, my_task: SpiffTask) -> Any:
    """`_EndJoin._update_hook`, merging first the changes of the non-interrupting event branch a token ends."""
    end = my_task.parent
    if end is not None and end._state == TaskState.COMPLETED and not my_task.internal_data.get(BRANCH_MERGED):
        if end.internal_data.get(_BRANCH_ENDED):  # a run of an event subprocess, merged as it ended (below)
            my_task.internal_data[BRANCH_MERGED] = True
        else:
            found = _branch_of(my_task)
            if found is not None:
                _merge_branch(my_task, *found)
    return _END_JOIN_UPDATE(self, my_task)


def _subworkflow_completed(self: Any, subworkflow: Any, my_task: SpiffTask) -> None:
    """`SubWorkflowTask._on_subworkflow_completed`; a run of a non-interrupting event subprocess hands on nothing
    more: each of its tokens merged what it changed as it reached the run's end join."""
    _SUBWORKFLOW_COMPLETED(self, subworkflow, my_task)
    if getattr(self, "sf_event_subprocess", False) and _non_interrupting_run(subworkflow):
        my_task.data = {}
        my_task.internal_data[_BRANCH_ENDED] = True


_END_JOIN_UPDATE = _EndJoin._update_hook
_SUBWORKFLOW_COMPLETED = SubWorkflowTask._on_subworkflow_completed


def _install_branch_merging() -> None:
    """Give SpiffWorkflow's end join and subprocess completion the merging above (idempotent)."""
    if _EndJoin._update_hook is not _end_join_update_hook:
        _EndJoin._update_hook = _end_join_update_hook
        SubWorkflowTask._on_subworkflow_completed = _subworkflow_completed


_install_branch_merging()


# -- repeating non-interrupting events -------------------------------------------------------------------------------
# In Camunda 7 a non-interrupting message or signal boundary event stays subscribed while its activity runs: every
# message starts a branch. SpiffWorkflow completes the event on the first one. Here the event's task stays WAITING
# (its subscription row stays the same) and each catch adds a fired copy of the event under it, which runs as the
# event would have and starts the branch (history sees one completed boundary event per message, as in Camunda).
# When the activity ends, SpiffWorkflow cancels its waiting boundary events and with them every branch a cycle
# timer or a repeated message started; in Camunda the subscription ends and the branches run on to their own end.
_FIRING = "sf_firing"  # internal data of a fired copy of a repeating boundary event


def _repeats(spec: Any) -> bool:
    """Whether boundary event `spec` fires on every message or signal while its activity runs."""
    return (isinstance(spec, BoundaryEvent) and not spec.cancel_activity
            and isinstance(spec.event_definition, (MessageEventDefinition, SignalEventDefinition)))


def _boundary_catch(self: Any, my_task: SpiffTask, event: Any) -> None:
    """`CatchingEvent.catch` for a boundary event; a repeating one (above) fires a copy and keeps waiting."""
    if not _repeats(self):
        _CATCH(self, my_task, event)
        return
    fired = my_task._add_child(self, TaskState.FUTURE)
    fired.triggered = True  # a child no prediction of the event's own outputs may remove
    fired.internal_data[_FIRING] = True
    self.event_definition.catch(fired, event)
    self._predict(fired, mask=TaskState.NOT_FINISHED_MASK)  # its outputs, as a cycle timer's firing has them
    self._update(fired)  # ready: it runs with the engine's next steps


def _started_branches(task: SpiffTask) -> bool:
    """Whether waiting boundary event `task` started branches (a cycle's firings, a repeating event's copies)."""
    return any(not child.has_state(TaskState.PREDICTED_MASK) and not isinstance(child.task_spec, BoundaryEventJoin)
               for child in task.children)


def _boundary_join_threshold(self: Any, my_task: SpiffTask) -> tuple[bool, list[SpiffTask]]:
    """`BoundaryEventJoin._check_threshold_structured`; once the activity is done, a non-interrupting event that
    started branches is ended in place of being cancelled, which would drop the branches (see above)."""
    finished, cancel = _JOIN_THRESHOLD(self, my_task)
    if not finished:
        return finished, cancel
    kept = [task for task in cancel if isinstance(task.task_spec, BoundaryEvent) and not task.task_spec.cancel_activity
            and _started_branches(task)]
    for task in kept:
        _end_subscription(task)
    return finished, [task for task in cancel if task not in kept]


def _end_subscription(task: SpiffTask) -> None:
    """End waiting boundary event `task` (history: cancelled, as a cancelled event) and leave its branches be."""
    task._set_state(TaskState.CANCELLED)
    for child in [c for c in task.children if c.has_state(TaskState.PREDICTED_MASK)]:
        task.workflow._remove_task(child.id)
    task.workflow.top_workflow.event_manager.remove_task(task)


_CATCH = CatchingEvent.catch
_JOIN_THRESHOLD = BoundaryEventJoin._check_threshold_structured


def _install_repeating_events() -> None:
    """Give SpiffWorkflow's boundary events and boundary joins the behaviour above (idempotent)."""
    if BoundaryEvent.catch is not _boundary_catch:
        BoundaryEvent.catch = _boundary_catch
        BoundaryEventJoin._check_threshold_structured = _boundary_join_threshold


_install_repeating_events()


def drop_ended_branches(workflow: Any, top: BpmnWorkflow, live: set[UUID]) -> int:
    """Drop the merged branches that have finished (see `_merge_branch`), the fired copies of a repeating event
    whose branch has finished (with the boundary join each holds), and the boundary joins each firing of a cycle
    leaves waiting under its event but one (the join only cancels the event once the activity is done); returns
    how many tasks went."""
    tasks = workflow.tasks
    cut = [task for task in tasks.values() if task.internal_data.get(_BRANCH_ENDED) and task.id not in live]
    cut.extend(task for task in tasks.values() if task.internal_data.get(_FIRING) and task._state == TaskState.COMPLETED
               and not any(c.id in live and not isinstance(c.task_spec, BoundaryEventJoin) for c in task.children))
    for task in tasks.values():
        if isinstance(task.task_spec, BoundaryEvent) and _opens_branch(task) and len(task._children) > 2:
            joins = [c for c in task.children
                     if isinstance(c.task_spec, BoundaryEventJoin) and c._state == TaskState.WAITING]
            cut.extend(joins[:-1])
    return sum(_cut_subtree(workflow, top, task) for task in cut)


def _cut_subtree(workflow: Any, top: BpmnWorkflow, task: SpiffTask) -> int:
    """Remove `task` and its descendants from the tree (and the subprocesses they run); returns how many went."""
    tasks = workflow.tasks
    if task.id not in tasks:
        return 0
    ids, stack = [], [task.id]
    while stack:
        tid = stack.pop()
        ids.append(tid)
        stack.extend(child for child in tasks[tid]._children if child in tasks)
    parent = tasks.get(task._parent)
    if parent is not None and task.id in parent._children:
        parent._children.remove(task.id)
    for tid in ids:
        del tasks[tid]
        if tid in top.subprocesses:
            drop_subprocess(top, tid)
    if workflow.last_task is not None and workflow.last_task.id not in tasks:
        workflow.last_task = parent
    return len(ids)
