"""Pages a step writes on SQLite, by table and index: what a commit costs, counted instead of timed.

    python bench/wal_pages.py [--instances 200] [--warm 1000]

Runs the flow of `engine_throughput.py` (start -> user task -> complete -> script -> end) on a fresh SQLite file,
`--warm` instances first, then `--instances` more with checkpoints off, and reads the WAL they left: each frame is
one page written by one commit (two `pwrite` calls). Prints the frames per instance, and per table or index (from
SQLite's `dbstat`) how many of them were its pages. Unlike a rate, the count does not depend on what else the
machine is doing, so it shows what a schema change (an index, the order of ids) saves.
"""

from __future__ import annotations

import argparse
import collections
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_throughput import _engine_seconds  # noqa: E402
from spiff_baseline import FLOW  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402

_HEADER, _FRAME_HEADER = 32, 24


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--warm", type=int, default=1000, help="instances run before counting (a database in use)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.db"
        engine = Engine(Settings(database_url=f"sqlite:///{path}"), clock=VirtualClock())
        engine.upgrade()
        engine.definitions.deploy([("bench.bpmn", FLOW)])
        _engine_seconds(engine, args.warm)
        with engine.db.read() as session:  # the thread's own connection, on which the flow runs
            raw = session.connection().connection.dbapi_connection
        raw.execute("PRAGMA wal_autocheckpoint=0")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if engine.db._checkpoints is not None:  # the background checkpointer: off for the count
            engine.db._checkpoints.THRESHOLD_BYTES = 1 << 62
        _engine_seconds(engine, args.instances)
        wal = Path(f"{path}-wal").read_bytes()
        with sqlite3.connect(path) as conn:
            names = {page: name for name, page in conn.execute("SELECT name, pageno FROM dbstat")}
        engine.close()
    page_size = struct.unpack(">I", wal[8:12])[0]
    frames: collections.Counter[str] = collections.Counter()
    commits = 0
    for offset in range(_HEADER, len(wal) - page_size - _FRAME_HEADER + 1, page_size + _FRAME_HEADER):
        page, commit = struct.unpack(">II", wal[offset:offset + 8])
        frames[names.get(page, "(freed page)")] += 1
        commits += commit != 0
    n = args.instances
    print(f"{sum(frames.values()) / n:.1f} pages written per instance in {commits / n:.1f} commits "
          f"({n} instances after {args.warm})")
    for name, count in frames.most_common():
        print(f"  {count / n:5.2f}  {name}")


if __name__ == "__main__":
    main()
