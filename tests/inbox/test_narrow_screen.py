"""On a phone (390 px wide), every inbox page fits the screen: no sideways scrolling, and each task of a list
shows its name, process, business key and due date, each with its label."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inbox.conftest import Site, screenshot, sign_in

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any, site: Site) -> Any:
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="en-GB", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def overflow(page: Any) -> list[str]:
    """The elements that reach past the right edge of the screen (none on a page that fits); a wide table may
    scroll sideways inside its own box."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (el.closest('.table-scroll')) continue;
            if (box.width && box.right > width + 1 && getComputedStyle(el).position !== 'fixed')
                out.push(`${el.tagName.toLowerCase()}.${el.className} in ${el.parentElement.tagName.toLowerCase()}.${el.parentElement.className} right=${Math.round(box.right)}`);
        }
        return out.slice(0, 40);
    }""")


def test_the_inbox_and_its_pages_fit_a_phone_screen(phone: Any, site: Site) -> None:
    task_id = site.expense("EXP-2026-000123-LONG-BUSINESS-KEY", due="2026-01-01T09:00:00Z", priority=80)
    long_word = "X" * 300  # a pasted reference with no space in it wraps; it must not widen the page
    unbroken = site.expense("K" * 250, employee=long_word)
    site.engine.tasks.add_comment(unbroken, long_word, user="admin")
    site.picking("PICK-1")
    instance_id = site.engine.tasks.get(task_id).process_instance_id
    sign_in(phone, "admin")
    for path in ("/", "/?list=groups", "/?list=all", f"/tasks/{task_id}", f"/tasks/{unbroken}", "/start",
                 f"/instances/{instance_id}",
                 "/designer", "/reports/funnel"):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (path, overflow(phone))
        assert overflow(phone) == [], (path, overflow(phone))

    phone.set_viewport_size({"width": 1280, "height": 800})  # and on a desk: the long word wraps there too
    for path in ("/?list=all", f"/tasks/{unbroken}"):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 1280, (path, overflow(phone))
    phone.set_viewport_size(PHONE)

    phone.goto("/?list=all")
    row = phone.locator(f'tr[data-task-id="{task_id}"]')
    assert row.locator("td.name").inner_text() == "Approve expense"
    labels = row.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
    assert '"Business key"' in labels and '"Due"' in labels, labels
    assert row.locator("td.due .badge.overdue").is_visible()
    screenshot(phone, "inbox-phone.png")
