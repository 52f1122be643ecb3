"""PostgreSQL restarted under load: requests fail cleanly with 503 while it is down, and the engine resumes by itself.

A private PostgreSQL cluster (never the shared one) serves a real `stageflow serve` (gunicorn) while client threads
drive the mixed process over HTTP. The cluster is stopped with `pg_ctl -m immediate` (connections cut, as in a
crash) and started again a few seconds later. While it is down every answer is a 503 with a JSON body and a
`Retry-After` header (the inbox: a 503 page), never a 500 or a traceback; once it is back, the same server
answers again without a restart, the timer scheduler fires what fell due meanwhile, and every acknowledged request
is in the database once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.reliability.http_load import (
    ADMIN,
    Driver,
    Ledger,
    check_consistent,
    environment,
    free_port,
    prepare,
    server,
    wait_up,
)
from tests.reliability.private_pg import PrivateCluster

DOWN_SECONDS = 3.0
RESUME_WITHIN = 15.0


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    pg = PrivateCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


def inbox_session(base: str) -> requests.Session:
    """A signed-in inbox session (the sign-in form with its CSRF token)."""
    session = requests.Session()
    page = session.get(f"{base}/", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:500]
    signed_in = session.post(f"{base}/login", data={"csrf_token": token.group(1), "username": ADMIN[0],
                                                     "password": ADMIN[1], "next": ""}, timeout=10)
    assert signed_in.status_code == 200 and "Sign in" not in signed_in.text[:2000], signed_in.text[:500]
    return session


def test_postgres_restarted_under_load_gives_503_then_the_engine_resumes(cluster: PrivateCluster,
                                                                         tmp_path: Path) -> None:
    began = time.monotonic()
    env = environment(cluster.url)
    process = prepare(env, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = server(env, port, tmp_path / "serve.log", workers=1, threads=8, deploy=process)
    serve.start()
    try:
        wait_up(base, serve)
        inbox = inbox_session(base)
        ledger = Ledger()
        driver = Driver([base], ledger, threads=3, prefix="O")
        driver.start()
        time.sleep(1.5)  # some instances at every step, some timers pending
        api = requests.Session()
        api.auth = ADMIN

        cluster.stop()
        down_at = time.monotonic()
        time.sleep(0.5)
        during = api.get(f"{base}/engine-rest/task", timeout=10)
        page = inbox.get(f"{base}/", timeout=10)
        while time.monotonic() - down_at < DOWN_SECONDS:
            time.sleep(0.1)
        cluster.start()
        back_at = time.monotonic()
        while True:  # the same server answers again without being restarted
            answer = api.get(f"{base}/engine-rest/task", timeout=10)
            if answer.status_code == 200:
                break
            assert answer.status_code == 503, answer.text
            assert time.monotonic() - back_at < RESUME_WITHIN, "the engine did not resume after the database did"
            time.sleep(0.1)
        resumed_after = time.monotonic() - back_at
        acked_before = len(ledger.started)
        time.sleep(2.0)  # load on the recovered database, the timers that fell due meanwhile fire
        driver.stop()
        assert len(ledger.started) > acked_before, "no start was acknowledged after the database came back"

        # while the database was down: a clean 503, JSON with Retry-After; the inbox a 503 page
        assert during.status_code == 503, during.text
        assert during.headers["Retry-After"].isdigit()
        assert during.json() == {"type": "ProcessEngineException", "code": 0,
                                 "message": "the database is busy or cannot be reached right now; "
                                            "try again in a few seconds"}
        assert page.status_code == 503 and "Retry-After" in page.headers, page.text[:500]
        assert "Temporarily unavailable" in page.text and "Traceback" not in page.text
        assert "127.0.0.1" not in page.text and str(cluster.port) not in page.text
        # every answer of the load was a 2xx, an expected 4xx or a clean 503
        assert ledger.statuses[503] > 0, ledger.statuses
        assert ledger.bad == [], ledger.bad[:5]
        assert serve.popen is not None and serve.popen.poll() is None, "the server died with the database"
        assert inbox.get(f"{base}/", timeout=10).status_code == 200

        # every acknowledged start, completion and message is there once; every instance is on its path
        counts = check_consistent(cluster.url, ledger)
        assert counts["acked_completions"] > 0 and counts["timers_fired"] > 0, counts
        print(f"outage: {ledger.statuses}, resumed {resumed_after:.2f} s after the database, {counts}")
    finally:
        serve.stop()
    assert time.monotonic() - began < 60


def test_the_scheduler_fires_timers_that_fell_due_while_the_database_was_down(cluster: PrivateCluster,
                                                                               tmp_path: Path) -> None:
    env = environment(cluster.url)
    process = prepare(env, tmp_path)
    worker_env = {**env, "STAGEFLOW_TIMER_POLL_SECONDS": "0.1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = server(worker_env, port, tmp_path / "serve.log", workers=1, threads=4, deploy=process)
    serve.start()
    try:
        wait_up(base, serve)
        api = requests.Session()
        api.auth = ADMIN
        ids = []
        for n in range(5):
            started = api.post(f"{base}/engine-rest/process-definition/key/mixed/start",
                               json={"businessKey": f"T-{n}"}, timeout=10).json()
            [task] = api.get(f"{base}/engine-rest/task?processInstanceId={started['id']}", timeout=10).json()
            assert api.post(f"{base}/engine-rest/task/{task['id']}/complete", json={}, timeout=10).status_code == 204
            ids.append(started["id"])
        cluster.stop()  # the timers (PT1S) fall due while nothing can be read
        for instance_id in ids:
            # a message for an instance cannot be delivered now: the caller is told to retry
            answer = api.post(f"{base}/engine-rest/message", json={"messageName": "paid",
                                                                  "processInstanceId": instance_id}, timeout=10)
            assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
        cluster.start()
        for instance_id in ids:
            deadline = time.monotonic() + RESUME_WITHIN
            while api.post(f"{base}/engine-rest/message", json={"messageName": "paid",
                                                                "processInstanceId": instance_id},
                           timeout=10).status_code != 204:
                assert time.monotonic() < deadline, "messages are not delivered after the database came back"
                time.sleep(0.1)
        deadline = time.monotonic() + RESUME_WITHIN
        while True:  # the scheduler survived its failed ticks and fires the timers on its own
            open_ship = api.get(f"{base}/engine-rest/task?taskDefinitionKey=ship", timeout=10).json()
            if len(open_ship) == len(ids):
                break
            assert time.monotonic() < deadline, f"only {len(open_ship)} of {len(ids)} timers fired"
            time.sleep(0.2)
        assert sorted(t["processInstanceId"] for t in open_ship) == sorted(ids)
        assert "timer tick failed" in serve.log.read_text()  # it did fail meanwhile, and carried on
    finally:
        serve.stop()
