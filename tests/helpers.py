"""Helpers for tests: small BPMN documents inline, and a real HTTP server around a Flask app."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

# The PostgreSQL server of the tests and the benchmarks (trust auth, database `test`)
TEST_PG_URL = os.environ.get("STAGEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

BPMN_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'id="defs" targetNamespace="http://stageflow.test">\n'
)


def bpmn(body: str, process_id: str = "p", *, name: str | None = None, extra: str = "") -> bytes:
    """A BPMN document with one executable process whose content is `body` (plus top-level `extra`)."""
    title = f' name="{name}"' if name else ""
    return (BPMN_HEADER + extra + f'<bpmn:process id="{process_id}"{title} isExecutable="true">\n'
            + body + "\n</bpmn:process>\n</bpmn:definitions>\n").encode()


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    """A sequence flow (with an optional condition text)."""
    fid = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    from xml.sax.saxutils import escape

    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>")


def chain(*ids: str) -> str:
    """Sequence flows joining the elements in order."""
    return "\n".join(flow(a, b) for a, b in zip(ids, ids[1:], strict=False))


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` over real HTTP (werkzeug, threaded) on a free port; yields `http://127.0.0.1:PORT`."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def csrf_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def post_sign_in(client: Any, user: str, password: str) -> Any:
    """Sign in through the sign-in form with a Flask test client; returns the answer (302 when it worked)."""
    return client.post("/login", data={"username": user, "password": password,
                                       "csrf_token": csrf_token(client.get("/").text)})


def signed_in_client(app: Any, user: str, password: str) -> Any:
    """A Flask test client of `app` signed in as `user` through the sign-in form (CSRF checks on)."""
    client = app.test_client()
    assert post_sign_in(client, user, password).status_code == 302
    return client


def wait_until_serving(rest_base: str, *, alive: Any = None, timeout: float = 60.0) -> None:
    """Until `rest_base`/version answers 200 (a server process imported, forked and bound its port). `alive`, a
    callable, says whether the server process still runs: when it has stopped, waiting stops with its story."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{rest_base}/version", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if alive is not None and not alive():
            raise RuntimeError(f"the server of {rest_base} stopped before answering")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rest_base} did not answer within {timeout:g} s")
        time.sleep(0.1)
