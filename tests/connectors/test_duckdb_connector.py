"""The embedded DuckDB connector: what is particular to it (its catalog, files, read-only).

The delivery contract it shares with the other databases is in test_sql_delivery.py.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from synthpipe import plugins
from synthpipe.connectors.duckdb import DuckDBConnector
from synthpipe.errors import ConnectorError, NotFoundError
from synthpipe.schema import Column, LogicalType, Table


@pytest.fixture
def duck():
    with DuckDBConnector(path=":memory:") as connector:
        yield connector


@pytest.fixture
def catalog(duck):
    """A small relational database created with plain SQL, as a user would have it."""
    duck.connection.execute("""
        CREATE SCHEMA sales;
        CREATE TABLE sales.customers (
            id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, balance DECIMAL(12, 2),
            vip BOOLEAN, joined DATE, seen TIMESTAMP, score DOUBLE, tier TINYINT);
        CREATE TABLE sales.orders (
            order_id BIGINT PRIMARY KEY, customer_id INTEGER REFERENCES sales.customers (id),
            amount DOUBLE NOT NULL);
        INSERT INTO sales.customers VALUES
            (1, 'ann', 10.50, true, '2020-01-01', '2020-01-01 10:00:00', 0.5, 1),
            (2, 'bob', NULL, false, '2021-02-03', NULL, 1.5, 2);
        INSERT INTO sales.orders VALUES (10, 1, 3.5), (11, 1, 4.5), (12, 2, 1.0);
    """)
    return duck


def people(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {"id": list(range(start, start + n)), "name": [f"p{i}" for i in range(start, start + n)]}
    )


PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
    ],
)


def test_duckdb_is_registered_as_a_builtin_connector():
    assert plugins.connector_class("duckdb") is DuckDBConnector


def test_schema_maps_catalog_types_nullability_and_decimal_precision(catalog):
    (customers,) = catalog.schema("sales", ["customers"])
    got = {c.name: (c.type, c.nullable, c.precision, c.scale) for c in customers.columns}
    assert got == {
        "id": (LogicalType.INTEGER, False, None, None),
        "name": (LogicalType.STRING, False, None, None),
        "balance": (LogicalType.DECIMAL, True, 12, 2),
        "vip": (LogicalType.BOOLEAN, True, None, None),
        "joined": (LogicalType.DATE, True, None, None),
        "seen": (LogicalType.DATETIME, True, None, None),
        "score": (LogicalType.FLOAT, True, None, None),
        "tier": (LogicalType.INTEGER, True, None, None),
    }


def test_schema_reads_primary_and_foreign_keys_from_the_catalog(catalog):
    customers, orders = catalog.schema("sales")
    assert customers.primary_key == ["id"]
    assert orders.primary_key == ["order_id"]
    assert [
        (fk.columns, fk.referenced_table, fk.referenced_columns) for fk in orders.foreign_keys
    ] == [(["customer_id"], "customers", ["id"])]


def test_schema_counts_rows(catalog):
    assert {t.name: t.rows for t in catalog.schema("sales")} == {"customers": 2, "orders": 3}


def test_schema_of_an_unknown_table_names_the_tables_there(catalog):
    with pytest.raises(NotFoundError, match="customers, orders"):
        catalog.schema("sales", ["nope"])


def test_locations_are_schemas_filtered_by_prefix(catalog):
    assert catalog.locations() == ["main", "sales"]
    assert catalog.locations("sa") == ["sales"]


def test_tables_lists_a_schema(catalog):
    assert catalog.tables("sales") == ["customers", "orders"]
    assert catalog.tables() == []


def test_read_selects_the_requested_columns(catalog):
    (batch,) = catalog.read("customers", "sales", columns=["name"])
    assert batch.schema.names == ["name"]


def test_a_database_file_keeps_delivered_tables(tmp_path):
    path = tmp_path / "db" / "synthetic.duckdb"
    with DuckDBConnector(path=str(path)) as duck:
        duck.write(PEOPLE, people(3).to_batches())
    with DuckDBConnector(path=str(path), read_only=True) as duck:
        assert duck.schema(tables=["people"])[0].rows == 3


def test_a_read_only_database_refuses_writes(tmp_path):
    path = tmp_path / "ro.duckdb"
    DuckDBConnector(path=str(path)).write(PEOPLE, people(1).to_batches())
    with DuckDBConnector(path=str(path), read_only=True) as duck, pytest.raises(ConnectorError):
        duck.write(PEOPLE, people(1).to_batches(), mode="overwrite")


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="database"):
        DuckDBConnector(database="x.duckdb")


def test_a_producer_exception_reaches_the_caller_unchanged(duck):
    def batches():
        yield people(2).to_batches()[0]
        raise KeyError("the producer's own error")

    with pytest.raises(KeyError, match="producer's own error"):
        duck.write(PEOPLE, batches())
    assert not duck.exists("people")


def test_delivery_creates_a_missing_schema(tmp_path):
    import pyarrow as pa

    from synthpipe.connectors.duckdb import DuckDBConnector
    from synthpipe.schema import Table

    with DuckDBConnector(path=str(tmp_path / "d.duckdb")) as conn:
        batch = pa.record_batch({"id": pa.array([1, 2], pa.int64())})
        written = conn.write_tables([(Table(name="t"), [batch])], "synth", "overwrite")
        assert written == {"t": 2}
        assert conn.tables("synth") == ["t"]
