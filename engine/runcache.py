"""Workflows this process saved last, kept alive so that the next change of the same instance skips the load.

Loading an instance means parsing its JSON runtime and rebuilding SpiffWorkflow's task objects; for a short step
that is a good part of the cost. After a change commits, its `Run` (and what it waits for) is kept here under the
instance id and the version it was saved at. The next change locks the instance row as always, and uses the kept
run only when the row's version is still that version: a change made by another process (or thread) moved the
version, so it loads from the database and drops the entry (a database that lost its latest commits could reach
the entry's version again with other content). An entry is taken out while a change works on it, and put back
only once that change's transaction has committed: a change that fails leaves nothing behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .spiff import Run


@dataclass
class Waits:
    """What a run held and waited for when a change saved it, as the projections compare it with the next save:
    its variables, user and external task ids, timer due times by task id, subscription keys."""

    variables: dict[str, Any] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    externals: set[str] = field(default_factory=set)
    timers: dict[str, datetime | None] = field(default_factory=dict)
    events: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class Kept:
    """A run as its last change saved it, with what it waited for then (the `before` of the next change)."""

    version: int
    run: Run
    size: int  # bytes of its serialized runtime: what the cache bounds
    waits: Waits


class RunCache:
    """A bounded LRU of kept runs by instance id (at most `max_entries`, about `max_bytes` of runtime)."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def version(self, instance_id: str) -> int:
        """The version kept for an instance (-1 for none), to ask the database for the runtime only on a miss."""
        found = self._entries.get(instance_id)
        return found.version if found is not None else -1

    def take(self, instance_id: str, version: int) -> Kept | None:
        """Remove and return the run kept for this instance if it is at `version` (else drop it: it is stale)."""
        with self._lock:
            found = self._entries.pop(instance_id, None)
            if found is not None:
                self._bytes -= found.size
        return found if found is not None and found.version == version else None

    def put(self, instance_id: str, kept: Kept) -> None:
        """Keep a run that was just committed (an older version never replaces a newer one)."""
        if kept.size > self.max_bytes // 4 or self.max_entries <= 0:
            return
        with self._lock:
            old = self._entries.get(instance_id)
            if old is not None:
                if old.version >= kept.version:
                    return
                del self._entries[instance_id]
                self._bytes -= old.size
            self._entries[instance_id] = kept
            self._bytes += kept.size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size

    def discard(self, instance_id: str) -> None:
        with self._lock:
            found = self._entries.pop(instance_id, None)
            if found is not None:
                self._bytes -= found.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
