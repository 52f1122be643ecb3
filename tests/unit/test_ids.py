"""Ids of instances, tasks and rows: UUIDs of version 7, ordered by the time they were made, never repeated."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

from engine.ids import new_id, new_uuid
from tests.helpers import bpmn, chain

SIMPLE_BPMN = bpmn('<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
                   + chain("start", "work", "end"), process_id="simple")


def test_an_id_is_a_version_7_uuid_in_the_usual_text_form() -> None:
    made = new_id()
    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert new_uuid().version == 7


def test_ids_made_later_sort_after_earlier_ones() -> None:
    first = new_id()
    time.sleep(0.002)  # the ids' clock counts milliseconds: the wall clock is the point here
    assert new_id() > first


def test_the_random_part_differs_between_ids_of_the_same_millisecond() -> None:
    made = [uuid.UUID(new_id()).int for _ in range(2000)]
    assert len(set(made)) == len(made)
    low_bits = {value & ((1 << 62) - 1) for value in made}
    high_random = {(value >> 64) & 0xFFF for value in made}
    assert len(low_bits) == len(made)
    assert len(high_random) > 1000  # 12 bits: 4,096 values; a fixed or copied field would give one or a few


def test_seeding_pythons_random_does_not_repeat_ids() -> None:
    # a simulation or a script may seed the `random` module for repeatable runs: ids must not repeat with it
    random.seed(7)
    first = [new_id()[15:] for _ in range(20)]
    random.seed(7)
    again = [new_id()[15:] for _ in range(20)]
    assert not set(first) & set(again)


def test_threads_never_make_the_same_id() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_id() for _ in range(20_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [made for into in found for made in into]
    assert len(set(every)) == len(every) == 80_000


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent's random bytes are read: a child would inherit the unread rest
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    parents = {new_id() for _ in range(50)}
    with os.fdopen(read) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    assert len(childs) == 50
    assert not parents & childs
    assert not {made[15:] for made in parents} & {made[15:] for made in childs}  # not even the random part


def test_instances_and_their_tasks_get_time_ordered_ids(engine) -> None:  # type: ignore[no-untyped-def]
    engine.definitions.deploy([("simple.bpmn", SIMPLE_BPMN)])
    first = engine.instances.start("simple")
    second = engine.instances.start("simple")
    [task] = engine.tasks.list(instance_id=second.id)
    assert uuid.UUID(first.id).version == uuid.UUID(second.id).version == uuid.UUID(task.id).version == 7
    assert first.id < second.id or first.id[:13] == second.id[:13]  # ordered, or made in the same millisecond
