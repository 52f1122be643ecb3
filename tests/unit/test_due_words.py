"""How the inbox words a due date: in calendar days for the coming week, as a person counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web.inbox.pages import due_state

NOW = datetime(2026, 12, 1, 23, 34, tzinfo=UTC)  # a Tuesday, late evening


def test_the_coming_days_are_counted_as_calendar_days() -> None:
    assert due_state(NOW + timedelta(hours=47, minutes=59), NOW) == ("soon", "Due in 2 days")  # Thursday 23:33
    assert due_state(NOW + timedelta(minutes=30), NOW) == ("soon", "Due tomorrow, 00:04")
    assert due_state(NOW + timedelta(hours=24), NOW) == ("soon", "Due tomorrow, 23:34")
    assert due_state(NOW + timedelta(days=6, hours=1), NOW) == ("soon", "Due in 7 days")


def test_today_overdue_later_and_none_keep_their_words() -> None:
    assert due_state(NOW + timedelta(minutes=10), NOW) == ("today", "Due today, 23:44")
    assert due_state(NOW - timedelta(days=2, hours=3), NOW) == ("overdue", "Overdue by 2 days")
    assert due_state(NOW + timedelta(days=9), NOW) == ("later", "Due Thu 10 Dec 2026")
    assert due_state(None, NOW) == ("none", "No due date")
