"""Pages a step writes on SQLite, by table and index: what a commit costs, counted instead of timed.

    python bench/wal_pages.py [--instances 200] [--warm 1000]

Runs the flow of `engine_throughput.py` (start -> user task -> complete -> script -> end) on a fresh SQLite file,
`--warm` instances first, then `--instances` more with checkpoints off, and reads the WAL they left: each frame is
one page written by one commit (two `pwrite` calls). Prints the frames per instance, and per table or index (from
SQLite's `dbstat`) how many of them were its pages. Unlike a rate, the count does not depend on what else the
machine is doing, so it shows what a schema change (an index, the order of ids) saves. Then times writing one
frame the way SQLite does (a 24-byte header and a page, two `pwrite` calls) to a scratch file in the same directory:
that cost times the frames is what the commits spend in the kernel, which differs from one file system to another.
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_throughput import _engine_seconds  # noqa: E402
from spiff_baseline import FLOW  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402

_HEADER, _FRAME_HEADER = 32, 24


def frame_write_seconds(directory: Path, page_size: int, frames: int = 4000, rounds: int = 5) -> float:
    """Seconds to write one WAL frame as SQLite does (header, then page) over a file that already has its blocks,
    as a WAL that a checkpoint restarted has: the median of `rounds` passes of `frames` frames."""
    path = directory / "frames.bin"
    size = _FRAME_HEADER + page_size
    header, page = b"h" * _FRAME_HEADER, b"p" * page_size
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, page * (frames * size // page_size + 1), 0)
        passes = []
        for _ in range(rounds):
            started = time.perf_counter()
            for i in range(frames):
                os.pwrite(fd, header, i * size)
                os.pwrite(fd, page, i * size + _FRAME_HEADER)
            passes.append((time.perf_counter() - started) / frames)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(passes)[rounds // 2]


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
        frame_cost = frame_write_seconds(Path(tmp), struct.unpack(">I", wal[8:12])[0])
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
    per_instance = sum(frames.values()) / n
    print(f"writing one frame here (two pwrite calls): {frame_cost * 1e6:.1f} µs; "
          f"{per_instance:.1f} frames: {per_instance * frame_cost * 1e6:.0f} µs an instance")


if __name__ == "__main__":
    main()
