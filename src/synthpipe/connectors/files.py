"""Local files: a folder of parquet or CSV files is a dataset, each file stem a table.

A table may also be a folder of parquet parts (``orders/part-00000.parquet``), as synthpipe
writes large tables. Writes go to a temporary file in the same folder and are moved into place
with an atomic rename, so a reader sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import field_validator

from synthpipe.connectors.base import Batches, Connector, ConnectorConfig, WriteMode
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.hookspecs import hookimpl
from synthpipe.schema import Table

SUFFIXES = {".parquet": "parquet", ".csv": "csv"}


class FilesConfig(ConnectorConfig):
    # Folder holding the tables; locations are sub-folders of it. `@demo/NAME` names a dataset
    # shipped inside the package (`@demo/ratdat`), on the command line as in pipeline files.
    path: Path
    # Format of files this connector writes.
    format: Literal["parquet", "csv"] = "parquet"

    @field_validator("path", mode="before")
    @classmethod
    def _embedded(cls, value):
        from synthpipe.pipeline import DEMO_PREFIX, demo_path

        if isinstance(value, str) and value.startswith(DEMO_PREFIX):
            return demo_path(value[len(DEMO_PREFIX) :])
        return value


class FilesConnector(Connector):
    """A folder of parquet/CSV files (or folders of parquet parts) as tables."""

    kind = "files"
    Config = FilesConfig

    def _folder(self, location: str | None) -> Path:
        folder = self.config.path / location if location else self.config.path
        return folder

    def _find(self, table: str, location: str | None) -> Path | None:
        folder = self._folder(location)
        for suffix in SUFFIXES:
            if (folder / f"{table}{suffix}").is_file():
                return folder / f"{table}{suffix}"
        if (folder / table).is_dir() and any((folder / table).glob("*.parquet")):
            return folder / table
        return None

    def _require(self, table: str, location: str | None) -> Path:
        path = self._find(table, location)
        if path is None:
            raise NotFoundError(
                f"table '{table}' not found in {self._folder(location)}; "
                f"expected {table}.parquet, {table}.csv or a folder {table}/ "
                f"of parquet parts (tables here: {', '.join(self.tables(location))})"
            )
        return path

    def locations(self, prefix: str = "") -> list[str]:
        root = self.config.path
        if not root.is_dir():
            raise NotFoundError(f"folder {root} does not exist; set `path` to a folder of tables")
        found = [
            "" if p == root else str(p.relative_to(root))
            for p in [root, *sorted(q for q in root.rglob("*") if q.is_dir())]
            if self._holds_tables(p)
        ]
        return [loc for loc in found if loc.startswith(prefix)]

    def _holds_tables(self, folder: Path) -> bool:
        if _is_parts_folder(folder):
            return False  # a table stored as parts, not a location
        return any(
            (p.is_file() and p.suffix in SUFFIXES) or (p.is_dir() and _is_parts_folder(p))
            for p in folder.iterdir()
        )

    def tables(self, location: str | None = None) -> list[str]:
        folder = self._folder(location)
        if not folder.is_dir():
            raise NotFoundError(f"folder {folder} does not exist; check `path` and the location")
        names = {p.stem for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES}
        names |= {p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet"))}
        return sorted(names)

    def _dataset(self, path: Path):
        import pyarrow.dataset as ds

        fmt = "csv" if path.suffix == ".csv" else "parquet"
        return ds.dataset(path, format=fmt)

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        from synthpipe.types import columns_from_arrow

        result = []
        for name in tables or self.tables(location):
            path = self._require(name, location)
            dataset = self._dataset(path)
            rows = dataset.count_rows() if path.suffix != ".csv" else None
            result.append(Table(name=name, columns=columns_from_arrow(dataset.schema), rows=rows))
        return result

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator:
        dataset = self._dataset(self._require(table, location))
        missing = [c for c in columns or [] if c not in dataset.schema.names]
        if missing:
            raise ConnectorError(
                f"table '{table}' has no column(s) {', '.join(missing)}; "
                f"columns: {', '.join(dataset.schema.names)}"
            )
        yield from dataset.to_batches(columns=columns, batch_size=batch_size)

    def exists(self, table: str, location: str | None = None) -> bool:
        return self._find(table, location) is not None

    def write(
        self,
        table: Table,
        data: Batches,
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
    ) -> int:
        mode = WriteMode(mode)
        folder = self._folder(location)
        folder.mkdir(parents=True, exist_ok=True)
        existing = self._find(table.name, location)
        if existing is not None and mode is WriteMode.FAIL:
            raise TargetExistsError([str(existing)])
        target = folder / f"{table.name}.{self.config.format}"
        if existing is not None and mode is WriteMode.APPEND:
            data = self._appended(table, existing, data)
        rows = self._write_atomic(target, data)
        if existing is not None and existing != target:
            _remove(existing)  # overwrite changed the format or replaced a folder of parts
        return rows

    def _appended(self, table: Table, existing: Path, data: Batches):
        import itertools

        old = self._dataset(existing)
        batches = iter(data)
        first = next(batches, None)
        if first is not None:
            _check_append(table.name, old.schema, first.schema)
        new = itertools.chain([first] if first is not None else [], batches)
        return itertools.chain(
            old.to_batches(), (b.select(old.schema.names).cast(old.schema) for b in new)
        )

    def _write_atomic(self, target: Path, data: Batches) -> int:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            rows = _write_file(Path(tmp), data, self.config.format)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return rows


def _is_parts_folder(folder: Path) -> bool:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix == ".parquet"]
    return bool(files) and all(p.name.startswith("part-") for p in files)


def _check_append(table: str, old, new) -> None:
    problems = []
    for field in new:
        if field.name not in old.names:
            problems.append(f"column '{field.name}' is not in the existing table")
        elif not old.field(field.name).type.equals(field.type):
            problems.append(
                f"column '{field.name}' is {field.type}, existing is {old.field(field.name).type}"
            )
    missing = [name for name in old.names if name not in new.names]
    if missing:
        problems.append(f"existing column(s) {', '.join(missing)} missing from the new rows")
    if problems:
        raise ConnectorError(
            f"cannot append to '{table}': "
            + "; ".join(problems)
            + "; use mode 'overwrite' to replace the table"
        )


def _write_file(path: Path, data: Batches, fmt: str) -> int:
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    rows, writer = 0, None
    try:
        for batch in data:
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, batch.schema, compression="zstd")
                    if fmt == "parquet"
                    else csv.CSVWriter(path, batch.schema)
                )
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        path.write_bytes(b"")
    return rows


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@hookimpl
def register_connectors(register):
    register(FilesConnector)
