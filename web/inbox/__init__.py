"""The web inbox: sign in, the task lists, task pages with their generated forms, and the start page.

Server-rendered pages (Jinja templates in `web/templates/`, one stylesheet in `web/static/`) over
`engine.api.Engine`, like the REST API. People sign in with their Stageflow user (Flask-Login keeps them in a
signed session cookie); every form carries a CSRF token (Flask-WTF's `CSRFProtect`, which the REST API is exempt
from: it authenticates every request itself). A person sees and works only the tasks they are assignee or
candidate of, directly or through a group; members of `admins` see everything.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

from flask import Blueprint, Flask, Request, abort, current_app, flash, redirect, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from engine.api import Engine
from engine.identity import Principal
from engine.views import TaskView

from .secret import secret_key

bp = Blueprint("inbox", __name__)


class User(UserMixin):
    """The signed-in person, as Flask-Login holds them.

    The session keeps the user's name, a fingerprint of their password hash (`identity.session_stamp`), so a
    new password signs out every session opened with the old one, and the id of the session the server keeps
    (`identity.open_session`), so that signing out ends it for every copy of the cookie.
    """

    def __init__(self, principal: Principal, stamp: str, session_id: str) -> None:
        self.principal = principal
        self.id = principal.user_id
        self.stamp = stamp
        self.session_id = session_id

    def get_id(self) -> str:
        return f"{self.id}|{self.stamp}|{self.session_id}"


class Sessions(SecureCookieSessionInterface):
    """Signed cookie sessions for the pages, none for the REST API.

    Without a configured key, the key is found (or made and kept, see `secret`) when the first page needs a
    session, so that an app that only ever serves the REST API (tests, integrations) leaves no key file behind.
    """

    def __init__(self, database_url: str, stateless_prefixes: tuple[str, ...]) -> None:
        self.database_url = database_url
        self.stateless_prefixes = stateless_prefixes
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.stateless_prefixes and request.path.startswith(self.stateless_prefixes):
            return None  # a null session: the REST API authenticates every request
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            with self._lock:
                if not app.secret_key:
                    app.secret_key = secret_key(self.database_url)
        return super().get_signing_serializer(app)


def init_app(app: Flask, engine: Engine, *, apis: tuple[Blueprint, ...] = ()) -> None:
    """Sessions, sign-in, CSRF protection and the inbox's pages on `app`.

    The `apis` blueprints authenticate every request themselves: no session, no CSRF token.
    """
    prefixes = tuple(api.url_prefix.rstrip("/") + "/" for api in apis if api.url_prefix)
    app.session_interface = Sessions(engine.settings.database_url, prefixes)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if os.environ.get("STAGEFLOW_SECURE_COOKIES", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True  # served over HTTPS only
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config.get("STAGEFLOW_SESSION_LIFETIME", timedelta(hours=12))
    # a cookie is sent only when the session changes: otherwise the answer to a list's background poll, sent
    # just after a sign-out, would put the signed-out session back in the browser
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    # a form left open over lunch must still submit: the token lives as long as the session, not an hour
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)

    csrf = CSRFProtect(app)
    for api in apis:
        csrf.exempt(api)

    login = LoginManager(app)
    login.login_view = "inbox.index"
    login.login_message = "Sign in to see that page."
    login.login_message_category = "info"

    @login.user_loader
    def _load(cookie_id: str) -> User | None:
        signed_in, _, session_id = cookie_id.rpartition("|")
        user_id, _, stamp = signed_in.rpartition("|")
        principal = engine.identity.session_principal(user_id, stamp, session_id) if user_id else None
        # None: deleted, a new password since they signed in, or signed out (a cookie from before sessions were
        # kept too: that person signs in again)
        return User(principal, stamp, session_id) if principal is not None else None

    app.register_blueprint(bp)


def engine() -> Engine:
    return current_app.extensions["stageflow"]


def me() -> Principal:
    """The signed-in person (views that call this are behind `login_required`)."""
    return current_user.principal  # type: ignore[no-any-return]


def visible_task(task_id: str) -> TaskView:
    """The task, or a 403 page when this person may not see it (404 when there is none); the delegate who has just
    given it back is sent to the task list with a note instead."""
    task = engine().tasks.get(task_id)
    person = me()
    if not person.sees(task):
        if _gave_back(task, person.user_id):  # a second click on Resolve, or the page again after it
            flash(f"You gave “{task.name or task.task_definition_key}” back to {task.assignee or 'its candidates'}"
                  " already.", "success")
            abort(redirect(url_for("inbox.index")))
        abort(403, "This task is someone else's: you are neither its assignee nor one of its candidates.")
    return task


def _gave_back(task: TaskView, user_id: str) -> bool:
    """Whether `user_id` was the task's delegate and resolved it (the last delegation event is their resolution)."""
    if task.delegation_state != "RESOLVED":
        return False
    events = [h for h in engine().instances.history(task.process_instance_id, max_results=5000)
              if h.task_id == task.id and h.event in ("delegated", "resolved")]
    return bool(events) and events[-1].event == "resolved" and events[-1].user_id == user_id


from . import auth, designer, instances, pages, reports, start, tasks  # noqa: E402,F401 - the routes register themselves on `bp`
