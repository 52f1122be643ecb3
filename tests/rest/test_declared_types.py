"""A variable keeps the type a client declared: a Long stays a Long and a Short a Short through start, storage,
reload and every read (as a Java client that casts to Long expects); a Json value comes back compact, as Camunda
writes it. Arithmetic in a script gives a plain Integer, as in Camunda."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from engine.api import Engine
from engine.views import iso
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

FLOW = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="check" name="Check" camunda:candidateGroups="sales"/>
    <bpmn:scriptTask id="add" scriptFormat="python"><bpmn:script>next_amount = amount + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="confirm" name="Confirm" camunda:candidateGroups="sales"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "check", "add", "confirm", "e"), process_id="typed")


def test_long_short_and_json_come_back_as_they_were_declared(engine: Engine, admin: Client, mary: Client) -> None:
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    started = mary.post("/process-definition/key/typed/start", json={"withVariablesInReturn": True, "variables": {
        "amount": {"value": 25, "type": "Long"}, "rank": {"value": 2, "type": "Short"},
        "count": {"value": 3, "type": "Integer"}, "payload": {"value": '{"a":1,"b":[1,2]}', "type": "Json"}}})
    assert started.status_code == 200, started.text
    expected = {"amount": ("Long", 25), "rank": ("Short", 2), "count": ("Integer", 3),
                "payload": ("Json", '{"a":1,"b":[1,2]}')}
    assert {n: (v["type"], v["value"]) for n, v in started.json()["variables"].items()} == expected
    instance_id = started.json()["id"]

    def read(path: str) -> dict:
        return {n: (v["type"], v["value"]) for n, v in mary.get(path).json().items()}

    assert read(f"/process-instance/{instance_id}/variables") == expected
    task = mary.get("/task", params={"processInstanceId": instance_id}).json()[0]
    assert read(f"/task/{task['id']}/variables") == expected
    by_name = mary.get("/variable-instance", params={"variableName": "amount"}).json()
    assert [(v["type"], v["value"]) for v in by_name] == [("Long", 25)]

    # after a completion (the instance is saved and reloaded) the declared types are still there; a script's sum
    # of a Long is a plain Integer
    engine.executor.runs.clear()  # and no kept live workflow: the next change loads it from the database
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    confirm = mary.get("/task", params={"processInstanceId": instance_id}).json()[0]
    after = read(f"/task/{confirm['id']}/variables")
    assert after["amount"] == ("Long", 25) and after["rank"] == ("Short", 2)
    assert after["next_amount"] == ("Integer", 26)
    assert mary.put(f"/task/{confirm['id']}/variables/amount", json={"value": 7, "type": "Integer"}).status_code == 204
    assert mary.get(f"/task/{confirm['id']}/variables/amount").json()["type"] == "Integer"


def test_a_json_variable_holding_one_value_stays_json(engine: Engine, admin: Client, mary: Client) -> None:
    """A Json variable whose JSON is a single text, number, boolean or null came back as a String, an Integer, a
    Boolean or a Null (as Camunda's JavaScript worker client saw it with `setTyped({type: "json", value: "42"})`);
    it stays Json, compact, through storage, reload, completion and every read, as in Camunda."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    sent = {"j1": '"just a string"', "j2": "42", "j3": "true", "j4": "null", "j5": " [ ] ", "j6": "1.5e3"}
    started = mary.post("/process-definition/key/typed/start", json={"variables": {
        name: {"value": text, "type": "Json"} for name, text in sent.items()} | {"amount": {"value": 1}}})
    assert started.status_code == 200, started.text
    instance_id = started.json()["id"]
    expected = {"j1": '"just a string"', "j2": "42", "j3": "true", "j4": "null", "j5": "[]", "j6": "1500.0"}

    def json_variables(path: str) -> dict[str, tuple[str, str]]:
        return {n: (v["type"], v["value"]) for n, v in mary.get(path).json().items() if n.startswith("j")}

    assert json_variables(f"/process-instance/{instance_id}/variables") == {n: ("Json", t) for n, t in expected.items()}
    rows = mary.get("/variable-instance", params={"processInstanceIdIn": instance_id}).json()
    assert {r["name"]: (r["type"], r["value"]) for r in rows if r["name"] == "j2"} == {"j2": ("Json", "42")}
    engine.executor.runs.clear()  # the next change loads the instance from the database
    task = mary.get("/task", params={"processInstanceId": instance_id}).json()[0]
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    confirm = mary.get("/task", params={"processInstanceId": instance_id}).json()[0]
    assert json_variables(f"/task/{confirm['id']}/variables") == {n: ("Json", t) for n, t in expected.items()}
    refused = mary.put(f"/task/{confirm['id']}/variables/j2", json={"value": "4 2", "type": "Json"})
    assert refused.status_code == 400 and "not valid JSON" in refused.json()["message"]


def test_a_number_a_script_made_infinite_is_still_valid_json(admin: Client) -> None:
    """As Camunda's Jackson writes a Java double: NaN and infinities as text, so every client can parse the body."""
    import json

    flow = bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="calc"><bpmn:script>ratio = float("inf")
gap = -ratio
odd = ratio - ratio</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="look"/><bpmn:endEvent id="e"/>""" + chain("s", "calc", "look", "e"), process_id="odd")
    assert admin.post("/deployment/create", files={"upload": ("odd.bpmn", flow)}).status_code == 200
    started = admin.post("/process-definition/key/odd/start", json={})
    assert started.status_code == 200, started.text
    response = admin.get(f"/process-instance/{started.json()['id']}/variables")
    assert response.status_code == 200

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    body = json.loads(response.text, parse_constant=refuse)
    assert {name: value["value"] for name, value in body.items()} == {
        "ratio": "Infinity", "gap": "-Infinity", "odd": "NaN"}


def test_a_long_beyond_what_a_double_holds_is_found_by_its_exact_value(admin: Client) -> None:
    """Variable queries compared a Long as a double: 2^53 + 1 matched 2^53 and not itself."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    ids = {}
    for big in (2**53, 2**53 + 1):
        started = admin.post("/process-definition/key/typed/start", json={"variables": {
            "amount": {"value": big, "type": "Long"}}})
        assert started.status_code == 200, started.text
        ids[big] = started.json()["id"]

    def found(path: str, condition: str) -> list[str]:
        return sorted(v["processInstanceId"] for v in admin.get(path, params={"variableValues": condition}).json())

    for path in ("/variable-instance", "/history/variable-instance"):
        assert found(path, f"amount_eq_{2**53 + 1}") == [ids[2**53 + 1]], path
        assert found(path, f"amount_eq_{2**53}") == [ids[2**53]], path
        assert found(path, f"amount_neq_{2**53 + 1}") == [ids[2**53]], path
    count = admin.get("/variable-instance/count", params={"variableValues": f"amount_eq_{2**53 + 1}"}).json()
    assert count == {"count": 1}


def test_a_value_compares_only_with_variables_of_its_kind(admin: Client) -> None:
    """`x_gt_abc` compared the text 'abc' with a Boolean's stored 'true' (and matched); as in Camunda, a text
    compares with String variables, a number with number variables, true/false with Booleans."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    ids = {}
    for name, typed in (("flag", {"value": True, "type": "Boolean"}), ("text", {"value": "zebra", "type": "String"}),
                        ("number", {"value": 7, "type": "Integer"})):
        started = admin.post("/process-definition/key/typed/start", json={"variables": {"x": typed}})
        ids[name] = started.json()["id"]

    def found(condition: str) -> list[str]:
        rows = admin.get("/variable-instance", params={"variableValues": condition}).json()
        return sorted(name for name, i in ids.items() if i in {v["processInstanceId"] for v in rows})

    assert found("x_gt_abc") == ["text"]
    assert found("x_eq_true") == ["flag"]
    assert found("x_gt_5") == ["number"]
    assert found("x_neq_5") == ["number"]
    assert found("x_like_z%") == ["text"]


def test_an_id_kept_as_text_is_found_by_a_url_filter_that_reads_as_a_number(admin: Client, mary: Client) -> None:
    """Camunda takes a URL filter's value as text: `orderNo_eq_123` finds the String "123" (it found nothing here,
    the value being read as the number 123 only); the number 123 is still found too, as before."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    ids = {}
    for name, typed in (("text", {"value": "123", "type": "String"}), ("long", {"value": 123, "type": "Long"}),
                        ("other", {"value": "1234", "type": "String"}), ("flag", {"value": "true", "type": "String"})):
        started = mary.post("/process-definition/key/typed/start", json={"variables": {
            "orderNo": typed, "amount": {"value": 1, "type": "Long"}}})
        ids[started.json()["id"]] = name

    def names(rows: list) -> list[str]:
        return sorted(ids[r.get("processInstanceId") or r["id"]] for r in rows
                      if (r.get("processInstanceId") or r["id"]) in ids)

    assert names(admin.get("/process-instance", params={"variables": "orderNo_eq_123"}).json()) == ["long", "text"]
    assert names(mary.get("/task", params={"processVariables": "orderNo_eq_123"}).json()) == ["long", "text"]
    assert names(admin.get("/variable-instance", params={"variableValues": "orderNo_eq_true"}).json()) == ["flag"]
    assert names(admin.get("/process-instance", params={"variables": "orderNo_gt_200"}).json()) == []


def test_an_object_variable_keeps_its_class_and_format(engine: Engine, admin: Client, mary: Client) -> None:
    """Camunda's `Object`: a Java client reads back the class (`objectTypeName`) and the format it wrote, through
    storage and reload; a JSON object is a dict to scripts; another format (Java serialization) is kept as sent."""
    flow = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="check" name="Check" camunda:candidateGroups="sales"/>
        <bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>size = len(order["lines"])</bpmn:script>
        </bpmn:scriptTask>
        <bpmn:userTask id="confirm" name="Confirm" camunda:candidateGroups="sales"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "check", "count", "confirm", "e"), process_id="objects")
    assert admin.post("/deployment/create", files={"upload": ("objects.bpmn", flow)}).status_code == 200
    order = {"value": '{"id":7,"lines":[1,2,3]}', "type": "Object",
             "valueInfo": {"objectTypeName": "com.example.Order", "serializationDataFormat": "application/json"}}
    blob = {"value": "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA==", "type": "Object",
            "valueInfo": {"objectTypeName": "java.util.HashMap",
                          "serializationDataFormat": "application/x-java-serialized-object"}}
    started = mary.post("/process-definition/key/objects/start", json={"variables": {"order": order, "blob": blob}})
    assert started.status_code == 200, started.text
    instance_id = started.json()["id"]
    expected = {"order": order, "blob": blob}
    serialized = {"deserializeValues": "false"}
    assert mary.get(f"/process-instance/{instance_id}/variables", params=serialized).json() == expected
    [task] = mary.get("/task", params={"processInstanceId": instance_id}).json()
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204  # saved, reloaded, script run
    after = mary.get(f"/process-instance/{instance_id}/variables", params=serialized).json()
    assert {name: after[name] for name in expected} == expected
    assert (after["size"]["type"], after["size"]["value"]) == ("Integer", 3)
    listed = mary.get("/variable-instance", params={"processInstanceIdIn": instance_id, "variableName": "order",
                                                    **serialized}).json()
    assert [(v["type"], v["value"], v["valueInfo"]) for v in listed] == [
        ("Object", order["value"], order["valueInfo"])]
    # deserialized (Camunda's default): the JSON object it holds, with its class; another format stays as sent
    as_object = {**order, "value": {"id": 7, "lines": [1, 2, 3]}}
    assert mary.get(f"/process-instance/{instance_id}/variables").json()["order"] == as_object
    assert mary.get(f"/process-instance/{instance_id}/variables/order").json() == as_object
    assert mary.get(f"/process-instance/{instance_id}/variables/order",
                    params={"deserializeValue": "false"}).json() == order
    assert mary.get(f"/process-instance/{instance_id}/variables").json()["blob"] == blob
    [confirm] = mary.get("/task", params={"processInstanceId": instance_id}).json()
    assert mary.get(f"/task/{confirm['id']}/variables").json()["order"] == as_object
    assert mary.get(f"/task/{confirm['id']}/variables/order").json() == as_object
    assert mary.get(f"/task/{confirm['id']}/form-variables").json()["order"] == as_object
    [found] = mary.get("/variable-instance", params={"variableName": "order"}).json()
    assert found["value"] == as_object["value"] and found["valueInfo"] == order["valueInfo"]
    assert mary.get(f"/variable-instance/{found['id']}").json()["value"] == as_object["value"]
    assert mary.post("/history/variable-instance", params=serialized,
                     json={"variableName": "order"}).json()[0]["value"] == order["value"]
    assert mary.get("/history/variable-instance", params={"variableName": "order"}).json()[0]["value"] == \
        as_object["value"]
    bad = mary.post("/process-definition/key/objects/start", json={"variables": {"order": {**order, "value": "{x"}}})
    assert bad.status_code == 400 and "order" in bad.json()["message"]


def test_a_string_variable_sent_as_a_number_or_boolean_is_its_java_text(admin: Client, mary: Client) -> None:
    """Camunda's REST maps `{"value": 12345, "type": "String"}` to the String "12345" (Jackson reads the value's
    text as the declared Java type) instead of refusing it; a value of another kind is still refused, naming it."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    started = mary.post("/process-definition/key/typed/start", json={"withVariablesInReturn": True, "variables": {
        "amount": {"value": 1, "type": "Integer"}, "orderNo": {"value": 12345, "type": "String"},
        "flag": {"value": True, "type": "String"}, "rate": {"value": 1.5e20, "type": "String"},
        "small": {"value": 0.25, "type": "String"}, "count": {"value": "7", "type": "Integer"}}})
    assert started.status_code == 200, started.text
    got = {n: (v["type"], v["value"]) for n, v in started.json()["variables"].items()}
    assert got == {"amount": ("Integer", 1), "orderNo": ("String", "12345"), "flag": ("String", "true"),
                   "rate": ("String", "1.5E20"), "small": ("String", "0.25"), "count": ("Integer", 7)}
    stored = mary.get(f"/process-instance/{started.json()['id']}/variables/orderNo").json()
    assert (stored["type"], stored["value"]) == ("String", "12345")
    refused = mary.post("/process-definition/key/typed/start", json={"variables": {
        "amount": {"value": 1, "type": "Integer"}, "tags": {"value": ["a"], "type": "String"}}})
    assert refused.status_code == 400 and "tags" in refused.json()["message"], refused.text


def test_type_names_with_a_lowercase_first_letter_as_the_js_client_sends_them(admin: Client, mary: Client) -> None:
    """Camunda's JS external task client lowers every type name (`object`, `short`): Camunda lowers only the first
    letter, so each is its type. File and Bytes (binary content) are refused with a message that says so."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    order = {"value": '{"x":1}', "type": "object",
             "valueInfo": {"objectTypeName": "com.x.Order", "serializationDataFormat": "application/json"}}
    started = mary.post("/process-definition/key/typed/start", json={"withVariablesInReturn": True, "variables": {
        "amount": {"value": 5, "type": "short"}, "order": order}})
    assert started.status_code == 200, started.text
    back = started.json()["variables"]
    assert (back["amount"]["type"], back["order"]["type"], back["order"]["valueInfo"]) == (
        "Short", "Object", order["valueInfo"])
    for kind in ("file", "File", "bytes", "Bytes"):
        refused = mary.post("/process-definition/key/typed/start", json={"variables": {
            "doc": {"value": "aGVsbG8=", "type": kind, "valueInfo": {"filename": "a.txt"}}}})
        assert refused.status_code == 400, refused.text
        assert f"type '{kind[0].upper() + kind[1:]}' (binary content) is not supported" in refused.json()["message"]
    unknown = mary.post("/process-definition/key/typed/start", json={"variables": {
        "doc": {"value": 1, "type": "INTEGER"}}})
    assert unknown.status_code == 400 and "INTEGER" in unknown.json()["message"]


def test_a_date_comes_back_in_utc_with_four_digits_of_year(admin: Client, mary: Client) -> None:
    """Camunda writes every date in its server's zone (UTC here) as `yyyy-MM-dd'T'HH:mm:ss.SSSZ`: a date picker's typo
    of year 26 is `0026-...`, which a client (and Stageflow's own workers) reads back, not `26-...`."""
    assert admin.post("/deployment/create", files={"upload": ("typed.bpmn", FLOW)}).status_code == 200
    started = mary.post("/process-definition/key/typed/start", json={"variables": {
        "amount": {"value": 1, "type": "Long"},
        "meeting": {"value": "0026-12-05T10:00:00.000+0100", "type": "Date"},
        "call": {"value": "2026-01-05T09:30:00.000-0200", "type": "Date"}}})
    assert started.status_code == 200, started.text
    path = f"/process-instance/{started.json()['id']}/variables"
    read = mary.get(path).json()
    assert read["meeting"]["value"] == "0026-12-05T09:00:00.000+0000"
    assert read["call"]["value"] == "2026-01-05T11:30:00.000+0000"
    # what was read is taken back as the same moment
    assert admin.put(f"{path}/meeting", json=read["meeting"]).status_code == 204
    assert mary.get(f"{path}/meeting").json()["value"] == "0026-12-05T09:00:00.000+0000"


def test_dates_in_a_camunda_map_or_list_are_kept_and_read_as_camunda_writes_them(engine: Engine, admin: Client,
                                                                                  mary: Client) -> None:
    """`${dateTime().plusDays(1)}` inside a camunda:map or camunda:list input parameter failed the save
    ("Circular reference detected"); `${now()}` there read back as Python's text of the moment."""
    flow = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="plan" camunda:candidateGroups="sales"><bpmn:extensionElements><camunda:inputOutput>
          <camunda:inputParameter name="window"><camunda:map>
            <camunda:entry key="from">${now()}</camunda:entry>
            <camunda:entry key="until">${dateTime().plusDays(1)}</camunda:entry></camunda:map></camunda:inputParameter>
          <camunda:inputParameter name="checks"><camunda:list><camunda:value>${dateTime().plusHours(2)}</camunda:value>
          </camunda:list></camunda:inputParameter>
        </camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "plan", "e"), process_id="dated")
    assert admin.post("/deployment/create", files={"upload": ("dated.bpmn", flow)}).status_code == 200
    started = mary.post("/process-definition/key/dated/start", json={})
    assert started.status_code == 200, started.text
    [task] = mary.get("/task", params={"processInstanceId": started.json()["id"]}).json()
    seen = {n: (v["type"], v["value"]) for n, v in mary.get(f"/task/{task['id']}/variables").json().items()}
    now = engine.clock.now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", json.loads(seen["window"][1])["from"])
    assert seen == {
        "window": ("Json", json.dumps({"from": iso(now), "until": iso(now + timedelta(days=1))},
                                      separators=(",", ":"))),
        "checks": ("Json", json.dumps([iso(now + timedelta(hours=2))], separators=(",", ":")))}
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
