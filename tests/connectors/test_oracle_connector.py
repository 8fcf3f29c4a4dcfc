"""The Oracle plugin: the SQL it generates and the driver calls it makes.

No Oracle server can run here, so most tests replace ``oracledb.connect`` with a recording fake
(``FakeOracle``) that keeps a catalog of table names and answers the catalog queries it is told
to. The last test runs a live round trip against a real database when
SYNTHPIPE_TEST_ORACLE_DSN=user/password@host:port/service is set.
"""

from __future__ import annotations

import os
import re
import secrets

import oracledb
import pyarrow as pa
import pytest

from synthpipe import plugins
from synthpipe.errors import ConnectorError, TargetExistsError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

SECRET = "s3cr3t-Pa55word"
NAME = r'"((?:[^"]|"")*)"'


class FakeOracle:
    """A stand-in for an oracledb connection: records statements, tracks table names."""

    def __init__(self, tables=(), answers=None):
        self.tables = set(tables)
        self.answers = answers or {}  # regex on the SQL -> rows
        self.statements: list[str] = []
        self.arrays: list[tuple[str, pa.Table]] = []
        self.events: list[str] = []
        self.missing_schemas: set[str] = set()  # every other schema (user) exists

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.events.append("commit")

    def rollback(self):
        self.events.append("rollback")

    def is_healthy(self):
        return True

    def close(self):
        pass

    def run(self, sql: str, params) -> list[tuple]:
        self.statements.append(sql)
        self.events.append(sql.split()[0] + " " + sql.split()[1])
        if m := re.match(rf"CREATE TABLE {NAME}\.{NAME}", sql):
            self.tables.add(m[2].replace('""', '"'))
        elif m := re.match(rf"ALTER TABLE {NAME}\.{NAME} RENAME TO {NAME}", sql):
            self.tables.discard(m[2].replace('""', '"'))
            self.tables.add(m[3].replace('""', '"'))
        elif m := re.match(rf"DROP TABLE {NAME}\.{NAME}", sql):
            self.tables.discard(m[2].replace('""', '"'))
        elif "UNION SELECT view_name" in sql:
            return [(t,) for t in sorted(self.tables)]
        elif "FROM all_users WHERE username = :1" in sql:
            return [] if params[0] in self.missing_schemas else [(1,)]
        for pattern, rows in self.answers.items():
            if re.search(pattern, sql):
                return rows
        return []


class FakeCursor:
    def __init__(self, db: FakeOracle):
        self.db, self.description, self.rows = db, None, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def execute(self, sql, params=None):
        self.rows = self.db.run(sql, params)
        self.description = [("c",)] if sql.lstrip().upper().startswith("SELECT") else None

    def fetchall(self):
        return self.rows

    def executemany(self, sql, data, batch_size=None):
        self.db.arrays.append((sql, pa.table(data)))
        self.db.events.append("executemany")


@pytest.fixture
def fake(monkeypatch):
    """``oracledb.connect`` replaced by one that records its arguments and returns a fake."""
    db = FakeOracle()
    db.connect_args = None

    def connect(**kwargs):
        db.connect_args = kwargs
        return db

    monkeypatch.setattr(oracledb, "connect", connect)
    return db


@pytest.fixture
def oracle(fake):
    from synthpipe_oracle import OracleConnector

    return OracleConnector(dsn="db.example:1521/FREEPDB1", user="scott", password=SECRET)


PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
        Column(name="ok", type=LogicalType.BOOLEAN),
    ],
)


def people(n: int) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": ["x"] * n, "ok": [True, False] * (n // 2)})


def test_oracle_is_registered_through_its_entry_point():
    info = next(p for p in plugins.get_registry().plugins if "oracle" in p.connectors)
    assert info.origin.startswith("synthpipe-oracle ")


def test_the_driver_runs_in_thin_mode():
    assert oracledb.is_thin_mode()


def test_create_table_maps_types_precision_nullability_and_keys():
    from synthpipe_oracle.connector import OracleDialect

    table = Table(
        name="orders",
        primary_key=["id"],
        columns=[
            Column(name="id", type=LogicalType.INTEGER, nullable=False),
            Column(name="code", type=LogicalType.STRING),
            Column(name="amount", type=LogicalType.DECIMAL, precision=12, scale=2),
            Column(name="x", type=LogicalType.FLOAT),
            Column(name="ok", type=LogicalType.BOOLEAN),
            Column(name="day", type=LogicalType.DATE),
            Column(name="at", type=LogicalType.DATETIME),
            Column(name="note", type=LogicalType.TEXT),
        ],
        foreign_keys=[ForeignKey(column="code", referenced_table="codes")],
    )
    fk = ForeignKey(column="code", referenced_table="codes", referenced_column="code")
    sql = OracleDialect().create_table('"S"."orders"', table, [(fk, '"S"."codes"')])
    assert sql == (
        'CREATE TABLE "S"."orders" ("id" NUMBER(19) NOT NULL, "code" VARCHAR2(255 CHAR), '
        '"amount" NUMBER(12, 2), "x" BINARY_DOUBLE, "ok" NUMBER(1), "day" DATE, '
        '"at" TIMESTAMP(6), "note" CLOB, PRIMARY KEY ("id"), '
        'FOREIGN KEY ("code") REFERENCES "S"."codes" ("code"))'
    )


def test_connect_hands_dsn_user_and_password_to_the_driver(oracle, fake):
    oracle.tables()
    assert fake.connect_args["dsn"] == "db.example:1521/FREEPDB1"
    assert (fake.connect_args["user"], fake.connect_args["password"]) == ("scott", SECRET)


def test_the_default_location_is_the_users_schema(oracle, fake):
    oracle.tables()
    assert "FROM all_tables WHERE owner = :1" in fake.statements[0]
    assert oracle.default_location == "SCOTT"


def test_a_new_table_is_loaded_into_a_stage_with_array_dml_then_renamed(oracle, fake):
    assert oracle.write(PEOPLE, people(4).to_batches(max_chunksize=2)) == 4
    ddl = [s for s in fake.statements if not s.startswith("SELECT")]
    stage = re.match(rf"CREATE TABLE {NAME}\.{NAME}", ddl[0])[2]
    assert stage.startswith("_sp_") and stage.endswith("_people")
    assert ddl[1] == f'ALTER TABLE "SCOTT"."{stage}" RENAME TO "people"'
    assert [sql for sql, _ in fake.arrays] == [
        f'INSERT INTO "SCOTT"."{stage}" ("id", "name", "ok") VALUES (:1, :2, :3)'
    ] * 2
    assert fake.tables == {"people"}


def test_array_dml_binds_arrow_data_with_booleans_as_numbers(oracle, fake):
    oracle.write(PEOPLE, people(2).to_batches())
    ((_, bound),) = fake.arrays
    assert bound.schema.field("ok").type == pa.int8()
    assert bound.column("ok").to_pylist() == [1, 0]


def test_overwrite_loads_commits_then_renames_old_aside_and_drops_it(oracle, fake):
    fake.tables.add("people")
    oracle.write(PEOPLE, people(2).to_batches(), mode="overwrite")
    assert [e for e in fake.events if not e.startswith("SELECT")] == [
        "CREATE TABLE",
        "executemany",
        "commit",
        "ALTER TABLE",
        "ALTER TABLE",
        "DROP TABLE",
    ]
    renames = [s for s in fake.statements if s.startswith("ALTER")]
    old = re.search(rf"RENAME TO {NAME}", renames[0])[1]
    assert renames[0] == f'ALTER TABLE "SCOTT"."people" RENAME TO "{old}"'
    assert fake.statements[-1] == f'DROP TABLE "SCOTT"."{old}" PURGE'
    assert fake.tables == {"people"}


def test_a_failure_midway_rolls_back_and_drops_the_stage_leaving_the_target(oracle, fake):
    fake.tables.add("people")

    def batches():
        yield people(2).to_batches()[0]
        raise RuntimeError("generator crashed midway")

    with pytest.raises(RuntimeError, match="midway"):
        oracle.write(PEOPLE, batches(), mode="overwrite")
    assert "rollback" in fake.events
    assert not any(s.startswith("ALTER") for s in fake.statements)
    assert fake.statements[-1].startswith('DROP TABLE "SCOTT"."_sp_')
    assert fake.tables == {"people"}


def test_fail_mode_refuses_before_any_statement_but_catalog_reads(oracle, fake):
    fake.tables.update({"people", "others"})
    tables = [
        (PEOPLE, people(2).to_batches()),
        (PEOPLE.model_copy(update={"name": "others"}), people(2).to_batches()),
    ]
    with pytest.raises(TargetExistsError, match="people, others"):
        oracle.write_tables(tables)
    assert all(s.startswith("SELECT") for s in fake.statements)


def test_child_stages_reference_parent_stages_so_the_rename_carries_the_key(oracle, fake):
    parent = Table(
        name="p",
        primary_key=["id"],
        columns=[Column(name="id", type=LogicalType.INTEGER, nullable=False)],
    )
    child = Table(
        name="c",
        columns=[Column(name="pid", type=LogicalType.INTEGER)],
        foreign_keys=[ForeignKey(column="pid", referenced_table="p")],
    )
    oracle.write_tables(
        [
            (parent, pa.table({"id": [1]}).to_batches()),
            (child, pa.table({"pid": [1]}).to_batches()),
        ],
        create_constraints=True,
    )
    creates = [s for s in fake.statements if s.startswith("CREATE")]
    parent_stage = re.match(rf"CREATE TABLE {NAME}\.{NAME}", creates[0])[2]
    assert f'REFERENCES "SCOTT"."{parent_stage}" ("id")' in creates[1]


def test_hostile_identifiers_are_quoted(oracle, fake):
    name = 'a"; drop table x; --'
    table = Table(name=name, columns=[Column(name="select", type=LogicalType.STRING)])
    oracle.write(table, pa.table({"select": ["'); drop table x; --"]}).to_batches())
    assert fake.statements[-1].endswith('RENAME TO "a""; drop table x; --"')
    assert fake.arrays[0][0].endswith('("select") VALUES (:1)')
    assert fake.tables == {name}


def test_schema_tells_numbers_apart_by_precision_and_scale(oracle, fake):
    fake.tables.add("T")
    fake.answers = {
        "FROM all_tab_columns": [
            ("ID", "NUMBER", 19, 0, "N"),
            ("OK", "NUMBER", 1, 0, "Y"),
            ("AMT", "NUMBER", 12, 2, "Y"),
            ("X", "BINARY_DOUBLE", None, None, "Y"),
            ("NAME", "VARCHAR2", None, None, "Y"),
            ("AT", "DATE", None, None, "Y"),
            ("DOC", "CLOB", None, None, "Y"),
        ],
        "constraint_type IN": [("P", "PK_T", "ID", None, None), ("R", "FK_T", "OK", "U", "UID")],
        "COUNT": [(3,)],
    }
    (table,) = oracle.schema(tables=["T"])
    assert [(c.name, c.type, c.nullable, c.precision) for c in table.columns] == [
        ("ID", LogicalType.INTEGER, False, None),
        ("OK", LogicalType.BOOLEAN, True, None),
        ("AMT", LogicalType.DECIMAL, True, 12),
        ("X", LogicalType.FLOAT, True, None),
        ("NAME", LogicalType.STRING, True, None),
        ("AT", LogicalType.DATETIME, True, None),
        ("DOC", LogicalType.TEXT, True, None),
    ]
    assert table.primary_key == ["ID"]
    assert [
        (fk.columns, fk.referenced_table, fk.referenced_columns) for fk in table.foreign_keys
    ] == [(["OK"], "U", ["UID"])]
    assert table.rows == 3


def test_the_password_never_shows_in_reprs_or_connection_errors():
    """This one uses the real thin driver against a closed port: no server is needed."""
    from synthpipe_oracle import OracleConnector

    connector = OracleConnector(
        dsn=f"127.0.0.1:1/{SECRET}x", user="scott", password=SECRET, tcp_connect_timeout=2
    )
    assert SECRET not in repr(connector).replace(f"/{SECRET}x", "")
    with pytest.raises(ConnectorError, match="Oracle cannot connect") as raised:
        connector.tables()
    assert SECRET not in str(raised.value).replace(f"/{SECRET}x", "")
    assert raised.value.__suppress_context__


def _live_settings() -> dict:
    dsn = os.environ.get("SYNTHPIPE_TEST_ORACLE_DSN")
    if not dsn:
        pytest.skip(
            "set SYNTHPIPE_TEST_ORACLE_DSN=user/password@host:port/service for a live "
            "Oracle round trip"
        )
    credentials, _, address = dsn.rpartition("@")
    user, _, password = credentials.partition("/")
    return {"dsn": address, "user": user, "password": password}


def test_live_round_trip_against_a_real_oracle():
    from synthpipe_oracle import OracleConnector

    name = f"SP_LIVE_{secrets.token_hex(3).upper()}"
    table = PEOPLE.model_copy(update={"name": name})
    with OracleConnector(**_live_settings()) as oracle:
        try:
            assert oracle.write(table, people(10).to_batches()) == 10
            assert oracle.write(table, people(4).to_batches(), mode="overwrite") == 4
            read = pa.Table.from_batches(oracle.read(name))
            assert sorted(read.column("id").to_pylist()) == [0, 1, 2, 3]
            (schema,) = oracle.schema(tables=[name])
            assert (schema.primary_key, schema.rows) == (["id"], 4)
            assert [t for t in oracle.tables() if t.startswith("_sp_")] == []
        finally:
            if oracle.exists(name):
                oracle._execute(f"DROP TABLE {oracle.dialect.qualify(None, name)} PURGE")


def test_a_missing_schema_is_refused_before_anything_is_written(oracle, fake):
    fake.missing_schemas.add("SYNTH")
    with pytest.raises(ConnectorError, match=r"Oracle schema 'SYNTH' does not exist.*CREATE USER"):
        oracle.write_tables([(PEOPLE, people(2).to_batches())], "SYNTH", "overwrite")
    assert not [s for s in fake.statements if not s.startswith("SELECT")]
    assert fake.arrays == []


# -- issue 13: secrets in DSNs, long names, hidden staging tables (the recording fake) -------


def test_a_password_inside_the_dsn_never_shows_in_reprs_or_errors():
    """The real thin driver against a closed port: the DSN's password is masked everywhere."""
    from synthpipe_oracle import OracleConnector

    connector = OracleConnector(dsn=f"scott/{SECRET}@127.0.0.1:1/svc", tcp_connect_timeout=2)
    assert SECRET not in repr(connector)
    with pytest.raises(ConnectorError, match="Oracle cannot connect") as raised:
        connector.tables()
    assert SECRET not in str(raised.value)
    assert "scott/***@127.0.0.1:1/svc" in str(raised.value)


def test_names_over_128_bytes_are_refused_before_any_statement(oracle, fake):
    long = "T" * 129
    with pytest.raises(ConnectorError, match=f"table '{long}'.*limit of 128 bytes"):
        oracle.write(PEOPLE.model_copy(update={"name": long}), people(2).to_batches())
    assert fake.statements == []


def test_staging_leftovers_are_hidden_and_dropped_by_the_next_delivery(oracle, fake):
    fake.tables.update({"people", "_sp_dead01_people"})
    assert oracle.tables() == ["people"]
    oracle.write(PEOPLE, people(2).to_batches(), mode="overwrite")
    assert fake.tables == {"people"}
