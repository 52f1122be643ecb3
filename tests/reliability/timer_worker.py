"""A timer worker process for `test_timers_exactly_once.py`: its own `Engine` on a shared database.

Run as a script, with the repository root on PYTHONPATH:

    python tests/reliability/timer_worker.py drain URL NOW --batch 50 --ready FILE --go FILE
    python tests/reliability/timer_worker.py tick URL NOW

Both build an `Engine` on URL with a `VirtualClock` standing at NOW (an ISO date-time), as a worker process that
starts (or comes back) at that moment would.

`drain` touches the `--ready` file once its engine is connected, waits for the `--go` file (the shared start
signal, so that all workers really begin together), then calls `engine.jobs.execute_due(limit=BATCH)` until it
returns 0 twice in a row, and prints one JSON line: how many jobs it fired, the size of every batch and the
wall-clock time of its first and last firing batch (to show that workers overlapped).

With `--log`, `drain` logs each fired job on stderr (the `stageflow.jobs` logger at INFO), so that a test can
kill it with `kill -9` in the middle of a batch.

`tick` runs one tick of `TimerScheduler` (what `stageflow worker` does every poll interval), then a second one,
and prints `{"first": n, "second": m}`.

Any exception ends the process with a traceback on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

WAIT_LIMIT = 120.0  # seconds a worker waits for its start signal before giving up


def _engine(url: str, now: str):  # type: ignore[no-untyped-def]
    from engine.api import Engine
    from engine.clock import VirtualClock
    from engine.config import Settings

    engine = Engine(Settings(database_url=url, script_time_limit=5.0), clock=VirtualClock(datetime.fromisoformat(now)))
    engine.db.ensure_schema()
    engine.jobs.next_due()  # connect and warm up before the start signal
    return engine


def drain(url: str, now: str, batch: int, ready: Path, go: Path) -> dict[str, object]:
    engine = _engine(url, now)
    try:
        ready.touch()
        deadline = time.monotonic() + WAIT_LIMIT
        while not go.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no start signal ({go}) within {WAIT_LIMIT} s")
            time.sleep(0.002)
        fired, batches, zeros = 0, [], 0
        first = last = None
        while zeros < 2:
            n = engine.jobs.execute_due(limit=batch)
            batches.append(n)
            if n:
                zeros = 0
                fired += n
                first = first or time.time()
                last = time.time()
            else:
                zeros += 1
        return {"fired": fired, "batches": batches, "first": first, "last": last}
    finally:
        engine.close()


def tick(url: str, now: str) -> dict[str, int]:
    from engine.scheduler import TimerScheduler

    engine = _engine(url, now)
    try:
        scheduler = TimerScheduler(engine, poll_seconds=0.5)
        return {"first": scheduler.tick(), "second": scheduler.tick()}
    finally:
        engine.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p_drain = sub.add_parser("drain")
    p_drain.add_argument("url")
    p_drain.add_argument("now")
    p_drain.add_argument("--batch", type=int, default=50)
    p_drain.add_argument("--ready", type=Path, required=True)
    p_drain.add_argument("--go", type=Path, required=True)
    p_drain.add_argument("--log", action="store_true")
    p_tick = sub.add_parser("tick")
    p_tick.add_argument("url")
    p_tick.add_argument("now")
    args = parser.parse_args(argv)
    if args.mode == "drain" and args.log:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(message)s")
        logging.getLogger("stageflow.jobs").setLevel(logging.INFO)
    if args.mode == "drain":
        result: dict[str, object] = drain(args.url, args.now, args.batch, args.ready, args.go)
    else:
        result = dict(tick(args.url, args.now))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
