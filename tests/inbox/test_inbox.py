"""An employee's day in the inbox, in a real browser: sign in, find the tasks that are theirs, claim one, fill
its form (wrongly, then rightly), complete it, and start a new case from the start page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.helpers import bpmn

from .conftest import Site, open_list, screenshot, sign_in, sign_out


def task_rows(page: Any) -> list[str]:
    """The task names and business keys of the list on screen."""
    rows = page.locator("table.tasks tbody tr")
    return [f"{rows.nth(i).locator('td.name').inner_text()} {rows.nth(i).locator('td.key').inner_text()}"
            for i in range(rows.count())]


def test_a_visitor_signs_in_and_out(page: Any, site: Site) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("mary")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")

    page.get_by_label("Password").fill("secret-pass-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=re.compile("My tasks"))).to_be_visible()
    expect(page.locator(".who")).to_contain_text("mary")

    sign_out(page)
    page.goto("/start")  # a page behind the sign-in sends the visitor there, and back after it
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("mary")
    page.get_by_label("Password").fill("secret-pass-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Start a process")).to_be_visible()


def test_people_see_only_the_tasks_of_their_groups(page: Any, site: Site) -> None:
    site.expense("EXP-1")
    site.expense("EXP-2")
    site.picking("PICK-1")

    sign_in(page, "mary")  # sales
    open_list(page, "My groups' tasks")
    assert sorted(task_rows(page)) == ["Approve expense EXP-1", "Approve expense EXP-2"]
    expect(page.locator('[data-count="mine"]')).to_have_text("0")
    expect(page.locator('[data-count="groups"]')).to_have_text("2")
    expect(page.get_by_role("link", name=re.compile("All tasks"))).to_have_count(0)  # not an admin
    sign_out(page)

    sign_in(page, "bob")  # warehouse
    open_list(page, "My groups' tasks")
    assert task_rows(page) == ["Pick goods PICK-1"]
    page.goto("/?list=all")  # not for him: his own list instead
    expect(page.locator('.tabs [aria-current="page"]')).to_contain_text("My tasks")
    sign_out(page)

    sign_in(page, "admin")
    open_list(page, "All tasks")
    expect(page.locator('[data-count="all"]')).to_have_text("3")
    assert len(task_rows(page)) == 3


def test_an_employee_claims_fills_in_and_completes_a_task(page: Any, site: Site) -> None:
    task_id = site.expense("EXP-7", amount=7400, employee="Ann Smith", due="2026-01-06T17:00:00Z", priority=70)
    sign_in(page, "mary")
    open_list(page, "My groups' tasks")
    page.get_by_role("link", name="Approve expense").click()

    expect(page.get_by_role("heading", name="Approve expense")).to_be_visible()
    expect(page.locator(".eyebrow")).to_have_text("Expense claim · EXP-7")
    expect(page.get_by_label("Claimed by")).to_have_value("Ann Smith")  # read-only, from the start form
    expect(page.get_by_label("Approved amount (EUR)")).to_have_value("7400")  # its default: the claimed amount
    expect(page.get_by_label("Approved amount (EUR)")).to_be_disabled()  # not hers until she claims it
    page.get_by_role("button", name="Claim").click()
    expect(page.locator(".flash.success")).to_contain_text("You claimed")
    expect(page.locator("dd.assignee")).to_have_text("mary")

    amount = page.get_by_label("Approved amount (EUR)")
    expect(amount).to_be_enabled()
    expect(amount).to_have_attribute("max", "5000")
    expect(page.get_by_label("Claimed by")).to_have_attribute("readonly", "")
    expect(page.get_by_label("Approve the claim")).to_be_checked()
    expect(page.get_by_label("Pay on")).to_have_value("2026-01-15")
    assert page.get_by_label("Cost centre").locator("option").all_inner_texts() == ["—", "CC-100 Sales",
                                                                                    "CC-200 Marketing"]

    # the browser refuses the form first...
    page.get_by_role("button", name="Complete").click()
    assert amount.evaluate("input => input.validity.rangeOverflow")
    expect(page.locator(".flash.success")).to_have_count(1)  # still the claim's message: nothing was sent

    # ...and the server again, when the browser's checks are bypassed: the message stands next to the field
    page.locator("#task-form").evaluate("form => form.noValidate = true")
    page.get_by_label("Note to the employee").fill("Receipt for the hotel is missing")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator('[data-field="approvedAmount"] .error')).to_have_text("Must be at most 5000")
    expect(page.get_by_label("Approved amount (EUR)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Note to the employee")).to_have_value("Receipt for the hotel is missing")  # kept
    assert site.engine.tasks.get(task_id).ended_at is None
    screenshot(page, "task-form.png")

    note = page.get_by_label("Note to the employee")  # two wrong fields: both are marked at once
    note.evaluate("input => input.value = 'x'.repeat(61)")  # past its maxlength, as only a script can
    page.locator("#task-form").evaluate("form => form.noValidate = true")  # the page is a new one
    page.get_by_role("button", name="Complete").click()
    expect(page.locator(".alert")).to_have_text("Please correct the 2 fields marked below.")
    expect(page.locator('[data-field="approvedAmount"] .error')).to_have_text("Must be at most 5000")
    expect(page.locator('[data-field="note"] .error')).to_have_text("Must be at most 60 characters")

    note.fill("Receipt for the hotel is missing")
    page.get_by_label("Approved amount (EUR)").fill("4500")
    page.get_by_label("Cost centre").select_option("cc-100")
    page.get_by_role("button", name="Complete").click()
    # the next step of this case is hers too: the inbox opens it
    expect(page.locator(".flash.success")).to_contain_text("Completed “Approve expense”")
    expect(page.get_by_role("heading", name="Pay expense")).to_be_visible()
    instance = site.engine.instances.list(business_key="EXP-7")[0]
    variables = site.engine.instances.variables(instance.id)
    assert (variables["approvedAmount"], variables["approved"], variables["costCentre"]) == (4500, True, "cc-100")
    assert variables["note"] == "Receipt for the hotel is missing"
    expect(page.locator(".history")).to_contain_text("Approve expense")
    expect(page.locator(".history")).to_contain_text("by mary")

    page.get_by_label("Add a comment").fill("Paid with the January run.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator(".comment")).to_contain_text("Paid with the January run.")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator(".flash.success")).to_contain_text("Completed “Pay expense”")
    expect(page.locator('[data-count="mine"]')).to_have_text("0")


def test_a_task_is_given_back_or_handed_to_a_colleague(page: Any, site: Site) -> None:
    task_id = site.expense("EXP-8")
    sign_in(page, "mary")
    page.goto(f"/tasks/{task_id}")
    page.get_by_role("button", name="Claim").click()
    page.get_by_role("link", name="Back to the inbox").click()
    page.locator("table.tasks").wait_for()
    assert task_rows(page) == ["Approve expense EXP-8"]  # now in "My tasks"
    page.get_by_role("link", name="Approve expense").click()
    page.get_by_role("button", name="Unclaim").click()
    expect(page.locator("dd.assignee")).to_have_text("nobody yet")
    assert site.engine.tasks.get(task_id).assignee is None

    page.get_by_text("Hand to a colleague").click()
    page.get_by_label("Colleague").fill("bob")  # not in sales
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".flash.error")).to_have_text("bob is not one of this task's candidates.")
    page.get_by_text("Hand to a colleague").click()
    assert page.locator("#colleagues option").evaluate_all("options => options.map(o => o.value)") == ["sara"]
    page.get_by_label("Colleague").fill("sara")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("dd.assignee")).to_have_text("sara")
    expect(page.get_by_role("button", name="Complete")).to_be_disabled()  # hers now, not mary's


def test_an_employee_starts_a_process_from_the_start_page(page: Any, site: Site) -> None:
    hidden = bpmn('<bpmn:startEvent id="s"/>', process_id="internal", name="Internal cleanup").replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:isStartableInTasklist="false"')
    site.engine.definitions.deploy([("internal.bpmn", hidden)])
    sign_in(page, "mary")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Start a process").click()
    expect(page.get_by_role("link", name="Expense claim")).to_be_visible()
    expect(page.get_by_role("link", name="Internal cleanup")).to_have_count(0)  # not startable in a tasklist
    page.get_by_role("link", name="Expense claim").click()
    expect(page.get_by_role("heading", name="Start “Expense claim”")).to_be_visible()
    expect(page.get_by_label("Amount (EUR)")).to_have_attribute("min", "1")
    expect(page.get_by_label("Category")).to_have_attribute("required", "")

    page.locator("#start-form").evaluate("form => form.noValidate = true")
    page.get_by_label("Business key").fill("EXP-42")
    page.get_by_label("Employee").fill("Mary Jones")
    page.get_by_label("Amount (EUR)").fill("0")
    page.get_by_label("Category").select_option("meals")
    page.get_by_role("button", name="Start").click()
    expect(page.locator('[data-field="amount"] .error')).to_have_text("Must be at least 1")
    assert site.engine.instances.count() == 0

    page.get_by_label("Amount (EUR)").fill("86")
    page.get_by_role("button", name="Start").click()
    # its first task is offered to her group, so it opens
    expect(page.locator(".flash.success")).to_contain_text("Started “Expense claim” (EXP-42)")
    expect(page.get_by_role("heading", name="Approve expense")).to_be_visible()
    expect(page.get_by_label("Approved amount (EUR)")).to_have_value("86")
    [instance] = site.engine.instances.list(business_key="EXP-42")
    variables = site.engine.instances.variables(instance.id)
    assert (variables["employee"], variables["amount"], variables["category"], variables["urgent"]) == (
        "Mary Jones", 86, "meals", False)


def test_a_case_whose_first_task_is_a_colleagues_says_whose_it_is(page: Any, site: Site) -> None:
    """The first task is assigned to sara though offered to mary's group too: it is not mary's to do (she could not
    claim it), so she lands on the case's page, told whose the task is."""
    site.engine.definitions.deploy([("review.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="review" name="Review the contract" camunda:assignee="sara"
            camunda:candidateGroups="sales"/><bpmn:endEvent id="e"/>
        <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
        <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>""", "contract_review", name="Contract review"))])
    sign_in(page, "mary")
    page.goto("/start")
    page.get_by_role("link", name="Contract review").click()
    page.get_by_label("Business key").fill("CR-1")
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".flash.success")).to_have_text(
        "Started “Contract review” (CR-1). Its first task, “Review the contract”, is sara's.")
    expect(page.get_by_role("heading", name="Contract review · CR-1")).to_be_visible()


def test_a_case_started_for_another_team_opens_its_own_page(page: Any, site: Site) -> None:
    sign_in(page, "bob")  # warehouse: the approval goes to sales
    page.goto("/start")
    page.get_by_role("link", name="Expense claim").click()
    page.get_by_label("Business key").fill("EXP-77")
    page.get_by_label("Employee").fill("Bob Baker")
    page.get_by_label("Amount (EUR)").fill("120")
    page.get_by_label("Category").select_option("travel")
    page.get_by_label("Urgent").check()
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".flash.success")).to_have_text("Started “Expense claim” (EXP-77). It has no task for you now.")
    expect(page.get_by_role("heading", name="Expense claim · EXP-77")).to_be_visible()
    row = page.locator("table.tasks tbody tr")
    expect(row).to_contain_text("Approve expense")
    expect(row).to_contain_text("sales")
    expect(row.get_by_role("link")).to_have_count(0)  # not his to open
    expect(page.locator(".history")).to_contain_text("started by bob")
    expect(page.locator(".variables")).to_contain_text("Bob Baker")



def test_a_delegation_given_back_unresolved_and_a_lost_claim_read_as_sentences(page: Any, site: Site) -> None:
    """mary delegates to sara, who gives it back without resolving it: mary's page says so (it said "It is with
    None"). A claim that a colleague won a moment earlier says whose the task is, not the engine's message."""
    task_id = site.expense("EXP-5")
    site.engine.tasks.claim(task_id, "mary")
    site.engine.tasks.delegate(task_id, "sara", user="mary")
    site.engine.tasks.unclaim(task_id, "sara")
    sign_in(page, "mary")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator(".form-actions")).to_contain_text(
        "You delegated it and its delegate gave it back unresolved: claim it to resolve it yourself.")
    expect(page.locator("body")).not_to_contain_text("None")

    other = site.expense("EXP-6")
    page.goto(f"/tasks/{other}")  # mary's page still offers the claim when sara takes the task
    site.engine.tasks.claim(other, "sara")
    page.get_by_role("button", name="Claim").first.click()
    expect(page.locator(".flash.error")).to_have_text("This task is claimed by sara.")
