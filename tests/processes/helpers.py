"""What the tests of the business processes do over and over: work a task, let the built-in workers run."""

from __future__ import annotations

from engine.api import Engine
from engine.views import TaskView


def settle(engine: Engine) -> None:
    """What the scheduler does on every tick: the built-in workers work until nothing is left."""
    while engine.handlers.run():
        pass


def open_task(engine: Engine, instance_id: str, key: str) -> TaskView:
    """The open task of element `key` in the instance (the assertion names the open ones when there is none)."""
    found = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == key]
    assert found, f"no open task {key}: open are {[t.task_definition_key for t in engine.tasks.list(instance_id=instance_id)]}"
    return found[0]


def complete(engine: Engine, instance_id: str, key: str, **values) -> None:  # type: ignore[no-untyped-def]
    """Complete the open task of element `key` with `values`."""
    engine.tasks.complete(open_task(engine, instance_id, key).id, values)


def work(engine: Engine, instance_id: str, key: str, **values) -> None:  # type: ignore[no-untyped-def]
    """Complete the task, then let the built-in workers do what follows (notifications, the client register)."""
    complete(engine, instance_id, key, **values)
    settle(engine)
