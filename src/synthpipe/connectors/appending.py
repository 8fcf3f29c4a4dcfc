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
from synthpipe.schema import LogicalType, Table

if TYPE_CHECKING:
    import pyarrow as pa

Largest = Callable[[str, str], "int | None"]


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
