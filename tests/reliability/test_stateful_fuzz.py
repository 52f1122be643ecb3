"""A stateful fuzz of the REST API: schemathesis chains operations through the links it infers from the OpenAPI
document (start an instance, then read, change or delete it by the id the answer gave; fetch an external task, then
complete it; ...), with generated bodies and parameters. Every answer: no 5xx, a documented status code and
content type, a body that fits the documented schema. `tests/rest/test_openapi.py` fuzzes each operation alone.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, settings
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
from tests.rest.test_rest_api import ORDER
from web.app import create_app
from web.rest.openapi import document

PASSWORD = "secret-pass-1"
STEPS = int(os.environ.get("STAGEFLOW_STATEFUL_EXAMPLES", "40"))  # sequences of up to 6 calls; ~15 s
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_chains_of_operations_keep_to_the_document(sqlite_url: str) -> None:
    engine = Engine(Settings(database_url=sqlite_url, script_time_limit=2.0), clock=VirtualClock())
    engine.identity.add_user("admin", PASSWORD, ["admins"])
    engine.definitions.deploy([("order.bpmn", ORDER)])
    for n in range(3):
        engine.instances.start("order", business_key=f"B-{n}", variables={"amount": 5 + n})
    session = requests.Session()
    session.auth = ("admin", PASSWORD)
    calls: list[tuple[str, str, int]] = []
    try:
        with serving(create_app(engine=engine)) as url:
            base = f"{url}/engine-rest"

            class Workflow(schemathesis.openapi.from_dict(document()).as_state_machine()):  # type: ignore[misc]
                def before_call(self, case: Any) -> None:
                    if case.path == "/external-task/fetchAndLock" and isinstance(case.body, dict):
                        case.body["asyncResponseTimeout"] = 0  # no long polls in the fuzz

                def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                    return {"base_url": base, "session": session, "timeout": 30}

                def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                                      **kwargs: Any) -> None:
                    calls.append((case.method, case.path, response.status_code))
                    case.validate_response(response, checks=CHECKS)

            Workflow.run(settings=settings(max_examples=STEPS, stateful_step_count=6, deadline=None,
                                           suppress_health_check=list(HealthCheck), database=None))
    finally:
        print(f"stateful fuzz: {len(calls)} calls, {len({(m, p) for m, p, _ in calls})} operations, "
              f"{sum(200 <= s < 300 for _, _, s in calls)} answered 2xx")
        engine.close()
