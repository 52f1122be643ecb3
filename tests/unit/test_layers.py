"""The layers of the design hold: the engine core knows nothing of the web layer."""

from __future__ import annotations


def test_the_engine_core_does_not_import_flask() -> None:
    """`engine/` is the core; only `web/` may bring Flask in (the CLI's `serve` imports it lazily)."""
    import subprocess
    import sys

    code = "import engine.api, engine.cli, sys; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
