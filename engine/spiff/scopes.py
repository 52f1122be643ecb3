"""Camunda 7's variable scopes, on SpiffWorkflow's data.

SpiffWorkflow gives each task a copy of the data; Camunda 7 keeps variables in a tree of scopes: the process
instance, each embedded subprocess and each instance of a multi-instance activity that defines variables of its
own, and an activity's own (local) variables. A variable written anywhere goes to the nearest scope that defines
its name, and to the process instance when none does (`VariableScopeImpl.setVariable`). Here a scope's own
names are:
- an activity's input parameters (`camunda:inputParameter`) and what a worker set in its scope (`localVariables`);
- for an instance of a multi-instance activity, its element variable and Camunda's loop counters.

`write` puts values where Camunda would: the tasks of the defining scope see them, the tasks of a nearer scope that
defines the name again keep their own, and a task's own variable keeps hiding the outer value it gives back when it
completes (`shadows`).
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from typing import Any

from SpiffWorkflow.task import Task as SpiffTask

from .parser import MI_BUILTINS, MI_HIDDEN, OUT_LOCALS, element_variables, multi_instance_parent
from .tree import callers

_IO_LOCALS = "sf_io_locals"  # a task's input parameters: {name: value} (set by `parser._apply_inputs`)
_IO_HIDDEN = "sf_io_hidden"  # the outer values they hide: {name: value}


def local_names(task: SpiffTask) -> set[str]:
    """The names `task` defines in its own scope: its input parameters, what a worker set in its scope, and as an
    instance of a multi-instance activity, the element variable and the loop counters."""
    internal = task.internal_data
    names = set(internal.get(_IO_LOCALS) or ())
    out_locals = internal.get(OUT_LOCALS)
    if out_locals:
        names.update(out_locals.get("names") or ())
    parent = multi_instance_parent(task)
    if parent is not None:
        names.update(element_variables(parent))
        names.update(MI_BUILTINS)
    return names


def enclosing_scopes(workflow: Any) -> list[SpiffTask]:
    """The embedded subprocess tasks `workflow` runs in, innermost first, up to its process instance (a called
    process is an instance of its own: the call activity is not among them)."""
    found = []
    for task in callers(workflow):
        if getattr(task.task_spec, "sf_called_process", False):
            break
        found.append(task)
    return found


def shadows(task: SpiffTask) -> list[tuple[Any, dict[str, Any]]]:
    """A task's own variables, each group with the process values they hide (given back when it completes): what
    a worker set in its scope, then its input parameters, which an earlier value of the former may be, then, for an
    instance of a multi-instance activity, its element variable (`parser.MI_HIDDEN`)."""
    internal = task.internal_data
    found = []
    out_locals = internal.get(OUT_LOCALS)
    if out_locals and out_locals.get("names"):
        found.append((out_locals["names"], out_locals["hidden"]))
    io_locals = internal.get(_IO_LOCALS)
    if io_locals:
        found.append((io_locals, internal.setdefault(_IO_HIDDEN, {})))
    hidden = internal.get(MI_HIDDEN)  # outermost: a multi-instance activity's element variable, set first
    if hidden is not None and (parent := multi_instance_parent(task)) is not None:
        found.append((element_variables(parent), hidden))
    return found


def holder(found: list[tuple[Any, dict[str, Any]]], name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Where a task with `found` shadows (`shadows`) and `data` keeps the outer variable `name`: what hides it
    outermost, or its data."""
    return next((hidden for names, hidden in reversed(found) if name in names), data)


def write(origin: SpiffTask, updates: dict[str, Any], deletions: Iterable[str], targets: list[SpiffTask]) -> None:
    """Write what `origin` changed (`updates`, and the names in `deletions` removed) into `targets`, the tasks that
    carry the instance's variables, each name into the nearest scope around `origin` that defines it (`origin`'s
    own names stay its own). A target in a nearer scope defining the name again keeps its value; a target with a
    variable of its own of that name gets the outer value it will give back."""
    own = local_names(origin)
    chain = enclosing_scopes(origin.workflow)
    locals_of = {scope.id: local_names(scope) for scope in chain}
    routes: dict[str, SpiffTask | None] = {}  # name: the scope that defines it (None: the process instance)
    for name in [*updates, *deletions]:
        if name not in own:
            routes[name] = next((scope for scope in chain if name in locals_of[scope.id]), None)
    if not routes:
        return
    chains: dict[int, list[SpiffTask]] = {}
    for target in targets:
        key = id(target.workflow)
        if key not in chains:
            chains[key] = enclosing_scopes(target.workflow)
        around = chains[key]
        found = shadows(target)
        for name, scope in routes.items():
            if scope is not None and scope not in around:
                continue  # outside the scope that defines the name
            nearer = around[:around.index(scope)] if scope is not None else around
            if any(name in _names(inner, locals_of) for inner in nearer):
                continue  # a nearer scope has a variable of its own of that name
            _put(holder(found, name, target.data), name, updates, deletions)
    for name, scope in routes.items():
        if scope is not None:  # the scope's own variable: its task holds it, and gives it to what runs inside
            _put(scope.data, name, updates, deletions)
            inputs = scope.internal_data.get(_IO_LOCALS)
            if inputs is not None and name in inputs:
                _put(inputs, name, updates, deletions)


def blocked_names(task: SpiffTask) -> set[str]:
    """The names the scopes around `task` define: a process variable of one of them does not reach `task`."""
    found: set[str] = set()
    for scope in enclosing_scopes(task.workflow):
        found |= local_names(scope)
    return found


def _names(scope: SpiffTask, known: dict[Any, set[str]]) -> set[str]:
    if scope.id not in known:
        known[scope.id] = local_names(scope)
    return known[scope.id]


def _put(data: dict[str, Any], name: str, updates: dict[str, Any], deletions: Iterable[str]) -> None:
    if name in updates:
        data[name] = deepcopy(updates[name])
    elif name in deletions:
        data.pop(name, None)
