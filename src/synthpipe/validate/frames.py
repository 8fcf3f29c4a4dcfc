"""Arrow tables as the pandas frames Great Expectations validates.

Two frames per chunk of a table: a *schema frame* (no rows, every column an ``ArrowDtype``) on
which the column set and the exact Arrow types are checked, and a *value frame* whose dtypes
keep GX on its vectorised pandas paths. GX compares ``int64``/``float64`` and
nanosecond datetimes with vectorised operations but falls back to a Python call per value for
other dtypes (``ArrowDtype`` columns are three times slower, dates as objects a hundred times),
so values are widened: integers to int64 (float64 where nulls occur, as pandas does), floats
and decimals to float64, dates and timestamps to nanosecond timestamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def schema_frame(schema: pa.Schema) -> pd.DataFrame:
    """An empty frame whose columns carry the exact Arrow types of ``schema``."""
    import pandas as pd

    return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def value_frame(table: pa.Table) -> pd.DataFrame:
    """The rows of ``table`` as a frame with dtypes GX validates quickly."""
    import pyarrow as pa

    arrays = [_widened(column) for column in table.columns]
    return pa.Table.from_arrays(arrays, names=table.column_names).to_pandas()


def _widened(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_integer(kind) and kind != pa.int64():
        target = pa.int64()
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        target = pa.float64()
    elif pa.types.is_date(kind):
        target = pa.timestamp("ns")
    elif pa.types.is_timestamp(kind):
        target = pa.timestamp("ns", kind.tz)
    else:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Out of range for the wider type (e.g. year 9999 in nanoseconds): keep the original;
        # GX then compares value by value, slower but correct.
        return column


def chunks(parts: list[Path], chunk_rows: int) -> Iterator[pa.Table]:
    """The rows of a table's parts in tables of at most ``chunk_rows`` rows; a new chunk
    starts wherever a part's schema differs, so a corrupted part never breaks the others."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending: list[pa.RecordBatch] = []
    rows, schema = 0, None
    for part in parts:
        file = pq.ParquetFile(part)
        if schema is None:
            schema = file.schema_arrow
        for batch in file.iter_batches(batch_size=chunk_rows):
            if pending and (not batch.schema.equals(schema) or rows + batch.num_rows > chunk_rows):
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
            schema = batch.schema
            pending.append(batch)
            rows += batch.num_rows
    if pending:
        yield pa.Table.from_batches(pending)
    elif schema is not None:
        yield schema.empty_table()  # a table without rows is still checked
