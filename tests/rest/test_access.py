"""Every route of the REST API refuses a caller without credentials or with wrong ones (the routes are enumerated,
so a new route cannot skip authentication), and admin-only routes refuse a user of another group."""

from __future__ import annotations

import re

import pytest
import requests

from engine.api import Engine
from tests.rest.conftest import PASSWORD
from web.app import create_app

PUBLIC = {"/engine-rest/engine", "/engine-rest/version", "/engine-rest/openapi.json"}
ADMIN_ONLY = {("POST", "/engine-rest/deployment/create"), ("DELETE", "/engine-rest/deployment/x"),
              ("DELETE", "/engine-rest/process-instance/x"), ("PUT", "/engine-rest/process-instance/x/suspended"),
              ("POST", "/engine-rest/process-instance/x/variables"), ("GET", "/engine-rest/job"),
              ("GET", "/engine-rest/incident"), ("PUT", "/engine-rest/job/x/retries"),
              ("PUT", "/engine-rest/external-task/x/retries"), ("GET", "/engine-rest/report/funnel")}


def rest_routes() -> list[tuple[str, str]]:
    app = create_app(engine=Engine())
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/engine-rest") and rule.rule not in PUBLIC:
            path = re.sub(r"<(?:\w+:)?\w+>", "x", rule.rule)
            routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


ROUTES = rest_routes()


def test_the_enumeration_found_the_api() -> None:
    assert len(ROUTES) > 60 and ("POST", "/engine-rest/task/x/complete") in ROUTES


@pytest.mark.parametrize("method,path", ROUTES)
def test_no_credentials_and_wrong_ones_are_401_on_every_route(server: str, method: str, path: str) -> None:
    url = server.removesuffix("/engine-rest") + path
    for auth in (None, ("mary", "wrong-password"), ("nobody", PASSWORD)):
        response = requests.request(method, url, auth=auth, json={}, timeout=10)
        assert response.status_code == 401, (method, path, auth, response.text)
        assert response.json()["type"] == "AuthenticationException"
    bearer = requests.request(method, url, headers={"Authorization": "Bearer sf_not-a-token"}, json={}, timeout=10)
    assert bearer.status_code == 401


@pytest.mark.parametrize("method,path", sorted(ADMIN_ONLY))
def test_admin_routes_refuse_a_user_of_another_group(server: str, method: str, path: str) -> None:
    url = server.removesuffix("/engine-rest") + path
    response = requests.request(method, url, auth=("bob", PASSWORD), json={}, timeout=10)
    assert response.status_code == 403, (method, path, response.text)
    assert response.json()["type"] == "AuthorizationException"
