"""Table data as files: batches cut into part files, and part files read back as batches."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SUFFIX = {"parquet": ".parquet", "csv": ".csv"}

Ship = Callable[[int, Path], None]


class PartWriter:
    """Streams batches into part files of at most ``max_rows`` rows, shipping each when full.

    ``ship(index, path)`` gets every complete part (and nothing incomplete); the local file is
    removed afterwards. At least one part is written, so an empty table still has an object
    that carries its columns.
    """

    def __init__(self, folder: Path, schema: pa.Schema, fmt: str, max_rows: int, ship: Ship):
        self.folder, self.schema, self.fmt = folder, schema, fmt
        self.max_rows, self.ship = max_rows, ship
        self.rows = self.parts = self._in_part = 0
        self._writer = None
        self._path: Path | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        """Add one batch, splitting it where a part fills up."""
        if not batch.schema.equals(self.schema):
            batch = batch.select(self.schema.names).cast(self.schema)
        while batch.num_rows:
            if self._writer is None:
                self._open()
            room = self.max_rows - self._in_part
            head, batch = batch.slice(0, room), batch.slice(room)
            self._writer.write_batch(head)
            self._in_part += head.num_rows
            self.rows += head.num_rows
            if self._in_part == self.max_rows:
                self._finish()

    def close(self) -> int:
        """Ship the last part (or an empty one if nothing was written); the rows written."""
        if self._writer is None and self.parts == 0:
            self._open()
        if self._writer is not None:
            self._finish()
        return self.rows

    def abandon(self) -> None:
        """Close an unfinished part without shipping it."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    def _open(self) -> None:
        import pyarrow.csv as csv
        import pyarrow.parquet as pq

        self._path = self.folder / f"part-{self.parts:05d}{SUFFIX[self.fmt]}"
        if self.fmt == "parquet":
            self._writer = pq.ParquetWriter(self._path, self.schema, compression="zstd")
        else:
            self._writer = csv.CSVWriter(self._path, self.schema)
        self._in_part = 0

    def _finish(self) -> None:
        self._writer.close()
        self._writer = None
        self.ship(self.parts, self._path)
        self._path.unlink()
        self.parts += 1


def write_parts(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, fmt: str, max_rows: int, ship: Ship
) -> tuple[int, int]:
    """Write batches as part files shipped one by one; (rows, parts) written."""
    with tempfile.TemporaryDirectory(prefix="synthpipe-parts-") as folder:
        writer = PartWriter(Path(folder), schema, fmt, max_rows, ship)
        try:
            for batch in batches:
                writer.write(batch)
            rows = writer.close()
        except BaseException:
            writer.abandon()
            raise
    return rows, writer.parts


def read_file(
    path: Path, fmt: str, batch_size: int, columns: list[str] | None, schema: pa.Schema | None
) -> Iterator[pa.RecordBatch]:
    """Batches of one part file; ``schema`` (from the manifest) types the CSV columns."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns)
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
    yield from csv.read_csv(path, convert_options=convert).to_batches(max_chunksize=batch_size)


def file_schema(path: Path, fmt: str) -> tuple[pa.Schema, int]:
    """The Arrow schema and row count of one part file (for parquet, from its footer)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        return meta.schema.to_arrow_schema(), meta.num_rows
    import pyarrow.csv as csv

    table = csv.read_csv(path)
    return table.schema, table.num_rows
