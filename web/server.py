"""`stageflow serve`: the inbox and REST API under gunicorn, with the timer scheduler in every worker.

Gunicorn's threaded workers (`gthread`) serve requests; a long-polling `fetchAndLock` holds one thread, not a
whole worker. Each worker has threads for requests and, besides them, threads for waiting polls (`long_polls`, 32 by
default): a poll beyond those is answered at once, and the requests never wait for a thread a poll holds. Each
worker process builds its own `Engine` after the fork and runs a `TimerScheduler`: jobs are acquired with row
locks, so several workers (and several servers on one PostgreSQL) fire each timer once.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from engine.api import Engine
from engine.config import Settings
from engine.scheduler import TimerScheduler

from .app import create_app

log = logging.getLogger("stageflow.server")
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Let the C library's malloc keep at most `arenas` pools for all threads; True when it took it (glibc).

    glibc gives each thread that contends for memory a pool of its own, each reserving 64 MB of address space, up
    to eight per core: a worker's 40 threads reached 1 GB of address space (measured: 1,047 MB against 121 MB
    capped, 32 threads), which `--memory-limit` counts, and grew its resident memory. Called before gunicorn
    forks, so every worker inherits it; Python's own allocator is untouched."""
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc: its malloc keeps its own ways
        return False


class StageflowServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose workers each build the Flask app around their own engine."""

    def __init__(self, settings: Settings, options: dict[str, Any], *, scheduler: bool = True,
                 long_polls: int = 0) -> None:
        self.settings = settings
        self.options = options
        self.scheduler = scheduler
        self.long_poll_slots = long_polls  # of the worker's threads, those that may hold a waiting fetchAndLock
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        engine = Engine(self.settings)
        if self.scheduler:
            _schedulers.append(TimerScheduler(engine))
            _schedulers[-1].start()
        return create_app({"LONG_POLL_SLOTS": self.long_poll_slots}, engine=engine)


_schedulers: list[TimerScheduler] = []  # this worker process's (one at most)


def _stop_schedulers(server: Any, worker: Any) -> None:
    """gunicorn's `worker_exit` hook: stop the worker's timer scheduler before the interpreter shuts down its
    thread pools (a tick submitted after that dies with a traceback: "cannot schedule new futures")."""
    while _schedulers:
        _schedulers.pop().stop()


def serve(settings: Settings, *, host: str, port: int, workers: int = 2, threads: int = 8, long_polls: int = 32,
          scheduler: bool = True) -> None:
    """Run gunicorn on host:port until stopped (SIGINT/SIGTERM): each worker with `threads` threads for requests
    and `long_polls` more for long-polling fetchAndLock requests that wait (a waiting poll sleeps in its thread and
    reads the database a few times a second)."""
    options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": threads + long_polls,
               "timeout": 60, "graceful_timeout": 10, "accesslog": None, "errorlog": "-", "loglevel": "warning",
               "proc_name": "stageflow", "worker_exit": _stop_schedulers}
    cap_malloc_arenas()
    StageflowServer(settings, options, scheduler=scheduler, long_polls=long_polls).run()
