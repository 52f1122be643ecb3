"""Turn a due date, follow-up date or timer value into a moment, with SpiffWorkflow's ISO 8601 arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


def parse_moment(value: Any, now: datetime) -> datetime:
    """A datetime, an ISO date-time string, or an ISO duration (`P2D`, meaning now plus two days)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    text = str(value).strip()
    if text.upper().startswith("P"):
        try:
            parsed = TimerEventDefinition.parse_iso_duration(text)
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception
            raise ValueError(f"'{text}' is not an ISO 8601 duration")
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is neither an ISO 8601 date-time nor a duration")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
