"""Browser tests of the inbox: a real server (werkzeug, in a thread) around the test's engine, driven by
Playwright through Debian's headless chromium (`make test` installs it; no browser download)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.clock import VirtualClock
from tests.helpers import bpmn, chain, serving
from web.app import create_app

playwright_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "secret-pass-1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

EXPENSE = bpmn("""
<bpmn:startEvent id="claim_submitted" name="Claim submitted">
  <bpmn:extensionElements><camunda:formData>
    <camunda:formField id="employee" label="Employee" type="string">
      <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="maxlength" config="40"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="amount" label="Amount (EUR)" type="long">
      <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="min" config="1"/><camunda:constraint name="max" config="10000"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="category" label="Category" type="enum">
      <camunda:value id="travel" name="Travel"/><camunda:value id="meals" name="Meals"/><camunda:value id="other" name="Other"/>
      <camunda:validation><camunda:constraint name="required"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="urgent" label="Urgent" type="boolean"/>
  </camunda:formData></bpmn:extensionElements>
</bpmn:startEvent>
<bpmn:scriptTask id="set_deadline" name="Set deadline" scriptFormat="python"><bpmn:script>try:
    due
except NameError:
    due = None
try:
    priority
except NameError:
    priority = 50
</bpmn:script></bpmn:scriptTask>
<bpmn:userTask id="approve_expense" name="Approve expense" camunda:candidateGroups="sales"
               camunda:dueDate="${due}" camunda:priority="${priority}">
  <bpmn:documentation>Check the receipt and approve the amount to pay.</bpmn:documentation>
  <bpmn:extensionElements><camunda:formData>
    <camunda:formField id="claimant" label="Claimed by" type="string" defaultValue="${employee}">
      <camunda:validation><camunda:constraint name="readonly"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="approvedAmount" label="Approved amount (EUR)" type="long" defaultValue="${amount}">
      <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="min" config="1"/><camunda:constraint name="max" config="5000"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="approved" label="Approve the claim" type="boolean" defaultValue="true"/>
    <camunda:formField id="payOn" label="Pay on" type="date" defaultValue="2026-01-15">
      <camunda:validation><camunda:constraint name="required"/></camunda:validation>
    </camunda:formField>
    <camunda:formField id="costCentre" label="Cost centre" type="enum">
      <camunda:value id="cc-100" name="CC-100 Sales"/><camunda:value id="cc-200" name="CC-200 Marketing"/>
    </camunda:formField>
    <camunda:formField id="note" label="Note to the employee" type="string">
      <camunda:validation><camunda:constraint name="maxlength" config="60"/></camunda:validation>
    </camunda:formField>
  </camunda:formData></bpmn:extensionElements>
</bpmn:userTask>
<bpmn:userTask id="pay_expense" name="Pay expense" camunda:assignee="${approver}"/>
<bpmn:endEvent id="paid"/>
""" + chain("claim_submitted", "set_deadline", "approve_expense", "pay_expense", "paid"), "expense_claim", name="Expense claim")

PICKING = bpmn("""
<bpmn:startEvent id="order_in"/>
<bpmn:userTask id="pick_goods" name="Pick goods" camunda:candidateGroups="warehouse" camunda:dueDate="${due}"
               camunda:priority="${priority}"/>
<bpmn:endEvent id="picked"/>
""" + chain("order_in", "pick_goods", "picked"), "picking", name="Warehouse picking")


@dataclass
class Site:
    """The running inbox: its URL, its engine and the engine's clock."""

    url: str
    engine: Engine
    clock: VirtualClock

    def expense(self, key: str, *, due: str | None = None, priority: int = 50, amount: int = 1200,
                employee: str = "Ann Smith") -> str:
        """Start an expense claim; returns the id of its approval task (offered to `sales`)."""
        instance = self.engine.instances.start(
            "expense_claim", business_key=key, user="admin",
            variables={"employee": employee, "amount": amount, "category": "travel", "urgent": False,
                       "due": due, "priority": priority, "approver": "mary"})
        return self.engine.tasks.list(instance_id=instance.id)[0].id

    def picking(self, key: str, *, due: str | None = None, priority: int = 50) -> str:
        instance = self.engine.instances.start("picking", business_key=key, variables={"due": due,
                                                                                        "priority": priority})
        return self.engine.tasks.list(instance_id=instance.id)[0].id


@pytest.fixture
def site(sqlite_engine: Engine, clock: VirtualClock) -> Iterator[Site]:
    eng = sqlite_engine
    eng.identity.add_user("admin", PASSWORD, ["admins"])
    eng.identity.add_user("mary", PASSWORD, ["sales"])
    eng.identity.add_user("bob", PASSWORD, ["warehouse"])
    eng.identity.add_user("sara", PASSWORD, ["sales"])
    eng.definitions.deploy([("expense.bpmn", EXPENSE), ("picking.bpmn", PICKING)])
    app = create_app({"SECRET_KEY": "inbox-tests-" + "k" * 32, "INBOX_POLL_MS": 300}, engine=eng)
    with serving(app) as url:
        yield Site(url, eng, clock)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, user: str, password: str = PASSWORD) -> None:
    """Sign in from the sign-in page as `user`."""
    page.goto("/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def open_list(page: Any, name: str) -> None:
    """Go to one of the inbox's lists ("My tasks", "My groups' tasks", "All tasks")."""
    page.locator(".tabs").get_by_role("link", name=re.compile(re.escape(name))).click()
    playwright_api.expect(page.locator('.tabs [aria-current="page"]')).to_contain_text(name)


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
