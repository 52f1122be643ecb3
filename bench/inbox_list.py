"""Server time of the inbox list page with 100,000 open tasks, on SQLite and PostgreSQL.

    python bench/inbox_list.py                   # 100,000 open tasks, 200 requests per variant
    python bench/inbox_list.py --quick           # 20,000 open tasks, 100 requests per variant
    python bench/inbox_list.py --databases postgres --tasks 100000 --requests 300 --no-analyze

For each database (a fresh SQLite file; a private schema of `--postgres`, dropped at the end):

1. TASKS open human tasks seeded in bulk with `http_throughput.seed_tasks` (10 candidate groups); the tasks of
   group g3 are then offered to `sales`, one in 50 of those is assigned to `mary` (sales), a third have a due date
   (some overdue) and priorities vary, so that the filters have something to find. Then ANALYZE, as `db upgrade`
   and the scheduler (hourly) do on a live database (`--no-analyze` to measure without planner statistics).
2. The inbox page (`GET /`) rendered in-process by the Flask app (the test client: no network, no browser), signed
   in as `mary` (sales) and as `admin` (admins), for the variants below. The time is the whole request: session,
   the counts of every list, the page of 25 rows and the template. Prints p50/p95/max per variant, and the plans
   of the page's queries (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) where p95 is over
   `--explain` ms.

Goal (issue): p95 under 200 ms. The figures depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from bench.http_throughput import PROCESS, _pct, seed_tasks  # noqa: E402
from engine.api import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.store import models as m  # noqa: E402
from tests.helpers import TEST_PG_URL  # noqa: E402
from web.app import create_app  # noqa: E402

PASSWORD = "bench-pass-1"
VARIANTS = [  # (user, query string)
    ("mary", ""),                                   # her default list: My tasks, newest first
    ("mary", "list=groups"),                        # her groups' unclaimed tasks, newest first
    ("mary", "list=groups&sort=due"),               # ... soonest due first
    ("mary", "list=groups&due=overdue"),            # ... overdue only
    ("mary", "list=groups&priority=high&sort=-priority"),
    ("mary", "list=groups&q=S-1234"),               # search by business key
    ("mary", "list=groups&page=40"),                # a deep page
    ("admin", "list=all"),                          # everything, newest first
    ("admin", "list=all&sort=due"),
    ("admin", "list=all&due=today"),
    ("admin", "list=all&process=bench&priority=low"),
    ("admin", "list=all&q=work"),                   # search by task name: matches every task
]


def shape_tasks(url: str) -> None:
    """Offer group g3's tasks to `sales`, assign some to mary, give a third a due date and vary priorities."""
    db = create_engine(url)
    now = datetime.now(UTC)
    with db.begin() as conn:
        g3 = select(m.IdentityLink.task_id).where(m.IdentityLink.group_id == "g3").scalar_subquery()
        conn.execute(update(m.HumanTask).where(m.HumanTask.id.in_(g3)).values(candidate_groups=["sales"]))
        conn.execute(update(m.IdentityLink).where(m.IdentityLink.group_id == "g3").values(group_id="sales"))
        sales_ids = list(conn.scalars(select(m.IdentityLink.task_id).where(m.IdentityLink.group_id == "sales")
                                      .order_by(m.IdentityLink.task_id)))
        mine = sales_ids[::50]
        for first in range(0, len(mine), 500):
            conn.execute(update(m.HumanTask).where(m.HumanTask.id.in_(mine[first:first + 500]))
                         .values(assignee="mary"))
        ids = list(conn.scalars(select(m.HumanTask.id).order_by(m.HumanTask.created_at)))
        for n, chunk_start in enumerate(range(0, len(ids), 1000)):
            chunk = ids[chunk_start:chunk_start + 1000]
            priority = (20, 50, 50, 80)[n % 4]
            values: dict[str, object] = {"priority": priority}
            if n % 3 == 0:
                values["due"] = now + timedelta(days=(n % 21) - 7, hours=n % 24)
            conn.execute(update(m.HumanTask).where(m.HumanTask.id.in_(chunk)).values(**values))
        if url.startswith("postgresql"):
            conn.execute(text("ANALYZE"))
    db.dispose()


def sign_in(client, user: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"username": user, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in of {user} failed: {response.status_code}")


def measure(app, user: str, query: str, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, user)
    path = "/?" + query if query else "/"
    latencies = []
    for i in range(count + 5):
        began = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} as {user}: {response.status_code} {response.data[:300]!r}")
        if i >= 5:  # the first requests warm the caches (templates, compiled queries)
            latencies.append(elapsed)
    return latencies


def explain(engine: Engine, user: str, query_string: str) -> None:
    """Print the plan of each query the inbox page runs for this variant (the counts of its lists, its rows)."""
    from urllib.parse import parse_qs

    from engine.identity import Principal
    from engine.tasks import SORT_COLUMNS
    from web.inbox.tasks import COUNT_CAP, LISTS, PAGE_SIZE, SORTS, Query, list_filters, narrowing

    person = Principal(user, ("admins",) if user == "admin" else ("sales",))
    query = Query.from_args({k: v[0] for k, v in parse_qs(query_string).items()}, person)
    narrow = narrowing(query, engine.clock.now())
    statements = []
    for which in [k for k in LISTS if k != "all" or person.is_admin]:
        counted = engine.tasks.query(**list_filters(which, person), **narrow).limit(COUNT_CAP + 1).subquery()
        statements.append((f"count of {which}", select(func.count()).select_from(counted)))
    _, column, order = SORTS[query.sort]
    sort = SORT_COLUMNS[column]
    rows = (engine.tasks.query(**list_filters(query.list, person), **narrow)
            .order_by((sort.desc() if order == "desc" else sort.asc()).nulls_last(), m.HumanTask.id)
            .offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    statements.append(("rows", rows))
    sqlite = engine.db.is_sqlite
    with engine.db.engine.connect() as conn:
        for label, statement in statements:
            sql = str(statement.compile(engine.db.engine, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
            plan = [row[-1] if sqlite else row[0] for row in conn.execute(text(prefix + sql))]
            print(f"    {label}:\n      " + "\n      ".join(plan))


def run(name: str, url: str, args: argparse.Namespace) -> list[dict[str, object]]:
    engine = Engine(Settings(database_url=url))
    engine.upgrade()
    engine.identity.add_user("admin", PASSWORD, ["admins"])
    engine.identity.add_user("mary", PASSWORD, ["sales"])
    engine.definitions.deploy([("bench.bpmn", PROCESS)])
    began = time.perf_counter()
    seed_tasks(url, args.tasks)
    shape_tasks(url)
    if not args.no_analyze:
        engine.db.analyze()  # what `db upgrade` and the scheduler's hourly run do: planner statistics
    print(f"[{name}] seeded {args.tasks:,} open tasks in {time.perf_counter() - began:.1f} s", flush=True)
    app = create_app({"SECRET_KEY": "bench-" + "k" * 32, "WTF_CSRF_ENABLED": False}, engine=engine)
    with engine.db.read() as session:
        open_tasks = session.scalar(select(func.count()).select_from(m.HumanTask).where(m.HumanTask.ended_at.is_(None)))
    rows = []
    try:
        for user, query in VARIANTS:
            lat = measure(app, user, query, args.requests)
            row = {"database": name, "user": user, "query": query or "(default)", "p50": _pct(lat, .5) * 1000,
                   "p95": _pct(lat, .95) * 1000, "max": max(lat) * 1000}
            rows.append(row)
            print(f"[{name}] {user:5} /?{query:45} p50 {row['p50']:6.1f} ms  p95 {row['p95']:6.1f} ms  "
                  f"max {row['max']:6.1f} ms  ({open_tasks:,} open tasks)", flush=True)
            if args.explain and float(row["p95"]) > args.explain:  # type: ignore[arg-type]
                explain(engine, user, query)
    finally:
        engine.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default=TEST_PG_URL)
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--explain", type=float, metavar="MS", default=200.0,
                        help="print the query plans of variants whose p95 is above MS (0: never; default 200)")
    parser.add_argument("--no-analyze", action="store_true",
                        help="measure without planner statistics (SQLite has none until ANALYZE runs)")
    args = parser.parse_args()
    args.tasks = args.tasks or (20_000 if args.quick else 100_000)
    args.requests = args.requests or (100 if args.quick else 200)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.databases:
            rows += run("SQLite", f"sqlite:///{tmp}/bench.db", args)
        if "postgres" in args.databases:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                rows += run("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}", args)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print(f"\n{args.tasks:,} open tasks, {args.requests} requests per row, server time in ms (Flask test client)")
    print("| database | user | query | p50 | p95 | max |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['database']} | {r['user']} | `{r['query']}` | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} |")


if __name__ == "__main__":
    main()
