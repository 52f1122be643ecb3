"""Several servers deploy the same new file at the same moment: each gets an answer, and there is one version.

Every "server" is an `Engine` of its own on the same database URL, as processes behind a load balancer would be.
Before deployments ran one at a time, all but one failed on PostgreSQL with a duplicate (key, version).
"""

from __future__ import annotations

import threading
from typing import Any

from engine.api import Engine
from engine.config import Settings
from tests.helpers import bpmn, chain

SERVERS = 4
ROUNDS = 3


def _model(round_: int) -> bytes:
    return bpmn(f'<bpmn:startEvent id="s"/><bpmn:userTask id="t{round_}"/><bpmn:endEvent id="e"/>'
                + chain("s", f"t{round_}", "e"), process_id="raced")


def test_concurrent_deployments_of_one_file_make_one_version(database_url: str) -> None:
    engines = [Engine(Settings(database_url=database_url)) for _ in range(SERVERS)]
    try:
        for round_ in range(1, ROUNDS + 1):
            content = _model(round_)
            barrier = threading.Barrier(SERVERS)
            results: list[Any] = [None] * SERVERS

            def work(i: int, content: bytes = content, barrier: threading.Barrier = barrier,
                     results: list[Any] = results) -> None:
                try:
                    barrier.wait(timeout=10)
                    results[i] = engines[i].definitions.deploy([("raced.bpmn", content)])
                except Exception as err:  # noqa: BLE001 - any failure fails the test below
                    results[i] = err

            threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(SERVERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            failures = [r for r in results if not hasattr(r, "created")]
            assert not failures, failures
            assert sum(r.created for r in results) == 1  # one deployed it, the others found it deployed
            assert {d.version for r in results for d in r.definitions} == {round_}
            versions = [d.version for d in engines[0].definitions.list(key="raced")]
            assert sorted(versions) == list(range(1, round_ + 1))
    finally:
        for eng in engines:
            eng.close()
