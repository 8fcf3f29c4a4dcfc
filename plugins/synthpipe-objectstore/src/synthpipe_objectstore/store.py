"""The object-store connector base: layout, staging, the swap and the manifest.

Layout under ``<prefix>`` (the bucket's prefix joined with the location):

- ``<prefix>/<table>``: one object per table, no extension added, parquet (or CSV);
- ``<prefix>/<table>/part-00000.parquet`` ...: a folder of parts for a table with more rows
  than ``partition_rows``;
- ``<prefix>/_manifest.json``: tables, objects, row counts and schemas, written last.

A delivery first uploads every part of every table under ``<prefix>/_sp_<token>/``; a failure
there (the producer raising, a dropped connection) deletes the staged objects and touches
nothing else. If the connection dropped, that cleanup may fail as well; the next successful
delivery removes every leftover, so a location takes one delivery at a time. Then the old
manifest is deleted, each staged object is copied into place by the store itself (each copy
replaces one object atomically), objects of the old tables that the new ones do not overwrite
are deleted, and the new manifest is written. Object stores have no multi-object transaction,
so readers that must never see a half-replaced dataset wait for the manifest: it is absent
from the start of the swap until everything is in place.

A backend implements seven primitives (``_list``, ``_upload``, ``_download``, ``_copy``,
``_delete``, ``_put_bytes``, ``_get_bytes``) and raises ConnectorError from them.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from synthpipe.connectors.base import Batches, Connector, ConnectorConfig, WriteMode
from synthpipe.connectors.sql import appendable
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.schema import Table
from synthpipe_objectstore.parts import file_schema, read_file, write_parts

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
STAGE_PREFIX = "_sp_"
MANIFEST_VERSION = 1


class ObjectStoreConfig(ConnectorConfig):
    """Where tables live in the store and how they are written."""

    bucket: str
    # Key prefix inside the bucket under which locations live; "" is the bucket's root.
    prefix: str = ""
    # Format of the objects written; reads recognise either.
    format: Literal["parquet", "csv"] = "parquet"
    # Tables with more rows are written as a folder of parts of at most this many rows.
    partition_rows: int = Field(default=1_000_000, gt=0)


@dataclass
class Staged:
    """One table of a delivery, uploaded under the staging prefix."""

    table: Table
    rows: int = 0
    moves: list[tuple[str, str]] = field(default_factory=list)  # (staged key, final key)


class ObjectStoreConnector(Connector):
    """Tables as objects under a prefix of one bucket; locations are sub-prefixes."""

    Config = ObjectStoreConfig
    scheme: ClassVar[str] = "store"  # URI scheme used in messages, e.g. "s3" or "gs"

    # -- primitives a backend provides -----------------------------------------------------
    def _list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``."""
        raise self._unsupported("listing objects")

    def _upload(self, key: str, path: Path) -> None:
        """Upload a local file as one object (replacing it atomically if it exists)."""
        raise self._unsupported("uploading")

    def _download(self, key: str, path: Path) -> None:
        """Download one object into a local file."""
        raise self._unsupported("downloading")

    def _copy(self, source: str, key: str) -> None:
        """Copy an object inside the bucket, server side."""
        raise self._unsupported("copying objects")

    def _delete(self, keys: list[str]) -> None:
        """Delete objects; keys that do not exist are ignored."""
        raise self._unsupported("deleting objects")

    def _put_bytes(self, key: str, data: bytes) -> None:
        """Write a small object."""
        raise self._unsupported("writing objects")

    def _get_bytes(self, key: str) -> bytes | None:
        """A small object's content, or None if it does not exist."""
        raise self._unsupported("reading objects")

    # -- layout ----------------------------------------------------------------------------
    def _base(self, location: str | None) -> str:
        return _join(self.config.prefix, location or "")

    def uri(self, key: str) -> str:
        """The full address of a key, for messages."""
        return f"{self.scheme}://{self.config.bucket}/{key}"

    def _table_keys(self, base: str, table: str) -> list[str]:
        """The objects holding a table: ``<base>/<table>`` or its ``part-*`` objects."""
        single = _join(base, table)
        folder = single + "/"
        keys = self._list(single)
        return sorted(k for k in keys if k == single or _is_part(k, folder))

    # -- source ----------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Locations holding a complete delivery (a manifest), relative to the bucket prefix."""
        root = self._base(None)
        found = []
        for key in self._list(_join(root, prefix) if prefix else root):
            if key == _join(root, MANIFEST) or key.endswith("/" + MANIFEST):
                rest = key[len(root) :].strip("/") if root else key
                found.append(rest[: -len(MANIFEST)].strip("/"))
        return sorted(loc for loc in found if loc.startswith(prefix))

    def tables(self, location: str | None = None) -> list[str]:
        """Tables at a location: single objects and folders of parts, staging left out."""
        base = self._base(location)
        names = set()
        for key in self._list(base + "/" if base else ""):
            parts = key[len(base) :].strip("/").split("/") if base else key.split("/")
            if len(parts) == 1 or (len(parts) == 2 and parts[1].startswith("part-")):
                names.add(parts[0])
        return sorted(n for n in names if n != MANIFEST and not n.startswith(STAGE_PREFIX))

    def exists(self, table: str, location: str | None = None) -> bool:
        """Whether any object of the table exists."""
        return bool(self._table_keys(self._base(location), table))

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        """Tables with columns, keys and rows: from the manifest, else from the objects."""
        base = self._base(location)
        known = self.tables(location)
        names = known if tables is None else tables
        missing = [n for n in names if n not in known]
        if missing:
            raise NotFoundError(
                f"no table(s) {', '.join(missing)} at {self.uri(base)}; tables there: "
                f"{', '.join(known) or 'none'}"
            )
        entries = self._manifest(base).get("tables", {})
        return [
            Table.model_validate(entries[n]["table"]) if n in entries else self._inspect(base, n)
            for n in names
        ]

    def _inspect(self, base: str, name: str) -> Table:
        from synthpipe.types import columns_from_arrow

        schema, rows = None, 0
        with tempfile.TemporaryDirectory(prefix="synthpipe-read-") as folder:
            for key in self._table_keys(base, name):
                path = Path(folder) / "object"
                self._download(key, path)
                schema, count = file_schema(path, _sniff(path))
                rows += count
        return Table(name=name, columns=columns_from_arrow(schema), rows=rows)

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows as Arrow record batches, object by object."""
        base = self._base(location)
        keys = self._table_keys(base, table)
        if not keys:
            raise NotFoundError(
                f"no table '{table}' at {self.uri(base)}; tables there: "
                f"{', '.join(self.tables(location)) or 'none'}"
            )
        return self._stream(keys, self._arrow_schema(base, table), columns, batch_size)

    def _stream(self, keys, schema, columns, batch_size) -> Iterator[pa.RecordBatch]:
        with tempfile.TemporaryDirectory(prefix="synthpipe-read-") as folder:
            for key in keys:
                path = Path(folder) / "object"
                self._download(key, path)
                yield from read_file(path, _sniff(path), batch_size, columns, schema)

    def _arrow_schema(self, base: str, table: str) -> pa.Schema | None:
        """The table's Arrow schema as the manifest records it (it types CSV columns)."""
        import pyarrow as pa

        from synthpipe.types import arrow_type

        entry = self._manifest(base).get("tables", {}).get(table)
        if not entry or entry["table"].get("columns") is None:
            return None
        found = Table.model_validate(entry["table"])
        return pa.schema([pa.field(c.name, arrow_type(c)) for c in found.columns])

    def _manifest(self, base: str) -> dict:
        raw = self._get_bytes(_join(base, MANIFEST))
        return json.loads(raw) if raw else {}

    # -- delivery --------------------------------------------------------------------------
    def write(
        self,
        table: Table,
        data: Batches,
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
    ) -> int:
        """Write one table's batches with the given mode; returns rows written."""
        return self.write_tables([(table, data)], location, mode)[table.name]

    def write_tables(
        self,
        tables: list[tuple[Table, Batches]],
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
        *,
        create_constraints: bool = False,
    ) -> dict[str, int]:
        """Deliver several tables: stage every object, then swap them in and write the manifest.

        ``fail`` refuses when any object of any target exists; ``append`` rewrites each existing
        table with the new rows after its own (columns by name, types checked first);
        ``create_constraints`` has no meaning here (the manifest records the keys regardless).
        """
        mode = WriteMode(mode)
        base = self._base(location)
        old = {t.name: self._table_keys(base, t.name) for t, _ in tables}
        existing = [t.name for t, _ in tables if old[t.name]]
        if mode is WriteMode.FAIL and existing:
            raise TargetExistsError([self.uri(_join(base, n)) for n in existing])
        if mode is WriteMode.APPEND:
            tables = self._appending(tables, location, existing)
        stage = _join(base, f"{STAGE_PREFIX}{secrets.token_hex(4)}")
        try:
            staged = [self._stage(t, d, stage, base) for t, d in tables]
            self._swap(base, staged, old)
        except BaseException:
            self._discard(stage)
            raise
        # Also what an earlier delivery could not clean up (its connection dropped): one
        # location takes one delivery at a time, so no other delivery is staging here.
        self._discard(_join(base, STAGE_PREFIX))
        return {s.table.name: s.rows for s in staged}

    def _stage(self, table: Table, data: Batches, stage: str, base: str) -> Staged:
        batches = iter(data)
        first = next(batches, None)
        schema = _writable(
            first.schema if first is not None else _schema_of(table), self.config.format
        )
        staged = Staged(table)
        uploaded: list[str] = []

        def ship(index: int, path: Path) -> None:
            key = _join(stage, table.name, path.name)
            self._upload(key, path)
            uploaded.append(key)

        rest = itertools.chain([first], batches) if first is not None else batches
        staged.rows, parts = write_parts(
            rest, schema, self.config.format, self.config.partition_rows, ship
        )
        if parts == 1:
            staged.moves = [(uploaded[0], _join(base, table.name))]
        else:
            staged.moves = [(k, _join(base, table.name, k.rsplit("/", 1)[1])) for k in uploaded]
        staged.table = _described(table, schema, staged.rows)
        return staged

    def _swap(self, base: str, staged: list[Staged], old: dict[str, list[str]]) -> None:
        manifest = _join(base, MANIFEST)
        previous = self._manifest(base)
        self._delete([manifest])  # from here until the end, readers can tell it is incomplete
        for s in staged:
            for source, key in s.moves:
                self._copy(source, key)
            stale = sorted(set(old[s.table.name]) - {key for _, key in s.moves})
            if stale:
                self._delete(stale)
        content = self._manifest_for(base, staged, previous)
        self._put_bytes(manifest, json.dumps(content, indent=2).encode())

    def _manifest_for(self, base: str, staged: list[Staged], previous: dict) -> dict:
        delivered = {s.table.name for s in staged}
        kept = {
            name: entry
            for name, entry in previous.get("tables", {}).items()
            if name not in delivered and self._table_keys(base, name)
        }
        tables = {
            s.table.name: {
                "objects": [_relative(base, key) for _, key in s.moves],
                "rows": s.rows,
                "table": s.table.model_dump(mode="json", exclude_defaults=True),
            }
            for s in staged
        }
        return {
            "format_version": MANIFEST_VERSION,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "format": self.config.format,
            "tables": {**kept, **tables},
        }

    def _discard(self, stage: str) -> None:
        """Delete every object whose key starts with ``stage`` (a staging prefix)."""
        try:
            keys = self._list(stage if stage.endswith(STAGE_PREFIX) else stage + "/")
            if keys:
                self._delete(keys)
        except ConnectorError as exc:
            log.warning("could not delete staged objects under %s: %s", self.uri(stage), exc)

    def _appending(self, tables, location: str | None, existing: list[str]) -> list:
        """Each existing table's old rows followed by the new ones, after checking the types."""
        from synthpipe.types import columns_from_arrow

        base = self._base(location)
        result, problems = [], []
        for table, data in tables:
            if table.name not in existing:
                result.append((table, data))
                continue
            (old,) = self.schema(location, [table.name])
            schema = self._arrow_schema(base, table.name) or _schema_of(old)
            problems += _append_problems(table, columns_from_arrow(schema))
            keys = self._table_keys(base, table.name)
            merged = table.model_copy(update={"columns": old.columns})
            result.append((merged, _then(self._stream(keys, schema, None, 65_536), data, schema)))
        if problems:
            raise ConnectorError("append refused before writing anything: " + "; ".join(problems))
        return result


def _append_problems(new: Table, old_columns) -> list[str]:
    have = {c.name: c for c in old_columns}
    problems = []
    for column in new.columns or []:
        target = have.get(column.name)
        if target is None:
            problems.append(
                f"column '{new.name}.{column.name}' is not in the existing table "
                f"(it has: {', '.join(have)})"
            )
        elif not appendable(column.type, target.type):
            problems.append(
                f"column '{new.name}.{column.name}' is {column.type.value} but the "
                f"existing column is {target.type.value}"
            )
    return problems


def _then(old: Iterator[pa.RecordBatch], new: Batches, schema: pa.Schema) -> Iterator:
    """Old batches, then new ones conformed to the old schema (missing columns as nulls)."""
    import pyarrow as pa

    yield from old
    for batch in new:
        arrays = [
            batch.column(f.name).cast(f.type)
            if f.name in batch.schema.names
            else pa.nulls(batch.num_rows, f.type)
            for f in schema
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _schema_of(table: Table) -> pa.Schema:
    import pyarrow as pa

    from synthpipe.types import arrow_type

    return pa.schema([pa.field(c.name, arrow_type(c)) for c in table.columns or []])


def _writable(schema: pa.Schema, fmt: str) -> pa.Schema:
    """CSV has no dictionaries: such columns are written as their values."""
    import pyarrow as pa

    if fmt != "csv":
        return schema
    return pa.schema(
        [
            pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
            for f in schema
        ]
    )


def _described(table: Table, schema: pa.Schema, rows: int) -> Table:
    """The table as the manifest records it: columns from the data when the schema has none."""
    from synthpipe.types import columns_from_arrow

    columns = table.columns if table.columns is not None else columns_from_arrow(schema)
    return table.model_copy(update={"columns": columns, "rows": rows})


def _sniff(path: Path) -> str:
    """``parquet`` when the file starts with parquet's magic bytes, else ``csv``."""
    with open(path, "rb") as file:
        return "parquet" if file.read(4) == b"PAR1" else "csv"


def _is_part(key: str, folder: str) -> bool:
    rest = key[len(folder) :] if key.startswith(folder) else ""
    return rest.startswith("part-") and "/" not in rest


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _relative(base: str, key: str) -> str:
    return key[len(base) :].lstrip("/") if base else key
