"""What SQLite itself costs of the throughput flow: the engine's driver calls, replayed on bare SQLite.

    python bench/sqlite_share.py [--instances 3000] [--page-sizes 4096,2048,1024]

Runs the flow of `engine_throughput.py` (start -> user task -> complete -> script -> end) through the engine on a
fresh SQLite file and records every call the engine's thread made on the sqlite3 driver (statement, parameters,
commit). Then replays those calls on bare sqlite3, with nothing of SQLAlchemy or of the engine in between, on copies
of the database as it was before the recorded instances: one copy per page size, in interleaved chunks, with a
WAL checkpoint between chunks (outside the timing; the engine runs its checkpoints on a thread of its own).

Prints microseconds per instance: the engine's whole flow (timed on its own, without the recorder), SQLite replaying
the same calls, its commits among them, and SQLite's share of the whole. What SQLite costs is a floor that no change
to the engine's Python goes under: with the in-memory reference of `engine_throughput.py` it tells how much time is
left for the engine's own Python at a given ratio.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_throughput import _engine_seconds  # noqa: E402
from spiff_baseline import FLOW  # noqa: E402
from sqlalchemy import event  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402

Call = tuple[str, str, Any]  # ("execute" | "many" | "commit", SQL, parameters)
CHUNK = 250  # instances per replay chunk


class Recorder:
    """The driver calls one thread makes while `on`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.on = False
        self.thread = threading.get_ident()

    def take(self, kind: str, sql: str, params: Any) -> None:
        if self.on and threading.get_ident() == self.thread:
            self.calls.append((kind, sql, params))

    def connection_class(self) -> type[sqlite3.Connection]:
        """A sqlite3 connection (and cursor) class that reports its calls here."""
        recorder = self

        class Cursor(sqlite3.Cursor):
            def execute(self, sql: str, params: Any = ()) -> Any:  # type: ignore[override]
                recorder.take("execute", sql, params)
                return super().execute(sql, params)

            def executemany(self, sql: str, params: Any) -> Any:  # type: ignore[override]
                params = list(params)
                recorder.take("many", sql, params)
                return super().executemany(sql, params)

        class Connection(sqlite3.Connection):
            def cursor(self, factory: Any = Cursor) -> Any:  # type: ignore[override]
                return super().cursor(factory)

            def execute(self, sql: str, params: Any = ()) -> Any:  # type: ignore[override]
                recorder.take("execute", sql, params)
                return super().execute(sql, params)

            def commit(self) -> None:
                recorder.take("commit", "", None)
                super().commit()

        return Connection


def record(tmp: Path, n: int, warm: int) -> tuple[Path, list[Call]]:
    """The database file before the recorded instances, and the driver calls of `n` instances."""
    recorder = Recorder()
    path = tmp / "recorded.db"
    engine = Engine(Settings(database_url=f"sqlite:///{path}"), clock=VirtualClock())
    factory = recorder.connection_class()
    for sa_engine in (engine.db.engine, engine.db._kept_engine):
        event.listen(sa_engine, "do_connect", lambda _d, _r, _a, cparams: cparams.__setitem__("factory", factory))
    engine.upgrade()
    engine.definitions.deploy([("bench.bpmn", FLOW)])
    _engine_seconds(engine, warm)
    with engine.db.read() as session:  # the thread's own connection, the one the flow runs on
        raw = session.connection().connection.dbapi_connection
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = tmp / "before.db"
    shutil.copy(path, before)
    recorder.on = True
    _engine_seconds(engine, n)
    recorder.on = False
    engine.close()
    first = next(i for i, (kind, sql, _) in enumerate(recorder.calls) if kind == "execute" and sql.startswith("BEGIN"))
    return before, recorder.calls[first:]


def replica(tmp: Path, before: Path, page_size: int) -> sqlite3.Connection:
    """A copy of `before` with `page_size`, connected as the engine connects (WAL, synchronous=NORMAL)."""
    path = tmp / f"replay-{page_size}.db"
    shutil.copy(before, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode=WAL")
    for pragma in ("synchronous=NORMAL", "wal_autocheckpoint=0", "cache_size=-16000", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def replay(conn: sqlite3.Connection, calls: list[Call]) -> tuple[float, float]:
    """(seconds for all calls, seconds in commits) on bare sqlite3."""
    cursor = conn.cursor()
    commits = 0.0
    started = time.perf_counter()
    for kind, sql, params in calls:
        if kind == "execute":
            cursor.execute(sql, params)
            if sql.startswith("SELECT"):
                cursor.fetchall()
        elif kind == "many":
            cursor.executemany(sql, params)
        else:
            t = time.perf_counter()
            conn.commit()
            commits += time.perf_counter() - t
    return time.perf_counter() - started, commits


def chunks(calls: list[Call], commits_per_chunk: int) -> list[list[Call]]:
    """`calls` cut after every `commits_per_chunk` commits."""
    out: list[list[Call]] = [[]]
    seen = 0
    for call in calls:
        out[-1].append(call)
        if call[0] == "commit":
            seen += 1
            if seen % commits_per_chunk == 0:
                out.append([])
    return [c for c in out if c]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=3000)
    ap.add_argument("--warm", type=int, default=500, help="instances run before recording (a database in use)")
    ap.add_argument("--page-sizes", default="4096,2048,1024")
    args = ap.parse_args()
    n = args.instances
    sizes = [int(s) for s in args.page_sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        timed = Engine(Settings(database_url=f"sqlite:///{tmp}/timed.db"), clock=VirtualClock())
        timed.upgrade()
        timed.definitions.deploy([("bench.bpmn", FLOW)])
        _engine_seconds(timed, args.warm)
        whole = _engine_seconds(timed, n) / n
        timed.close()
        before, calls = record(tmp, n, args.warm)
        commits = sum(1 for kind, _, _ in calls if kind == "commit")
        replicas = {size: replica(tmp, before, size) for size in sizes}
        spent = {size: [0.0, 0.0] for size in sizes}
        for i, part in enumerate(chunks(calls, 3 * CHUNK)):  # a flow's instance commits 3 times (2 writes, 1 read)
            order = sizes[i % len(sizes):] + sizes[:i % len(sizes)]
            for size in order:
                total, in_commits = replay(replicas[size], part)
                spent[size][0] += total
                spent[size][1] += in_commits
                replicas[size].execute("PRAGMA wal_checkpoint(PASSIVE)")
        completed = {size: conn.execute("SELECT count(*) FROM process_instance WHERE state = 'COMPLETED'").fetchone()[0]
                     for size, conn in replicas.items()}
        for conn in replicas.values():
            conn.close()
    print(f"engine, whole flow          {whole * 1e6:7.1f} µs an instance   ({n} instances, 4 KB pages, "
          f"{len(calls) / n:.1f} driver calls and {commits / n:.1f} commits an instance)")
    for size in sizes:
        total, in_commits = (s / n for s in spent[size])
        print(f"SQLite alone, {size:5d} B pages {total * 1e6:7.1f} µs an instance   ({total / whole:.0%} of the whole; "
              f"commits {in_commits * 1e6:.1f} µs; {completed[size]} instances completed)")


if __name__ == "__main__":
    main()
