"""What the JUEL and FEEL translators share: a token and a cursor over a token list."""

from __future__ import annotations

from typing import Any, NamedTuple


class Token(NamedTuple):
    kind: str  # "int", "float", "num", "str", "name", "kw", "op", "end"
    value: Any  # the text, or the Python value of a literal
    pos: int  # offset in the whole text


class TokenCursor:
    """A recursive-descent parser's position in a token list that ends with an "end" token."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def is_op(self, *values: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "op" and tok.value in values
