"""What every inbox page shares: dates in words, error pages, the signed-in person in the templates.

Times are the engine clock's (a virtual clock in tests) and shown in UTC.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import StageflowError

from ..badinput import bad_input
from ..unavailable import RETRY_AFTER_SECONDS, unavailable
from . import bp, engine


def now() -> datetime:
    return engine().clock.now()


@bp.app_template_filter("when")
def when(moment: datetime | None) -> str:
    """`Mon 5 Jan 2026, 09:00` (UTC), or an em dash."""
    if moment is None:
        return "—"
    return f"{moment:%a} {moment.day} {moment:%b} {moment.year:04d}, {moment:%H:%M}"  # strftime's %Y: `26` for 0026


@bp.app_template_filter("iso")
def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def span(delta: timedelta) -> str:
    """A duration in the largest unit that fits: `3 days`, `5 h`, `20 min`."""
    seconds = abs(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{int(seconds // 86400)} days"
    if seconds >= 86400:
        return "1 day"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{max(1, int(seconds // 60))} min"


def due_state(due: datetime | None, at: datetime) -> tuple[str, str]:
    """(state, words) of a due date: overdue, today, soon (within a week), later or none."""
    if due is None:
        return "none", "No due date"
    if due < at:
        return "overdue", f"Overdue by {span(at - due)}"
    if due.date() == at.date():
        return "today", f"Due today, {due:%H:%M}"
    if due - at < timedelta(days=7):  # in calendar days, as a person counts them: Thursday is in 2 days on Tuesday
        days = (due.date() - at.date()).days
        return "soon", f"Due tomorrow, {due:%H:%M}" if days == 1 else f"Due in {days} days"
    return "later", f"Due {due:%a} {due.day} {due:%b} {due.year:04d}"


@bp.app_template_filter("value")
def show_value(value: Any, limit: int = 120) -> str:
    """A variable's value as a person reads it (long ones cut)."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, datetime):
        text = when(value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    person = current_user.principal if current_user and current_user.is_authenticated else None
    return {"person": person}


def error_page(status: int, title: str, message: str):  # type: ignore[no-untyped-def]
    return render_template("error.html", status=status, title=title, message=message), status


_TITLES = {400: "Bad request", 403: "Not yours", 404: "Not found", 405: "Not allowed", 409: "Already changed",
           500: "Something went wrong", 503: "Temporarily unavailable"}


@bp.errorhandler(CSRFError)
def _csrf(err: CSRFError):  # type: ignore[no-untyped-def]
    return error_page(400, "The form has expired",
                      "The form was not sent from a page of this site, or your session has ended. "
                      "Go back, reload the page and try again.")


@bp.errorhandler(HTTPException)
def _http(err: HTTPException):  # type: ignore[no-untyped-def]
    status = err.code or 500
    return error_page(status, _TITLES.get(status, err.name), err.description or err.name)


@bp.errorhandler(StageflowError)
def _engine_error(err: StageflowError):  # type: ignore[no-untyped-def]
    err = unavailable(err) or err
    if err.status == 503:  # the page is shown as to a visitor: loading the signed-in person needs the database
        g._login_user = current_app.login_manager.anonymous_user()
    page, status = error_page(err.status, _TITLES.get(err.status, "Error"), err.message)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    return page, status, headers


@bp.errorhandler(Exception)
def _fault(err: Exception):  # type: ignore[no-untyped-def]
    known = unavailable(err) or bad_input(err)
    if known is not None:
        return _engine_error(known)
    current_app.logger.exception("unexpected error in the inbox")
    return error_page(500, _TITLES[500], "The server could not finish this request. Try again; if it keeps "
                      "happening, tell your administrator the time it happened.")
