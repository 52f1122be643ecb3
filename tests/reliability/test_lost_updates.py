"""Many callers change one instance at the same moment: every change lands, none overwrites another.

Each change loads the instance's runtime, changes it and saves it whole; without the row lock (PostgreSQL) or
the immediate write transaction (SQLite), two callers would load the same runtime and the second save would
drop the first one's change (or fail its version check).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest

from engine.api import Engine
from engine.config import Settings
from tests.helpers import bpmn, chain, flow

BRANCHES = 8
JOIN_TIMEOUT = 30.0

PARALLEL_TASKS = bpmn(
    '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="join"/>'
    '<bpmn:endEvent id="end"/>'
    + "".join(f'<bpmn:userTask id="b{i}" name="Branch {i}"/>' for i in range(BRANCHES))
    + chain("start", "fork")
    + "".join(flow("fork", f"b{i}") + flow(f"b{i}", "join") for i in range(BRANCHES))
    + chain("join", "end"),
    process_id="parallel_tasks",
)

PARALLEL_MESSAGES = bpmn(
    '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="join"/>'
    '<bpmn:endEvent id="end"/>'
    + "".join(f'<bpmn:intermediateCatchEvent id="c{i}"><bpmn:messageEventDefinition messageRef="m{i}"/>'
              "</bpmn:intermediateCatchEvent>" for i in range(BRANCHES))
    + chain("start", "fork")
    + "".join(flow("fork", f"c{i}") + flow(f"c{i}", "join") for i in range(BRANCHES))
    + chain("join", "end"),
    process_id="parallel_messages",
    extra="".join(f'<bpmn:message id="m{i}" name="arrived-{i}"/>' for i in range(BRANCHES)),
)

WAITING = bpmn('<bpmn:startEvent id="start"/><bpmn:userTask id="wait"/><bpmn:endEvent id="end"/>'
               + chain("start", "wait", "end"), process_id="waiting")


def new_engine(url: str) -> Engine:
    return Engine(Settings(database_url=url, script_time_limit=5.0))


def all_at_once(calls: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run the calls in threads released together by a barrier; returns each one's exception (or None)."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException | None] = [None] * len(calls)

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            calls[i]()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors[i] = err

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a change never returned (deadlock?)"
    return errors


@pytest.fixture(params=["engine-per-thread", "one-shared-engine"])
def servers(request: pytest.FixtureRequest, shared_url: str):  # type: ignore[no-untyped-def]
    """An admin engine that deploys and checks, and BRANCHES engines (or one shared) that make the changes."""
    admin = new_engine(shared_url)
    admin.definitions.deploy([("tasks.bpmn", PARALLEL_TASKS), ("messages.bpmn", PARALLEL_MESSAGES),
                              ("waiting.bpmn", WAITING)])
    if request.param == "engine-per-thread":
        workers = [new_engine(shared_url) for _ in range(BRANCHES)]
    else:
        workers = [new_engine(shared_url)] * BRANCHES
    yield admin, workers
    for eng in {id(e): e for e in (admin, *workers)}.values():
        eng.close()


def test_completing_every_branch_of_a_parallel_gateway_at_once_loses_nothing(servers) -> None:  # type: ignore[no-untyped-def]
    admin, workers = servers
    for n in range(3):
        instance = admin.instances.start("parallel_tasks", business_key=f"T-{n}")
        tasks = {t.task_definition_key: t.id for t in admin.tasks.list(instance_id=instance.id)}
        assert sorted(tasks) == [f"b{i}" for i in range(BRANCHES)]

        errors = all_at_once([
            partial(workers[i].tasks.complete, tasks[f"b{i}"], {f"v{i}": i}, user=f"u{i}")
            for i in range(BRANCHES)])

        assert errors == [None] * BRANCHES, errors
        assert admin.instances.variables(instance.id) == {f"v{i}": i for i in range(BRANCHES)}
        done = admin.instances.get(instance.id)
        assert done.state == "COMPLETED" and done.ended_at is not None
        history = admin.instances.history(instance.id)
        completed = sorted(h.element_id for h in history if h.element_id.startswith("b") and h.event == "completed")
        assert completed == [f"b{i}" for i in range(BRANCHES)]
        assert [h.event for h in history if h.element_id == "end"].count("completed") == 1
        assert admin.tasks.list(instance_id=instance.id) == []


def test_correlating_a_message_to_every_branch_at_once_loses_nothing(servers) -> None:  # type: ignore[no-untyped-def]
    admin, workers = servers
    for n in range(3):
        instance = admin.instances.start("parallel_messages", business_key=f"M-{n}")
        assert len(admin.instances.state(instance.id).subscriptions) == BRANCHES

        errors = all_at_once([
            partial(workers[i].messages.correlate, f"arrived-{i}", instance_id=instance.id, variables={f"m{i}": i})
            for i in range(BRANCHES)])

        assert errors == [None] * BRANCHES, errors
        assert admin.instances.variables(instance.id) == {f"m{i}": i for i in range(BRANCHES)}
        assert admin.instances.get(instance.id).state == "COMPLETED"
        assert admin.instances.state(instance.id).subscriptions == []


def test_setting_variables_at_once_loses_nothing(servers) -> None:  # type: ignore[no-untyped-def]
    admin, workers = servers
    instance = admin.instances.start("waiting", variables={"counter": 0})
    for n in range(3):
        errors = all_at_once([
            partial(workers[i].instances.set_variables, instance.id, {f"k{n}_{i}": i})
            for i in range(BRANCHES)])
        assert errors == [None] * BRANCHES, errors
    expected = {"counter": 0, **{f"k{n}_{i}": i for n in range(3) for i in range(BRANCHES)}}
    assert admin.instances.variables(instance.id) == expected
    # the runtime (what the next step runs with) has them too, not only the variable table
    [task] = admin.tasks.list(instance_id=instance.id)
    assert admin.tasks.variables(task.id) == expected
    admin.tasks.complete(task.id, {})
    assert admin.instances.get(instance.id).state == "COMPLETED"
