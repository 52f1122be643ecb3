"""The timer scheduler: APScheduler ticks, the job table decides what is due.

APScheduler's own job store holds no instance timers: it only runs one interval job that asks the engine to fire
the jobs whose due time has passed (`Jobs.execute_due`), which acquires each with a row lock and runs it through
the executor like any other change.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from .errors import StageflowError

if TYPE_CHECKING:
    from .api import Engine

log = logging.getLogger("stageflow.scheduler")


class TimerScheduler:
    """Fires due timers every `poll_seconds` in a background thread, and runs the built-in external workers."""

    def __init__(self, engine: Engine, poll_seconds: float | None = None) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds or engine.settings.timer_poll_seconds
        self._scheduler = BackgroundScheduler(daemon=True)
        self._busy = threading.Lock()

    def tick(self) -> int:
        """Fire what is due now; returns how many jobs fired (0 when a tick is already running).

        After firing it also schedules a wake-up at the next due time when that comes before the next tick, so
        a timer is not late by up to a whole poll interval.
        """
        if not self._busy.acquire(blocking=False):
            return 0
        fired = 0
        try:
            while True:
                batch = self.engine.jobs.execute_due(limit=100)
                fired += batch
                if batch < 100:
                    break
            self.engine.handlers.run()  # the built-in workers (notifications, process starts)
            self.engine.mailer.deliver()  # the notifications' e-mails, when an SMTP server is configured
            self._wake_for_next()
            return fired
        except StageflowError as err:
            log.warning("timer tick failed after firing %d job(s): %s", fired, err.message)
            return fired
        finally:
            self._busy.release()

    def _wake_for_next(self) -> None:
        if not self._scheduler.running:
            return
        due = self.engine.jobs.next_due()
        if due is None:
            return
        wait = (due - self.engine.clock.now()).total_seconds()
        if 0 < wait < self.poll_seconds:
            self._scheduler.add_job(self.tick, "date", run_date=datetime.now(UTC) + timedelta(seconds=wait),
                                    id="stageflow-wake", replace_existing=True)

    def analyze(self) -> None:
        """Refresh the database's planner statistics (hourly on SQLite, which keeps none by itself)."""
        try:
            self.engine.db.analyze()
        except StageflowError as err:
            log.warning("refreshing the planner statistics failed: %s", err.message)

    def start(self) -> None:
        # A tick that outlasts the poll interval (the first one, firing what was due while the engine was down)
        # makes the next run overlap it: `tick` returns at once then (its own lock), so APScheduler may start it
        # without warning "maximum number of running instances reached" at each start.
        self._scheduler.add_job(self.tick, "interval", seconds=self.poll_seconds, id="stageflow-timers",
                                max_instances=3, coalesce=True)
        if self.engine.db.is_sqlite:
            self._scheduler.add_job(self.analyze, "interval", hours=1, id="stageflow-analyze", max_instances=1,
                                    coalesce=True, next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        self._scheduler.start()
        log.info("timer scheduler started, polling every %.2f s", self.poll_seconds)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
