"""Guessing passwords is slowed down, and a new password ends the sessions opened with the old one.

After three wrong passwords in a row for a user, sign-in is refused for 3 s, then 6, 12, ... up to 60 s after each
further wrong one (Camunda 7's login delay), whatever the password, on the sign-in page (429 with a message) and
on the REST API (429 with JSON and `Retry-After`). The count is kept in the database and a right password resets
it. (The Flask test client and the engine's virtual clock: no browser, no sleeping.)
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.api import Engine
from engine.clock import VirtualClock
from engine.identity import login_delay
from engine.store import models as m
from tests.helpers import post_sign_in
from web.app import create_app

PASSWORD = "secret-pass-1"


@pytest.fixture
def app(sqlite_engine: Engine, clock: VirtualClock) -> Any:
    sqlite_engine.identity.clock = clock  # the lock-outs' clock (real time otherwise), moved by the tests
    sqlite_engine.identity.add_user("mary", PASSWORD, ["sales"])
    sqlite_engine.identity.add_user("john", PASSWORD, ["sales"])
    return create_app({"SECRET_KEY": "sign-in-tests-" + "k" * 32}, engine=sqlite_engine)


def rest(client: Any, user: str, password: str) -> Any:
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return client.get("/engine-rest/task", headers={"Authorization": f"Basic {basic}"})


def test_the_delay_grows_from_3_to_60_seconds_after_three_free_tries() -> None:
    assert [login_delay(n) for n in range(0, 11)] == [0, 0, 0, 3, 6, 12, 24, 48, 60, 60, 60]


def test_after_three_wrong_passwords_the_sign_in_page_asks_to_wait(app: Any, clock: VirtualClock) -> None:
    client = app.test_client()
    for _ in range(3):
        assert post_sign_in(client, "mary", "wrong-password").status_code == 401
    refused = post_sign_in(client, "mary", PASSWORD)  # even the right password, while the delay runs
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"
    assert "Too many wrong passwords: try again in 3 seconds." in refused.text
    assert post_sign_in(app.test_client(), "john", PASSWORD).status_code == 302  # other people are not slowed down

    clock.advance(seconds=3)
    assert post_sign_in(client, "mary", PASSWORD).status_code == 302
    # the right password reset the count: the next typo is free again
    assert post_sign_in(app.test_client(), "mary", "wrong-password").status_code == 401
    assert post_sign_in(app.test_client(), "mary", PASSWORD).status_code == 302


def test_each_further_wrong_password_doubles_the_wait_on_the_rest_api_too(app: Any, clock: VirtualClock) -> None:
    client = app.test_client()
    for _ in range(3):
        assert rest(client, "mary", "wrong-password").status_code == 401
    waits = []
    for _ in range(3):
        answer = rest(client, "mary", PASSWORD)
        assert answer.status_code == 429
        assert answer.json["type"] == "AuthenticationException"
        assert "too many wrong passwords for 'mary'" in answer.json["message"]
        waits.append(int(answer.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        assert rest(client, "mary", "still-wrong").status_code == 401
    assert waits == [3, 6, 12]
    clock.advance(seconds=24)
    assert rest(client, "mary", PASSWORD).status_code == 200


def test_a_new_password_signs_out_the_sessions_opened_with_the_old_one(app: Any, sqlite_engine: Engine) -> None:
    mary, other = app.test_client(), app.test_client()
    assert post_sign_in(mary, "mary", PASSWORD).status_code == 302
    assert post_sign_in(other, "mary", PASSWORD).status_code == 302
    assert signed_in_as(mary) == "mary"

    sqlite_engine.identity.set_password("mary", "a-new-password-2")
    for client in (mary, other):
        assert signed_in_as(client) is None
        answer = client.get("/start")
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/?next=")
    assert post_sign_in(mary, "mary", "a-new-password-2").status_code == 302
    assert signed_in_as(mary) == "mary"


def signed_in_as(client: Any) -> str | None:
    """Whom `/` greets: the inbox names the signed-in person; a visitor gets the sign-in form."""
    page = client.get("/").text
    if 'name="password"' in page:
        return None
    return re.search(r'class="who">\s*<span[^>]*>([^<]+)</span>', page).group(1)


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(app: Any, sqlite_engine: Engine) -> None:
    """The cookie of a signed-out session signs no one in, even copied elsewhere before the sign-out (a shared
    computer, a stolen cookie); the person's other sessions go on."""
    mary, other = app.test_client(), app.test_client()
    assert post_sign_in(mary, "mary", PASSWORD).status_code == 302
    assert post_sign_in(other, "mary", PASSWORD).status_code == 302
    copied = app.test_client()
    cookie = mary.get_cookie("session")
    copied.set_cookie("session", cookie.value)
    assert signed_in_as(copied) == "mary"
    token = re.search(r'name="csrf_token" value="([^"]+)"', mary.get("/").text).group(1)
    assert mary.post("/logout", data={"csrf_token": token}).status_code == 302
    assert signed_in_as(mary) is None
    assert signed_in_as(copied) is None  # the copy taken before the sign-out no longer works
    assert copied.get("/inbox/state").status_code == 302
    assert signed_in_as(other) == "mary"  # her session elsewhere is still hers


def test_a_lock_out_ends_in_real_time_while_processes_run_on_a_virtual_clock(sqlite_engine: Engine) -> None:
    """`STAGEFLOW_CLOCK=virtual` (a demo, a simulation) stands the engine's clock still: a lock-out measured on it
    never ended. Sign-ins follow the real clock."""
    identity = sqlite_engine.identity
    identity.add_user("wes", PASSWORD, ["sales"])
    assert isinstance(sqlite_engine.clock, VirtualClock)  # the engine's clock does not move by itself
    before = datetime.now(UTC)
    for _ in range(3):
        assert identity.authenticate("wes", "wrong-password") is None
    with sqlite_engine.db.read() as session:
        locked_until = session.get(m.UserAccount, "wes").locked_until
    assert before < locked_until <= datetime.now(UTC) + timedelta(seconds=3)  # 3 s of real time from the lock
