"""Table data as objects: batches cut into part objects, and part objects read back as batches.

Parts are written straight to the store's output streams (no local copy); a part is complete
when its stream closes. Reads take any random-access input file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# open_part(index) -> (object name, output stream)
OpenPart = Callable[[int], tuple[str, Any]]


def write_parts(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fmt: str,
    max_rows: int,
    open_part: OpenPart,
) -> tuple[int, list[str]]:
    """Write batches as parts of at most ``max_rows`` rows; (rows, part names).

    At least one part is written, so a table without rows still has an object that carries its
    columns (a valid parquet file with the schema and no rows, or a CSV header).
    """
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    rows, names = 0, []
    stream = writer = None
    in_part = 0

    def finish() -> None:
        nonlocal stream, writer
        writer.close()
        stream.close()
        stream = writer = None

    try:
        for batch in batches:
            if not batch.schema.equals(schema):
                batch = batch.select(schema.names).cast(schema)
            while batch.num_rows:
                if writer is None:
                    name, stream = open_part(len(names))
                    names.append(name)
                    writer = (
                        pq.ParquetWriter(stream, schema, compression="zstd")
                        if fmt == "parquet"
                        else csv.CSVWriter(stream, schema)
                    )
                    in_part = 0
                head, batch = batch.slice(0, max_rows - in_part), batch.slice(max_rows - in_part)
                writer.write_batch(head)
                in_part += head.num_rows
                rows += head.num_rows
                if in_part == max_rows:
                    finish()
        if not names:
            name, stream = open_part(0)
            names.append(name)
            writer = (
                pq.ParquetWriter(stream, schema, compression="zstd")
                if fmt == "parquet"
                else csv.CSVWriter(stream, schema)
            )
        if writer is not None:
            finish()
    except BaseException:
        for closing in (writer, stream):
            if closing is not None:
                with contextlib.suppress(Exception):  # the original error matters
                    closing.close()
        raise
    return rows, names


def _sniff(file) -> str:
    """``parquet`` when the object starts with parquet's magic bytes, else ``csv``."""
    head = file.read(4)
    file.seek(0)
    return "parquet" if head == b"PAR1" else "csv"


def read_object(
    file, batch_size: int, columns: list[str] | None, schema: pa.Schema | None
) -> Iterator[pa.RecordBatch]:
    """Batches of one part; ``schema`` (from the manifest) types the CSV columns.

    A part without rows gives one empty batch, so a reader still learns the columns.
    """
    import pyarrow as pa

    if _sniff(file) == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(file)
        if parquet.metadata.num_rows == 0:
            yield pa.RecordBatch.from_pylist([], schema=_selected(parquet.schema_arrow, columns))
            return
        yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
        return
    import pyarrow.csv as csv

    types = dict(zip(schema.names, schema.types, strict=True)) if schema else None
    # Arrow writes a null as an empty field and an empty string as "", so only the former is null.
    convert = csv.ConvertOptions(
        column_types=types,
        include_columns=columns,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    table = csv.read_csv(file, convert_options=convert)
    if table.num_rows == 0:
        yield pa.RecordBatch.from_pylist([], schema=table.schema)
        return
    yield from table.to_batches(max_chunksize=batch_size)


def _selected(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    import pyarrow as pa

    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def file_schema(file) -> tuple[pa.Schema, int]:
    """The Arrow schema and row count of one part (for parquet, from its footer)."""
    if _sniff(file) == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(file).metadata
        return meta.schema.to_arrow_schema(), meta.num_rows
    import pyarrow.csv as csv

    table = csv.read_csv(file)
    return table.schema, table.num_rows
