"""Real services for the connector tests: PostgreSQL, MariaDB, S3 (moto) and GCS (emulator).

Each database test gets a scratch schema (PostgreSQL) or database (MariaDB) of its own, dropped
afterwards. A service that is not running skips its tests with the reason, except when
SYNTHPIPE_REQUIRE_SERVICES=1, where it fails them.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


def missing(reason: str):
    """Skip a test whose service is absent; with SYNTHPIPE_REQUIRE_SERVICES=1 fail it."""
    if os.environ.get("SYNTHPIPE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The xdist worker running this process ("gw0", ...; "main" without xdist).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def scratch_name() -> str:
    """A fresh schema, database or bucket name: the worker's, with a random suffix."""
    return f"sp_test_{WORKER}_{secrets.token_hex(4)}"


@dataclass
class Backend:
    """A database connector under test plus a second, independent connection to look with."""

    name: str
    connector: object
    location: str
    query: Callable[[str], list[tuple]]

    def qualified(self, table: str) -> str:
        return self.connector.dialect.qualify(self.location, table)

    def count(self, table: str) -> int:
        return self.query(f"SELECT COUNT(*) FROM {self.qualified(table)}")[0][0]

    def stage_tables(self) -> list[str]:
        # _all_tables: tables() hides the staging names this looks for.
        return [t for t in self.connector._all_tables(self.location) if t.startswith("_sp_")]


# -- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> dict:
    """Connection settings of the local PostgreSQL, or a skip when it is not running."""
    import psycopg

    try:
        psycopg.connect(**_pg_args(), connect_timeout=3).close()
    except psycopg.Error as exc:
        missing(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc})")
    return PG


def _pg_args() -> dict:
    return {"host": PG["host"], "port": PG["port"], "user": PG["user"], "dbname": PG["database"]}


@pytest.fixture
def pg_admin(postgres_server) -> Iterator:
    import psycopg

    with psycopg.connect(**_pg_args(), autocommit=True) as con:
        yield con


@pytest.fixture
def pg_schema(pg_admin) -> Iterator[str]:
    """A scratch schema, dropped with everything in it after the test."""
    name = scratch_name()
    pg_admin.execute(f'CREATE SCHEMA "{name}"')
    yield name
    pg_admin.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def postgres(pg_schema) -> Iterator:
    from synthpipe_postgres import PostgresConnector

    with PostgresConnector(**PG, default_schema=pg_schema) as connector:
        yield connector


@pytest.fixture
def postgres_backend(postgres, pg_schema, pg_admin) -> Backend:
    return Backend("postgres", postgres, pg_schema, lambda sql: pg_admin.execute(sql).fetchall())


# -- MariaDB --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mariadb_server() -> dict:
    """Connection settings of the local MariaDB, or a skip when it is not running."""
    import pymysql

    try:
        pymysql.connect(**_maria_args(), connect_timeout=3).close()
    except pymysql.Error as exc:
        missing(f"MariaDB is not reachable at 127.0.0.1:3306 ({exc})")
    return MARIA


def _maria_args() -> dict:
    return {
        "host": MARIA["host"],
        "port": MARIA["port"],
        "user": MARIA["user"],
        "password": MARIA["password"],
    }


@pytest.fixture
def maria_admin(mariadb_server) -> Iterator:
    import pymysql

    con = pymysql.connect(**_maria_args(), autocommit=True)
    yield con
    con.close()


def maria_query(con) -> Callable[[str], list[tuple]]:
    def run(sql: str) -> list[tuple]:
        with con.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    return run


@pytest.fixture
def maria_sql(maria_admin) -> Callable[[str], list[tuple]]:
    """Run one statement as the MariaDB administrator; its rows."""
    return maria_query(maria_admin)


@pytest.fixture
def maria_db(maria_sql) -> Iterator[str]:
    """A scratch database, dropped with everything in it after the test."""
    name = scratch_name()
    maria_sql(f"CREATE DATABASE `{name}`")
    yield name
    maria_sql(f"DROP DATABASE `{name}`")


@pytest.fixture
def mariadb(maria_db) -> Iterator:
    from synthpipe_mysql import MySQLConnector

    with MySQLConnector(**{**MARIA, "database": maria_db}) as connector:
        yield connector


@pytest.fixture
def mariadb_backend(mariadb, maria_db, maria_sql) -> Backend:
    return Backend("mariadb", mariadb, maria_db, maria_sql)


# -- DuckDB ---------------------------------------------------------------------------------


@pytest.fixture
def duckdb_backend() -> Iterator[Backend]:
    from synthpipe.connectors.duckdb import DuckDBConnector

    with DuckDBConnector(path=":memory:") as connector:
        look = connector.connection.cursor()
        yield Backend("duckdb", connector, "main", lambda sql: look.execute(sql).fetchall())


@pytest.fixture(params=["duckdb", "postgres", "mariadb"])
def backend(request) -> Backend:
    """Each SQL database in turn: the delivery contract holds for all of them."""
    return request.getfixturevalue(f"{request.param}_backend")


# -- object stores --------------------------------------------------------------------------

STORE_SECRET = "s3cr3t-St0reKey"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An S3 API served by moto on a free loopback port, for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        missing(f"moto[server] is not installed ({exc}); pip install 'moto[server]'")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """The GCS JSON API served by gcp-storage-emulator on a free loopback port.

    The emulator runs in a process of its own: pyarrow's GcsFileSystem opens a read stream
    while holding the GIL (``NativeFile.closed``), so an emulator thread in this process could
    never answer it. gcs_emulator.py adds the upload preconditions the emulator lacks.
    """
    import subprocess
    import sys

    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError as exc:
        missing(f"gcp-storage-emulator is not installed ({exc}); pip install gcp-storage-emulator")
    port = free_port()
    launcher = os.path.join(os.path.dirname(__file__), "gcs_emulator.py")
    server = subprocess.Popen(
        [sys.executable, launcher, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def _wait_for_port(port: int, process, attempts: int = 600) -> None:
    """Until something listens on ``port``; fails when ``process`` exits first."""
    import time

    for _ in range(attempts):
        if process.poll() is not None:
            pytest.fail(f"gcp-storage-emulator exited with {process.returncode} at start")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"gcp-storage-emulator did not listen on port {port}")


def s3_settings(endpoint: str, bucket: str) -> dict:
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": STORE_SECRET,
    }


@pytest.fixture
def s3_bucket(moto_endpoint) -> str:
    import boto3

    bucket = scratch_name().replace("_", "-")
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_store(moto_endpoint, s3_bucket):
    from synthpipe_s3 import S3Connector

    return S3Connector(**s3_settings(moto_endpoint, s3_bucket), prefix="deliveries")


@pytest.fixture
def gcs_bucket(gcs_endpoint, monkeypatch) -> str:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    bucket = scratch_name().replace("_", "-")
    storage.Client(project="test", credentials=AnonymousCredentials()).create_bucket(bucket)
    return bucket


@pytest.fixture
def gcs_store(gcs_bucket):
    from synthpipe_gcs import GCSConnector

    return GCSConnector(bucket=gcs_bucket, project="test", anonymous=True, prefix="deliveries")


@pytest.fixture(params=["s3", "gcs"])
def store(request):
    """Each object store in turn, behind a real HTTP server on loopback."""
    return request.getfixturevalue(f"{request.param}_store")
