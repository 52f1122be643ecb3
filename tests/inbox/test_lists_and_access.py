"""Finding the right task in a long list (filters, search, sort, pages, overdue ones standing out), noticing new
work without reloading, and what a person may not do: open someone else's task, or post a form from elsewhere."""

from __future__ import annotations

import re
from base64 import b64encode
from typing import Any

from playwright.sync_api import expect

from .conftest import PASSWORD, Site, open_list, screenshot, sign_in, sign_out


def keys(page: Any) -> list[str]:
    return page.locator("table.tasks tbody td.key").all_inner_texts()


def choose(page: Any, field: str, value: str | None = None, **option: str) -> None:
    """Pick a filter; the list reloads with it."""
    page.wait_for_load_state()  # the page's script is listening
    with page.expect_navigation():
        page.get_by_label(field, exact=True).select_option(value, **option)


def search(page: Any, text: str) -> None:
    page.get_by_label("Search").fill(text)
    with page.expect_navigation():
        page.get_by_label("Search").press("Enter")


def five_claims(site: Site) -> None:
    """Five claims filed five minutes apart from 09:00 UTC on Monday 5 January 2026 (the virtual clock)."""
    for key, due, priority in (("EXP-1", "2026-01-02T00:00:00Z", 80), ("EXP-2", "2026-01-05T16:00:00Z", 50),
                               ("EXP-3", "2026-01-08T12:00:00Z", 30), ("EXP-4", "2026-01-20T12:00:00Z", 50),
                               ("EXP-5", None, 60)):
        site.expense(key, due=due, priority=priority)
        site.clock.advance(minutes=5)


def test_filters_search_and_sort_find_the_right_task(page: Any, site: Site) -> None:
    five_claims(site)
    site.picking("PICK-1", due="2026-01-03T08:00:00Z", priority=70)
    sign_in(page, "mary")
    open_list(page, "My groups' tasks")
    assert keys(page) == ["EXP-5", "EXP-4", "EXP-3", "EXP-2", "EXP-1"]  # newest first

    choose(page, "Sort", "due")
    assert keys(page) == ["EXP-1", "EXP-2", "EXP-3", "EXP-4", "EXP-5"]  # soonest due first, no due date last
    overdue = page.locator("tr.due-overdue")
    expect(overdue).to_have_count(1)
    expect(overdue.locator(".badge.overdue")).to_have_text("Overdue by 3 days")
    expect(page.locator("tr", has_text="EXP-2").locator(".badge.today")).to_have_text("Due today, 16:00")
    page.locator("body").press("/")  # the keyboard way to the search box
    expect(page.get_by_label("Search")).to_be_focused()

    choose(page, "Due", "overdue")  # applies at once
    expect(page).to_have_url(re.compile(r"due=overdue"))
    assert keys(page) == ["EXP-1"]
    expect(page.locator('[data-count="groups"]')).to_have_text("1")
    choose(page, "Due", "week")
    assert keys(page) == ["EXP-2", "EXP-3"]
    choose(page, "Due", "none")
    assert keys(page) == ["EXP-5"]
    page.get_by_role("link", name="Clear filters").first.click()
    expect(page).not_to_have_url(re.compile("due="))

    choose(page, "Priority", "high")
    assert keys(page) == ["EXP-1", "EXP-5"]
    choose(page, "Priority", "")
    choose(page, "Sort", "-priority")
    assert keys(page)[:2] == ["EXP-1", "EXP-5"] and keys(page)[-1] == "EXP-3"

    search(page, "exp-4")
    assert keys(page) == ["EXP-4"]
    search(page, "goods")  # a task name, but not one of hers
    expect(page.locator(".empty")).to_contain_text("No task matches these filters")

    sign_out(page)
    sign_in(page, "admin")
    open_list(page, "All tasks")
    choose(page, "Process", label="Warehouse picking")
    assert keys(page) == ["PICK-1"]
    choose(page, "Process", "")
    choose(page, "Sort", "due")
    assert len(keys(page)) == 6
    screenshot(page, "inbox.png")


def test_a_long_list_has_pages(page: Any, site: Site) -> None:
    for number in range(1, 28):
        site.expense(f"EXP-{number:02d}")
        site.clock.advance(minutes=1)
    sign_in(page, "mary")
    open_list(page, "My groups' tasks")
    expect(page.locator(".summary")).to_have_text("Showing 1–25 of 27")
    assert keys(page)[0] == "EXP-27"
    page.get_by_role("link", name="Next →").click()
    expect(page.locator(".summary")).to_have_text("Showing 26–27 of 27")
    assert keys(page) == ["EXP-02", "EXP-01"]
    page.get_by_role("link", name="← Previous").click()
    expect(page.locator(".summary")).to_have_text("Showing 1–25 of 27")
    assert keys(page)[0] == "EXP-27"


def test_the_list_notices_new_work(page: Any, site: Site) -> None:
    site.expense("EXP-1")
    sign_in(page, "mary")
    open_list(page, "My groups' tasks")
    expect(page.locator(".changed")).to_be_hidden()
    site.expense("EXP-2")
    expect(page.locator('[data-count="groups"]')).to_have_text("2", timeout=5_000)
    expect(page.locator(".changed")).to_be_visible()
    page.get_by_role("link", name="Show the new list").click()
    expect(page.locator(".summary")).to_have_text("Showing 1–2 of 2")
    assert sorted(keys(page)) == ["EXP-1", "EXP-2"]


def test_someone_elses_task_is_forbidden(page: Any, site: Site) -> None:
    marys = site.expense("EXP-1")
    sign_in(page, "bob")
    response = page.goto(f"/tasks/{marys}")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not yours")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Approve expense")
    token = page.locator('input[name="csrf_token"]').first.input_value()
    refused = page.request.post(f"/tasks/{marys}/claim", form={"csrf_token": token}, max_redirects=0)
    assert refused.status == 403
    assert site.engine.tasks.get(marys).assignee is None
    assert page.goto("/tasks/no-such-task").status == 404
    instance_id = site.engine.tasks.get(marys).process_instance_id
    assert page.goto(f"/instances/{instance_id}").status == 403  # nor the case it belongs to
    expect(page.locator("main")).not_to_contain_text("EXP-1")


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any, site: Site) -> None:
    task_id = site.expense("EXP-1")
    refused = page.request.post("/login", form={"username": "mary", "password": PASSWORD}, max_redirects=0)
    assert refused.status == 400

    sign_in(page, "mary")
    page.goto(f"/tasks/{task_id}")
    forged = page.request.post(f"/tasks/{task_id}/claim", form={}, max_redirects=0)
    assert forged.status == 400
    assert "The form has expired" in forged.text()
    assert site.engine.tasks.get(task_id).assignee is None
    wrong = page.request.post(f"/tasks/{task_id}/claim", form={"csrf_token": "made-up"}, max_redirects=0)
    assert wrong.status == 400

    token = page.locator('input[name="csrf_token"]').first.input_value()
    assert page.request.post(f"/tasks/{task_id}/claim", form={"csrf_token": token}, max_redirects=0).status == 302
    assert site.engine.tasks.get(task_id).assignee == "mary"

    # the REST API authenticates every request itself and takes no CSRF token
    rest = page.request.post(f"{site.url}/engine-rest/task/{task_id}/unclaim",
                             headers={"Authorization": "Basic " + b64encode(f"mary:{PASSWORD}".encode()).decode()})
    assert rest.status == 204


def test_a_start_form_sent_twice_starts_one_instance(page: Any, site: Site) -> None:
    sign_in(page, "mary")
    definition = site.engine.definitions.latest("expense_claim")
    page.goto(f"/start/{definition.id}")
    form = {"csrf_token": page.locator('input[name="csrf_token"]').first.input_value(),
            "token": page.locator('input[name="token"]').input_value(), "businessKey": "EXP-9",
            "var.employee": "Mary Jones", "var.amount": "40", "var.category": "meals"}
    first = page.request.post(f"/start/{definition.id}", form=form, max_redirects=0)
    again = page.request.post(f"/start/{definition.id}", form=form, max_redirects=0)
    assert (first.status, again.status) == (302, 302)
    assert first.headers["location"] == again.headers["location"]
    assert site.engine.instances.count() == 1
