"""Every page and form of the inbox, and every REST route that names an object, tried without credentials, with
wrong ones and as a user of another group: refused, and nothing of the instance leaks.

The routes are enumerated from the app's URL map, so a new page cannot skip this. The instance under attack
belongs to `sales` (started by mary, its task offered to `sales`); its business key and a variable carry markers
that must appear in no answer to a visitor, to a wrong password, or to bob of `warehouse`; after bob has posted
every form with a valid CSRF token, the instance, its task and its variables are as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from engine.api import Engine
from tests.helpers import bpmn, chain, serving
from web.app import create_app

PASSWORD = "secret-pass-1"
MARKERS = ("SECRET-BK-4711", "SECRET-VALUE-4711")
PROCESS = bpmn('<bpmn:startEvent id="start"/><bpmn:userTask id="review" name="Review" '
               'camunda:candidateGroups="sales"/><bpmn:endEvent id="end"/>' + chain("start", "review", "end"),
               "guarded")
FORM = {"name": "secret", "value": "HACKED", "type": "String", "user": "bob", "userId": "bob", "assignee": "bob",
        "text": "HACKED", "comment": "HACKED", "reason": "HACKED", "business_key": "HACKED", "businessKey": "HACKED"}


@dataclass
class Site:
    base: str
    engine: Engine
    ids: dict[str, str]
    routes: list[tuple[str, str]]


@pytest.fixture
def site(sqlite_engine: Engine) -> Iterator[Site]:
    engine = sqlite_engine
    engine.identity.add_user("admin", PASSWORD, ["admins"])
    engine.identity.add_user("mary", PASSWORD, ["sales"])
    engine.identity.add_user("bob", PASSWORD, ["warehouse"])
    [definition] = engine.definitions.deploy([("guarded.bpmn", PROCESS)]).definitions
    instance = engine.instances.start("guarded", business_key=MARKERS[0], variables={"secret": MARKERS[1]},
                                      user="mary")
    [task] = engine.tasks.list(instance_id=instance.id)
    ids = {"task_id": task.id, "instance_id": instance.id, "definition_id": definition.id, "id": instance.id}
    app = create_app(engine=engine)
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in ("inbox.login", "inbox.login_form"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids.get(m.group(1), "x"), rule.rule)
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    with serving(app) as base:
        yield Site(base, engine, ids, routes)


def signed_in(base: str, user: str, password: str = PASSWORD) -> tuple[requests.Session, int]:
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{base}/", timeout=10).text)
    assert token
    answer = session.post(f"{base}/login", data={"csrf_token": token.group(1), "username": user,
                                                 "password": password, "next": ""}, timeout=10)
    return session, answer.status_code


def csrf(session: requests.Session, base: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{base}/", timeout=10).text)
    assert token, "no form with a CSRF token on the inbox page"
    return token.group(1)


def no_markers(response: requests.Response, who: str, method: str, path: str) -> None:
    for marker in MARKERS:
        assert marker not in response.text, (who, method, path, response.status_code)


def test_the_enumeration_found_the_pages(site: Site) -> None:
    assert ("GET", f"/tasks/{site.ids['task_id']}") in site.routes
    assert ("POST", f"/tasks/{site.ids['task_id']}/complete") in site.routes
    assert ("GET", f"/instances/{site.ids['instance_id']}") in site.routes
    # the markers are really on the pages of someone who may see them
    mary, status = signed_in(site.base, "mary")
    assert status == 200
    assert all(m in mary.get(f"{site.base}/tasks/{site.ids['task_id']}", timeout=10).text for m in MARKERS)


def test_visitors_and_wrong_passwords_get_the_sign_in_page_and_nothing_else(site: Site) -> None:
    wrong, status = signed_in(site.base, "mary", "wrong-password")
    assert status == 401
    nobody, status = signed_in(site.base, "nobody", PASSWORD)
    assert status == 401
    pages = [(m, p) for m, p in site.routes if not p.startswith("/engine-rest/")]  # REST: tests/rest/test_access
    for who, session in (("visitor", requests.Session()), ("wrong password", wrong), ("unknown user", nobody)):
        for method, path in pages:
            answer = session.request(method, site.base + path, data=FORM, allow_redirects=False, timeout=10)
            no_markers(answer, who, method, path)
            if path == "/":
                assert answer.status_code == 200 and 'name="password"' in answer.text
            elif method == "GET" and answer.status_code == 302:
                assert answer.headers["Location"].startswith("/?next="), (who, path, answer.headers["Location"])
            else:  # a form without a valid CSRF token, or a page that asks to sign in
                assert answer.status_code in (302, 400, 401, 403), (who, method, path, answer.status_code)


def test_a_user_of_another_group_sees_nothing_of_the_instance_and_changes_nothing(site: Site) -> None:
    bob, status = signed_in(site.base, "bob")
    assert status == 200
    token = csrf(bob, site.base)
    before = site.engine.instances.state(site.ids["instance_id"])
    for method, path in site.routes:
        if path == "/logout" or path.startswith("/engine-rest/"):  # a session cookie is no REST credential
            continue
        data = {**FORM, "csrf_token": token} if method == "POST" else None
        answer = bob.request(method, site.base + path, data=data, allow_redirects=False, timeout=10)
        no_markers(answer, "bob", method, path)
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:300])
        if site.ids["instance_id"] in path or site.ids["task_id"] in path:
            assert answer.status_code in (302, 400, 403, 404), (method, path, answer.status_code)
            if answer.status_code == 302:  # only ever back to a page of bob's own, which must not show it either
                no_markers(bob.get(site.base + answer.headers["Location"], timeout=10), "bob", "GET", path)
    after = site.engine.instances.state(site.ids["instance_id"])
    assert after.variables == before.variables and after.variables["secret"] == MARKERS[1]
    assert site.engine.instances.get(site.ids["instance_id"]).state == "ACTIVE"
    task = site.engine.tasks.get(site.ids["task_id"])
    assert task.assignee is None and task.ended_at is None
    assert [h for h in site.engine.instances.history(site.ids["instance_id"]) if "HACKED" in repr(h)] == []


def rest_routes_naming_the_instance(site: Site, *, reads: bool) -> list[tuple[str, str]]:
    return [(m, p) for m, p in site.routes if p.startswith("/engine-rest/")
            and (site.ids["instance_id"] in p or site.ids["task_id"] in p) and (m == "GET") == reads]


def test_rest_changes_to_the_instance_are_refused_to_a_user_of_another_group(site: Site) -> None:
    """Every REST route that changes something and names the instance or its task, as bob: refused, no effect."""
    bob = requests.Session()
    bob.auth = ("bob", PASSWORD)
    changes = rest_routes_naming_the_instance(site, reads=False)
    assert len(changes) >= 10
    for method, path in changes:
        answer = bob.request(method, site.base + path, json={"userId": "bob", "workerId": "bob"}, timeout=10)
        no_markers(answer, "bob", method, path)
        assert answer.status_code in (400, 403, 404), (method, path, answer.status_code, answer.text[:300])
    task = site.engine.tasks.get(site.ids["task_id"])
    assert task.assignee is None and task.ended_at is None
    assert site.engine.instances.variables(site.ids["instance_id"]) == {"secret": MARKERS[1]}
    assert site.engine.instances.get(site.ids["instance_id"]).state == "ACTIVE"


def test_rest_reads_of_the_instance_show_nothing_to_a_user_of_another_group(site: Site) -> None:
    bob = requests.Session()
    bob.auth = ("bob", PASSWORD)
    for method, path in rest_routes_naming_the_instance(site, reads=True):
        answer = bob.request(method, site.base + path, timeout=10)
        no_markers(answer, "bob", method, path)
        assert answer.status_code in (403, 404), (method, path, answer.status_code)
    for path in ("/engine-rest/process-instance", "/engine-rest/task", "/engine-rest/history/process-instance",
                 "/engine-rest/history/task", f"/engine-rest/task?processInstanceId={site.ids['instance_id']}"):
        no_markers(bob.get(site.base + path, timeout=10), "bob", "GET", path)
