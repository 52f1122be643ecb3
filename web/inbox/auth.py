"""Signing in and out. `/` is the sign-in page for a visitor (and the inbox for a signed-in person)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from engine.errors import TooManyAttempts

from . import User, bp, engine


def safe_next(target: str | None) -> str:
    """A page of this site to go to after signing in (never another host: no open redirect)."""
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("inbox.index")
    return target


def login_page(*, error: str | None = None, user: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("login.html", error=error, user=user,
                           next=request.values.get("next", "")), status


@bp.post("/login")
def login():  # type: ignore[no-untyped-def]
    user = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        principal = engine().identity.authenticate(user, password) if user and password else None
    except TooManyAttempts as refused:
        page, status = login_page(error=f"Too many wrong passwords: try again in {refused.retry_after} seconds.",
                                  user=user, status=429)
        return page, status, {"Retry-After": str(refused.retry_after)}
    if principal is None:
        return login_page(error="Wrong user name or password.", user=user, status=401)
    session.clear()  # a fresh session (and CSRF token) for the signed-in person
    session.permanent = True
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    kept = engine().identity.open_session(principal.user_id, forget_after=lifetime)
    login_user(User(principal, engine().identity.stamp(principal.user_id), kept))
    return redirect(safe_next(request.form.get("next")))


@bp.get("/login")
def login_form():  # type: ignore[no-untyped-def]
    return redirect(url_for("inbox.index", next=request.args.get("next") or None))


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    engine().identity.end_session(current_user.session_id)  # every copy of the cookie is signed out
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("inbox.index"))
