"""Settings, read once from the environment and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

DEFAULT_DATABASE_URL = "sqlite:///stageflow.db"


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
            timer_poll_seconds=float(env.get("STAGEFLOW_TIMER_POLL_SECONDS", "0.5")),
            script_time_limit=float(env.get("STAGEFLOW_SCRIPT_TIME_LIMIT", "5")),
            max_definition_bytes=int(env.get("STAGEFLOW_MAX_DEFINITION_BYTES", str(10 * 1024 * 1024))),
            unique_business_key=env.get("STAGEFLOW_UNIQUE_BUSINESS_KEY", "false").lower() in ("1", "true", "yes"),
            clock=env.get("STAGEFLOW_CLOCK", "system"),
            job_lock_seconds=float(env.get("STAGEFLOW_JOB_LOCK_SECONDS", "300")),
            sql_echo=env.get("STAGEFLOW_SQL_ECHO", "false").lower() in ("1", "true", "yes"),
            smtp_host=env.get("STAGEFLOW_SMTP_HOST") or None,
            smtp_port=int(env.get("STAGEFLOW_SMTP_PORT", "25")),
            smtp_security=env.get("STAGEFLOW_SMTP_SECURITY", "none").lower(),
            smtp_user=env.get("STAGEFLOW_SMTP_USER") or None,
            smtp_password=env.get("STAGEFLOW_SMTP_PASSWORD") or None,
            smtp_from=env.get("STAGEFLOW_SMTP_FROM", "Stageflow <stageflow@localhost>"),
            smtp_timeout=float(env.get("STAGEFLOW_SMTP_TIMEOUT", "10")),
        )
        if settings.smtp_security not in ("none", "starttls", "ssl"):
            raise ValueError(f"STAGEFLOW_SMTP_SECURITY must be none, starttls or ssl, not '{settings.smtp_security}'")
        return replace(settings, **overrides) if overrides else settings

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
