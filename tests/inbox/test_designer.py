"""A process designer's day, in a real browser: deploy a diagram and read it back (diagram and XML), see a broken
file refused with the offending element marked on its diagram, change a task in the in-browser modeler, deploy it
as version 2 and start it. People outside `designers` and `admins` get no link and a 403; the modeler's JSON
endpoint answers errors as JSON and wants the page's CSRF token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import PASSWORD, Site, screenshot, sign_in

REPO = Path(__file__).resolve().parents[2]
ORDER = (REPO / "examples" / "order_approval.bpmn").read_bytes()
CARD_RULES = (REPO / "processes" / "card_rules.dmn").read_bytes()
BROKEN = ORDER.replace(b"${approved}", b"${approved &amp;&amp;}")  # a condition that does not compile
BROKEN_LINE = ORDER[:ORDER.index(b"${approved}")].count(b"\n") + 1


def upload(page: Any, *files: tuple[str, bytes]) -> None:
    """Choose files in the designer's upload form and deploy them."""
    page.get_by_label("BPMN and DMN files").set_input_files(
        [{"name": name, "mimeType": "application/xml", "buffer": content} for name, content in files])
    page.get_by_role("button", name="Deploy", exact=True).click()


def add_designer(site: Site) -> None:
    site.engine.identity.add_user("dana", PASSWORD, ["designers"])


def test_a_designer_deploys_a_diagram_and_reads_it_back(page: Any, site: Site) -> None:
    add_designer(site)
    sign_in(page, "dana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Designer").click()
    expect(page.get_by_role("heading", name="Process designer")).to_be_visible()

    upload(page, ("order_approval.bpmn", ORDER), ("card_rules.dmn", CARD_RULES))  # one deployment
    expect(page.locator(".flash")).to_have_text(
        "Deployed “Order approval” version 1, decision “Card type” version 1.")
    assert len(site.engine.definitions.deployments()) == 2  # the fixture's and this one
    row = page.locator('tr[data-key="order_approval"]')
    expect(row.locator(".name")).to_have_text("Order approval")
    expect(row.locator(".latest")).to_have_text("version 1 (tag 1)")
    expect(row.locator(".running")).to_have_text("0")

    upload(page, ("order_approval.bpmn", ORDER))  # the same content again: no new version
    expect(page.locator(".flash")).to_contain_text("Nothing changed")
    expect(row.locator(".versions li")).to_have_count(1)
    # a diagram whose process is not executable: said so, naming the process and what to change
    upload(page, ("sketch.bpmn", ORDER.replace(b'isExecutable="true"', b'isExecutable="false"')))
    expect(page.locator(".flash")).to_have_text(
        'Nothing deployed: sketch.bpmn: order_approval skipped, not executable (isExecutable="false"). Tick '
        '“Executable” on the process in the modeler, or set isExecutable="true", to deploy it.')

    site.engine.instances.start("order_approval", variables={"customer": "ACME", "amount": 10})
    page.reload()
    expect(row.locator(".running")).to_have_text("1")
    row.get_by_role("link", name="View version 1 of Order approval").click()
    expect(page.get_by_role("heading", name="Order approval")).to_be_visible()
    expect(page.locator(".eyebrow")).to_have_text("order_approval · version 1 (tag 1)")
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1)
    diagram = page.locator("#diagram svg[data-element-id]")
    for element in ("order_received", "review_order", "approved_gateway", "book_order", "flow_approved"):
        expect(diagram.locator(f'[data-element-id="{element}"]')).to_have_count(1)
    expect(diagram).to_contain_text("Review order")
    expect(page.locator("pre.xml")).to_contain_text('<bpmn:userTask id="review_order" name="Review order"')
    download = page.request.get(page.get_by_role("link", name="Download the XML").get_attribute("href"))
    assert download.body() == ORDER
    assert 'filename="order_approval-v1.bpmn"' in download.headers["content-disposition"]
    screenshot(page, "designer.png")


def test_a_broken_file_is_refused_with_its_element_marked_on_the_diagram(page: Any, site: Site) -> None:
    add_designer(site)
    sign_in(page, "dana")
    page.goto("/designer")
    upload(page, ("notes.bpmn", b"<not xml"))
    expect(page.get_by_role("heading", name="Not deployed")).to_be_visible()
    alert = page.get_by_role("alert")
    expect(alert.locator("dd.file")).to_have_text("notes.bpmn")
    expect(page.locator("#diagram")).to_have_count(0)  # nothing to draw

    page.goto("/designer")
    upload(page, ("order_broken.bpmn", BROKEN))
    expect(alert.locator(".message")).to_have_text(re.compile(
        rf"^order_broken\.bpmn:{BROKEN_LINE}, element 'flow_approved': condition '\$\{{approved &&\}}'"))
    expect(alert.locator("dd.file")).to_have_text("order_broken.bpmn")
    expect(alert.locator("dd.element")).to_have_text("flow_approved")
    expect(alert.locator("dd.line")).to_have_text(str(BROKEN_LINE))
    expect(page.locator("#diagram[data-state=ready]")).to_have_count(1)
    marked = page.locator("#diagram .djs-element.deploy-error")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-element-id", "flow_approved")
    assert site.engine.definitions.list(key="order_approval") == []  # nothing stored


def test_a_designer_changes_a_task_in_the_modeler_and_starts_version_2(page: Any, site: Site) -> None:
    site.engine.definitions.deploy([("order_approval.bpmn", ORDER)])
    sign_in(page, "admin")  # admins may design too
    page.goto("/designer")
    page.get_by_role("link", name="Edit version 1 of Order approval").click()
    expect(page.get_by_role("heading", name="Edit “Order approval”")).to_be_visible()
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1)
    canvas = page.locator("#canvas")
    panel = page.locator("#properties")

    # first a condition that does not compile: refused, the flow is marked and its properties are open
    canvas.locator('[data-element-id="flow_approved"] .djs-hit').first.click(force=True)
    panel.locator('[data-group-id="group-CamundaPlatform__Condition"] .bio-properties-panel-group-header').click()
    condition = panel.get_by_label("Condition Expression")
    expect(condition).to_have_value("${approved}")
    condition.fill("")
    condition.press_sequentially("${approved &&}")
    page.get_by_role("button", name="Deploy as new version").click()  # at once: what was typed is sent
    error = page.locator("#modeler-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("element 'flow_approved': condition '${approved &&}'")
    expect(canvas.locator(".djs-element.deploy-error")).to_have_attribute("data-element-id", "flow_approved")
    expect(panel.locator(".bio-properties-panel-header-label")).to_have_text("yes")  # the flow is selected
    condition.fill("")
    condition.press_sequentially("${approved}")
    expect(error).to_be_hidden()  # the marked element was edited: its error is gone
    expect(canvas.locator(".djs-element.deploy-error")).to_have_count(0)

    # then the change meant: the review task gets a new name, typed in the panel's Name field
    canvas.locator('[data-element-id="review_order"]').click()
    general = panel.locator('[data-group-id="group-general"]')
    general.locator(".bio-properties-panel-group-header").click()
    name = general.get_by_label("Name", exact=True)
    expect(name).to_have_value("Review order")
    name.fill("")
    name.press_sequentially("Check the order")
    expect(canvas.locator('[data-element-id="review_order"]')).to_contain_text("Check the order")
    screenshot(page, "modeler.png")
    page.get_by_role("button", name="Deploy as new version").focus()
    page.keyboard.press("Enter")  # the keyboard works the buttons

    expect(page.locator(".eyebrow")).to_have_text("order_approval · version 2 (tag 1)")
    expect(page.locator(".flash")).to_have_text("Deployed “Order approval” version 2.")
    expect(page.locator("#diagram svg[data-element-id]")).to_contain_text("Check the order")
    expect(page.get_by_role("navigation", name="Versions").get_by_role("link")).to_have_text(["v2", "v1"])

    page.goto("/start")
    page.get_by_role("link", name="Order approval").click()
    expect(page.locator(".eyebrow")).to_have_text("order_approval · version 2")
    page.get_by_label("Customer").fill("ACME")
    page.get_by_label("Amount (EUR)").fill("1200")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Check the order")).to_be_visible()
    task = site.engine.tasks.list(process_key="order_approval")[0]
    assert (task.name, task.task_definition_key) == ("Check the order", "review_order")


def test_the_designer_is_for_designers_and_admins_only(page: Any, site: Site) -> None:
    sign_in(page, "mary")  # sales
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Designer")).to_have_count(0)
    for path in ("/designer", "/designer/new"):
        response = page.goto(path)
        assert response.status == 403
        expect(page.get_by_role("heading", name="Not yours")).to_be_visible()
        expect(page.locator("main")).to_contain_text("designers")


def test_the_modeler_endpoint_answers_json_and_wants_the_csrf_token(page: Any, site: Site) -> None:
    add_designer(site)
    sign_in(page, "dana")
    page.goto("/designer/new")
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    endpoint = "/designer/deploy.json"

    refused = page.request.post(endpoint, data={"xml": ORDER.decode(), "fileName": "order.bpmn"})
    assert refused.status == 400
    assert refused.json()["type"] == "CSRFError"
    assert site.engine.definitions.list(key="order_approval") == []

    headers = {"X-CSRFToken": token}
    broken = page.request.post(endpoint, headers=headers, data={"xml": BROKEN.decode(), "fileName": "order.bpmn"})
    assert broken.status == 400
    body = broken.json()
    assert body["type"] == "ParseException"
    assert body["details"] == {"message": body["message"], "reason": body["details"]["reason"],
                               "file": "order.bpmn", "elementId": "flow_approved", "line": BROKEN_LINE}
    not_json = page.request.post(endpoint, headers=headers, data="xml")
    assert (not_json.status, not_json.json()["message"]) == (400, 'Send a JSON object with the diagram as "xml".')

    done = page.request.post(endpoint, headers=headers, data={"xml": ORDER.decode(), "fileName": "order.bpmn"})
    assert done.status == 200
    assert (done.json()["key"], done.json()["version"], done.json()["created"]) == ("order_approval", 1, True)
    again = page.request.post(endpoint, headers=headers, data={"xml": ORDER.decode(), "fileName": "order.bpmn"})
    assert (again.json()["version"], again.json()["created"]) == (1, False)
    assert again.json()["message"].startswith("Nothing changed")

    upload_without_token = page.request.post("/designer/deploy", multipart={
        "files": {"name": "order.bpmn", "mimeType": "application/xml", "buffer": ORDER}}, max_redirects=0)
    assert upload_without_token.status == 400

    page.goto("/designer/new")  # a new diagram, deployed as it is: a process with a start event
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1)
    page.get_by_role("button", name="Deploy as new version").click()
    expect(page.locator(".eyebrow")).to_have_text(re.compile(r"^Process_[0-9a-z]{7} · version 1$"))
    expect(page.get_by_role("heading", name="New process")).to_be_visible()
    first = page.locator(".eyebrow").inner_text()
    page.goto("/designer/new")  # another new diagram is another process, not a second version of the first
    expect(page.locator("#modeler[data-state=ready]")).to_have_count(1)
    page.get_by_role("button", name="Deploy as new version").click()
    expect(page.locator(".eyebrow")).to_have_text(re.compile(r"^Process_[0-9a-z]{7} · version 1$"))
    assert page.locator(".eyebrow").inner_text() != first

    site.engine.identity.add_user("walt", PASSWORD, ["warehouse"])
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "walt")
    token = page.locator('input[name="csrf_token"]').first.input_value()
    forbidden = page.request.post(endpoint, headers={"X-CSRFToken": token}, data={"xml": ORDER.decode()})
    assert forbidden.status == 403
    assert forbidden.json()["type"] == "AuthorizationException"
