"""A context variable set for the length of a `with` block.

The engine enters several such blocks in every step (the clock, held timers, transient variables); a small class
costs a third of what a `contextlib.contextmanager` generator costs to enter and leave (bench/README.md, session 20).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class scoped(Generic[T]):  # noqa: N801 - used as a function: `with scoped(var, value):`
    """Set `var` to `value` on entering the block, back to what it was on leaving it (whatever the outcome)."""

    __slots__ = ("_token", "_value", "_var")

    def __init__(self, var: ContextVar[T], value: T) -> None:
        self._var = var
        self._value = value
        self._token: Token[T] | None = None

    def __enter__(self) -> None:
        self._token = self._var.set(self._value)

    def __exit__(self, *exc: Any) -> None:
        self._var.reset(self._token)  # type: ignore[arg-type]
