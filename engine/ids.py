"""Identifiers of instances, tasks and the rows they write: UUIDs that sort by the time they were made.

An id is a UUID of version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits. Ids made
close together sort close together, so the indexes that hold them (an instance's tasks, variables and history, all
keyed by its id) take new rows at their end instead of at a random page: a step writes fewer pages, and a large
database keeps the pages a step touches in its cache. Clients treat ids as opaque text, as Camunda's.

The random bits come from a generator of this module seeded from the operating system (`os.urandom`), seeded
again in a forked process: ids must not collide, and they are not secrets (Camunda's are sequential numbers; what
must be unguessable, sessions and API tokens, comes from `secrets`). Reading `os.urandom` a buffer at a time per thread,
as before, cost 0.74 µs an id against 0.06 µs, and a step makes several ids.
"""

from __future__ import annotations

import os
import random
import time
from uuid import UUID, SafeUUID

_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_B = (1 << 62) - 1  # 62 random bits after the variant
_random = random.Random()  # seeded from os.urandom
_random_bits = _random.getrandbits  # one C call; the lock it needs is the interpreter's


def _forked() -> None:
    _random.seed()  # the child's own: it must not repeat the ids of its parent


os.register_at_fork(after_in_child=_forked)


def _id_int() -> int:
    bits = _random_bits(74)  # 12 random bits after the version, 62 after the variant
    return (time.time_ns() // 1_000_000) << 80 | _VERSION_AND_VARIANT | (bits >> 62) << 64 | bits & _RAND_B


def _text(value: int) -> str:
    h = value.to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class TaskId(UUID):
    """A `UUID` that keeps its text once made: SpiffWorkflow's task ids, each written as text several times a save
    (the runtime's task, parent and children, the history, the task rows) where `UUID.__str__` formats it anew."""

    __slots__ = ("_text",)

    def __str__(self) -> str:
        try:
            return self._text
        except AttributeError:
            text = UUID.__str__(self)
            object.__setattr__(self, "_text", text)
            return text


_set_text = TaskId.__dict__["_text"].__set__


def task_id(text: str) -> TaskId:
    """A task id read back as text (a saved runtime, a request), keeping that text."""
    made = TaskId(text)
    canonical = UUID.__str__(made)
    object.__setattr__(made, "_text", text if text == canonical else canonical)
    return made


def new_uuid() -> UUID:
    """A new time-ordered id as a `UUID` (SpiffWorkflow's task ids)."""
    return _uuid_of(_id_int())


def new_id() -> str:
    """A new time-ordered id as text, in the usual 8-4-4-4-12 form."""
    return _text(_id_int())


_new = object.__new__
_set_int = UUID.__dict__["int"].__set__  # the slots' own setters: UUID's __setattr__ refuses
_set_safe = UUID.__dict__["is_safe"].__set__


def _fast_uuid_of(value: int) -> UUID:
    made = _new(TaskId)
    _set_int(made, value)
    _set_safe(made, SafeUUID.unknown)
    # its text now: every new task id is written as text at its first save, and a first `str` that finds no
    # `_text` would raise and catch an AttributeError
    _set_text(made, _text(value))
    return made


def _checked_uuid_of(value: int) -> UUID:
    return task_id(str(UUID(int=value)))


# UUID(int=...) checks its argument and costs about as much as the rest of a new id; the fast path sets the two
# slots it would set, where this Python's UUID has them (checked once, here)
_uuid_of = _fast_uuid_of if _fast_uuid_of(1 << 100) == TaskId(int=1 << 100) else _checked_uuid_of
