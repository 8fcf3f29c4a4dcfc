"""Helpers shared by the Airflow tests: pipeline files like the demo, PostgreSQL access."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
# The demo's tables as plots -> surveys sequences, sized by plots (tests/fixtures); the
# shipped demo pipeline (surveys as root) is SHIPPED_DEMO, run end to end by test_refresh_dag.
DEMO = ROOT / "tests" / "fixtures" / "ratdat_sequences.yaml"
SHIPPED_DEMO = DAGS / "pipelines" / "ratdat_demo.yaml"
# The Airflow CLI of this environment.
AIRFLOW = str(Path(sys.executable).parent / "airflow")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "postgres"}
# The xdist worker running this process, part of every name the tests create in PostgreSQL.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def service_missing(reason: str):
    """Skip a test whose service is absent; in CI (SYNTHPIPE_REQUIRE_SERVICES=1) fail it."""
    if os.environ.get("SYNTHPIPE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def write_pipeline(folder: Path, name: str, **sections) -> Path:
    """A pipeline file like the demo (same source and generator) with sections replaced."""
    data = yaml.safe_load(DEMO.read_text())
    data["source"]["options"]["path"] = "@demo/ratdat"
    data.update(name=name, **sections)
    data["generator"]["generator"] = "independent"  # the always-available, fast baseline
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def duckdb_delivery(path: Path) -> dict:
    return {
        "destination": {"connector": "duckdb", "options": {"path": str(path)}},
        "location": "main",
        "mode": "overwrite",
        "create_constraints": True,
    }


def pg_args() -> dict:
    return {"host": PG["host"], "port": PG["port"], "user": PG["user"], "dbname": PG["database"]}


def pg_query(sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(**pg_args(), autocommit=True) as con:
        cursor = con.execute(sql)
        return cursor.fetchall() if cursor.description else []
