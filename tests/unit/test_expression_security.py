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



ESCAPES = [
    # the frame's `__builtins__` through the helper that reads builtin-named variables: then `_strptime`, which the
    # C code may import, and its `locale.sys.modules` (found by a security trial: `os.system` ran)
    "_sf_name('__builtins__')['__import__']('_strptime').locale.sys.modules['os'].system('{marker}') == 0",
    "_sf_var('__builtins__')['__import__']('_strptime').locale.sys.modules['os'].system('{marker}') == 0",
    "_sf_name('_getattr_')",
    "_sf_name('__import__')('os')",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_the_helpers_that_read_variables_by_name_refuse_the_interpreter(source: str, tmp_path) -> None:
    from engine.spiff.scripting import HELPERS

    marker = tmp_path / "escaped"
    with pytest.raises((ScriptFailure, Exception)):
        ScriptSandbox().evaluate(source.format(marker=f"touch {marker}"), dict(HELPERS))
    assert not marker.exists()


def test_a_module_the_c_code_imported_shows_no_attributes() -> None:
    import _strptime

    from engine.sandbox import guarded_getattr

    with pytest.raises(AttributeError, match="module"):
        guarded_getattr(_strptime, "locale")
