"""The instance page as operations use it: the diagram with where the instance stands, its incidents, timers,
variables and notifications; admins fix a variable, retry the failed step, suspend, resume and cancel. A colleague
who works on the case sees it without the controls; someone with no part in it sees nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.api import Engine
from engine.errors import ScriptError
from tests.helpers import BPMN_HEADER, bpmn, chain, csrf_token, flow, post_sign_in

from .conftest import PASSWORD, Site, screenshot, sign_in

# An order: the customer is told it arrived, sales checks the stock (a reminder timer after 4 hours), the invoice
# is computed by a script in its own job (asyncBefore, one try), the warehouse ships it.
SHAPES = {  # element: (x, y, width, height)
    "order_in": (152, 142, 36, 36), "confirm_order": (240, 120, 100, 80), "check_stock": (400, 120, 100, 80),
    "compute_invoice": (560, 120, 100, 80), "ship_order": (720, 120, 100, 80), "shipped": (882, 142, 36, 36),
    "check_overdue": (432, 182, 36, 36), "stock_late": (432, 272, 36, 36),
}
FLOWS = [("order_in", "confirm_order"), ("confirm_order", "check_stock"), ("check_stock", "compute_invoice"),
         ("compute_invoice", "ship_order"), ("ship_order", "shipped"), ("check_overdue", "stock_late")]


def _edge(source: str, target: str) -> str:
    sx, sy, sw, sh = SHAPES[source]
    tx, ty, tw, th = SHAPES[target]
    if sy + sh <= ty:  # straight down
        points = [(sx + sw // 2, sy + sh), (tx + tw // 2, ty)]
    else:
        points = [(sx + sw, sy + sh // 2), (tx, ty + th // 2)]
    waypoints = "".join(f'<di:waypoint x="{x}" y="{y}"/>' for x, y in points)
    return f'<bpmndi:BPMNEdge id="f_{source}_{target}_di" bpmnElement="f_{source}_{target}">{waypoints}</bpmndi:BPMNEdge>'


FULFILMENT = (BPMN_HEADER.replace("<bpmn:definitions ", '<bpmn:definitions xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
                                  'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
                                  'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" ') + """
<bpmn:process id="fulfilment" name="Order fulfilment" isExecutable="true">
  <bpmn:startEvent id="order_in" name="Order received"/>
  <bpmn:serviceTask id="confirm_order" name="Order {orderNumber} received" camunda:type="external" camunda:topic="notify-customer">
    <bpmn:documentation>Dear {customer}, we received your order {orderNumber} and will ship it soon.</bpmn:documentation>
  </bpmn:serviceTask>
  <bpmn:userTask id="check_stock" name="Check stock" camunda:candidateGroups="sales"/>
  <bpmn:boundaryEvent id="check_overdue" name="4 hours" cancelActivity="false" attachedToRef="check_stock">
    <bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:endEvent id="stock_late" name="Stock check late"/>
  <bpmn:scriptTask id="compute_invoice" name="Compute invoice" scriptFormat="python" camunda:asyncBefore="true">
    <bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R1/PT5M</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>
    <bpmn:script>unitPrice = amount / quantity</bpmn:script>
  </bpmn:scriptTask>
  <bpmn:userTask id="ship_order" name="Ship order" camunda:candidateGroups="warehouse"/>
  <bpmn:endEvent id="shipped" name="Shipped"/>
""" + "\n".join(flow(a, b) for a, b in FLOWS) + """
</bpmn:process>
<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="fulfilment">
""" + "".join(f'<bpmndi:BPMNShape id="{e}_di" bpmnElement="{e}"><dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/>'
              "</bpmndi:BPMNShape>" for e, (x, y, w, h) in SHAPES.items())
    + "".join(_edge(a, b) for a, b in FLOWS) + """
</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
""").encode()


class Orders:
    """Orders of the fulfilment process on the test site's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.definitions.deploy([("fulfilment.bpmn", FULFILMENT)])

    def start(self, number: str, *, quantity: int = 2) -> str:
        """A new order, its customer told (the built-in worker ran): it waits at "Check stock"."""
        instance = self.engine.instances.start(
            "fulfilment", business_key=number, user="admin",
            variables={"orderNumber": number, "customer": "ACME Ltd", "customerEmail": "buyer@acme.example",
                       "amount": 1200, "quantity": quantity})
        assert self.engine.handlers.run() == 1
        return instance.id

    def check_stock(self, instance_id: str, user: str = "mary") -> None:
        """Sales checks the stock; the invoice job runs (and fails when the quantity is 0)."""
        [task] = self.engine.tasks.list(instance_id=instance_id)
        self.engine.tasks.claim(task.id, user)
        self.engine.tasks.complete(task.id, {}, user=user)
        self.engine.jobs.execute_due()


@pytest.fixture
def orders(site: Site) -> Orders:
    return Orders(site.engine)


def element(page: Any, element_id: str) -> Any:
    """The diagram's SVG group of a BPMN element."""
    return page.locator(f'#diagram g.djs-element[data-element-id="{element_id}"]')


def open_instance(page: Any, instance_id: str) -> None:
    page.goto(f"/instances/{instance_id}")
    expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")


def test_an_operator_sees_where_an_order_stands(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1001")
    site.clock.advance(hours=5)  # the stock check is late; the timer has not fired (no scheduler here)
    sign_in(page, "admin")
    open_instance(page, instance_id)

    expect(page.get_by_role("heading", name="Order fulfilment · ORD-1001")).to_be_visible()
    expect(element(page, "check_stock")).to_have_class(re.compile(r"\bsf-active\b"))
    expect(element(page, "check_overdue")).to_have_class(re.compile(r"\bsf-active\b"))  # the waiting timer
    for done in ("order_in", "confirm_order"):
        expect(element(page, done)).to_have_class(re.compile(r"\bsf-completed\b"))
    expect(element(page, "f_order_in_confirm_order")).to_have_class(re.compile(r"\bsf-taken\b"))
    expect(element(page, "f_check_stock_compute_invoice")).not_to_have_class(re.compile(r"\bsf-taken\b"))
    expect(element(page, "ship_order")).not_to_have_class(re.compile(r"sf-"))

    timer = page.locator("table.timers tbody tr")
    expect(timer).to_contain_text("4 hours")
    expect(timer).to_contain_text("Mon 5 Jan 2026, 13:00")
    expect(timer.locator(".badge.overdue")).to_have_text("overdue")

    mail = page.locator("table.notifications tbody tr")
    expect(mail).to_contain_text("buyer@acme.example")
    expect(mail).to_contain_text("Order ORD-1001 received")
    expect(mail).to_contain_text("Dear ACME Ltd, we received your order ORD-1001")

    expect(page.locator("table.tasks tbody tr")).to_contain_text("Check stock")
    expect(page.locator('tr[data-variable="amount"] .type')).to_have_text("Integer")
    expect(page.locator('tr[data-variable="customer"] .type')).to_have_text("String")
    history = page.locator(".history")
    expect(history).to_contain_text("Order received completed")
    expect(history).to_contain_text("started by admin")
    expect(history).to_contain_text("service task")


def test_an_incident_is_red_until_an_admin_fixes_the_cause_and_retries(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1002", quantity=0)
    orders.check_stock(instance_id)  # the invoice divides by the quantity: an incident
    assert len(site.engine.jobs.incidents(instance_id=instance_id)) == 1

    sign_in(page, "admin")
    open_instance(page, instance_id)
    expect(element(page, "compute_invoice")).to_have_class(re.compile(r"\bsf-incident\b"))
    expect(element(page, "check_stock")).to_have_class(re.compile(r"\bsf-completed\b"))
    incident = page.locator(".incidents .incident")
    expect(incident).to_contain_text("Compute invoice")
    expect(incident).to_contain_text("division by zero")
    expect(page.locator(".facts")).to_contain_text("1 open")

    row = page.locator('tr[data-variable="quantity"]')
    row.get_by_text("Edit").click()
    row.get_by_label("Type").select_option("Number")
    row.get_by_label("Value").fill("three")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.error")).to_have_text("quantity: “three” is not a number (write 1200 or 12.5)")
    row.get_by_text("Edit").click()
    row.get_by_label("Value").fill("3")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.success")).to_have_text("quantity is now 3.")
    expect(row.locator(".value")).to_contain_text("3")
    row.get_by_text("1 change").click()
    expect(row.locator(".changes li")).to_contain_text("by admin: 0 → 3")
    expect(page.locator(".history .event-variables").first).to_contain_text("Variables changed by admin")
    assert site.engine.instances.variables(instance_id)["quantity"] == 3
    expect(element(page, "compute_invoice")).to_have_class(re.compile(r"\bsf-incident\b"))  # still, until retried
    screenshot(page, "instance.png")

    incident.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash.success")).to_have_text("Retried compute_invoice: it ran, and the instance goes on.")
    expect(page.locator(".incidents")).to_have_count(0)
    expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")
    expect(element(page, "compute_invoice")).to_have_class(re.compile(r"\bsf-completed\b"))
    expect(element(page, "compute_invoice")).not_to_have_class(re.compile(r"\bsf-incident\b"))
    expect(element(page, "ship_order")).to_have_class(re.compile(r"\bsf-active\b"))
    assert site.engine.instances.variables(instance_id)["unitPrice"] == 400


def test_an_admin_removes_and_adds_variables(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1003")
    sign_in(page, "admin")
    page.goto(f"/instances/{instance_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    row = page.locator('tr[data-variable="customerEmail"]')
    row.get_by_text("Edit").click()
    row.get_by_role("button", name="Remove customerEmail").click()
    expect(page.locator(".flash.success")).to_have_text("Removed the variable customerEmail.")
    expect(page.locator('tr[data-variable="customerEmail"]')).to_have_count(0)
    expect(page.locator(".removed")).to_contain_text("customerEmail")

    page.get_by_text("Add a variable").click()
    page.get_by_label("Name").fill("gift")
    page.locator("#new-type").select_option("Json")
    page.locator("#new-value").fill('{"wrap": true, "note": "Happy birthday"}')
    page.get_by_role("button", name="Add").click()
    expect(page.locator('tr[data-variable="gift"] .type')).to_have_text("Json")
    assert site.engine.instances.variables(instance_id)["gift"] == {"wrap": True, "note": "Happy birthday"}
    assert "customerEmail" not in site.engine.instances.variables(instance_id)


def test_an_admin_suspends_resumes_and_cancels_an_instance(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1004")
    sign_in(page, "admin")
    page.goto(f"/instances/{instance_id}")
    page.get_by_role("button", name="Suspend").click()
    expect(page.locator(".flash.success")).to_contain_text("Suspended")
    expect(page.locator(".state-badge")).to_have_text("suspended")
    assert site.engine.instances.get(instance_id).state == "SUSPENDED"

    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".flash.success")).to_have_text("Resumed: the instance goes on.")
    expect(page.locator(".state-badge")).to_have_text("active")
    expect(page.locator(".history")).to_contain_text("suspended by admin")
    expect(page.locator(".history")).to_contain_text("resumed by admin")

    page.get_by_text("Cancel the instance…").click()
    page.get_by_label("Reason").fill("Customer withdrew the order")
    page.get_by_role("button", name="Cancel the instance").click()  # the box is not ticked: the browser refuses
    assert site.engine.instances.get(instance_id).state == "ACTIVE"
    page.get_by_label(re.compile("Yes, cancel it")).check()
    page.get_by_role("button", name="Cancel the instance").click()
    expect(page.locator(".flash.success")).to_contain_text("Cancelled")
    expect(page.locator(".state-badge")).to_have_text("canceled")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    expect(page.get_by_role("button", name="Suspend")).to_have_count(0)
    expect(page.get_by_text("Edit", exact=True)).to_have_count(0)  # an ended instance's variables stay as they are
    assert site.engine.instances.get(instance_id).state == "CANCELED"

    # a second cancel (another tab, sent late) is a message on the page, not an error page
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(f"/instances/{instance_id}/cancel", form={"csrf_token": token, "confirm": "yes"})
    assert answer.ok and "has ended" in answer.text()


def test_a_colleague_sees_the_case_but_not_the_operations(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1005", quantity=0)
    orders.check_stock(instance_id, user="mary")  # mary acted in it; it has an incident
    sign_in(page, "mary")
    open_instance(page, instance_id)
    expect(element(page, "compute_invoice")).to_have_class(re.compile(r"\bsf-incident\b"))
    expect(page.locator(".incidents")).to_contain_text("division by zero")
    expect(page.locator('tr[data-variable="quantity"]')).to_contain_text("0")
    for control in ("Suspend", "Retry", "Save", "Add"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    expect(page.get_by_text("Edit", exact=True)).to_have_count(0)
    expect(page.get_by_text("Cancel the instance…")).to_have_count(0)

    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    [incident] = site.engine.jobs.incidents(instance_id=instance_id)
    for path, form in (("suspend", {}), ("resume", {}), ("cancel", {"confirm": "yes"}),
                       ("variables", {"name": "quantity", "type": "Number", "value": "3"}),
                       ("variables/remove", {"name": "quantity"}), (f"incidents/{incident['id']}/retry", {})):
        answer = page.request.post(f"/instances/{instance_id}/{path}", form={"csrf_token": token, **form})
        assert answer.status == 403, path
    assert site.engine.instances.get(instance_id).state == "ACTIVE"
    assert site.engine.instances.variables(instance_id)["quantity"] == 0
    assert len(site.engine.jobs.incidents(instance_id=instance_id)) == 1


def test_someone_with_no_part_in_the_case_sees_nothing_of_it(page: Any, site: Site, orders: Orders) -> None:
    instance_id = orders.start("ORD-1006")  # offered to sales; bob is in the warehouse
    sign_in(page, "bob")
    answer = page.goto(f"/instances/{instance_id}")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("You have no part in this process instance")
    assert page.request.get(f"/instances/{instance_id}/diagram.xml").status == 403


def test_a_process_deployed_without_a_layout_says_so(page: Any, site: Site) -> None:
    task_id = site.expense("EXP-9")  # written by hand: no BPMNDiagram
    instance_id = site.engine.tasks.get(task_id).process_instance_id
    sign_in(page, "admin")
    page.goto(f"/instances/{instance_id}")
    expect(page.locator("#diagram")).to_have_attribute("data-state", "failed")
    expect(page.locator("#diagram-note")).to_have_text(
        "This process was deployed without a diagram layout: there is nothing to draw.")
    expect(page.locator("table.tasks tbody tr")).to_contain_text("Approve expense")


# -- without a browser: the diagram's XML, the markers in the page and the refusals ---------------------------------

@pytest.fixture
def client_for(sqlite_engine: Engine) -> Iterator[Any]:
    """A signed-in test client per user name (CSRF checks on, as in production)."""
    from web.app import create_app

    eng = sqlite_engine
    eng.identity.add_user("admin", PASSWORD, ["admins"])
    eng.identity.add_user("mary", PASSWORD, ["sales"])
    eng.identity.add_user("bob", PASSWORD, ["warehouse"])
    app = create_app({"SECRET_KEY": "instance-tests-" + "k" * 32}, engine=eng)

    def client(user: str | None) -> Any:
        c = app.test_client()
        if user is not None:
            assert post_sign_in(c, user, PASSWORD).status_code == 302
        return c
    yield client


def _markers(html: str) -> dict[str, list[str]]:
    found = re.search(r'<script type="application/json" id="diagram-markers">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_the_diagram_xml_is_for_those_who_may_see_the_instance(client_for: Any, sqlite_engine: Engine) -> None:
    orders = Orders(sqlite_engine)
    instance_id = orders.start("ORD-2001")
    mary = client_for("mary")
    answer = mary.get(f"/instances/{instance_id}/diagram.xml")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    assert answer.data == FULFILMENT
    assert client_for("bob").get(f"/instances/{instance_id}/diagram.xml").status_code == 403
    anonymous = client_for(None).get(f"/instances/{instance_id}/diagram.xml")
    assert anonymous.status_code == 302 and "/?next=" in anonymous.headers["Location"]
    assert mary.get("/instances/no-such-instance/diagram.xml").status_code == 404

    page = mary.get(f"/instances/{instance_id}")
    assert page.status_code == 200
    assert _markers(page.text) == {"active": ["check_overdue", "check_stock"],
                                   "completed": ["confirm_order", "order_in"], "incidents": []}


def test_admin_changes_are_refused_to_others_and_errors_are_messages(client_for: Any, sqlite_engine: Engine,
                                                                     ) -> None:
    orders = Orders(sqlite_engine)
    instance_id = orders.start("ORD-2002", quantity=0)
    orders.check_stock(instance_id)
    assert _markers(client_for("admin").get(f"/instances/{instance_id}").text) == {
        "active": ["compute_invoice"], "completed": ["check_stock", "confirm_order", "order_in"],
        "incidents": ["compute_invoice"]}

    mary = client_for("mary")
    token = csrf_token(mary.get(f"/instances/{instance_id}").text)
    assert mary.post(f"/instances/{instance_id}/suspend", data={"csrf_token": token}).status_code == 403

    admin = client_for("admin")
    token = csrf_token(admin.get(f"/instances/{instance_id}").text)
    assert admin.post(f"/instances/{instance_id}/suspend").status_code == 400  # no CSRF token
    answer = admin.post(f"/instances/{instance_id}/variables",
                        data={"csrf_token": token, "name": "quantity", "type": "Boolean", "value": "maybe"},
                        follow_redirects=True)
    assert answer.status_code == 200 and "quantity: “maybe” is neither true nor false" in answer.text
    answer = admin.post(f"/instances/{instance_id}/incidents/no-such-incident/retry", data={"csrf_token": token},
                        follow_redirects=True)
    assert "This incident is resolved already." in answer.text
    assert admin.post("/instances/no-such-instance/suspend", data={"csrf_token": token}).status_code == 404

    sqlite_engine.instances.cancel(instance_id, reason="test")
    answer = admin.post(f"/instances/{instance_id}/suspend", data={"csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200 and "has ended" in answer.text
    assert "Suspend</button>" not in answer.text


def test_a_variable_change_is_kept_in_the_history(engine: Engine) -> None:
    orders = Orders(engine)
    instance_id = orders.start("ORD-2003")
    engine.instances.set_variables(instance_id, {"quantity": 5, "note": "rush"}, user="admin")
    engine.instances.set_variables(instance_id, {"quantity": 5}, remove=["note", "nothing"], user="sam")
    engine.instances.set_variables(instance_id, {"quantity": 5})  # no change: no event
    changes = engine.instances.variable_changes(instance_id)
    assert [(c.user_id, c.details) for c in changes] == [
        ("admin", {"set": {"quantity": 5, "note": "rush"}, "previous": {"quantity": 2}, "removed": []}),
        ("sam", {"set": {}, "previous": {"note": "rush"}, "removed": ["note"]}),
    ]
    assert engine.instances.history(instance_id)[-1].event == "variables"


def test_a_call_activity_and_a_subprocess_in_progress_are_active(engine: Engine) -> None:
    child = bpmn('<bpmn:startEvent id="cs"/><bpmn:userTask id="ct"/><bpmn:endEvent id="ce"/>' + chain("cs", "ct", "ce"),
                 "child")
    parent = bpmn('<bpmn:startEvent id="ps"/><bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
                  '<bpmn:userTask id="st"/><bpmn:endEvent id="se"/>' + chain("ss", "st", "se") + "</bpmn:subProcess>"
                  '<bpmn:callActivity id="call" calledElement="child"/><bpmn:endEvent id="pe"/>'
                  + chain("ps", "sub", "call", "pe"), "parent")
    eng = engine
    eng.definitions.deploy([("child.bpmn", child), ("parent.bpmn", parent)])
    instance = eng.instances.start("parent")
    markers = eng.instances.markers(instance.id)
    assert (markers.active, markers.completed) == (["st", "sub"], ["ps", "ss"])
    [task] = eng.tasks.list(instance_id=instance.id)
    eng.tasks.complete(task.id, {})
    markers = eng.instances.markers(instance.id)
    assert {"call", "ct"} <= set(markers.active) and "sub" not in markers.active
    assert {"ps", "sub", "st"} <= set(markers.completed)


def test_a_failed_script_with_nothing_to_retry_is_marked_resolved(client_for: Any, sqlite_engine: Engine) -> None:
    eng = sqlite_engine
    eng.definitions.deploy([("tally.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="count" camunda:candidateGroups="sales"/>'
        '<bpmn:scriptTask id="average" scriptFormat="python"><bpmn:script>mean = total / count</bpmn:script>'
        '</bpmn:scriptTask><bpmn:endEvent id="e"/>' + chain("s", "count", "average", "e"), "tally"))])
    instance = eng.instances.start("tally", variables={"total": 10, "count": 0})
    [task] = eng.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError, match="division by zero"):
        eng.tasks.complete(task.id, {})
    [incident] = eng.jobs.incidents(instance_id=instance.id)
    assert incident["incidentType"] == "failedScript"

    mary = client_for("mary")
    page = mary.get(f"/instances/{instance.id}").text
    assert "division by zero" in page and "Mark resolved" not in page
    assert mary.post(f"/instances/{instance.id}/incidents/{incident['id']}/resolve",
                     data={"csrf_token": csrf_token(page)}).status_code == 403

    admin = client_for("admin")
    page = admin.get(f"/instances/{instance.id}").text
    assert "Mark resolved</button>" in page and ">Retry</button>" not in page
    answer = admin.post(f"/instances/{instance.id}/incidents/{incident['id']}/resolve",
                        data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "The incident is marked resolved." in answer.text and "division by zero" not in answer.text
    assert eng.jobs.incidents(instance_id=instance.id) == []
    answer = admin.post(f"/instances/{instance.id}/incidents/{incident['id']}/resolve",
                        data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert f"incident &#39;{incident['id']}&#39; is resolved already" in answer.text


def test_an_object_variable_edited_in_the_inbox_keeps_its_java_class(client_for: Any, sqlite_engine: Engine) -> None:
    """An `Object` (a Java class, serialized as JSON) is offered for editing as an object of its class and saved as
    one, so that Camunda clients still read its `objectTypeName`; bad JSON is a message, the value unchanged."""
    from engine.variables import make_object, to_typed

    orders = Orders(sqlite_engine)
    instance_id = orders.start("ORD-2005")
    order = make_object('{"id": 7, "lines": 2}', {"objectTypeName": "com.acme.Order"})
    sqlite_engine.instances.set_variables(instance_id, {"order": order}, user="admin")
    admin = client_for("admin")
    page = admin.get(f"/instances/{instance_id}").text
    assert '<option value="Object" selected>object (com.acme.Order)</option>' in page
    token = csrf_token(page)
    answer = admin.post(f"/instances/{instance_id}/variables", follow_redirects=True, data={
        "csrf_token": token, "name": "order", "type": "Object", "value": '{"id": 7, "lines": 3}'})
    assert answer.status_code == 200
    typed = to_typed(sqlite_engine.instances.variables(instance_id)["order"])
    assert (typed["type"], typed["valueInfo"]["objectTypeName"]) == ("Object", "com.acme.Order")
    assert json.loads(typed["value"]) == {"id": 7, "lines": 3}
    answer = admin.post(f"/instances/{instance_id}/variables", follow_redirects=True, data={
        "csrf_token": token, "name": "order", "type": "Object", "value": "{broken"})
    assert "order: the value is not JSON" in answer.text
    answer = admin.post(f"/instances/{instance_id}/variables", follow_redirects=True, data={
        "csrf_token": token, "name": "quantity", "type": "Object", "value": "{}"})
    assert "quantity: only a variable that is an object keeps a Java class" in answer.text
    assert json.loads(to_typed(sqlite_engine.instances.variables(instance_id)["order"])["value"]) == {
        "id": 7, "lines": 3}


def test_the_instance_page_shows_the_decisions_its_rules_took(page: Any, site: Site, orders: Orders) -> None:
    """A business rule task's decision (from the decision history): when, which decision at which task, the inputs
    it read and the rule that matched with its result; an instance that took none shows no such section."""
    from pathlib import Path

    processes = Path(__file__).resolve().parents[2] / "processes"
    site.engine.definitions.deploy_files([processes / "card_issuance.bpmn", processes / "card_rules.dmn"])
    instance = site.engine.instances.start("card_issuance", business_key="C-7", variables={
        "client": "Ann Lee", "customerEmail": "ann@example.com", "channel": "store", "spend12m": 6000,
        "tenureMonths": 30})
    sign_in(page, "admin")
    page.goto(f"/instances/{instance.id}")
    row = page.locator("table.decisions tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator('[data-label="Decision"]')).to_have_text("Card type at Choose the card type")
    expect(row.locator('[data-label="Inputs"]')).to_have_text("Spend in 12 months = 6000, Client for (months) = 30")
    expect(row.locator('[data-label="Result"]')).to_contain_text("cardType = gold")
    page.goto(f"/instances/{orders.start('ORD-1009')}")
    expect(page.get_by_role("heading", name="Process variables")).to_be_visible()
    expect(page.get_by_role("heading", name="Decisions taken")).to_have_count(0)


def test_a_called_processs_unnamed_element_is_not_shown_under_the_callers_name(client_for: Any,
                                                                                sqlite_engine: Engine) -> None:
    """The history list named a called process's unnamed end event after the caller's element of the same id (an
    id Camunda Modeler gives both files)."""
    eng = sqlite_engine
    eng.definitions.deploy([("shipping.bpmn", bpmn(
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:endEvent id="Event_Shipped"/>'
        + chain("StartEvent_1", "Event_Shipped"), process_id="shipping"))])
    eng.definitions.deploy([("order.bpmn", bpmn(
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:callActivity id="ship" calledElement="shipping"/>'
        '<bpmn:userTask id="Event_Shipped" name="Tell the customer" camunda:candidateGroups="sales"/>'
        '<bpmn:endEvent id="done"/>' + chain("StartEvent_1", "ship", "Event_Shipped", "done"), process_id="order"))])
    instance = eng.instances.start("order")
    page = client_for("admin").get(f"/instances/{instance.id}")
    assert page.status_code == 200
    steps = re.findall(r'<span class="event">([^<]*?) <span class="muted">completed</span>', page.text)
    assert steps.count("Event_Shipped") == 1  # the called process's end event, by its id: it has no name
    assert "Tell the customer" not in steps  # the caller's task of that id is open, not completed


def test_a_task_whose_form_the_inbox_does_not_display_says_so(client_for: Any, sqlite_engine: Engine) -> None:
    """A task with an embedded or Camunda Form (camunda:formKey) read "This task has no form"."""
    sqlite_engine.definitions.deploy([("claim.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="claim" name="Check the claim" camunda:candidateGroups="sales" '
        'camunda:formKey="embedded:deployment:forms/claim.html"/><bpmn:endEvent id="e"/>'
        + chain("s", "claim", "e"), process_id="claims"))])
    instance = sqlite_engine.instances.start("claims")
    [task] = sqlite_engine.tasks.list(instance_id=instance.id)
    page = client_for("mary").get(f"/tasks/{task.id}")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "This task's form is embedded:deployment:forms/claim.html, which the inbox does not display" in text
    assert "This task has no form" not in text
