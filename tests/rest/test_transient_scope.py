"""A transient variable is transient for the request that says so only: a server thread answers many requests
(gunicorn's threads call the application directly, one request after another), and one request's transient
names must not reach the next. Here the application is called the same way, in this thread."""

from __future__ import annotations

import base64
import json
from typing import Any

from werkzeug.test import EnvironBuilder

from engine.api import Engine
from engine.variables import transient_now
from tests.helpers import bpmn, chain
from web.app import create_app

PASSWORD = "secret-pass-1"


def test_transient_names_end_with_their_request(sqlite_engine: Engine) -> None:
    sqlite_engine.identity.add_user("admin", PASSWORD, ["admins"])
    sqlite_engine.definitions.deploy([("p.bpmn", bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/>'
                                                      '<bpmn:endEvent id="e"/>' + chain("s", "t", "e")))])
    app = create_app({"SECRET_KEY": "transient-tests-" + "k" * 32}, engine=sqlite_engine)
    auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}

    def start(note: dict[str, Any]) -> str:
        environ = EnvironBuilder(path="/engine-rest/process-definition/key/p/start", method="POST", headers=auth,
                                 json={"variables": {"note": note}}).get_environ()
        status: list[str] = []
        body = b"".join(app(environ, lambda s, _headers, _exc=None: status.append(s)))
        assert status[0].startswith("200"), body
        return json.loads(body)["id"]

    first = start({"value": "scratch", "type": "String", "valueInfo": {"transient": True}})
    assert transient_now() == frozenset()  # nothing of that request is left in this thread
    second = start({"value": "keep", "type": "String"})
    assert sqlite_engine.instances.variables(first) == {}
    assert sqlite_engine.instances.variables(second) == {"note": "keep"}
