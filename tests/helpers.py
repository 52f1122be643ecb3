"""Helpers for tests: small BPMN documents inline, and a real HTTP server around a Flask app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
