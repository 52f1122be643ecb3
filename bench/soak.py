"""A soak: a steady mixed load for minutes against `stageflow serve` and `stageflow worker` on PostgreSQL, with
the memory, database connections, open files and threads of the engine processes sampled all along.

    python bench/soak.py                      # 5 minutes, a sample every 10 s
    python bench/soak.py --seconds 60 --every 5
    python bench/soak.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

The load and the sampling are those of `tests/reliability/test_soak.py` (which runs ~35 s of it in the test suite):
client threads start instances of a linear process (user task, message, one-second timer, user task) with an
`Idempotency-Key`, complete its tasks and correlate its message, over HTTP. The schema is private and dropped at
the end. Printed: one row per sample, then the growth from the end of the warm-up (the first third) to the end,
and the consistency check of everything the server acknowledged.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from engine.store import Database  # noqa: E402
from tests.helpers import TEST_PG_URL  # noqa: E402
from tests.reliability.http_load import check_consistent  # noqa: E402
from tests.reliability.test_soak import soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=TEST_PG_URL)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--every", type=float, default=10.0)
    args = parser.parse_args()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
    schema = f"sf_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.postgres else "?"
    url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
    try:
        Database(url).upgrade()
        with tempfile.TemporaryDirectory(prefix="sf-soak-") as tmp:
            samples, ledger = soak(url, Path(tmp), args.seconds, args.every)
        names = sorted({n for s in samples for n in s.rss_kib})
        print("| s | acknowledged | " + " | ".join(f"{n} RSS MiB" for n in names) + " | DB connections | fds | threads |")
        print("| --- " * (5 + len(names)) + "|")
        for s in samples:
            rss = " | ".join(f"{s.rss_kib.get(n, 0) / 1024:.1f}" for n in names)
            print(f"| {s.at:.0f} | {s.acknowledged} | {rss} | {s.connections} | {s.fds} | {s.threads} |")
        warm, last = samples[max(0, len(samples) // 3 - 1)], samples[-1]
        growth = ", ".join(f"{n} {(last.rss_kib.get(n, 0) - warm.rss_kib.get(n, 0)) / 1024:+.1f} MiB" for n in names)
        rate = (last.acknowledged - warm.acknowledged) / max(1e-9, last.at - warm.at)
        print(f"\nfrom {warm.at:.0f} s to {last.at:.0f} s: {growth}; connections {warm.connections} -> "
              f"{last.connections}, fds {warm.fds} -> {last.fds}, threads {warm.threads} -> {last.threads}; "
              f"{rate:.1f} acknowledged requests/s")
        print(f"answers: {dict(ledger.statuses)}, {len(ledger.bad)} bad, {ledger.no_answer} unanswered")
        print(f"consistency: {check_consistent(url, ledger)}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
