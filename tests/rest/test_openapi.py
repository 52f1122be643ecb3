"""The OpenAPI document: valid, complete (every route of the API is in it), and the API keeps to it under fuzzing.

The fuzz (schemathesis) sends generated requests, valid and invalid, to every operation of a real HTTP server as
an admin, with a deployed process and a running instance in the database, and checks each answer: no 5xx, a
status code the document lists, a JSON content type, and a body that fits the documented schema.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from tests.helpers import serving
from tests.rest.conftest import PASSWORD
from tests.rest.test_rest_api import ORDER
from web.app import create_app
from web.rest.openapi import document

SCHEMA = schemathesis.openapi.from_dict(document())
FUZZ_EXAMPLES = int(os.environ.get("STAGEFLOW_FUZZ_EXAMPLES", "12"))  # per operation; about a minute in all


def test_the_document_is_valid_openapi() -> None:
    validate(document())


def test_every_route_of_the_api_is_documented() -> None:
    app = create_app(engine=Engine(Settings(database_url="sqlite://")))
    documented = {(path, method.upper()) for path, ops in document()["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/engine-rest/") or rule.endpoint == "rest.unknown_endpoint":
            continue  # the catch-all answering 404 for endpoints Stageflow does not have
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/engine-rest"))
        path = path.replace("{definition_id}", "{id}").replace("{instance_id}", "{id}").replace(
            "{task_id}", "{id}").replace("{job_id}", "{id}").replace("{deployment_id}", "{id}").replace(
            "{user_id}", "{id}").replace("{group_id}", "{id}").replace("{variable_id}", "{id}").replace(
            "{incident_id}", "{id}").replace("{execution_id}", "{id}")
        routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations without a route"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    engine = Engine(Settings(database_url=f"sqlite:///{db}", script_time_limit=2.0), clock=VirtualClock())
    engine.identity.add_user("admin", PASSWORD, ["admins"])
    engine.definitions.deploy([("order.bpmn", ORDER)])
    engine.instances.start("order", business_key="B-1", variables={"amount": 5})
    with serving(create_app(engine=engine)) as url:
        yield f"{url}/engine-rest"
    engine.close()


@SCHEMA.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_fuzz_no_server_error_and_answers_fit_the_document(case, live: str) -> None:  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.auth = ("admin", PASSWORD)
    if case.path == "/external-task/fetchAndLock" and isinstance(case.body, dict):
        case.body["asyncResponseTimeout"] = 0  # no long polls in the fuzz
    case.call_and_validate(base_url=live, session=session, timeout=30,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


def test_the_document_is_served_without_credentials(server: str) -> None:
    body = requests.get(f"{server}/openapi.json", timeout=10).json()
    assert body["openapi"].startswith("3.") and "/task/{id}/complete" in body["paths"]
    assert Path(__file__).exists()
