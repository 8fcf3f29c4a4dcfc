"""Fixtures of the Airflow tests: pipeline files, a trained generator, operator contexts and
scratch PostgreSQL schemas.

Airflow reads its configuration when first imported, so tests/conftest.py points AIRFLOW_HOME at
a folder of the test process (one per xdist worker) before any test module imports it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_support import (
    AIRFLOW,
    PG,
    WORKER,
    pg_args,
    pg_query,
    service_missing,
    write_pipeline,
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The tests' AIRFLOW_HOME with its SQLite metadata database created (once per session)."""
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True)
    return Path(os.environ["AIRFLOW_HOME"])


class FakeTaskInstance:
    """Stands in for Airflow's task instance where operators are executed directly (no
    scheduler): it keeps what the operator pushes to XCom."""

    def __init__(self):
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


@pytest.fixture
def context():
    """A task context with the parts synthpipe operators use: ti and outlet_events."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {"ti": FakeTaskInstance(), "outlet_events": OutletEventAccessors()}


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory) -> Path:
    """A store holding one generator trained on the demo data (shared: training once)."""
    from synthpipe import api

    home = tmp_path_factory.mktemp("trained") / "home"
    pipeline = write_pipeline(home.parent, "demo")
    api.train(pipeline, home=home)
    return home


@pytest.fixture(scope="session")
def postgres() -> dict:
    """Settings of the local PostgreSQL, or a skip when it is not running."""
    import psycopg

    from synthpipe import plugins

    if "postgres" not in plugins.get_registry().connectors:
        service_missing("the synthpipe-postgres plugin is not installed")
    try:
        psycopg.connect(**pg_args(), connect_timeout=3).close()
    except psycopg.Error as exc:
        service_missing(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc})")
    return PG


@pytest.fixture
def pg_schema(postgres) -> Iterator[str]:
    """A scratch schema in the local PostgreSQL, dropped afterwards."""
    name = f"sp_airflow_{WORKER}_{secrets.token_hex(4)}"
    pg_query(f'CREATE SCHEMA "{name}"')
    yield name
    pg_query(f'DROP SCHEMA "{name}" CASCADE')
