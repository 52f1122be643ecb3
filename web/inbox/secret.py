"""The key that signs the inbox's session cookies and CSRF tokens.

`STAGEFLOW_SECRET_KEY` when set. Otherwise one is generated once and kept in a file, so that sessions survive a
restart and every gunicorn worker of a server signs with the same key: `STAGEFLOW_SECRET_KEY_FILE` when set, else
beside a SQLite database file (`stageflow.db` -> `stageflow.db.secret-key`), else (PostgreSQL) in
`$XDG_CONFIG_HOME/stageflow/` (`~/.config/stageflow/`) under a name derived from the database URL. Several hosts
serving one PostgreSQL database must share one key: set `STAGEFLOW_SECRET_KEY` there. An in-memory SQLite
database lives as long as its process, and so does its random key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url


class SecretKeyError(RuntimeError):
    """No key was configured and none could be kept in a file."""


def secret_key(database_url: str, environ: Mapping[str, str] | None = None) -> str:
    """The configured key, or the one kept for this database (created on first use)."""
    env = os.environ if environ is None else environ
    configured = env.get("STAGEFLOW_SECRET_KEY", "").strip()
    if configured:
        return configured
    where = env.get("STAGEFLOW_SECRET_KEY_FILE", "").strip()
    path = Path(where) if where else default_key_file(database_url, env)
    if path is None:
        return secrets.token_hex(32)
    return read_or_create(path)


def default_key_file(database_url: str, environ: Mapping[str, str]) -> Path | None:
    """Where the generated key of a database is kept (None for an in-memory database)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
            return None
        return Path(database).with_name(Path(database).name + ".secret-key")
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(config_home) / "stageflow" / f"secret-key-{digest}"


def read_or_create(path: Path) -> str:
    """The key in `path`; a new random one written there first if the file does not exist.

    The file appears whole or not at all (written under a temporary name, then hard-linked), so that workers
    starting together all read the key the first of them wrote.
    """
    try:
        try:
            return _read(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another worker was first: use its key
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return _read(path)
    except OSError as err:
        raise SecretKeyError(f"cannot keep the inbox's secret key in {path} ({err.strerror}): set "
                             "STAGEFLOW_SECRET_KEY or STAGEFLOW_SECRET_KEY_FILE") from err


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise SecretKeyError(f"the secret key in {path} is shorter than 32 characters")
    return key
