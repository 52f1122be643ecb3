"""A soak of a steady mixed load: the server's and the worker's memory, database connections, open files and
threads stay flat.

A real `stageflow serve --no-timers` (one gunicorn worker) and a `stageflow worker` (which alone fires the
timers) on PostgreSQL, driven for SOAK_SECONDS by
client threads (start, complete, message, timer, complete). Samples are taken every two seconds; after a warm-up
(the first third: caches fill, the connection pools grow to what the load needs) nothing may keep growing: the
last samples' memory stays within a small margin of the warm-up's, and the connections, files and threads within
the warm-up's maximum. `bench/soak.py` runs the same for minutes and prints every sample.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from tests.conftest import PG_ADMIN_URL
from tests.reliability.http_load import (
    Driver,
    Ledger,
    Proc,
    Sample,
    check_consistent,
    environment,
    free_port,
    pg_connections,
    prepare,
    sample,
    server,
    wait_up,
)

SOAK_SECONDS = float(os.environ.get("STAGEFLOW_SOAK_SECONDS", "36"))
MEMORY_MARGIN_KIB = 16 * 1024  # growth allowed per process from the end of the warm-up to the end


def soak(url: str, tmp: Path, seconds: float, every: float = 2.0) -> tuple[list[Sample], Ledger]:
    """Run the load for `seconds`, sampling every `every` seconds; returns the samples and what was acknowledged."""
    name = f"sf_soak_{uuid.uuid4().hex[:8]}"
    env = environment(f"{url}&application_name={name}" if "?" in url else f"{url}?application_name={name}")
    process = prepare(env, tmp)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # the production split: the server answers requests, the worker alone fires the timers
    procs = {"serve": server(env, port, tmp / "serve.log", workers=1, threads=8, deploy=process, timers=False),
             "worker": Proc(env, ["worker"], tmp / "worker.log")}
    for proc in procs.values():
        proc.start()
    ledger = Ledger()
    driver = Driver([base], ledger, threads=4, prefix="S", in_flight=3)
    samples: list[Sample] = []
    count = pg_connections(PG_ADMIN_URL, name)
    try:
        wait_up(base, procs["serve"])
        driver.start()
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            time.sleep(every)
            samples.append(sample(procs, count, ledger, began))
        driver.stop()
    finally:
        driver.stop()
        for proc in procs.values():
            proc.stop()
    return samples, ledger


def test_memory_and_connections_stay_flat_under_a_steady_mixed_load(pg_url: str, tmp_path: Path) -> None:
    samples, ledger = soak(pg_url, tmp_path, SOAK_SECONDS)
    warm = samples[: len(samples) // 3]
    late = samples[-3:]
    assert ledger.bad == [] and ledger.no_answer == 0, (ledger.bad[:3], ledger.no_answer)
    assert late[-1].acknowledged > warm[-1].acknowledged + 50, "the load did not keep going"
    for process in late[-1].rss_kib:
        warm_rss = max(s.rss_kib.get(process, 0) for s in warm)
        late_rss = min(s.rss_kib.get(process, 0) for s in late)  # the floor at the end: no steady growth
        assert late_rss - warm_rss < MEMORY_MARGIN_KIB, (process, [s.rss_kib.get(process) for s in samples])
    for field in ("connections", "fds", "threads"):
        ceiling = max(getattr(s, field) for s in warm)
        assert max(getattr(s, field) for s in late) <= ceiling + 2, (field, [getattr(s, field) for s in samples])
    counts = check_consistent(pg_url, ledger)
    first, last = samples[0], samples[-1]
    print(f"soak {last.at:.0f} s: {last.acknowledged} requests acknowledged, {counts['completed']} instances ended; "
          f"RSS KiB {first.rss_kib} -> {last.rss_kib}; connections {first.connections} -> {last.connections}; "
          f"fds {first.fds} -> {last.fds}; threads {first.threads} -> {last.threads}")
