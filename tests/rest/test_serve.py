"""`stageflow serve` under gunicorn, and the user and token commands, as an operator runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.helpers import wait_until_serving

REPO = Path(__file__).resolve().parents[2]
STAGEFLOW = [sys.executable, "-m", "engine.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STAGEFLOW, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_serve_runs_gunicorn_workers_that_answer_with_users_and_tokens(tmp_path: Path) -> None:
    env = {**os.environ, "STAGEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "PYTHONPATH": str(REPO)}
    added = _cli(env, "user", "add", "ops", "--password", "ops-pass-12", "--group", "admins")
    assert added.returncode == 0, added.stderr
    assert "user ops added to admins" in added.stdout
    again = _cli(env, "user", "add", "ops", "--password", "ops-pass-12")
    assert again.returncode != 0 and "already exists" in again.stderr
    short = _cli(env, "user", "add", "eve", "--password", "short")
    assert short.returncode != 0 and "at least 8 characters" in short.stderr
    token = _cli(env, "token", "create", "--user", "ops").stdout.strip()
    assert token.startswith("sf_")
    # deployed by hand first: `serve --deploy` of the same file makes no second version (it made version 2)
    assert _cli(env, "deploy", str(REPO / "examples" / "order_approval.bpmn")).returncode == 0

    port = _free_port()
    server = subprocess.Popen([*STAGEFLOW, "serve", "--port", str(port), "--workers", "2",
                               "--deploy", str(REPO / "examples" / "order_approval.bpmn"),
                               str(REPO / "processes" / "card_rules.dmn")],
                              env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/engine-rest"
    try:
        try:
            wait_until_serving(base, alive=lambda: server.poll() is None)
        except (RuntimeError, TimeoutError) as err:
            story = server.communicate()[1] if server.poll() is not None else ""
            raise AssertionError(f"{err} {story}") from err
        assert requests.get(f"{base}/process-definition", timeout=10).status_code == 401
        by_password = requests.get(f"{base}/process-definition", auth=("ops", "ops-pass-12"), timeout=10)
        assert by_password.status_code == 200 and by_password.json(), by_password.text
        by_token = requests.get(f"{base}/process-definition", headers={"Authorization": f"Bearer {token}"},
                                timeout=10)
        assert by_token.json() == by_password.json()
        assert [d["version"] for d in by_password.json() if d["key"] == "order_approval"] == [1]
        decisions = requests.get(f"{base}/decision-definition", auth=("ops", "ops-pass-12"), timeout=10).json()
        assert [d["key"] for d in decisions] == ["card_type"]  # one --deploy takes several files
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2  # the gunicorn master forked two workers
    finally:
        server.terminate()
        printed = server.communicate(timeout=30)[0]
    assert "unchanged: order_approval version 1" in printed
    assert "deployed decision card_type version 1" in printed


def test_long_polls_wait_in_threads_of_their_own(tmp_path: Path) -> None:
    """Eight workers long-polling an idle topic against one gunicorn worker with two threads for requests and six
    for long polls (`--long-polls 6`): six polls wait, the other two are answered at once with nothing, and every
    other request is still answered while they wait. Polls once took all of a worker's threads (the rest of the API
    waited out their timeout), then at most half of them (with the default 8 threads, a fifth worker already polled
    three times a second: seen with camunda-external-task-client-js)."""
    import threading

    env = {**os.environ, "STAGEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'polls.db'}", "PYTHONPATH": str(REPO)}
    assert _cli(env, "user", "add", "ops", "--password", "ops-pass-12", "--group", "admins").returncode == 0
    port = _free_port()
    server = subprocess.Popen([*STAGEFLOW, "serve", "--port", str(port), "--workers", "1", "--threads", "2",
                               "--long-polls", "6"],
                              env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}/engine-rest"
    answered: list[list] = []
    done = threading.Condition()

    def poll(n: int) -> None:
        try:
            tasks = requests.post(f"{base}/external-task/fetchAndLock", auth=("ops", "ops-pass-12"), timeout=60,
                                  json={"workerId": f"w{n}", "maxTasks": 1, "asyncResponseTimeout": 40000,
                                        "topics": [{"topicName": "idle", "lockDuration": 1000}]}).json()
        except requests.RequestException:  # the server stopped under it
            return
        with done:
            answered.append(tasks)
            done.notify_all()

    try:
        wait_until_serving(base, alive=lambda: server.poll() is None)
        polls = [threading.Thread(target=poll, args=(n,), daemon=True) for n in range(8)]
        for p in polls:
            p.start()
        with done:
            assert done.wait_for(lambda: len(answered) >= 2, timeout=20), "every poll held a thread"
        assert answered == [[], []]
        for _ in range(3):  # both request threads free, again and again
            count = requests.get(f"{base}/task/count", auth=("ops", "ops-pass-12"), timeout=20)
            assert count.status_code == 200 and count.json() == {"count": 0}
        assert sum(p.is_alive() for p in polls) == 6  # the six waiting polls still wait
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # master and worker: a graceful stop would wait out the polls
        server.communicate(timeout=30)
