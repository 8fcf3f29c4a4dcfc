"""The PostgreSQL plugin: its catalog, a dropped connection mid-write, and secrets.

The delivery contract it shares with the other databases is in test_sql_delivery.py.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pyarrow as pa
import pytest

from synthpipe import plugins
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, LogicalType, Table

pytestmark = pytest.mark.services

SECRET = "s3cr3t-Pa55word"


@pytest.fixture
def shop(postgres, pg_schema, pg_admin):
    """Tables created with plain SQL in the scratch schema, as a user would have them."""
    pg_admin.execute(f"""
        SET search_path TO "{pg_schema}";
        CREATE TYPE tier AS ENUM ('gold', 'silver');
        CREATE TABLE customers (
            region TEXT, id INTEGER, name VARCHAR(40) NOT NULL, balance NUMERIC(12, 2),
            vip BOOLEAN, joined DATE, seen TIMESTAMP, seen_tz TIMESTAMPTZ, score DOUBLE PRECISION,
            ratio REAL, level tier, amount NUMERIC, PRIMARY KEY (region, id));
        CREATE TABLE orders (
            order_id BIGINT PRIMARY KEY, region TEXT, customer_id INTEGER,
            FOREIGN KEY (region, customer_id) REFERENCES customers (region, id));
        INSERT INTO customers VALUES ('eu', 1, 'ann', 10.50, true, '2020-01-01',
            '2020-01-01 10:00', '2020-01-01 10:00+00', 0.5, 0.25, 'gold', 3.14159);
        INSERT INTO orders VALUES (10, 'eu', 1), (11, 'eu', 1);
        RESET search_path;
    """)
    return postgres


def test_postgres_is_registered_through_its_entry_point():
    info = next(p for p in plugins.get_registry().plugins if "postgres" in p.connectors)
    assert info.origin.startswith("synthpipe-postgres ")
    assert plugins.connector_class("postgres").__name__ == "PostgresConnector"


def test_schema_maps_postgres_types_and_nullability(shop, pg_schema):
    (customers,) = shop.schema(pg_schema, ["customers"])
    got = {c.name: (c.type, c.nullable, c.precision, c.scale) for c in customers.columns}
    assert got == {
        "region": (LogicalType.STRING, False, None, None),
        "id": (LogicalType.INTEGER, False, None, None),
        "name": (LogicalType.STRING, False, None, None),
        "balance": (LogicalType.DECIMAL, True, 12, 2),
        "vip": (LogicalType.BOOLEAN, True, None, None),
        "joined": (LogicalType.DATE, True, None, None),
        "seen": (LogicalType.DATETIME, True, None, None),
        "seen_tz": (LogicalType.DATETIME, True, None, None),
        "score": (LogicalType.FLOAT, True, None, None),
        "ratio": (LogicalType.FLOAT, True, None, None),
        "level": (LogicalType.CATEGORICAL, True, None, None),
        "amount": (LogicalType.DECIMAL, True, None, None),
    }


def test_schema_reads_composite_primary_and_foreign_keys(shop, pg_schema):
    customers, orders = shop.schema(pg_schema, ["customers", "orders"])
    assert customers.primary_key == ["region", "id"]
    assert [
        (fk.columns, fk.referenced_table, fk.referenced_columns) for fk in orders.foreign_keys
    ] == [(["region", "customer_id"], "customers", ["region", "id"])]


def test_read_converts_postgres_values_to_arrow(shop, pg_schema):
    (batch,) = shop.read("customers", pg_schema, columns=["balance", "level", "amount"])
    assert batch.schema.field("balance").type == pa.decimal128(12, 2)
    assert batch.to_pylist() == [
        {"balance": Decimal("10.50"), "level": "gold", "amount": Decimal("3.14159")}
    ]


def test_locations_are_schemas_filtered_by_prefix(postgres, pg_schema):
    assert postgres.locations(pg_schema[:12]) == [pg_schema]
    assert "pg_catalog" not in postgres.locations()


def test_primary_key_is_named_after_the_table_after_an_overwrite(postgres, pg_schema, pg_admin):
    table = Table(
        name="t",
        primary_key=["id"],
        columns=[Column(name="id", type=LogicalType.INTEGER, nullable=False)],
    )
    for _ in range(2):
        postgres.write(table, pa.table({"id": [1]}).to_batches(), mode="overwrite")
    rows = pg_admin.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [f'"{pg_schema}"."t"'],
    ).fetchall()
    assert rows == [("t_pkey",)]


def test_a_connection_dropped_midway_keeps_the_old_table_and_a_retry_succeeds(
    postgres, pg_schema, pg_admin
):
    table = Table(name="t", columns=[Column(name="id", type=LogicalType.INTEGER)])
    postgres.write(table, pa.table({"id": [1, 2, 3]}).to_batches())

    def batches():
        yield pa.record_batch({"id": list(range(1000))})
        pid = postgres.connection.info.backend_pid
        pg_admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        yield pa.record_batch({"id": list(range(1000))})
        yield pa.record_batch({"id": list(range(1000))})

    with pytest.raises(ConnectorError, match="PostgreSQL"):
        postgres.write(table, batches(), mode="overwrite")
    query = f'SELECT count(*) FROM "{pg_schema}"."t"'
    assert pg_admin.execute(query).fetchone() == (3,)
    assert [t for t in postgres.tables() if t.startswith("_sp_")] == []
    assert postgres.write(table, pa.table({"id": [7]}).to_batches(), mode="overwrite") == 1
    assert pg_admin.execute(query).fetchone() == (1,)


def test_the_password_never_shows_in_reprs(postgres_server):
    from synthpipe_postgres import PostgresConnector

    connector = PostgresConnector(**postgres_server, password=SECRET)
    assert SECRET not in repr(connector)
    assert SECRET not in str(connector.config)


def test_the_password_never_shows_in_connection_errors_or_logs(postgres_server, caplog):
    from synthpipe_postgres import PostgresConnector

    connector = PostgresConnector(
        host="127.0.0.1", port=1, user="postgres", password=SECRET, connect_timeout=2
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectorError) as raised:
        connector.tables()
    assert "cannot connect to" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert SECRET not in caplog.text


def test_driver_messages_are_scrubbed_of_the_password(postgres_server):
    from synthpipe_postgres import PostgresConnector

    connector = PostgresConnector(**postgres_server, password=SECRET)
    error = connector._error(RuntimeError(f"server said: bad password {SECRET}"))
    assert SECRET not in str(error)
    assert "***" in str(error)


def test_a_working_delivery_logs_no_secret(postgres_server, pg_schema, caplog):
    from synthpipe_postgres import PostgresConnector

    with (
        caplog.at_level(logging.DEBUG),
        PostgresConnector(**postgres_server, password=SECRET, default_schema=pg_schema) as c,
    ):
        c.write(Table(name="t"), pa.table({"a": [1]}).to_batches())
    assert "CREATE TABLE" in caplog.text
    assert SECRET not in caplog.text
