"""The MariaDB / MySQL plugin: its catalog, both bulk paths, a killed connection, and secrets.

The delivery contract it shares with the other databases is in test_sql_delivery.py.
"""

from __future__ import annotations

import logging
import secrets

import pyarrow as pa
import pytest

from synthpipe import plugins
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, LogicalType, Table

pytestmark = pytest.mark.services

SECRET = "s3cr3t-Pa55word"
NOTES = Table(
    name="notes",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="body", type=LogicalType.STRING),
        Column(name="flag", type=LogicalType.BOOLEAN),
    ],
)


def notes() -> pa.Table:
    bodies = ["tab\there", "back\\slash", "line\nbreak", "\\N", "NULL", "", None, "ü ✓ 'q' \"d\""]
    return pa.table(
        {
            "id": list(range(len(bodies))),
            "body": bodies,
            "flag": [True, False, None, True, False, True, None, False],
        }
    )


@pytest.fixture
def shop(mariadb, maria_db, maria_sql):
    run = maria_sql
    run(f"""CREATE TABLE `{maria_db}`.customers (
        region VARCHAR(8), id INT, name VARCHAR(40) NOT NULL, balance DECIMAL(12, 2),
        vip TINYINT(1), joined DATE, seen DATETIME, score DOUBLE, level ENUM('gold', 'silver'),
        bio TEXT, essay LONGTEXT, PRIMARY KEY (region, id)) ENGINE=InnoDB""")
    run(f"""CREATE TABLE `{maria_db}`.orders (
        order_id BIGINT PRIMARY KEY, region VARCHAR(8), customer_id INT,
        FOREIGN KEY (region, customer_id) REFERENCES customers (region, id)) ENGINE=InnoDB""")
    run(
        f"INSERT INTO `{maria_db}`.customers VALUES ('eu', 1, 'ann', 10.50, 1, '2020-01-01', "
        "'2020-01-01 10:00:00', 0.5, 'gold', 'x', 'y')"
    )
    return mariadb


def test_mysql_and_mariadb_are_registered_through_the_entry_point():
    info = next(p for p in plugins.get_registry().plugins if "mysql" in p.connectors)
    assert info.origin.startswith("synthpipe-mysql ")
    assert info.connectors == ["mysql", "mariadb"]


def test_schema_maps_mariadb_types_and_nullability(shop, maria_db):
    (customers,) = shop.schema(maria_db, ["customers"])
    got = {c.name: (c.type, c.nullable, c.precision, c.scale) for c in customers.columns}
    assert got == {
        "region": (LogicalType.STRING, False, None, None),
        "id": (LogicalType.INTEGER, False, None, None),
        "name": (LogicalType.STRING, False, None, None),
        "balance": (LogicalType.DECIMAL, True, 12, 2),
        "vip": (LogicalType.BOOLEAN, True, None, None),
        "joined": (LogicalType.DATE, True, None, None),
        "seen": (LogicalType.DATETIME, True, None, None),
        "score": (LogicalType.FLOAT, True, None, None),
        "level": (LogicalType.CATEGORICAL, True, None, None),
        "bio": (LogicalType.STRING, True, None, None),
        "essay": (LogicalType.TEXT, True, None, None),
    }


def test_schema_reads_composite_primary_and_foreign_keys(shop, maria_db):
    customers, orders = shop.schema(maria_db, ["customers", "orders"])
    assert customers.primary_key == ["region", "id"]
    assert [
        (fk.columns, fk.referenced_table, fk.referenced_columns) for fk in orders.foreign_keys
    ] == [(["region", "customer_id"], "customers", ["region", "id"])]


def test_locations_are_databases_without_the_system_ones(mariadb, maria_db):
    assert mariadb.locations(maria_db[:12]) == [maria_db]
    assert "mysql" not in mariadb.locations()


def test_load_data_keeps_escapes_nulls_and_empty_strings_apart(mariadb, maria_db):
    mariadb.write(NOTES, notes().to_batches())
    read = pa.Table.from_batches(mariadb.read("notes"))
    assert read.sort_by("id").to_pylist() == notes().to_pylist()


@pytest.fixture
def inserting(mariadb_server, maria_db):
    from synthpipe_mysql import MySQLConnector

    settings = {**mariadb_server, "database": maria_db, "bulk": "insert"}
    with MySQLConnector(**settings) as connector:
        yield connector


def test_the_insert_path_keeps_values_too(inserting):
    inserting.write(NOTES, notes().to_batches(max_chunksize=3))
    read = pa.Table.from_batches(inserting.read("notes"))
    assert read.sort_by("id").to_pylist() == notes().to_pylist()


def test_the_insert_path_quotes_hostile_identifiers(inserting, maria_db):
    name = 'a`"%s; drop table x; --'
    table = Table(name=name, columns=[Column(name="select", type=LogicalType.STRING)])
    inserting.write(table, pa.table({"select": ["%s"]}).to_batches())
    inserting.write(table, pa.table({"select": ["%(x)s"]}).to_batches(), mode="append")
    assert sorted(r["select"] for r in pa.Table.from_batches(inserting.read(name)).to_pylist()) == [
        "%(x)s",
        "%s",
    ]


def test_a_rejected_row_on_the_insert_path_keeps_the_old_table(inserting, maria_db):
    inserting.write(NOTES, notes().to_batches())
    duplicate = pa.table({"id": [1, 1], "body": ["a", "b"], "flag": [True, True]})
    with pytest.raises(ConnectorError, match="Duplicate entry"):
        inserting.write(NOTES, duplicate.to_batches(), mode="overwrite")
    assert inserting.schema(maria_db, ["notes"])[0].rows == len(notes())


def test_a_killed_connection_midway_keeps_the_old_table_and_a_retry_succeeds(
    mariadb, maria_db, maria_sql
):
    table = Table(name="t", columns=[Column(name="id", type=LogicalType.INTEGER)])
    mariadb.write(table, pa.table({"id": [1, 2, 3]}).to_batches())

    def batches():
        yield pa.record_batch({"id": list(range(1000))})
        maria_sql(f"KILL {mariadb.connection.thread_id()}")
        yield pa.record_batch({"id": list(range(1000))})

    with pytest.raises(ConnectorError, match="MySQL"):
        mariadb.write(table, batches(), mode="overwrite")
    count = f"SELECT COUNT(*) FROM `{maria_db}`.t"
    assert maria_sql(count) == [(3,)]
    assert [t for t in mariadb.tables() if t.startswith("_sp_")] == []
    assert mariadb.write(table, pa.table({"id": [7]}).to_batches(), mode="overwrite") == 1
    assert maria_sql(count) == [(1,)]


@pytest.fixture
def user_with_password(maria_sql):
    """A MariaDB account that needs a password, dropped afterwards."""
    name = f"sp_{secrets.token_hex(3)}"
    run = maria_sql
    run(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'")
    run(f"CREATE USER '{name}'@'localhost' IDENTIFIED BY '{SECRET}'")
    yield name
    run(f"DROP USER '{name}'@'%'")
    run(f"DROP USER '{name}'@'localhost'")


def test_the_password_can_come_from_the_environment(user_with_password, monkeypatch):
    from synthpipe_mysql import MySQLConnector

    monkeypatch.setenv("MYSQL_PWD", SECRET)
    with MySQLConnector(host="127.0.0.1", user=user_with_password) as c:
        assert "information_schema" in c._execute("SHOW DATABASES")[0]


def test_the_password_never_shows_in_reprs_errors_or_logs(user_with_password, caplog):
    from synthpipe_mysql import MySQLConnector

    wrong = MySQLConnector(host="127.0.0.1", user=user_with_password, password=SECRET + "x")
    assert SECRET not in repr(wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectorError) as raised:
        wrong.tables("test")
    assert "Access denied" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    right = MySQLConnector(host="127.0.0.1", user=user_with_password, password=SECRET)
    with caplog.at_level(logging.DEBUG):
        right.locations()
    assert SECRET not in caplog.text


def test_driver_messages_are_scrubbed_of_the_password(mariadb_server):
    from synthpipe_mysql import MySQLConnector

    error = MySQLConnector(password=SECRET)._error(RuntimeError(f"echo {SECRET}"))
    assert SECRET not in str(error)


def test_a_refused_login_is_reported_before_a_missing_database(mariadb_server):
    from synthpipe_mysql import MySQLConnector

    wrong = MySQLConnector(host="127.0.0.1", user="root", password="wrong-" + SECRET)
    for call in (wrong.tables, wrong.schema, lambda: wrong.write(NOTES, notes().to_batches())):
        with pytest.raises(ConnectorError) as raised:
            call()
        assert "Access denied for user 'root'" in str(raised.value)
        assert "no MySQL database given" not in str(raised.value)
        assert SECRET not in str(raised.value)


def test_the_cli_reports_the_refused_login(mariadb_server, capsys):
    from synthpipe.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["connectors", "schema", "mariadb", "-o", "host=127.0.0.1", "-o", "user=root",
              "-o", "password=wrong-" + SECRET])  # fmt: skip
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: MySQL cannot connect to 127.0.0.1:3306/")
    assert "Access denied" in err and "no MySQL database" not in err


def test_without_a_database_a_working_login_names_the_setting(mariadb_server):
    from synthpipe_mysql import MySQLConnector

    with (
        MySQLConnector(host="127.0.0.1", user="root", password="") as right,
        pytest.raises(ConnectorError, match="no MySQL database given: set the connector's"),
    ):
        right.tables()
