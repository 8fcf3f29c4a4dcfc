"""A delivery to a location (schema, database) that does not exist creates it, on every SQL
database that can: DuckDB and PostgreSQL inside the delivery transaction, MariaDB before the
staging tables (and drops it again when the delivery fails). Oracle is covered by its own tests:
it refuses a missing schema before writing, since an Oracle schema is a user."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pyarrow as pa
import pytest

from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, LogicalType, Table

pytestmark = pytest.mark.services

PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
    ],
)


def rows(n: int) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": [f"p{i}" for i in range(n)]})


def crashing(n: int):
    yield from rows(n).to_batches()
    raise RuntimeError("generator crashed midway")


@pytest.fixture
def new_location(backend) -> Iterator[str]:
    """A location name that does not exist yet (unique per test, so parallel workers never
    meet); dropped after the test if it came to exist."""
    name = f"sp_test_new_{secrets.token_hex(4)}"
    yield name
    if backend.name == "postgres":
        backend.connector._execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    elif backend.name == "mariadb":
        backend.connector._execute(f"DROP DATABASE IF EXISTS `{name}`")


def locations(backend) -> list[str]:
    if backend.name == "mariadb":
        return [r[0] for r in backend.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")]
    if backend.name == "postgres":
        return [r[0] for r in backend.query("SELECT nspname FROM pg_namespace")]
    return [r[0] for r in backend.query("SELECT schema_name FROM information_schema.schemata")]


def test_a_missing_location_is_created_by_the_delivery(backend, new_location):
    assert new_location not in locations(backend)
    written = backend.connector.write_tables(
        [(PEOPLE, rows(3).to_batches())], new_location, "overwrite"
    )
    assert written == {"people": 3}
    assert new_location in locations(backend)
    assert backend.connector.tables(new_location) == ["people"]
    quoted = backend.connector.dialect.qualify(new_location, "people")
    assert backend.query(f"SELECT COUNT(*) FROM {quoted}")[0][0] == 3


def test_a_failed_delivery_leaves_no_new_location_behind(backend, new_location):
    with pytest.raises((RuntimeError, ConnectorError), match="crashed midway"):
        backend.connector.write_tables([(PEOPLE, crashing(3))], new_location, "overwrite")
    assert new_location not in locations(backend)


def test_append_into_a_missing_location_creates_it_too(backend, new_location):
    backend.connector.write_tables([(PEOPLE, rows(2).to_batches())], new_location, "append")
    assert backend.connector.tables(new_location) == ["people"]
