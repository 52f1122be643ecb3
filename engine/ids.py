"""Identifiers of instances, tasks and the rows they write: UUIDs that sort by the time they were made.

An id is a UUID of version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits. Ids made
close together sort close together, so the indexes that hold them (an instance's tasks, variables and history, all
keyed by its id) take new rows at their end instead of at a random page: a step writes fewer pages, and a large
database keeps the pages a step touches in its cache. Clients treat ids as opaque text, as Camunda's.

The random bits come from the operating system (`os.urandom`), read a few kilobytes at a time per thread instead
of one system call per id; a forked process reads its own.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID, SafeUUID

_BATCH = 4096  # random bytes read at a time: 409 ids
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_A = 0xFFF  # 12 random bits after the version
_RAND_B = (1 << 62) - 1  # 62 random bits after the variant


class _Randomness(threading.local):
    def __init__(self) -> None:
        self.buffer = b""
        self.used = _BATCH
        self.generation = -1


_local = _Randomness()
_generation = 0  # bumped in a forked child: its threads' buffers are copies of the parent's


def _forked() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)


def _random_bits() -> int:
    """80 random bits (10 bytes of this thread's buffer)."""
    state = _local
    used = state.used
    if used > _BATCH - 10 or state.generation != _generation:
        state.buffer, used, state.generation = os.urandom(_BATCH), 0, _generation
    state.used = used + 10
    return int.from_bytes(state.buffer[used:used + 10], "big")


def _id_int() -> int:
    bits = _random_bits()
    return ((time.time_ns() // 1_000_000) << 80 | _VERSION_AND_VARIANT | ((bits >> 62) & _RAND_A) << 64
            | bits & _RAND_B)


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
    h = f"{_id_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _fast_uuid_of(value: int) -> UUID:
    made = object.__new__(TaskId)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", SafeUUID.unknown)
    # its text now: every new task id is written as text at its first save, and a first `str` that finds no
    # `_text` would raise and catch an AttributeError
    h = f"{value:032x}"
    object.__setattr__(made, "_text", f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return made


def _checked_uuid_of(value: int) -> UUID:
    return task_id(str(UUID(int=value)))


# UUID(int=...) checks its argument and costs about as much as the rest of a new id; the fast path sets the two
# slots it would set, where this Python's UUID has them (checked once, here)
_uuid_of = _fast_uuid_of if _fast_uuid_of(1 << 100) == TaskId(int=1 << 100) else _checked_uuid_of
