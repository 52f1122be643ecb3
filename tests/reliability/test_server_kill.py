"""`kill -9` of a server and of a timer worker at random moments of a mixed load over HTTP, on PostgreSQL.

A real `stageflow serve` (gunicorn, two workers) and a `stageflow worker` share one PostgreSQL schema. Client
threads drive the mixed process (start with an `Idempotency-Key`, complete a task, correlate a message, wait for a
timer, complete the last task) and record every request answered with a 2xx. At random moments the whole server
(gunicorn master and workers), one gunicorn worker (the master forks another) or the timer worker is killed with
SIGKILL and started again. Afterwards: every acknowledged start exists exactly once, every acknowledged completion
and message is in the history, no element of any instance completed twice (each start, completion, message and
timer counted), every instance is in a state a correct run reaches, and once the load drains every instance the
clients drove has ended.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from tests.reliability.http_load import (
    Driver,
    Ledger,
    Proc,
    check_consistent,
    environment,
    free_port,
    prepare,
    server,
    wait_up,
)

VICTIMS = ["server", "worker", "gunicorn-worker", "server", "worker"]  # the order of the kills
DRAIN_SECONDS = 45.0


def test_kill9_of_servers_and_workers_under_mixed_load_loses_and_doubles_nothing(pg_url: str,
                                                                                   tmp_path: Path) -> None:
    began = time.monotonic()
    env = environment(pg_url)
    process = prepare(env, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = server(env, port, tmp_path / "serve.log", workers=2, threads=8, deploy=process)
    worker = Proc(env, ["worker"], tmp_path / "worker.log")
    serve.start()
    worker.start()
    rng = random.Random(20261201)
    kills: Counter[str] = Counter()
    ledger = Ledger()
    driver = Driver([base], ledger, threads=4, prefix="K", in_flight=3)
    try:
        wait_up(base, serve)
        driver.start()
        for victim in VICTIMS:
            time.sleep(rng.uniform(1.0, 3.0))  # anywhere in the load: mid-request, mid-commit, mid-timer
            if victim == "server":
                serve.kill9()
                time.sleep(rng.uniform(0.0, 0.5))
                serve.start()
                wait_up(base, serve)
            elif victim == "gunicorn-worker":
                one = rng.choice(serve.pids()[1:])
                os.kill(one, signal.SIGKILL)  # the master forks a new worker by itself
            else:
                worker.kill9()
                time.sleep(rng.uniform(0.0, 0.5))
                worker.start()
            kills[victim] += 1
        acknowledged = len(ledger.started) + len(ledger.completed) + len(ledger.messaged)
        assert driver.drain(DRAIN_SECONDS), f"the instances in flight did not end within {DRAIN_SECONDS} s"
    finally:
        driver.stop()
        serve.stop()
        worker.stop()

    assert ledger.bad == [], ledger.bad[:5]
    counts = check_consistent(pg_url, ledger, all_finished=True)
    assert counts["instances"] == len(ledger.started) == len(ledger.finished), counts
    assert counts["completed"] == counts["instances"] and counts["timers_fired"] == counts["instances"]
    total = len(ledger.started) + len(ledger.completed) + len(ledger.messaged)
    print(f"kill -9: {dict(kills)}; {acknowledged} requests acknowledged under the kills, {total} in all; answers "
          f"{dict(ledger.statuses)}, {ledger.no_answer} without an answer; checked {counts}; "
          f"{time.monotonic() - began:.1f} s")
    assert time.monotonic() - began < 120
