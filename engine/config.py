"""Settings, read once from the environment and passed down."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .errors import StageflowError

DEFAULT_DATABASE_URL = "sqlite:///stageflow.db"


class InvalidSetting(StageflowError, ValueError):
    """An environment variable Stageflow cannot use; the message names it and its value."""


def _clock(text: str) -> str:
    """`STAGEFLOW_CLOCK`, checked: `system`, or `virtual` with an optional ISO start."""
    from .clock import clock_from_name

    try:
        clock_from_name(text)
    except ValueError:
        raise InvalidSetting(f"STAGEFLOW_CLOCK must be 'system' or 'virtual[:2026-01-05T09:00:00+00:00]', "
                             f"not '{text}'") from None
    return text


def _number(env: Mapping[str, str], name: str, default: float, kind: type[float] | type[int] = float,
            *, most: float | None = None) -> float:
    """`env[name]` as a number above 0 (and at most `most`); unset or empty gives `default`."""
    text = env.get(name, "").strip()
    if not text:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        raise InvalidSetting(f"{name} must be {what}, not '{text}'") from None
    # nan and inf parse as floats, and 0 or less would stop timers and scripts: refused the same way
    if not math.isfinite(value) or value <= 0 or (most is not None and value > most):
        bound = f" and at most {most:g}" if most is not None else ""
        raise InvalidSetting(f"{name} must be {what} above 0{bound}, not '{text}'")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one engine; built from the environment by `from_env`."""

    database_url: str = DEFAULT_DATABASE_URL
    timer_poll_seconds: float = 0.5
    script_time_limit: float = 5.0
    max_definition_bytes: int = 10 * 1024 * 1024
    unique_business_key: bool = False
    clock: str = "system"
    job_lock_seconds: float = 300.0
    sql_echo: bool = False
    smtp_host: str | None = None  # customer notifications are mailed when set (engine/mailer.py)
    smtp_port: int = 25
    smtp_security: str = "none"  # none, starttls or ssl
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Stageflow <stageflow@localhost>"
    smtp_timeout: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read `STAGEFLOW_*` variables, falling back to the defaults."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("STAGEFLOW_DATABASE_URL", DEFAULT_DATABASE_URL),
            timer_poll_seconds=_number(env, "STAGEFLOW_TIMER_POLL_SECONDS", 0.5),
            script_time_limit=_number(env, "STAGEFLOW_SCRIPT_TIME_LIMIT", 5.0),
            max_definition_bytes=int(_number(env, "STAGEFLOW_MAX_DEFINITION_BYTES", 10 * 1024 * 1024, int)),
            unique_business_key=env.get("STAGEFLOW_UNIQUE_BUSINESS_KEY", "false").lower() in ("1", "true", "yes"),
            clock=_clock(env.get("STAGEFLOW_CLOCK", "system")),
            job_lock_seconds=_number(env, "STAGEFLOW_JOB_LOCK_SECONDS", 300.0),
            sql_echo=env.get("STAGEFLOW_SQL_ECHO", "false").lower() in ("1", "true", "yes"),
            smtp_host=env.get("STAGEFLOW_SMTP_HOST") or None,
            smtp_port=int(_number(env, "STAGEFLOW_SMTP_PORT", 25, int, most=65535)),
            smtp_security=env.get("STAGEFLOW_SMTP_SECURITY", "none").lower(),
            smtp_user=env.get("STAGEFLOW_SMTP_USER") or None,
            smtp_password=env.get("STAGEFLOW_SMTP_PASSWORD") or None,
            smtp_from=env.get("STAGEFLOW_SMTP_FROM", "Stageflow <stageflow@localhost>"),
            smtp_timeout=_number(env, "STAGEFLOW_SMTP_TIMEOUT", 10.0),
        )
        if settings.smtp_security not in ("none", "starttls", "ssl"):
            raise InvalidSetting(f"STAGEFLOW_SMTP_SECURITY must be none, starttls or ssl, "
                                 f"not '{settings.smtp_security}'")
        return replace(settings, **overrides) if overrides else settings

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
