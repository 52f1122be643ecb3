"""`STAGEFLOW_*` settings: a value Stageflow cannot use is refused naming the variable and the value."""

from __future__ import annotations

import pytest

from engine.config import InvalidSetting, Settings


@pytest.mark.parametrize("name, value, message", [
    ("STAGEFLOW_CLOCK", "bogus",
     "STAGEFLOW_CLOCK must be 'system' or 'virtual[:2026-01-05T09:00:00+00:00]', not 'bogus'"),
    ("STAGEFLOW_CLOCK", "virtual:tomorrow",
     "STAGEFLOW_CLOCK must be 'system' or 'virtual[:2026-01-05T09:00:00+00:00]', not 'virtual:tomorrow'"),
    ("STAGEFLOW_TIMER_POLL_SECONDS", "abc", "STAGEFLOW_TIMER_POLL_SECONDS must be a number, not 'abc'"),
])
def test_an_unusable_setting_is_refused_by_name(name: str, value: str, message: str) -> None:
    # the clock's came out as "unexpected ValueError: unknown clock 'bogus'"
    with pytest.raises(InvalidSetting) as err:
        Settings.from_env({name: value})
    assert str(err.value) == message


@pytest.mark.parametrize("value", ["system", "virtual", "virtual:2026-01-05T09:00:00+00:00"])
def test_the_clocks_that_exist_are_taken(value: str) -> None:
    assert Settings.from_env({"STAGEFLOW_CLOCK": value}).clock == value
