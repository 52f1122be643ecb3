"""Expressions cannot reach the interpreter through the helpers the JUEL translation calls."""

from __future__ import annotations

import pytest

from engine.expressions import RUNTIME_HELPERS
from engine.sandbox import ScriptFailure, ScriptSandbox


@pytest.mark.parametrize(
    "source",
    [
        "_sf_get('{0.__globals__[sys].modules[os].environ[PATH]}', 'format')(_sf_get)",
        "_sf_get(Exception, 'mro')()",
        "_sf_get(_sf_get, '__globals__')",
    ],
)
def test_property_access_helpers_refuse_escapes(source: str) -> None:
    with pytest.raises((ScriptFailure, Exception)) as err:
        ScriptSandbox().evaluate(source, dict(RUNTIME_HELPERS))
    assert "PATH" not in str(err.value) and "/usr" not in str(err.value)

