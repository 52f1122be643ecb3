"""A real HTTP server (werkzeug, in a thread) around the test's engine, and users to call it as."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from engine.api import Engine
from tests.helpers import serving
from web.app import create_app

PASSWORD = "secret-pass-1"


class Client:
    """`requests` against the server as one user; `.as_(name)` for another."""

    def __init__(self, base: str, user: str | None) -> None:
        self.base = base
        self.session = requests.Session()
        if user:
            self.session.auth = (user, PASSWORD)

    def __getattr__(self, method: str):  # type: ignore[no-untyped-def]
        call = getattr(self.session, method)
        return lambda path, **kw: call(self.base + path, timeout=30, **kw)


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    engine.identity.add_user("admin", PASSWORD, ["admins"])
    engine.identity.add_user("mary", PASSWORD, ["sales"])
    engine.identity.add_user("bob", PASSWORD, ["warehouse"])
    with serving(create_app(engine=engine)) as url:
        yield f"{url}/engine-rest"


@pytest.fixture
def admin(server: str) -> Client:
    return Client(server, "admin")


@pytest.fixture
def mary(server: str) -> Client:
    return Client(server, "mary")


@pytest.fixture
def bob(server: str) -> Client:
    return Client(server, "bob")


@pytest.fixture
def anonymous(server: str) -> Client:
    return Client(server, None)
