"""The key that signs sessions: configured, or generated once and kept, the same for every worker."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from web.inbox.secret import SecretKeyError, default_key_file, read_or_create, secret_key


def test_a_configured_key_wins(tmp_path: Path) -> None:
    env = {"STAGEFLOW_SECRET_KEY": "from-the-environment-" + "x" * 20}
    assert secret_key(f"sqlite:///{tmp_path}/s.db", env) == env["STAGEFLOW_SECRET_KEY"]
    assert not list(tmp_path.iterdir())


def test_a_generated_key_is_kept_beside_the_sqlite_database_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/stageflow.db"
    first = secret_key(url, {})
    assert len(first) == 64
    kept = tmp_path / "stageflow.db.secret-key"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert secret_key(url, {}) == first  # a restart (or another worker) signs with the same key


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "shared.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create(path), range(16)))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["shared.key"]  # no temporary files left


def test_where_keys_are_kept(tmp_path: Path) -> None:
    assert default_key_file("sqlite://", {}) is None  # in memory: a key for the process's life
    assert default_key_file("sqlite:///:memory:", {}) is None
    assert default_key_file("sqlite:///data/flow.db", {}) == Path("data/flow.db.secret-key")
    pg = default_key_file("postgresql+psycopg://app@db:5432/flow", {"XDG_CONFIG_HOME": str(tmp_path)})
    assert pg is not None and pg.parent == tmp_path / "stageflow" and pg.name.startswith("secret-key-")
    other = default_key_file("postgresql+psycopg://app@db:5432/other", {"XDG_CONFIG_HOME": str(tmp_path)})
    assert other != pg  # one key per database
    assert secret_key("sqlite://", {}) != secret_key("sqlite://", {})
    explicit = tmp_path / "keys" / "inbox.key"
    assert secret_key("sqlite://", {"STAGEFLOW_SECRET_KEY_FILE": str(explicit)}) == explicit.read_text().strip()


def test_a_key_that_cannot_be_kept_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(SecretKeyError, match="STAGEFLOW_SECRET_KEY"):
        read_or_create(blocker / "key")
    short = tmp_path / "short.key"
    short.write_text("abc\n")
    with pytest.raises(SecretKeyError, match="shorter than 32"):
        read_or_create(short)


def test_an_app_serving_only_the_rest_api_keeps_no_key(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    from engine.api import Engine
    from engine.config import Settings
    from web.app import create_app

    shutil.copy(sqlite_template, tmp_path / "api.db")
    eng = Engine(Settings(database_url=f"sqlite:///{tmp_path}/api.db"))
    eng.identity.add_user("mary", "secret-pass-1", ["sales"])
    client = create_app(engine=eng).test_client()
    response = client.get("/engine-rest/task", auth=("mary", "secret-pass-1"))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert client.post("/engine-rest/task/count", json={}, auth=("mary", "secret-pass-1")).status_code == 200
    assert not (tmp_path / "api.db.secret-key").exists()

    assert client.get("/").status_code == 200  # the sign-in page: now the key is made and kept
    assert (tmp_path / "api.db.secret-key").exists()
    eng.close()
