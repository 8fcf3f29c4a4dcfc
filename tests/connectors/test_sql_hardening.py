"""Issue 13 on the SQL databases: readers during an overwrite, lock waits, concurrent
deliveries, kill -9 mid-delivery, leftovers, append retries and keys, long names, secrets.

Real PostgreSQL 15, MariaDB 10.11 and DuckDB; each test uses a scratch schema or database of
its own (conftest.py) and tables of a few rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest

from synthpipe.connectors.sql import LockTimeoutError
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

# The services of conftest.py (its fixtures give scratch locations on them).
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}

pytestmark = pytest.mark.services

PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
    ],
)
# The same table with one more column: an overwrite that changes the table's shape.
WIDER = PEOPLE.model_copy(
    update={"columns": [*PEOPLE.columns, Column(name="age", type=LogicalType.INTEGER)]}
)


def people(n: int, start: int = 0, wide: bool = False) -> list[pa.RecordBatch]:
    ids = list(range(start, start + n))
    data = {"id": ids, "name": [f"p{i}" for i in ids]}
    if wide:
        data["age"] = [30] * n
    return pa.table(data).to_batches()


PARENT = Table(
    name="parent",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="label", type=LogicalType.STRING),
    ],
)
CHILD = Table(
    name="child",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="parent_id", type=LogicalType.INTEGER),
        Column(name="kind_id", type=LogicalType.INTEGER),
    ],
    foreign_keys=[
        ForeignKey(column="parent_id", referenced_table="parent"),
        ForeignKey(column="kind_id", referenced_table="kind"),
    ],
)
# A lookup table copied verbatim into every dataset (original data).
KIND = Table(
    name="kind",
    primary_key=["id"],
    original_data=True,
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="label", type=LogicalType.STRING),
    ],
)


def dataset(parents: int, children: int, label: str = "x"):
    """A small generated dataset: keys start at 1 again, as every generated dataset's do."""
    kind = pa.table({"id": [1, 2], "label": ["a", "b"]})
    parent = pa.table({"id": list(range(1, parents + 1)), "label": [label] * parents})
    child = pa.table(
        {
            "id": list(range(1, children + 1)),
            "parent_id": [1 + i % parents for i in range(children)],
            "kind_id": [1 + i % 2 for i in range(children)],
        }
    )
    return [
        (KIND, kind.to_batches()),
        (PARENT, parent.to_batches()),
        (CHILD, child.to_batches()),
    ]


# -- readers during an overwrite (defect 3) ------------------------------------------------


def pg_reader(isolation: str):
    import psycopg

    con = psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["database"])
    con.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
    con.execute("SELECT 1")  # the snapshot is taken here, before the delivery
    return con


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_postgres_readers_at_every_isolation_level_see_old_or_new_rows(
    postgres, pg_schema, isolation
):
    postgres.write(PEOPLE, people(3), pg_schema)
    reader = pg_reader(isolation)
    try:
        postgres.write(PEOPLE, people(5, start=10), pg_schema, mode="overwrite")
        seen = reader.execute(f'SELECT COUNT(*) FROM "{pg_schema}".people').fetchone()[0]
    finally:
        reader.close()
    expected = 5 if isolation == "READ COMMITTED" else 3  # a snapshot keeps the old rows
    assert seen == expected


def maria_reader(isolation: str):
    import pymysql

    con = pymysql.connect(host=MARIA["host"], port=MARIA["port"], user=MARIA["user"], password="")
    with con.cursor() as cursor:
        cursor.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {isolation}")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    return con


@pytest.mark.parametrize(
    ("isolation", "expected"),
    [("READ COMMITTED", 5), ("REPEATABLE READ", 3), ("SERIALIZABLE", 5)],
)
def test_mariadb_readers_at_every_isolation_level_see_old_or_new_rows(
    mariadb, maria_db, isolation, expected
):
    mariadb.write(PEOPLE, people(3), maria_db)
    reader = maria_reader(isolation)
    try:
        mariadb.write(PEOPLE, people(5, start=10), maria_db, mode="overwrite")
        with reader.cursor() as cursor:  # error 1412 here before the fix
            cursor.execute(f"SELECT COUNT(*) FROM `{maria_db}`.people")
            seen = cursor.fetchone()[0]
    finally:
        reader.close()
    assert seen == expected


def test_mariadb_repeatable_read_reader_that_already_read_keeps_its_rows(mariadb, maria_db):
    mariadb.write(PEOPLE, people(3), maria_db)
    reader = maria_reader("REPEATABLE READ")
    try:
        with reader.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{maria_db}`.people")
            assert cursor.fetchone()[0] == 3
            mariadb.write(PEOPLE, people(5, start=10), maria_db, mode="overwrite")
            cursor.execute(f"SELECT COUNT(*) FROM `{maria_db}`.people")
            assert cursor.fetchone()[0] == 3
    finally:
        reader.close()


# -- idle readers and lock waits (defect 4) -------------------------------------------------


def test_postgres_idle_in_transaction_reader_does_not_stall_an_overwrite(postgres, pg_schema):
    postgres.write(PEOPLE, people(3), pg_schema)
    reader = pg_reader("READ COMMITTED")
    try:
        reader.execute(f'SELECT * FROM "{pg_schema}".people').fetchall()  # idle, lock held
        start = time.monotonic()
        postgres.write(PEOPLE, people(4, start=10), pg_schema, mode="overwrite")
        assert time.monotonic() - start < 5
    finally:
        reader.close()
    assert [r[0] for r in postgres._execute(f'SELECT id FROM "{pg_schema}".people')] == [
        10,
        11,
        12,
        13,
    ]


def test_postgres_lock_wait_is_bounded_and_names_the_blocking_session(pg_schema):
    from synthpipe_postgres import PostgresConnector

    with PostgresConnector(**PG, default_schema=pg_schema, lock_timeout=1) as postgres:
        postgres.write(PEOPLE, people(3), pg_schema)
        reader = pg_reader("READ COMMITTED")
        reader.execute("SET application_name = 'slow-report'")
        try:
            reader.execute(f'SELECT * FROM "{pg_schema}".people').fetchall()
            pid = reader.info.backend_pid
            start = time.monotonic()
            with pytest.raises(LockTimeoutError) as raised:  # a new shape needs the swap
                postgres.write(WIDER, people(2, wide=True), pg_schema, mode="overwrite")
            assert time.monotonic() - start < 10
        finally:
            reader.close()
        message = str(raised.value)
        assert f"pid {pid}" in message and "slow-report" in message
        assert "lock_timeout = 1 s" in message and "nothing was changed" in message
        assert postgres.schema(pg_schema, ["people"])[0].column_names == ["id", "name"]
        assert [t for t in postgres._all_tables(pg_schema) if t.startswith("_sp_")] == []


def test_mariadb_idle_in_transaction_reader_does_not_stall_an_overwrite(mariadb, maria_db):
    mariadb.write(PEOPLE, people(3), maria_db)
    reader = maria_reader("REPEATABLE READ")
    try:
        with reader.cursor() as cursor:
            cursor.execute(f"SELECT * FROM `{maria_db}`.people")
        start = time.monotonic()
        mariadb.write(PEOPLE, people(4, start=10), maria_db, mode="overwrite")
        assert time.monotonic() - start < 5
    finally:
        reader.close()
    assert mariadb.schema(maria_db, ["people"])[0].rows == 4


def test_mariadb_lock_wait_is_bounded_and_names_the_blocking_session(maria_db):
    from synthpipe_mysql import MySQLConnector

    with MySQLConnector(**{**MARIA, "database": maria_db}, lock_timeout=1) as mariadb:
        mariadb.write(PEOPLE, people(3), maria_db)
        reader = maria_reader("REPEATABLE READ")
        try:
            with reader.cursor() as cursor:
                cursor.execute(f"SELECT * FROM `{maria_db}`.people")
            start = time.monotonic()
            with pytest.raises(LockTimeoutError) as raised:  # a new shape needs the swap
                mariadb.write(WIDER, people(2, wide=True), maria_db, mode="overwrite")
            assert time.monotonic() - start < 10
            message = str(raised.value)
            assert f"connection {reader.thread_id()}" in message
            assert "lock_timeout = 1 s" in message and "nothing was changed" in message
        finally:
            reader.close()
        assert mariadb.schema(maria_db, ["people"])[0].column_names == ["id", "name"]
        assert mariadb.schema(maria_db, ["people"])[0].rows == 3


def test_postgres_swap_locks_parents_first_so_a_parent_then_child_reader_never_deadlocks(
    postgres, pg_schema
):
    """A reader holds the parent and then reads the child while a reshaping overwrite of both
    waits: with parents locked first, the reader finishes and the delivery follows."""
    parent = pa.table({"id": [1, 2], "label": ["a", "b"]})
    child = pa.table({"id": [1, 2, 3], "parent_id": [1, 2, 1]})
    child_table = Table(
        name="child",
        primary_key=["id"],
        columns=[
            Column(name="id", type=LogicalType.INTEGER, nullable=False),
            Column(name="parent_id", type=LogicalType.INTEGER),
        ],
        foreign_keys=[ForeignKey(column="parent_id", referenced_table="parent")],
    )
    first = [(PARENT, parent.to_batches()), (child_table, child.to_batches())]
    postgres.write_tables(first, pg_schema, create_constraints=True)
    reader = pg_reader("READ COMMITTED")
    reader.execute(f'SELECT * FROM "{pg_schema}".parent').fetchall()
    wider_parent = PARENT.model_copy(
        update={"columns": [*PARENT.columns, Column(name="x", type=LogicalType.INTEGER)]}
    )
    new_parent = parent.append_column("x", pa.array([1, 2]))
    errors = []

    def deliver():
        from synthpipe_postgres import PostgresConnector

        try:
            with PostgresConnector(**PG, default_schema=pg_schema, lock_timeout=20) as other:
                other.write_tables(
                    [(wider_parent, new_parent.to_batches()), (child_table, child.to_batches())],
                    pg_schema,
                    "overwrite",
                    create_constraints=True,
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=deliver)
    thread.start()
    time.sleep(1.0)  # the delivery now waits for the parent
    try:
        reader.execute(f'SELECT * FROM "{pg_schema}".child').fetchall()  # deadlock before
        reader.commit()
    finally:
        reader.close()
    thread.join(30)
    assert errors == []
    assert postgres.schema(pg_schema, ["parent"])[0].column_names == ["id", "label", "x"]


# -- concurrent deliveries (defect 5) ---------------------------------------------------------


def held(batches, started: threading.Event, release: threading.Event):
    """Batches that pause after the first until ``release`` is set."""
    for i, batch in enumerate(batches):
        yield batch
        if i == 0:
            started.set()
            release.wait(20)


def _connector(kind: str, location: str, **options):
    if kind == "postgres":
        from synthpipe_postgres import PostgresConnector

        return PostgresConnector(**PG, default_schema=location, **options)
    from synthpipe_mysql import MySQLConnector

    return MySQLConnector(**{**MARIA, "database": location}, **options)


@pytest.fixture(params=["postgres", "mariadb"])
def server(request):
    """(kind, location) of each server database in turn, scratch location included."""
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("pg_schema")
    return "mariadb", request.getfixturevalue("maria_db")


def test_two_first_time_deliveries_at_once_both_succeed_one_after_the_other(server):
    kind, location = server
    started, release, errors = threading.Event(), threading.Event(), []
    two = [people(2)[0], people(2, start=2)[0]]

    def first():
        try:
            with _connector(kind, location) as c:
                c.write(PEOPLE, held(two, started, release), location, mode="overwrite")
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(20)
    threading.Timer(1.0, release.set).start()
    with _connector(kind, location) as c:  # waits for the first, then replaces its rows
        assert c.write(PEOPLE, people(3, start=100), location, mode="overwrite") == 3
        thread.join(20)
        assert errors == []
        assert c.schema(location, ["people"])[0].rows == 3


def test_a_delivery_waits_for_another_only_up_to_lock_timeout(server):
    kind, location = server
    started, release = threading.Event(), threading.Event()
    two = [people(2)[0], people(2, start=2)[0]]

    def first():
        with _connector(kind, location) as c:
            c.write(PEOPLE, held(two, started, release), location, mode="overwrite")

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(20)
        with _connector(kind, location, lock_timeout=1) as c:
            start = time.monotonic()
            with pytest.raises(LockTimeoutError, match="lock_timeout = 1 s") as raised:
                c.write(PEOPLE, people(3), location, mode="overwrite")
            assert time.monotonic() - start < 10
        assert "Held by: unknown" not in str(raised.value)
    finally:
        release.set()
        thread.join(20)


# -- DuckDB held by another process (defect 6) -----------------------------------------------


def _hold_duckdb(path, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r}, read_only=True)
        print("held", flush=True)
        time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_duckdb_delivery_waits_for_a_process_holding_the_file(tmp_path):
    from synthpipe.connectors.duckdb import DuckDBConnector

    path = tmp_path / "shared.duckdb"
    with DuckDBConnector(path=str(path)) as duck:
        duck.write(PEOPLE, people(2))
    holder = _hold_duckdb(path, 1.5)
    try:
        with DuckDBConnector(path=str(path), lock_timeout=20) as duck:
            assert duck.write(PEOPLE, people(3), mode="overwrite") == 3
    finally:
        holder.wait(20)


def test_duckdb_gives_up_after_lock_timeout_naming_the_file_and_setting(tmp_path):
    from synthpipe.connectors.duckdb import DuckDBConnector

    path = tmp_path / "shared.duckdb"
    with DuckDBConnector(path=str(path)) as duck:
        duck.write(PEOPLE, people(2))
    holder = _hold_duckdb(path, 30)
    try:
        duck = DuckDBConnector(path=str(path), lock_timeout=0.5)
        with pytest.raises(ConnectorError, match="held by another process") as raised:
            duck.write(PEOPLE, people(3), mode="overwrite")
        assert "shared.duckdb" in str(raised.value) and "lock_timeout" in str(raised.value)
    finally:
        holder.kill()
        holder.wait(20)


# -- kill -9 mid-delivery, leftovers (defect 9) -----------------------------------------------

_KILLED = """
import sys, time
import pyarrow as pa
from synthpipe.schema import Column, LogicalType, Table
kind, location, wide = sys.argv[1], sys.argv[2], sys.argv[3] == "wide"
cols = [Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING)]
if wide:
    cols.append(Column(name="age", type=LogicalType.INTEGER))
table = Table(name="people", primary_key=["id"], columns=cols)
def batches():
    for start in range(0, 10_000, 1_000):
        data = {"id": list(range(start, start + 1_000)), "name": ["new"] * 1_000}
        if wide:
            data["age"] = [1] * 1_000
        yield pa.table(data).to_batches()[0]
        if start == 1_000:
            print("loading", flush=True)
            time.sleep(60)
if kind == "postgres":
    from synthpipe_postgres import PostgresConnector as C
    settings = dict(host="127.0.0.1", port=5432, user="postgres", database="test",
                    default_schema=location)
elif kind == "mariadb":
    from synthpipe_mysql import MySQLConnector as C
    settings = dict(host="127.0.0.1", port=3306, user="root", password="", database=location)
else:
    from synthpipe.connectors.duckdb import DuckDBConnector as C
    settings = dict(path=location)
    location = None
C(**settings).write(table, batches(), location, mode="overwrite")
"""


def _kill_midway(kind: str, location: str, wide: bool) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, kind, location, "wide" if wide else "same"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "loading"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(20)


@pytest.fixture(params=["postgres", "mariadb", "duckdb"])
def killable(request, tmp_path):
    """(kind, location, connector) of each database for kill -9 tests."""
    if request.param == "duckdb":
        from synthpipe.connectors.duckdb import DuckDBConnector

        path = str(tmp_path / "killed.duckdb")
        return "duckdb", path, lambda: DuckDBConnector(path=path)
    if request.param == "postgres":
        location = request.getfixturevalue("pg_schema")
    else:
        location = request.getfixturevalue("maria_db")
    return request.param, location, lambda: _connector(request.param, location)


@pytest.mark.parametrize("wide", [False, True], ids=["same-columns", "new-columns"])
def test_kill_9_mid_delivery_keeps_the_old_rows_and_the_next_delivery_leaves_nothing(
    killable, wide
):
    kind, location, connect = killable
    where = None if kind == "duckdb" else location
    with connect() as c:
        c.write(PEOPLE, people(7), where)
    _kill_midway(kind, location, wide)
    with connect() as c:
        (table,) = c.schema(where, ["people"])
        assert table.rows == 7 and table.column_names == ["id", "name"]  # the old table whole
        assert [t for t in c.tables(where) if t.startswith("_sp_")] == []  # never listed
        assert c.write(WIDER, people(4, wide=True), where, mode="overwrite") == 4
        assert [t for t in c._all_tables(where) if t.startswith("_sp_")] == []


def test_staging_names_are_hidden_and_cleaned_by_the_next_delivery(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(2), loc)
    leftover = PEOPLE.model_copy(update={"name": "_sp_dead01_people"})
    c._execute(c.dialect.create_table(c.dialect.qualify(loc, leftover.name), leftover))
    assert "_sp_dead01_people" not in c.tables(loc)
    assert [t.name for t in c.schema(loc)] == ["people"]
    c.write(PEOPLE, people(3), loc, mode="overwrite")
    assert backend.stage_tables() == []


# -- appends: retries and keys (defect 8) -----------------------------------------------------


def _rows(backend, table: str, order: str = "id") -> list[tuple]:
    return [
        tuple(r)
        for r in backend.query(f"SELECT * FROM {backend.qualified(table)} ORDER BY {order}")
    ]


def test_appending_the_same_dataset_again_is_a_no_op(backend):
    c, loc = backend.connector, backend.location
    first = c.write_tables(dataset(2, 4), loc, "append", create_constraints=True, dataset_id="d1")
    again = c.write_tables(dataset(2, 4), loc, "append", create_constraints=True, dataset_id="d1")
    assert first == again == {"kind": 2, "parent": 2, "child": 4}
    assert backend.count("parent") == 2 and backend.count("child") == 4
    assert "_synthpipe_deliveries" not in c.tables(loc)


def test_appending_a_second_dataset_moves_its_keys_past_the_existing_ones(backend):
    c, loc = backend.connector, backend.location
    c.write_tables(dataset(2, 3), loc, "append", create_constraints=True, dataset_id="d1")
    c.write_tables(dataset(2, 3, "y"), loc, "append", create_constraints=True, dataset_id="d2")
    assert _rows(backend, "kind") == [(1, "a"), (2, "b")]  # the lookup is not reinserted
    assert _rows(backend, "parent") == [(1, "x"), (2, "x"), (3, "y"), (4, "y")]
    assert _rows(backend, "child") == [
        (1, 1, 1),
        (2, 2, 2),
        (3, 1, 1),
        (4, 3, 1),  # the second dataset's children point at its own (moved) parents
        (5, 4, 2),
        (6, 3, 1),
    ]


def test_an_overwrite_forgets_what_the_replaced_tables_held(backend):
    c, loc = backend.connector, backend.location
    c.write_tables(dataset(2, 3), loc, "append", create_constraints=True, dataset_id="d1")
    c.write_tables(dataset(1, 1), loc, "overwrite", create_constraints=True, dataset_id="d2")
    c.write_tables(dataset(2, 3), loc, "append", create_constraints=True, dataset_id="d1")
    assert backend.count("parent") == 3 and backend.count("child") == 4


# -- long names (defect 15) ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["table", "column"])
def test_names_over_the_identifier_limit_are_refused_before_writing(backend, where):
    c, loc = backend.connector, backend.location
    long = "t" * (c.dialect.max_identifier + 1)
    if where == "table":
        table = PEOPLE.model_copy(update={"name": long})
        data = people(2)
    else:
        table = PEOPLE.model_copy(
            update={"columns": [*PEOPLE.columns, Column(name=long, type=LogicalType.INTEGER)]}
        )
        data = pa.table({"id": [1], "name": ["a"], long: [1]}).to_batches()
    if backend.name == "duckdb":
        pytest.skip("DuckDB keeps long names whole")
    with pytest.raises(ConnectorError, match=f"limit of {c.dialect.max_identifier}"):
        c.write(table, data, loc)
    assert c.tables(loc) == []


def test_postgres_counts_the_limit_in_bytes(postgres, pg_schema):
    name = "ü" * 32  # 64 bytes, 32 characters
    with pytest.raises(ConnectorError, match=f"table '{name}'.*63 bytes"):
        postgres.write(PEOPLE.model_copy(update={"name": name}), people(1), pg_schema)


# -- secrets (defect 10) ---------------------------------------------------------------------


def test_postgres_params_secrets_never_show_in_reprs(pg_schema):
    from synthpipe_postgres import PostgresConnector

    connector = PostgresConnector(
        **PG, default_schema=pg_schema, params={"password": "s3cr3t-Pa55", "sslkey": "k"}
    )
    assert "s3cr3t-Pa55" not in repr(connector)
    assert "'password': '***'" in repr(connector)


def test_postgres_params_password_is_masked_in_errors():
    from synthpipe_postgres import PostgresConnector

    connector = PostgresConnector(
        host="127.0.0.1", port=1, connect_timeout=1, params={"password": "s3cr3t-Pa55"}
    )
    with pytest.raises(ConnectorError) as raised:
        connector.tables()
    assert "s3cr3t-Pa55" not in str(raised.value)
