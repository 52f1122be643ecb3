"""A private, throwaway PostgreSQL cluster for tests that stop and restart the database server.

The shared PostgreSQL on 127.0.0.1:5432 is never stopped: other tests run on it. This one is made with `initdb`
in a temporary directory, runs as the `postgres` OS user on a free port and is stopped with `-m immediate`
(as a crash or a `kill -9` of the postmaster would). `fsync=off`: the data lives only as long as the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import IN_CI

PG_BIN = Path(os.environ.get("STAGEFLOW_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateCluster:
    """`initdb`, `start`, `stop` (immediate), `close`; `url` is the SQLAlchemy URL of its `postgres` database."""

    def __init__(self) -> None:
        missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
        if missing or (os.geteuid() == 0 and shutil.which("runuser") is None):
            reason = f"a private PostgreSQL cluster needs {PG_BIN}/initdb, pg_ctl and postgres (missing: {missing})"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
        self.dir = Path(tempfile.mkdtemp(prefix="stageflow-pg-"))  # not under pytest's 0700 tmp: postgres reads it
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8")

    def _run(self, *args: str) -> None:
        done = subprocess.run([*_as_postgres(), *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=100")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop at once, as a crash would: open connections are cut, the next start recovers from the WAL."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError):
                self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
