"""`import synthpipe` stays light: nothing heavy is imported until a verb needs it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "airflow",
    "dbt",
    "great_expectations",
    "torch",
    "pandas",
    "pyarrow",
    "sklearn",
    "boto3",
    "duckdb",
    "psycopg",
    "oracledb",
)


def test_import_synthpipe_loads_no_heavy_library():
    code = (
        "import sys, json, synthpipe; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_cli_help_loads_no_heavy_library():
    code = (
        "import sys, json\nfrom synthpipe.cli import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    assert not set(json.loads(out)) & set(HEAVY)
