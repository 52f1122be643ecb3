"""A deployment's files over real HTTP, as Camunda's `/deployment/{id}/resources` answers them: the list, one file,
and its bytes as deployed with the media type and file name Camunda gives."""

from __future__ import annotations

import json
from pathlib import Path

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client
from tests.rest.test_rest_api import ORDER

RULES = (Path(__file__).parents[2] / "processes" / "card_rules.dmn").read_bytes()


def _deploy_two(admin: Client) -> dict:  # type: ignore[type-arg]
    response = admin.post("/deployment/create", data={"deployment-name": "cards"},
                          files=[("upload", ("order.bpmn", ORDER)), ("rules", ("card_rules.dmn", RULES))])
    assert response.status_code == 200, response.text
    return response.json()


def test_the_resources_of_a_deployment_are_its_files(admin: Client) -> None:
    deployment = _deploy_two(admin)
    response = admin.get(f"/deployment/{deployment['id']}/resources")
    assert response.status_code == 200
    resources = response.json()
    assert [(r["name"], r["deploymentId"]) for r in resources] == [
        ("card_rules.dmn", deployment["id"]), ("order.bpmn", deployment["id"])]
    assert all(set(r) == {"id", "name", "deploymentId"} for r in resources)
    [definition] = deployment["deployedProcessDefinitions"].values()
    assert definition["resource"] == "order.bpmn"
    for resource in resources:
        one = admin.get(f"/deployment/{deployment['id']}/resources/{resource['id']}")
        assert (one.status_code, one.json()) == (200, resource)


def test_the_data_is_the_file_byte_for_byte_with_camundas_media_type_and_name(admin: Client) -> None:
    deployment = _deploy_two(admin)
    by_name = {r["name"]: r["id"] for r in admin.get(f"/deployment/{deployment['id']}/resources").json()}
    for name, content in (("order.bpmn", ORDER), ("card_rules.dmn", RULES)):
        data = admin.get(f"/deployment/{deployment['id']}/resources/{by_name[name]}/data")
        assert data.status_code == 200
        assert data.content == content
        assert data.headers["Content-Type"] == "application/xml"  # as Camunda: no charset
        assert data.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"


def test_a_bpmn20_xml_file_is_xml_too(admin: Client) -> None:
    deployment = admin.post("/deployment/create", files={"upload": ("order.bpmn20.xml", ORDER)}).json()
    [resource] = admin.get(f"/deployment/{deployment['id']}/resources").json()
    data = admin.get(f"/deployment/{deployment['id']}/resources/{resource['id']}/data")
    assert (data.status_code, data.headers["Content-Type"], data.content) == (200, "application/xml", ORDER)


def test_a_file_name_outside_ascii_is_percent_encoded_in_filename_star(engine: Engine, admin: Client) -> None:
    deployment = engine.definitions.deploy([("Bestellung für Kunden.bpmn", ORDER)])
    [resource] = admin.get(f"/deployment/{deployment.id}/resources").json()
    assert resource["name"] == "Bestellung für Kunden.bpmn"
    data = admin.get(f"/deployment/{deployment.id}/resources/{resource['id']}/data")
    assert data.status_code == 200 and data.content == ORDER
    assert data.headers["Content-Disposition"] == (
        "attachment; filename=\"Bestellung f_r Kunden.bpmn\"; filename*=UTF-8''Bestellung%20f%C3%BCr%20Kunden.bpmn")


def test_an_unknown_deployment_or_resource_is_404_in_camundas_words(admin: Client) -> None:
    deployment = _deploy_two(admin)
    dep = deployment["id"]
    for path, message in (
            ("/deployment/nope/resources", "Deployment resources for deployment id 'nope' do not exist."),
            ("/deployment/nope/resources/r1", "Deployment resources for deployment id 'nope' do not exist."),
            (f"/deployment/{dep}/resources/r1",
             f"Deployment resource with resource id 'r1' for deployment id '{dep}' does not exist."),
            (f"/deployment/{dep}/resources/r1/data",
             f"Deployment resource 'r1' for deployment id '{dep}' does not exist."),
            ("/deployment/nope/resources/r1/data", "Deployment resource 'r1' for deployment id 'nope' does not exist.")):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"type": "InvalidRequestException", "message": message, "code": 0}


def test_a_resource_of_another_deployment_is_not_found(admin: Client) -> None:
    first, second = _deploy_two(admin), admin.post("/deployment/create", files={"upload": ("order.bpmn", ORDER)})
    [other] = admin.get(f"/deployment/{second.json()['id']}/resources").json()
    assert admin.get(f"/deployment/{first['id']}/resources/{other['id']}").status_code == 404
    assert admin.get(f"/deployment/{first['id']}/resources/{other['id']}/data").status_code == 404


def test_a_deleted_deployment_has_no_resources(admin: Client) -> None:
    deployment = _deploy_two(admin)
    [resource, _] = admin.get(f"/deployment/{deployment['id']}/resources").json()
    assert admin.delete(f"/deployment/{deployment['id']}").status_code == 204
    assert admin.get(f"/deployment/{deployment['id']}/resources").status_code == 404
    assert admin.get(f"/deployment/{deployment['id']}/resources/{resource['id']}/data").status_code == 404


def test_resources_need_credentials(anonymous: Client, admin: Client) -> None:
    deployment = _deploy_two(admin)
    response = anonymous.get(f"/deployment/{deployment['id']}/resources")
    assert response.status_code == 401 and response.json()["type"] == "AuthenticationException"


def test_a_definition_shows_its_namespace_history_time_to_live_and_tasklist_flag(admin: Client) -> None:
    """Camunda's definition fields from the BPMN: `category` is the targetNamespace, `historyTimeToLive` in days
    (a number or P<days>D), `startableInTasklist` from camunda:isStartableInTasklist."""
    process = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
               'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://example.com/sales">'
               '<bpmn:process id="{key}" isExecutable="true" {attrs}><bpmn:startEvent id="s"/></bpmn:process>'
               '</bpmn:definitions>')
    cases = {"ttl_days": 'camunda:historyTimeToLive="30"',
             "ttl_duration": 'camunda:historyTimeToLive="P180D" camunda:isStartableInTasklist="false"',
             "plain": ""}
    for key, attrs in cases.items():
        body = process.format(key=key, attrs=attrs).encode()
        assert admin.post("/deployment/create", files={"f": (f"{key}.bpmn", body)}).status_code == 200
    shown = {key: admin.get(f"/process-definition/key/{key}").json() for key in cases}
    assert {key: (d["category"], d["historyTimeToLive"], d["startableInTasklist"]) for key, d in shown.items()} == {
        "ttl_days": ("http://example.com/sales", 30, True), "ttl_duration": ("http://example.com/sales", 180, False),
        "plain": ("http://example.com/sales", None, True)}
    by_message = process.format(key="by_message", attrs="").replace(
        '<bpmn:startEvent id="s"/>', '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m"/>'
        '</bpmn:startEvent>').replace('<bpmn:process', '<bpmn:message id="m" name="go"/><bpmn:process').encode()
    assert admin.post("/deployment/create", files={"f": ("by_message.bpmn", by_message)}).status_code == 200
    # the attribute, as Camunda shows it, though only a message starts it (the inbox does not offer it: see test_inbox)
    assert admin.get("/process-definition/key/by_message").json()["startableInTasklist"] is True
    for bad in ("-5", "PP555DDD", "invalidValue"):  # as Camunda's BpmnParseTest: refused, naming the process
        body = process.format(key="bad", attrs=f'camunda:historyTimeToLive="{bad}"').encode()
        refused = admin.post("/deployment/create", files={"f": ("bad.bpmn", body)})
        assert refused.status_code == 400 and "historyTimeToLive" in refused.text and "bad" in refused.text
    tenant = admin.post("/deployment/create", data={"tenant-id": "t1"}, files={"f": ("order.bpmn", ORDER)})
    assert tenant.status_code == 400 and "tenant" in tenant.json()["message"]  # never dropped without a word


def test_a_form_deployed_beside_the_diagram_is_kept_as_a_resource(admin: Client) -> None:
    """Camunda Modeler deploys a diagram with its forms (`.form`): the deployment keeps them, unparsed, and a new
    version of the form alone is deployed even when the diagram did not change."""
    form = b'{"components": [{"key": "amount", "type": "number"}], "type": "default", "id": "approve"}'
    first = admin.post("/deployment/create", data={"deployment-name": "orders"},
                       files=[("diagram", ("order.bpmn", ORDER)), ("form", ("approve.form", form))])
    assert first.status_code == 200, first.text
    by_name = {r["name"]: r["id"] for r in admin.get(f"/deployment/{first.json()['id']}/resources").json()}
    assert set(by_name) == {"order.bpmn", "approve.form"}
    data = admin.get(f"/deployment/{first.json()['id']}/resources/{by_name['approve.form']}/data")
    assert (data.status_code, data.content) == (200, form)
    again = admin.post("/deployment/create", data={"deployment-name": "orders", "deploy-changed-only": "true"},
                       files=[("diagram", ("order.bpmn", ORDER)), ("form", ("approve.form", form))])
    assert again.json()["id"] == first.json()["id"]  # nothing changed: no new deployment
    changed = admin.post("/deployment/create", data={"deployment-name": "orders", "deploy-changed-only": "true"},
                         files=[("diagram", ("order.bpmn", ORDER)),
                                ("form", ("approve.form", form.replace(b"number", b"textfield")))])
    assert changed.status_code == 200 and changed.json()["id"] != first.json()["id"]
    assert admin.get("/deployment/count").json() == {"count": 2}


def test_a_form_key_of_the_deployment_serves_its_file(admin: Client, mary: Client) -> None:
    """Camunda's `GET /task/{id}/deployed-form` and `/process-definition/.../deployed-start-form`: the file a
    `camunda:formKey` of the `deployment:` kind names, for a client that renders an embedded form or a Camunda
    Form; a key of another kind is a 400 and a file the deployment lacks a 404, in Camunda's words."""
    form_html = b'<form role="form"><input cam-variable-name="amount" cam-variable-type="Long"></form>'
    start_form = b'{"components": [{"key": "customer", "type": "textfield"}], "type": "default"}'
    flow = bpmn("""
        <bpmn:startEvent id="s" camunda:formKey="camunda-forms:deployment:start.form"/>
        <bpmn:userTask id="claim" camunda:candidateGroups="sales"
                       camunda:formKey="embedded:deployment:forms/claim.html"/>
        <bpmn:userTask id="app" camunda:candidateGroups="sales" camunda:formKey="embedded:app:forms/app.html"/>
        <bpmn:userTask id="missing" camunda:candidateGroups="sales"
                       camunda:formKey="embedded:deployment:forms/gone.html"/>
        <bpmn:userTask id="plain" camunda:candidateGroups="sales"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "claim", "app", "missing", "plain", "e"), process_id="formed")
    deployed = admin.post("/deployment/create", files=[("d", ("formed.bpmn", flow)),
                                                       ("f", ("forms/claim.html", form_html)),
                                                       ("s", ("start.form", start_form))])
    assert deployed.status_code == 200, deployed.text
    start = mary.get("/process-definition/key/formed/deployed-start-form")
    assert (start.status_code, start.headers["Content-Type"], start.content) == (200, "application/json", start_form)
    instance = mary.post("/process-definition/key/formed/start", json={}).json()["id"]

    def deployed_form() -> tuple[int, str, bytes]:
        [task] = mary.get("/task", params={"processInstanceId": instance}).json()
        answer = mary.get(f"/task/{task['id']}/deployed-form")
        assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
        return answer.status_code, answer.headers["Content-Type"].split(";")[0], answer.content

    assert deployed_form() == (200, "application/xhtml+xml", form_html)
    # opened in a browser instead of rendered by a client, a deployed form's scripts do not run
    assert start.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    status, _, body = deployed_form()
    assert (status, json.loads(body)["message"]) == (
        400, "The form key 'embedded:app:forms/app.html' does not reference a deployed form.")
    status, _, body = deployed_form()
    assert status == 404 and json.loads(body)["message"].startswith(
        "The form with the resource name 'forms/gone.html' cannot be found in deployment with id ")
    status, _, body = deployed_form()
    assert (status, json.loads(body)["message"]) == (400, "The form key is not set.")
