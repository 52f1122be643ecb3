"""`stageflow serve` under gunicorn, and the user and token commands, as an operator runs them."""

from __future__ import annotations

import os
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
        decisions = requests.get(f"{base}/decision-definition", auth=("ops", "ops-pass-12"), timeout=10).json()
        assert [d["key"] for d in decisions] == ["card_type"]  # one --deploy takes several files
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2  # the gunicorn master forked two workers
    finally:
        server.terminate()
        printed = server.communicate(timeout=30)[0]
    assert "deployed order_approval version 1" in printed
    assert "deployed decision card_type version 1" in printed
