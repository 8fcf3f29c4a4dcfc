"""Without Great Expectations installed, validation says how to install it (the `gx` extra)
instead of failing as an unexpected bug. GX is made missing in a child process with
``sys.modules['great_expectations'] = None``."""

from __future__ import annotations

import subprocess
import sys


def test_validate_without_gx_names_the_extra(store_home, generate):
    ds = generate("shop")
    code = (
        "import sys; sys.modules['great_expectations'] = None\n"
        "from synthpipe.cli import main\n"
        f"main(['--home', {str(store_home)!r}, 'validate', {ds.id!r}])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "error: Python module 'great_expectations' is not installed; validation (Great "
        'Expectations) needs it: install it with `pip install "synthpipe[gx]"`'
    )
    assert "unexpected" not in done.stderr
