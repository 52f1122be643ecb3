"""Sessions without a browser: what the cookie carries and when it is sent."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from engine.api import Engine
from engine.config import Settings
from web.app import create_app


def test_a_background_poll_does_not_resend_the_session_cookie(tmp_path: Path, sqlite_template: Path) -> None:
    """Else the poll's answer, arriving just after a sign-out, would sign the person back in."""
    shutil.copy(sqlite_template, tmp_path / "s.db")
    eng = Engine(Settings(database_url=f"sqlite:///{tmp_path}/s.db"))
    eng.identity.add_user("mary", "secret-pass-1", ["sales"])
    client = create_app({"SECRET_KEY": "s" * 40}, engine=eng).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    signed_in = client.post("/login", data={"username": "mary", "password": "secret-pass-1", "csrf_token": token})
    assert signed_in.status_code == 302 and "HttpOnly" in signed_in.headers["Set-Cookie"]
    assert "SameSite=Lax" in signed_in.headers["Set-Cookie"]

    poll = client.get("/inbox/state?list=groups")
    assert poll.status_code == 200 and poll.json["counts"] == {"mine": "0", "groups": "0"}
    assert "Set-Cookie" not in poll.headers
    assert client.get("/").status_code == 200 and "Set-Cookie" not in client.get("/").headers

    assert client.post("/logout", data={"csrf_token": token}).status_code == 400  # signing in made a new token
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/inbox/state").status_code == 302  # signed out: to the sign-in page
    eng.close()
