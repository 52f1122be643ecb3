"""`{variable}` placeholders in the texts a process shows people: a task's description, a notification."""

from __future__ import annotations

import string
from typing import Any


class _Blank(dict):  # type: ignore[type-arg]
    """Format values: a placeholder without a variable stays visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, variables: dict[str, Any]) -> str:
    """`template` with `{name}` replaced by the variable's value (unknown names are left as they are)."""
    try:
        return string.Formatter().vformat(template, (), _Blank(variables))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


def gaps(template: str, variables: dict[str, Any]) -> list[str]:
    """The variables `template`'s placeholders name that are unset, null or empty, in order, each once: what a
    notice would show as `{name}`, `None` or nothing."""
    out: list[str] = []
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:  # unbalanced braces: `fill` leaves such a text as it is
        return out
    for field in fields:
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name and name not in out and variables.get(name) in (None, ""):
            out.append(name)
    return out
