"""The delivery contract every SQL database connector keeps: DuckDB, PostgreSQL and MariaDB.

Each test runs once per database (the ``backend`` fixture), against the real thing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from synthpipe.connectors.base import WriteMode
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

pytestmark = pytest.mark.services

PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
    ],
)


def people(n: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table({"id": ids, "name": [f"p{i}" for i in ids]})


def named(table: Table, name: str) -> Table:
    return table.model_copy(update={"name": name})


def failing_after(table: pa.Table, rows: int):
    """Batches of ``table`` that raise once ``rows`` rows have been handed out."""
    yield from table.slice(0, rows).to_batches(max_chunksize=max(rows // 4, 1))
    raise RuntimeError("generator crashed midway")


def ids(backend, table: str = "people") -> list[int]:
    return [r[0] for r in backend.query(f"SELECT id FROM {backend.qualified(table)} ORDER BY id")]


# -- new tables -----------------------------------------------------------------------------

TYPED = Table(
    name="typed",
    primary_key=["k"],
    columns=[
        Column(name="k", type=LogicalType.STRING, nullable=False),
        Column(name="n", type=LogicalType.INTEGER),
        Column(name="x", type=LogicalType.FLOAT),
        Column(name="amount", type=LogicalType.DECIMAL, precision=9, scale=3),
        Column(name="flag", type=LogicalType.BOOLEAN),
        Column(name="day", type=LogicalType.DATE),
        Column(name="at", type=LogicalType.DATETIME, nullable=False),
    ],
)


def typed_rows() -> pa.Table:
    return pa.table(
        {
            "k": ["a", "", 'q"uote', "multi\nline", "ünï ✓", "back\\slash", "NULL"],
            "n": [1, None, -3, 2**40, 0, 7, 8],
            "x": [0.5, None, -1e10, 3.25, 0.0, 1.0, 2.0],
            "amount": pa.array(
                [
                    Decimal("1.500"),
                    None,
                    Decimal("-2.125"),
                    Decimal("0"),
                    Decimal("123456.789"),
                    Decimal("1"),
                    Decimal("2"),
                ],
                pa.decimal128(9, 3),
            ),
            "flag": [True, False, None, True, False, True, False],
            "day": [
                dt.date(2020, 1, 31),
                None,
                dt.date(1999, 12, 1),
                dt.date(2024, 2, 29),
                dt.date(2000, 1, 1),
                dt.date(2001, 1, 1),
                dt.date(2002, 1, 1),
            ],
            "at": pa.array([dt.datetime(2020, 1, 1, 10, 30, 15, 250000)] * 7, pa.timestamp("us")),
        }
    )


def test_new_table_gets_types_nullability_and_primary_key_from_the_schema(backend):
    backend.connector.write(TYPED, typed_rows().to_batches(), backend.location)
    (table,) = backend.connector.schema(backend.location, ["typed"])
    assert table.primary_key == ["k"]
    got = [(c.name, c.type, c.nullable, c.precision, c.scale) for c in table.columns]
    assert got == [
        ("k", LogicalType.STRING, False, None, None),
        ("n", LogicalType.INTEGER, True, None, None),
        ("x", LogicalType.FLOAT, True, None, None),
        ("amount", LogicalType.DECIMAL, True, 9, 3),
        ("flag", LogicalType.BOOLEAN, True, None, None),
        ("day", LogicalType.DATE, True, None, None),
        ("at", LogicalType.DATETIME, False, None, None),
    ]


def test_values_survive_a_round_trip(backend):
    backend.connector.write(TYPED, typed_rows().to_batches(max_chunksize=3), backend.location)
    read = pa.Table.from_batches(backend.connector.read("typed", backend.location))
    assert sorted(read.to_pylist(), key=lambda r: r["k"]) == sorted(
        typed_rows().to_pylist(), key=lambda r: r["k"]
    )


def test_columns_come_from_the_data_when_the_schema_has_none(backend):
    data = pa.table({"x": pa.array([1, 2], pa.int32()), "y": ["a", None]})
    backend.connector.write(Table(name="loose"), data.to_batches(), backend.location)
    (table,) = backend.connector.schema(backend.location, ["loose"])
    assert [(c.name, c.type) for c in table.columns] == [
        ("x", LogicalType.INTEGER),
        ("y", LogicalType.STRING),
    ]


def test_write_returns_rows_written(backend):
    batches = people(1000).to_batches(max_chunksize=100)
    assert backend.connector.write(PEOPLE, batches, backend.location) == 1000
    assert backend.count("people") == 1000


# -- reading --------------------------------------------------------------------------------


def test_read_yields_batches_of_at_most_batch_size(backend):
    backend.connector.write(PEOPLE, people(10).to_batches(), backend.location)
    batches = list(backend.connector.read("people", backend.location, batch_size=4))
    assert [b.num_rows for b in batches] == [4, 4, 2]
    assert sorted(pa.Table.from_batches(batches).column("id").to_pylist()) == list(range(10))


def test_read_selects_the_requested_columns(backend):
    backend.connector.write(PEOPLE, people(3).to_batches(), backend.location)
    (batch,) = backend.connector.read("people", backend.location, columns=["name"])
    assert batch.schema.names == ["name"]


def test_read_of_an_unknown_table_fails_before_streaming(backend):
    with pytest.raises(NotFoundError, match="no table 'ghost'"):
        backend.connector.read("ghost", backend.location)


def test_schema_counts_rows(backend):
    backend.connector.write(PEOPLE, people(12).to_batches(), backend.location)
    assert backend.connector.schema(backend.location, ["people"])[0].rows == 12


def test_schema_of_an_unknown_table_names_the_tables_there(backend):
    backend.connector.write(PEOPLE, people(1).to_batches(), backend.location)
    with pytest.raises(NotFoundError, match="tables there: people"):
        backend.connector.schema(backend.location, ["nope"])


# -- fail -----------------------------------------------------------------------------------


def test_fail_mode_lists_every_existing_target_and_writes_nothing(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    c.write(named(PEOPLE, "others"), people(2).to_batches(), loc)
    tables = [
        (named(PEOPLE, "fresh"), people(5).to_batches()),
        (PEOPLE, people(5).to_batches()),
        (named(PEOPLE, "others"), people(5).to_batches()),
    ]
    with pytest.raises(TargetExistsError) as raised:
        c.write_tables(tables, loc, WriteMode.FAIL)
    assert raised.value.targets == ["people", "others"]
    assert not c.exists("fresh", loc)
    assert (backend.count("people"), backend.count("others")) == (3, 2)


# -- overwrite ------------------------------------------------------------------------------


def test_overwrite_replaces_the_table(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    c.write(PEOPLE, people(5, start=100).to_batches(), loc, mode="overwrite")
    assert ids(backend) == list(range(100, 105))


def test_overwrite_lets_other_connections_see_the_old_table_while_it_loads(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    seen_midway = []

    def batches():
        yield from people(50).to_batches()
        seen_midway.append(ids(backend))
        yield from people(50, start=50).to_batches()

    c.write(PEOPLE, batches(), loc, mode="overwrite")
    assert seen_midway == [[0, 1, 2]]
    assert backend.count("people") == 100


def test_overwrite_failing_midway_keeps_the_old_table_and_leaves_no_staging_table(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    with pytest.raises(RuntimeError, match="crashed midway"):
        c.write(PEOPLE, failing_after(people(1000, start=10), 500), loc, mode="overwrite")
    assert ids(backend) == [0, 1, 2]
    assert backend.stage_tables() == []


def test_retry_after_a_failed_overwrite_succeeds(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    with pytest.raises(RuntimeError):
        c.write(PEOPLE, failing_after(people(1000), 500), loc, mode="overwrite")
    assert c.write(PEOPLE, people(1000).to_batches(), loc, mode="overwrite") == 1000
    assert backend.count("people") == 1000


def test_a_rejected_row_keeps_the_old_table(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    duplicate_keys = pa.table({"id": [7, 7], "name": ["a", "b"]})
    with pytest.raises(ConnectorError):
        c.write(PEOPLE, duplicate_keys.to_batches(), loc, mode="overwrite")
    assert ids(backend) == [0, 1, 2]
    assert backend.stage_tables() == []


# -- append ---------------------------------------------------------------------------------


def test_append_matches_columns_by_name(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(2).to_batches(), loc)
    c.write(PEOPLE, pa.table({"name": ["late"], "id": [99]}).to_batches(), loc, mode="append")
    rows = backend.query(f"SELECT id, name FROM {backend.qualified('people')} ORDER BY id")
    assert [tuple(r) for r in rows] == [(0, "p0"), (1, "p1"), (99, "late")]


def test_append_refuses_a_type_mismatch_before_writing_any_row(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(2).to_batches(), loc)
    wrong = Table(
        name="people",
        columns=[
            Column(name="id", type=LogicalType.DATE),
            Column(name="name", type=LogicalType.STRING),
        ],
    )
    with pytest.raises(
        ConnectorError,
        match=r"people\.id' is date but the target column is "
        "integer",
    ):
        c.write(wrong, people(2).to_batches(), loc, mode="append")
    assert backend.count("people") == 2


def test_append_refuses_a_column_the_target_lacks(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(2).to_batches(), loc)
    extra = PEOPLE.model_copy(update={"columns": [*PEOPLE.columns, Column(name="age")]})
    with pytest.raises(ConnectorError, match=r"'people\.age' does not exist in the target"):
        c.write(extra, people(2).to_batches(), loc, mode="append")


def test_append_failing_midway_writes_no_row(backend):
    c, loc = backend.connector, backend.location
    c.write(PEOPLE, people(3).to_batches(), loc)
    with pytest.raises(RuntimeError):
        c.write(PEOPLE, failing_after(people(1000, start=10), 500), loc, mode="append")
    assert backend.count("people") == 3


def test_append_creates_a_missing_table(backend):
    assert (
        backend.connector.write(PEOPLE, people(4).to_batches(), backend.location, mode="append")
        == 4
    )


# -- several tables -------------------------------------------------------------------------

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
    ],
    foreign_keys=[ForeignKey(column="parent_id", referenced_table="parent")],
)


def family(parents: int, children: int):
    parent = pa.table({"id": list(range(parents)), "label": ["x"] * parents})
    child = pa.table(
        {"id": list(range(children)), "parent_id": [i % parents for i in range(children)]}
    )
    return [(PARENT, parent.to_batches()), (CHILD, child.to_batches())]


def test_create_constraints_adds_foreign_keys_between_delivered_tables(backend):
    backend.connector.write_tables(family(3, 10), backend.location, create_constraints=True)
    (child,) = backend.connector.schema(backend.location, ["child"])
    assert [
        (fk.columns, fk.referenced_table, fk.referenced_columns) for fk in child.foreign_keys
    ] == [(["parent_id"], "parent", ["id"])]


def test_foreign_keys_are_left_out_unless_asked_for(backend):
    backend.connector.write_tables(family(3, 10), backend.location)
    assert backend.connector.schema(backend.location, ["child"])[0].foreign_keys == []


def test_constrained_tables_can_be_overwritten_again_and_again(backend):
    for size in (3, 5, 7):
        backend.connector.write_tables(
            family(size, 2 * size), backend.location, mode="overwrite", create_constraints=True
        )
    assert (backend.count("parent"), backend.count("child")) == (7, 14)
    (child,) = backend.connector.schema(backend.location, ["child"])
    assert [fk.referenced_table for fk in child.foreign_keys] == ["parent"]
    assert backend.stage_tables() == []


def test_a_failing_child_leaves_every_table_of_the_delivery_as_it_was(backend):
    c, loc = backend.connector, backend.location
    c.write_tables(family(3, 6), loc, create_constraints=True)
    child_rows = pa.table({"id": list(range(100)), "parent_id": [0] * 100})
    tables = [
        (PARENT, pa.table({"id": list(range(50)), "label": ["y"] * 50}).to_batches()),
        (CHILD, failing_after(child_rows, 50)),
    ]
    with pytest.raises(RuntimeError):
        c.write_tables(tables, loc, mode="overwrite", create_constraints=True)
    assert (backend.count("parent"), backend.count("child")) == (3, 6)
    assert backend.stage_tables() == []


def test_a_parent_referenced_by_an_undelivered_table_is_not_replaced(backend):
    c, loc = backend.connector, backend.location
    c.write_tables(family(3, 6), loc, create_constraints=True)
    with pytest.raises(ConnectorError, match="'parent' is referenced by foreign keys of child"):
        c.write(PARENT, pa.table({"id": [1], "label": ["z"]}).to_batches(), loc, mode="overwrite")
    assert backend.count("parent") == 3


# -- identifiers ----------------------------------------------------------------------------

HOSTILE = 'a"; drop table x; --'


def test_hostile_identifiers_are_quoted_and_values_never_become_sql(backend):
    c, loc = backend.connector, backend.location
    c.write(
        Table(name="x", columns=[Column(name="a", type=LogicalType.INTEGER)]),
        pa.table({"a": [1]}).to_batches(),
        loc,
    )
    table = Table(
        name=HOSTILE,
        columns=[
            Column(name="select", type=LogicalType.STRING),
            Column(name=HOSTILE, type=LogicalType.INTEGER),
        ],
    )
    data = pa.table({"select": ["'); drop table x; --"], HOSTILE: [1]})
    c.write(table, data.to_batches(), loc)
    c.write(table, data.to_batches(), loc, mode="overwrite")
    c.write(table, data.to_batches(), loc, mode="append")
    assert c.exists("x", loc)
    assert pa.Table.from_batches(c.read(HOSTILE, loc)).to_pylist() == data.to_pylist() * 2
    assert [col.name for col in c.schema(loc, [HOSTILE])[0].columns] == ["select", HOSTILE]
