"""Timer lateness with many pending timers, on SQLite and PostgreSQL, with one and with three worker processes.

    python bench/timer_lateness.py            # 10,000 pending, 1,000 due within 60 s (about 7-9 minutes)
    python bench/timer_lateness.py --quick    # 1,000 pending, 100 due within 20 s (about 2-3 minutes)
    python bench/timer_lateness.py --databases sqlite --workers 3 --postgres postgresql+psycopg://...

Real clock, real worker processes. For each database (a SQLite file in a temporary directory; PostgreSQL in a
private schema of `--postgres`, dropped at the end):

1. Setup: deploy `late` (start -> timer catch `<bpmn:timeDate>${dueAt}</bpmn:timeDate>` -> script task -> user
   task -> end) and start PENDING - DUE instances whose timer is due in a day, with `--creators` processes. These
   far timers stay pending throughout, for both worker counts. The setup time is printed.
2. For each worker count N: start N worker processes (this file, `_worker` mode), each with its own `Engine` on
   the system clock running `TimerScheduler(engine).start()` at the default tick (`STAGEFLOW_TIMER_POLL_SECONDS`,
   0.5 s). Start DUE more instances whose timers fall due evenly spread over the next WINDOW seconds (starting
   after a lead time long enough to create them all), so that PENDING timers are pending and DUE of them fall
   due within the window. Wait until every one of them fired (or a timeout).
3. Burst: start DUE more instances whose timers are all due at the same moment and measure how fast the workers
   drain them: jobs/s = DUE / (last firing - first firing). Then stop the workers.
4. Measure, from the database: the lateness of every timer (the `at` of its `completed` history event, which
   the engine writes with its clock, minus the due time it was given), p50/p95/max, for the spread timers and
   the burst; how many timers fired once, none (lost) or more than once (doubled); that no far timer fired and
   that the sum of the workers' own counts is what the database shows.

Goal (issue 3): p95 lateness under 1 s at the default tick, no timer lost or doubled. The table at the end has
one row per database x worker count. The figures depend on the machine (cores, disk, other load): print them,
do not assert them.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.store import models as m  # noqa: E402
from tests.helpers import TEST_PG_URL  # noqa: E402

KEY = "late"
PROCESS = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="{KEY}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDate>${{dueAt}}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="touch" scriptFormat="python"><bpmn:script>pass</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="after" name="After"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="touch"/>
    <bpmn:sequenceFlow id="f3" sourceRef="touch" targetRef="after"/>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()

READY_TIMEOUT = 60.0


@dataclass
class Size:
    pending: int
    due: int
    window: float  # seconds over which the due timers fall due


@dataclass
class Row:
    database: str
    workers: int
    setup_s: float = 0.0
    pending: int = 0
    due: int = 0
    fired: int = 0
    lost: int = 0
    doubled: int = 0
    p50: float = math.nan
    p95: float = math.nan
    max: float = math.nan
    burst_rate: float = math.nan
    burst_p95: float = math.nan
    burst_max: float = math.nan
    notes: list[str] = field(default_factory=list)


# -- child processes -------------------------------------------------------------------------------------------
_ENGINES: dict[str, Engine] = {}


def create(url: str, dues: list[str]) -> tuple[list[tuple[str, str]], float]:
    """(In a creator process) start one instance per due time; returns (instance id, due) pairs and seconds."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = Engine(Settings(database_url=url, script_time_limit=5.0))
    started = time.perf_counter()
    out = [(engine.instances.start(KEY, variables={"dueAt": due}).id, due) for due in dues]
    return out, time.perf_counter() - started


def worker(url: str, folder: Path, name: str) -> None:
    """(A worker process) run the timer scheduler until `stop` appears in `folder`; print what it fired."""
    import logging

    from engine.scheduler import TimerScheduler

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    counts = {"fired": 0, "errors": 0, "ticks": 0, "busy_s": 0.0, "skipped": 0, "missed": 0, "wakes": 0,
              "overlapped": 0}

    class CountSkips(logging.Handler):
        """APScheduler's warnings: a run skipped because a tick was still running, or missed (late)."""

        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if "maximum number of running instances" in message:
                counts["skipped"] += 1
            elif "was missed by" in message:
                counts["missed"] += 1

    aps = logging.getLogger("apscheduler")
    aps.addHandler(CountSkips())
    aps.propagate = False
    engine = Engine(Settings.from_env(database_url=url))
    engine.db.ensure_schema()
    engine.jobs.next_due()  # connected and warm before the clock starts
    execute_due = engine.jobs.execute_due

    def counted(*, limit: int = 100) -> int:
        started = time.perf_counter()
        try:
            n = execute_due(limit=limit)
        except Exception:
            counts["errors"] += 1
            raise
        counts["ticks"] += 1
        counts["fired"] += n
        if n:
            counts["busy_s"] += time.perf_counter() - started
        return n

    engine.jobs.execute_due = counted  # type: ignore[method-assign]
    scheduler = TimerScheduler(engine)
    add_job = scheduler._scheduler.add_job

    def counted_add(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("id") == "stageflow-wake":
            counts["wakes"] += 1  # a wake-up at the next due time, scheduled after a tick
        return add_job(*args, **kwargs)

    scheduler._scheduler.add_job = counted_add  # type: ignore[method-assign]
    tick = scheduler.tick

    def counted_tick() -> int:
        if scheduler._busy.locked():
            counts["overlapped"] += 1  # this tick finds another one running and does nothing
        return tick()

    scheduler.tick = counted_tick  # type: ignore[method-assign]
    scheduler.start()
    (folder / f"ready-{name}").touch()
    stop = folder / "stop"
    while not stop.exists():
        time.sleep(0.05)
    scheduler.stop()
    engine.close()
    sys.stdout.write(json.dumps({**counts, "poll": scheduler.poll_seconds}) + "\n")
    sys.stdout.flush()


# -- the parent --------------------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def chunks(items: list[str], parts: int) -> list[list[str]]:
    """Split keeping order inside each part and the earliest items at the front of every part."""
    return [items[k::parts] for k in range(parts) if items[k::parts]]


def create_all(pool: ProcessPoolExecutor, url: str, dues: list[str], parts: int) -> list[tuple[str, str]]:
    futures = [pool.submit(create, url, part) for part in chunks(dues, parts)]
    created: list[tuple[str, str]] = []
    for fut in futures:
        created.extend(fut.result()[0])
    return created


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def firings(engine: Engine, ids: list[str]) -> dict[str, list[datetime]]:
    """The `completed` history events of the timer element, per instance."""
    out: dict[str, list[datetime]] = {i: [] for i in ids}
    with engine.db.read() as session:
        for start in range(0, len(ids), 500):
            rows = session.execute(select(m.HistoryEvent.instance_id, m.HistoryEvent.at).where(
                m.HistoryEvent.element_id == "wait", m.HistoryEvent.event == "completed",
                m.HistoryEvent.instance_id.in_(ids[start:start + 500]))).all()
            for instance_id, at in rows:
                out[instance_id].append(at if at.tzinfo else at.replace(tzinfo=UTC))
    return out


def count_fired(engine: Engine, ids: list[str]) -> int:
    return sum(1 for times in firings(engine, ids).values() if times)


def wait_fired(engine: Engine, ids: list[str], deadline: float) -> int:
    fired = count_fired(engine, ids)
    while fired < len(ids) and time.time() < deadline:
        time.sleep(1.0)
        fired = count_fired(engine, ids)
    return fired


def lateness(engine: Engine, created: list[tuple[str, str]]) -> tuple[list[float], int, int, list[datetime]]:
    """Seconds late per fired timer, how many were lost and doubled, and the firing times."""
    found = firings(engine, [i for i, _ in created])
    late, lost, doubled, times = [], 0, 0, []
    for instance_id, due in created:
        fired = found[instance_id]
        if not fired:
            lost += 1
            continue
        doubled += len(fired) - 1
        late.append((min(fired) - datetime.fromisoformat(due)).total_seconds())
        times.extend(fired)
    return late, lost, doubled, times


def start_workers(url: str, count: int, folder: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    procs = []
    for i in range(count):
        with open(folder / f"stderr-{i}", "wb") as err:  # the child keeps its own descriptor
            procs.append(subprocess.Popen([sys.executable, __file__, "_worker", url, str(folder), str(i)],
                                          stdout=subprocess.PIPE, stderr=err, env=env))
    deadline = time.monotonic() + READY_TIMEOUT
    while not all((folder / f"ready-{i}").exists() for i in range(count)):
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {i} died:\n{(folder / f'stderr-{i}').read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready within {READY_TIMEOUT} s")
        time.sleep(0.05)
    return procs


def stop_workers(procs: list[subprocess.Popen], folder: Path) -> list[dict]:
    (folder / "stop").touch()
    reports = []
    for i, proc in enumerate(procs):
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            reports.append({"fired": 0, "errors": 1, "note": "did not stop"})
            continue
        lines = out.decode().strip().splitlines()
        if proc.returncode != 0 or not lines:
            reports.append({"fired": 0, "errors": 1, "note": (folder / f"stderr-{i}").read_text()[-2000:]})
        else:
            reports.append(json.loads(lines[-1]))
        failed = [line for line in (folder / f"stderr-{i}").read_text().splitlines() if "tick failed" in line]
        if failed:  # a tick that failed (the database refused a statement): say how often and why
            print(f"  worker {i}: {len(failed)} ticks failed, first: {failed[0][:300]}", flush=True)
    return reports


def run_database(label: str, url: str, size: Size, worker_counts: list[int], creators: int) -> list[Row]:
    from engine.store import Database

    Database(url).upgrade()
    engine = Engine(Settings(database_url=url))
    engine.definitions.deploy([("late.bpmn", PROCESS)])
    rows: list[Row] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=creators, mp_context=ctx) as pool:
        list(pool.map(create, [url] * creators, [[] for _ in range(creators)]))  # import and connect first
        far = size.pending - size.due
        far_due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        log(f"{label}: creating {far:,} instances with a timer due in a day ({creators} creator processes)")
        started = time.perf_counter()
        far_ids = {i for i, _ in create_all(pool, url, [far_due] * far, creators * 4)}
        setup_s = time.perf_counter() - started
        per_instance = setup_s / max(far, 1)
        log(f"{label}: setup took {setup_s:.1f} s ({far / setup_s:.0f} instances/s)")

        for n in worker_counts:
            row = Row(label, n, setup_s=setup_s, pending=size.pending, due=size.due)
            folder = Path(tempfile.mkdtemp(prefix=f"timer-bench-{label}-{n}-"))
            procs: list[subprocess.Popen] = []
            try:
                procs = start_workers(url, n, folder)
                # the spread: DUE timers evenly over the window, starting once all of them exist
                lead = per_instance * size.due * 1.5 + 2.0
                base = datetime.now(UTC) + timedelta(seconds=lead)
                dues = [(base + timedelta(seconds=size.window * k / size.due)).isoformat() for k in range(size.due)]
                log(f"{label} x{n}: creating {size.due:,} timers due from +{lead:.1f} s over {size.window:.0f} s")
                spread = create_all(pool, url, dues, creators)
                behind = (datetime.now(UTC) - base).total_seconds()
                if behind > 0:
                    row.notes.append(f"creation ended {behind:.1f} s after the first due time")
                with engine.db.read() as session:
                    pending = session.scalar(select(func.count()).select_from(m.Job)) or 0
                log(f"{label} x{n}: {pending:,} timers pending; waiting for the window")
                end_of_window = (base + timedelta(seconds=size.window)).timestamp()
                fired = wait_fired(engine, [i for i, _ in spread], end_of_window + 30)
                log(f"{label} x{n}: {fired:,} of {size.due:,} fired")

                # the burst: DUE timers due at one moment
                lead = per_instance * size.due * 1.5 + 2.0
                moment = (datetime.now(UTC) + timedelta(seconds=lead)).isoformat()
                log(f"{label} x{n}: burst of {size.due:,} timers due at +{lead:.1f} s")
                burst = create_all(pool, url, [moment] * size.due, creators)
                wait_fired(engine, [i for i, _ in burst], datetime.fromisoformat(moment).timestamp() + 120)
                time.sleep(1.5)  # a few more ticks: a doubled firing would show
                reports = stop_workers(procs, folder)
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                shutil.rmtree(folder, ignore_errors=True)

            late, lost, doubled, _ = lateness(engine, spread)
            row.fired, row.lost, row.doubled = len(late), lost, doubled
            row.p50, row.p95, row.max = percentile(late, 50), percentile(late, 95), max(late, default=math.nan)
            burst_late, burst_lost, burst_doubled, times = lateness(engine, burst)
            row.lost += burst_lost
            row.doubled += burst_doubled
            if len(times) > 1:
                row.burst_rate = len(burst_late) / max((max(times) - min(times)).total_seconds(), 1e-6)
            row.burst_p95, row.burst_max = percentile(burst_late, 95), max(burst_late, default=math.nan)
            if burst_lost or burst_doubled:
                row.notes.append(f"burst: {burst_lost} lost, {burst_doubled} doubled")
            early = count_fired(engine, sorted(far_ids))
            if early:
                row.notes.append(f"{early} far timers fired early")
            reported = sum(r.get("fired", 0) for r in reports)
            expected = len(late) + len(burst_late) + doubled + burst_doubled
            if reported != expected:
                row.notes.append(f"workers reported {reported} firings, the database shows {expected}")
            errors = sum(r.get("errors", 0) for r in reports)
            if errors:
                row.notes.append(f"{errors} worker errors: {[r.get('note') for r in reports if r.get('note')]}")
            row.notes.append("fired per worker " + "/".join(str(r.get("fired", 0)) for r in reports))
            row.notes.append("ticks " + "/".join(str(r.get("ticks", 0)) for r in reports)
                             + ", wake-ups scheduled " + "/".join(str(r.get("wakes", 0)) for r in reports)
                             + ", APScheduler runs skipped (tick still running) "
                             + "/".join(str(r.get("skipped", 0)) for r in reports)
                             + ", ticks that found another running " + "/".join(str(r.get("overlapped", 0)) for r in reports))
            rows.append(row)
            log(f"{label} x{n}: p50 {row.p50:.3f} s, p95 {row.p95:.3f} s, max {row.max:.3f} s, "
                f"burst {row.burst_rate:.0f} jobs/s; {'; '.join(row.notes)}")
    engine.close()
    return rows


def print_table(rows: list[Row], size: Size, poll: float) -> None:
    print()
    print(f"Timer lateness: {size.pending:,} pending, {size.due:,} due within {size.window:.0f} s; tick {poll} s; "
          f"burst of {size.due:,} due at once")
    head = (f"| {'database':<10} | {'workers':>7} | {'setup s':>7} | {'fired':>11} | {'lost':>4} | {'doubled':>7} | "
            f"{'p50 s':>6} | {'p95 s':>6} | {'max s':>6} | {'burst jobs/s':>12} | {'burst p95 s':>11} | "
            f"{'burst max s':>11} |")
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r.database:<10} | {r.workers:>7} | {r.setup_s:>7.1f} | {f'{r.fired}/{r.due}':>11} | {r.lost:>4} | "
              f"{r.doubled:>7} | {r.p50:>6.3f} | {r.p95:>6.3f} | {r.max:>6.3f} | {r.burst_rate:>12.0f} | "
              f"{r.burst_p95:>11.3f} | {r.burst_max:>11.3f} |")
    for r in rows:
        if r.notes:
            print(f"  {r.database} x{r.workers}: {'; '.join(r.notes)}")
    ok = all(r.lost == 0 and r.doubled == 0 and r.fired == r.due for r in rows)
    goal = all(r.p95 < 1.0 for r in rows)
    print(f"no timer lost or doubled: {'yes' if ok else 'NO'}; p95 under 1 s everywhere: {'yes' if goal else 'NO'}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 pending, 100 due within 20 s")
    ap.add_argument("--postgres", default=TEST_PG_URL,
                    help="PostgreSQL URL (a private schema is created and dropped)")
    ap.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--workers", default="1,3", help="comma-separated worker process counts")
    ap.add_argument("--creators", type=int, default=2, help="processes that create the instances")
    args = ap.parse_args()
    size = Size(1000, 100, 20.0) if args.quick else Size(10_000, 1000, 60.0)
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    poll = Settings.from_env().timer_poll_seconds
    rows: list[Row] = []
    total = time.perf_counter()
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rows += run_database("SQLite", f"sqlite:///{tmp}/timers.db", size, worker_counts, args.creators)
        elif database == "postgres":
            schema = f"bench_timers_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            except Exception as err:  # noqa: BLE001 - a missing server skips PostgreSQL
                print(f"PostgreSQL skipped: {err}")
                continue
            try:
                sep = "&" if "?" in args.postgres else "?"
                url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
                rows += run_database("PostgreSQL", url, size, worker_counts, args.creators)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            ap.error(f"unknown database '{database}'")
    print_table(rows, size, poll)
    print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
