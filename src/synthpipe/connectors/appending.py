"""Appends of a new dataset to tables that hold an earlier one: keys moved past the old ones.

The same rule as the SQL connectors (``connectors/sql.py``): a table with a single-column
integer primary key that is not a lookup table (``original_data``) gets every key shifted by
``max(existing) + 1 - min(new)`` when its smallest new key is not above the largest existing
one; each foreign key of the delivery referencing a shifted table is shifted by the same amount.
For the files destination and the object stores, which have no query engine to ask for the
largest key, the caller passes ``largest(table, column)``.

``already_delivered`` names the tables an append leaves alone: an existing lookup table, and a
table whose manifest entry records the dataset being appended (a retry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from synthpipe.connectors.base import Batches, WriteMode
from synthpipe.schema import Column, LogicalType, Table

if TYPE_CHECKING:
    import pyarrow as pa

Largest = Callable[[str, str], "int | None"]


# Logical types a column may be appended into, beyond its own; textual types go into each other.
_APPENDABLE = {
    LogicalType.INTEGER: {LogicalType.INTEGER, LogicalType.FLOAT, LogicalType.DECIMAL},
    LogicalType.FLOAT: {LogicalType.FLOAT, LogicalType.DECIMAL},
    LogicalType.DECIMAL: {LogicalType.DECIMAL, LogicalType.FLOAT},
    LogicalType.BOOLEAN: {LogicalType.BOOLEAN},
    LogicalType.DATE: {LogicalType.DATE, LogicalType.DATETIME},
    LogicalType.DATETIME: {LogicalType.DATETIME},
}
TEXTUAL = {LogicalType.STRING, LogicalType.CATEGORICAL, LogicalType.TEXT, LogicalType.LAT_LONG}


def appendable(given: LogicalType, target: LogicalType) -> bool:
    """Whether a column of logical type ``given`` may be appended into one of type ``target``."""
    if target in TEXTUAL:
        return given in TEXTUAL
    return target in _APPENDABLE.get(given, set())


def append_problems(table: Table, existing: list[Column]) -> list[str]:
    """Why ``table``'s columns cannot be appended into a target with columns ``existing``;
    [] if they can: each column must exist with an appendable type, and every NOT NULL target
    column must be present."""
    have = {c.name: c for c in existing}
    problems = []
    for column in table.columns or []:
        target = have.get(column.name)
        if target is None:
            problems.append(
                f"column '{table.name}.{column.name}' does not exist in the target "
                f"(it has: {', '.join(have)}); add it or drop it"
            )
        elif not appendable(column.type, target.type):
            problems.append(
                f"column '{table.name}.{column.name}' is {column.type.value} but the target "
                f"column is {target.type.value}; cast it or use mode 'overwrite'"
            )
    given = set(table.column_names)
    for name, target in have.items():
        if name not in given and not target.nullable:
            problems.append(
                f"target column '{table.name}.{name}' is NOT NULL but the data has no such "
                "column; add it to the data"
            )
    return problems


def integer_key(table: Table) -> str | None:
    """The table's single integer primary-key column, unless it is a lookup table."""
    pk = table.primary_key or []
    column = table.column(pk[0]) if len(pk) == 1 and table.columns else None
    if column is None or column.type is not LogicalType.INTEGER or table.original_data:
        return None
    return pk[0]


def shift_keys(
    tables: list[tuple[Table, Batches]], existing: set[str], largest: Largest
) -> list[tuple[Table, Batches]]:
    """The delivery with keys of appended tables (those in ``existing``) moved past the old."""
    shifts: dict[str, int] = {}

    def shifted(table: Table, batches: Batches) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.compute as pc

        key = integer_key(table) if table.name in existing else None
        moves = {fk.columns[0]: fk.referenced_table for fk in table.foreign_keys
                 if len(fk.columns) == 1}  # fmt: skip
        first = True
        for batch in batches:
            if first and key is not None and key in batch.schema.names and batch.num_rows:
                top, low = largest(table.name, key), pc.min(batch.column(key)).as_py()
                if top is not None and low is not None and low <= top:
                    shifts[table.name] = top + 1 - low
            first = False
            for column, parent in {**moves, **({key: table.name} if key else {})}.items():
                delta = shifts.get(parent)
                if delta and column in batch.schema.names:
                    i = batch.schema.get_field_index(column)
                    moved = pc.add(batch.column(i), pa.scalar(delta, batch.column(i).type))
                    batch = batch.set_column(i, batch.schema.field(i), moved)
            yield batch

    return [(t, shifted(t, d)) for t, d in tables]


def already_delivered(
    tables: list[tuple[Table, Batches]],
    entries: dict[str, dict],
    existing: set[str],
    mode: WriteMode,
    dataset_id: str | None,
) -> dict[str, int]:
    """Tables an append leaves as they are, with the rows reported for them: lookup tables
    that exist already (0), and tables whose entry records ``dataset_id`` (its rows then).

    ``entries`` maps a table to its manifest entry, whose ``datasets`` maps dataset ids to the
    rows each added.
    """
    if mode is not WriteMode.APPEND:
        return {}
    done = {}
    for table, _ in tables:
        recorded = entries.get(table.name, {}).get("datasets") or {}
        if dataset_id and dataset_id in recorded and table.name in existing:
            done[table.name] = int(recorded[dataset_id] or 0)
        elif table.original_data and table.name in existing:
            done[table.name] = 0
    return done
