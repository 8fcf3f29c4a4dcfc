"""Importing synthpipe.qa stays light: heavy libraries load on first use."""

from __future__ import annotations

import subprocess
import sys


def test_importing_qa_loads_no_heavy_library():
    code = (
        "import sys, synthpipe.qa; "
        "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
