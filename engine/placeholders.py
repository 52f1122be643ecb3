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
