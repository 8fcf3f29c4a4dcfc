"""The object-store delivery, once for every store, over a ``pyarrow.fs`` file system.

Layout under ``<prefix>`` (the bucket's prefix joined with the location):

- ``<prefix>/_sp_<stamp>-<token>/<table>/part-00000.parquet`` ...: the parts one delivery wrote,
  under a prefix of its own (parquet, or CSV);
- ``<prefix>/_manifest.json``: the tables, each with its objects (keys relative to the prefix),
  row count, schema and the datasets it holds (``{dataset_id: rows}``). Readers follow the
  manifest only.

A delivery writes its parts under its own prefix, then commits by writing the manifest with a
conditional write: "only if the manifest is still the one I read" (S3 ``If-Match`` /
``If-None-Match: *``, GCS ``ifGenerationMatch``). So two deliveries to one location at once
never mix: one commits, the other fails with ``ConcurrentDeliveryError`` and removes only its
own prefix. After a commit, the objects the previous manifest listed and the new one does not
(superseded deliveries) are deleted, and so are delivery prefixes that no manifest lists and
that nothing has written to for ``abandoned_after_s`` seconds (left by a killed delivery).
An append lists the old objects next to the new ones; it skips a table whose entry records
the dataset being appended (a retry) and an existing lookup table (``original_data``).

Before committing, a delivery checks that every object it wrote is still there (another
delivery's tidy with a too short ``abandoned_after_s`` may have taken them), so a manifest never
lists a missing object. A failed delivery removes its prefix; when even that fails (the
connection dropped), the prefix is a leftover for the next delivery to remove.

A backend subclass provides ``_filesystem`` (a ``pyarrow.fs.FileSystem`` whose paths are
``bucket/key``), ``_read_versioned`` and ``_write_if`` (the manifest with its version: pyarrow
has no conditional writes), ``_delete_objects`` (pyarrow's S3 deletes leave folder-marker
objects behind) and ``_native_errors`` to name its own error types.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from synthpipe.connectors.appending import already_delivered, append_problems, shift_keys
from synthpipe.connectors.base import Batches, Connector, ConnectorConfig, WriteMode
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.names import check_location, check_table_name
from synthpipe.schema import Table
from synthpipe_objectstore.parts import file_schema, read_object, write_parts

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
STAGE_PREFIX = "_sp_"
MANIFEST_VERSION = 2


class ObjectStoreConfig(ConnectorConfig):
    """Where tables live in the store and how they are written."""

    bucket: str
    # Key prefix inside the bucket under which locations live; "" is the bucket's root.
    prefix: str = ""
    # Format of the objects written; reads recognise either.
    format: Literal["parquet", "csv"] = "parquet"
    # Tables with more rows are written as several parts of at most this many rows.
    partition_rows: int = Field(default=1_000_000, gt=0)
    # A delivery prefix no manifest lists and not written to for this long is a killed
    # delivery's leftover, removed by the next delivery to the location.
    abandoned_after_s: float = Field(default=3600.0, ge=0)


class ConcurrentDeliveryError(ConnectorError):
    """Another delivery committed to the location after this one read its manifest."""


class ObjectStoreConnector(Connector):
    """Tables as objects under a prefix of one bucket; locations are sub-prefixes."""

    Config = ObjectStoreConfig
    scheme: ClassVar[str] = "store"  # URI scheme used in messages, e.g. "s3" or "gs"

    def __init__(self, config: ObjectStoreConfig | dict | None = None, **options):
        super().__init__(config, **options)
        self._fs = None

    # -- what a backend provides -------------------------------------------------------------
    def _filesystem(self) -> pyarrow.fs.FileSystem:
        """The store as a pyarrow file system (paths ``bucket/key``)."""
        raise self._unsupported("a file system")

    def _read_versioned(self, key: str) -> tuple[bytes | None, Any]:
        """A small object's content and version (ETag, generation); (None, None) if absent."""
        raise self._unsupported("versioned reads")

    def _write_if(self, key: str, data: bytes, version: Any) -> bool:
        """Write a small object only if its version is still ``version`` (None: only if it does
        not exist); False when another writer changed it first."""
        raise self._unsupported("conditional writes")

    def _delete_objects(self, keys: list[str]) -> None:
        """Delete objects by key; keys that do not exist are ignored."""
        raise self._unsupported("deletes")

    def _native_errors(self) -> tuple[type[BaseException], ...]:
        """The backend client's error types, turned into ConnectorErrors by ``_errors``."""
        return ()

    # -- the file system ---------------------------------------------------------------------
    @property
    def fs(self) -> pyarrow.fs.FileSystem:
        if self._fs is None:
            with self._errors():
                self._fs = self._filesystem()
        return self._fs

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Store and client errors as ConnectorErrors naming the bucket, secrets masked."""
        try:
            yield
        except (OSError, *self._native_errors()) as exc:
            if isinstance(exc, FileNotFoundError):
                raise NotFoundError(self.mask(f"{self.uri('')}: {exc}")) from None
            raise ConnectorError(
                self.mask(f"{self.label} bucket '{self.config.bucket}': {exc}")
            ) from None

    @property
    def label(self) -> str:
        return self.scheme.upper() if self.scheme != "gs" else "GCS"

    def _path(self, key: str) -> str:
        return f"{self.config.bucket}/{key}"

    def _listing(self, prefix: str) -> list:
        """FileInfos of every object below the folder ``prefix`` (its whole subtree)."""
        from pyarrow.fs import FileSelector, FileType

        selector = FileSelector(self._path(prefix.rstrip("/")), recursive=True,
                                allow_not_found=True)  # fmt: skip
        with self._errors():
            infos = self.fs.get_file_info(selector)
        return [i for i in infos if i.type == FileType.File]

    def _list(self, prefix: str) -> list[str]:
        """Keys of every object below the folder ``prefix``."""
        cut = len(self.config.bucket) + 1
        return sorted(i.path[cut:] for i in self._listing(prefix))

    def _get_bytes(self, key: str) -> bytes | None:
        return self._read_versioned(key)[0]

    def _delete(self, keys: list[str]) -> None:
        """Delete objects; keys that do not exist are ignored."""
        if keys:
            with self._errors():
                self._delete_objects(keys)

    def _delete_prefix(self, prefix: str) -> None:
        """Delete every object below the folder ``prefix``."""
        self._delete(self._list(prefix))

    def _discard(self, prefix: str) -> None:
        """Remove a failed delivery's prefix; a failure here is logged, not raised, so the
        delivery's own error is the one reported (the next delivery removes the leftover)."""
        try:
            self._delete_prefix(prefix)
        except ConnectorError as exc:
            log.warning(
                "could not remove %s, left by a failed delivery; the next delivery to the "
                "location removes it after abandoned_after_s: %s", self.uri(prefix), exc,
            )  # fmt: skip

    # -- layout ------------------------------------------------------------------------------
    def _base(self, location: str | None) -> str:
        return _join(self.config.prefix, check_location(location, self.uri("")) or "")

    def uri(self, key: str) -> str:
        """The full address of a key, for messages."""
        return f"{self.scheme}://{self.config.bucket}/{key}"

    def _manifest(self, base: str) -> tuple[dict, Any]:
        """The manifest at ``base`` (empty when there is none) and its version."""
        with self._errors():
            raw, version = self._read_versioned(_join(base, MANIFEST))
        if raw is None:
            return {}, None
        content = json.loads(raw)
        found = content.get("format_version", 1)
        if found > MANIFEST_VERSION:
            raise ConnectorError(
                f"{self.uri(_join(base, MANIFEST))} has format_version {found}, newer than this "
                f"synthpipe reads ({MANIFEST_VERSION}); upgrade synthpipe-objectstore"
            )
        return content, version

    def _entries(self, base: str) -> dict[str, dict]:
        """Each table at ``base`` with its objects: the manifest's, else plain objects'."""
        content, _ = self._manifest(base)
        if content:
            return content.get("tables", {})
        entries: dict[str, dict] = {}
        for key in self._list(base):
            parts = _relative(base, key).split("/")
            if parts[0] == MANIFEST or parts[0].startswith(STAGE_PREFIX):
                continue
            if len(parts) == 1 or (len(parts) == 2 and parts[1].startswith("part-")):
                entries.setdefault(parts[0], {"objects": []})["objects"].append(
                    _relative(base, key)
                )
        return entries

    # -- source ------------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Locations holding a delivery (a manifest), relative to the bucket prefix."""
        root = self._base(None)
        found = []
        for key in self._list(root):
            rest = _relative(root, key)
            if rest == MANIFEST or rest.endswith("/" + MANIFEST):
                found.append(rest[: -len(MANIFEST)].strip("/"))
        return sorted(loc for loc in found if loc.startswith(prefix))

    def tables(self, location: str | None = None) -> list[str]:
        """Tables at a location: the manifest's; without one, plain objects and part folders."""
        return sorted(self._entries(self._base(location)))

    def exists(self, table: str, location: str | None = None) -> bool:
        return table in self._entries(self._base(location))

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        """Tables with columns, keys and rows: from the manifest, else from the objects."""
        base = self._base(location)
        entries = self._entries(base)
        names = sorted(entries) if tables is None else tables
        missing = [n for n in names if n not in entries]
        if missing:
            raise NotFoundError(
                f"no table(s) {', '.join(missing)} at {self.uri(base)}; tables there: "
                f"{', '.join(sorted(entries)) or 'none'}"
            )
        return [
            Table.model_validate(entries[n]["table"])
            if "table" in entries[n]
            else self._inspect(base, n, entries[n]["objects"])
            for n in names
        ]

    def _inspect(self, base: str, name: str, objects: list[str]) -> Table:
        from synthpipe.types import columns_from_arrow

        schema, rows = None, 0
        for key in objects:
            with self._errors(), self.fs.open_input_file(self._path(_join(base, key))) as f:
                schema, count = file_schema(f)
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
        """The table's rows as Arrow record batches, object by object, as the manifest says."""
        base = self._base(location)
        entries = self._entries(base)
        if table not in entries:
            raise NotFoundError(
                f"no table '{table}' at {self.uri(base)}; tables there: "
                f"{', '.join(sorted(entries)) or 'none'}"
            )
        keys = [_join(base, k) for k in entries[table]["objects"]]
        return self._stream(keys, _arrow_schema(entries[table]), columns, batch_size)

    def _stream(self, keys, schema, columns, batch_size) -> Iterator[pa.RecordBatch]:
        for key in keys:
            with self._errors(), self.fs.open_input_file(self._path(key)) as f:
                yield from read_object(f, batch_size, columns, schema)

    # -- delivery ----------------------------------------------------------------------------
    def write_tables(
        self,
        tables: list[tuple[Table, Batches]],
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
        *,
        create_constraints: bool = False,
        dataset_id: str | None = None,
    ) -> dict[str, int]:
        """Deliver several tables as one commit of the manifest (see the module docstring).

        ``fail`` refuses when any target exists; ``append`` adds the new parts next to the old
        ones (types checked first, integer keys and the foreign keys referencing them moved past
        the old ones), leaving existing lookup tables as they are; a repeated append of
        ``dataset_id`` changes nothing. ``create_constraints`` has no meaning here (the manifest
        records the keys regardless). Returns the rows each table received.
        """
        mode = WriteMode(mode)
        base = self._base(location)
        names = [check_table_name(t.name, self.uri(base)) for t, _ in tables]
        if len(set(names)) != len(names):
            raise ConnectorError(f"a delivery to {self.uri(base)} names a table twice: {names}")
        previous, version = self._manifest(base)
        entries = previous.get("tables", {}) if previous else self._entries(base)
        existing = [n for n in names if n in entries]
        if mode is WriteMode.FAIL and existing:
            raise TargetExistsError([self.uri(_join(base, n)) for n in existing])
        done = already_delivered(tables, entries, set(existing), mode, dataset_id)
        todo = [(t, d) for t, d in tables if t.name not in done]
        if not todo:
            log.info("dataset %s is already in %s: nothing appended", dataset_id, base)
            return done
        if mode is WriteMode.APPEND:
            todo = self._appending(todo, base, entries, existing)
        delivery = (
            f"{STAGE_PREFIX}{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        )
        prefix = _join(base, delivery)
        try:
            written = {t.name: self._stage(t, d, prefix, base) for t, d in todo}
            self._check_staged(base, prefix, written)
            content = self._manifest_for(entries, written, mode, dataset_id, delivery)
            with self._errors():
                committed = self._write_if(
                    _join(base, MANIFEST), json.dumps(content, indent=2).encode(), version
                )
            if not committed:
                raise ConcurrentDeliveryError(
                    f"another delivery to {self.uri(base)} committed its manifest while this "
                    "one was writing; this delivery was not applied and its objects were "
                    "removed; the location holds the other delivery's tables: retry to apply "
                    "this one"
                )
        except BaseException:
            self._discard(prefix)
            raise
        self._tidy(base, entries, content["tables"])
        return {**done, **{name: entry["rows"] for name, entry in written.items()}}

    def _check_staged(self, base: str, prefix: str, written: dict) -> None:
        """Refuse to commit when an object this delivery wrote has gone."""
        present = set(self._list(prefix))
        gone = [k for e in written.values() for k in e["objects"] if _join(base, k) not in present]
        if gone:
            raise ConcurrentDeliveryError(
                f"{len(gone)} object(s) this delivery wrote under {self.uri(prefix)} were "
                "removed while it ran, by another delivery's cleanup of interrupted deliveries; "
                "nothing was applied: retry, and set abandoned_after_s above the longest pause "
                "between two writes of a delivery"
            )

    def _stage(self, table: Table, data: Batches, prefix: str, base: str) -> dict:
        """Write one table's parts under the delivery prefix; its manifest entry."""
        batches = iter(data)
        first = next(batches, None)
        fallback = _schema_of(table)
        schema = _writable(first.schema if first is not None else fallback, self.config.format)
        folder = _join(prefix, table.name)

        def open_part(index: int):
            name = f"part-{index:05d}.{self.config.format}"
            return name, self.fs.open_output_stream(self._path(_join(folder, name)))

        with self._errors():
            rows, names = write_parts(
                _chained(first, batches), schema, self.config.format,
                self.config.partition_rows, open_part,
            )  # fmt: skip
        described = _described(table, schema, rows)
        return {
            "objects": [_relative(base, _join(folder, n)) for n in names],
            "rows": rows,
            "table": described.model_dump(mode="json", exclude_defaults=True),
        }

    def _manifest_for(self, entries, written, mode, dataset_id, delivery) -> dict:
        """The new manifest: the old entries, with the written tables replaced or extended."""
        tables = dict(entries)
        for name, entry in written.items():
            old = entries.get(name) if mode is WriteMode.APPEND else None
            ids = {dataset_id: entry["rows"]} if dataset_id else {}
            if old:
                entry = {
                    **entry,
                    "objects": old["objects"] + entry["objects"],
                    "rows": old.get("rows", 0) + entry["rows"],
                    "table": {**old.get("table", entry["table"]), "rows": None},
                }
                ids = {**old.get("datasets", {}), **ids}
            entry["table"]["rows"] = entry["rows"]
            tables[name] = {**entry, "datasets": ids}
        return {
            "format_version": MANIFEST_VERSION,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "format": self.config.format,
            "delivery": delivery,
            "tables": tables,
        }

    def _tidy(self, base: str, old: dict, new: dict) -> None:
        """After a commit: delete what the new manifest no longer lists, and abandoned
        delivery prefixes. Failures are logged: the delivery itself is complete."""
        try:
            listed = {k for e in new.values() for k in e["objects"]}
            kept = {k.split("/", 1)[0] for k in listed if k.startswith(STAGE_PREFIX)}
            gone = sorted({k for e in old.values() for k in e["objects"]} - listed)
            self._delete([_join(base, k) for k in gone])
            self._remove_abandoned(base, kept)
        except ConnectorError as exc:
            log.warning("could not remove superseded objects under %s: %s", self.uri(base), exc)

    def _remove_abandoned(self, base: str, known: set[str]) -> None:
        """Delete delivery prefixes no manifest lists that nothing wrote to for a while."""
        newest: dict[str, float] = {}
        for info in self._listing(base):
            rest = _relative(base, info.path[len(self.config.bucket) + 1 :])
            top = rest.split("/", 1)[0]
            if top.startswith(STAGE_PREFIX) and "/" in rest and top not in known:
                stamp = info.mtime.timestamp() if info.mtime else 0.0
                newest[top] = max(newest.get(top, 0.0), stamp)
        limit = time.time() - self.config.abandoned_after_s
        for prefix, stamp in sorted(newest.items()):
            if stamp <= limit:
                log.info("removing %s, left by an interrupted delivery", self.uri(prefix))
                self._delete_prefix(_join(base, prefix))

    def _appending(self, tables, base: str, entries: dict, existing: list[str]) -> list:
        """New batches conformed to each existing table's schema, keys moved past the old."""
        from synthpipe.types import columns_from_arrow

        result, problems = [], []
        for table, data in tables:
            if table.name not in existing:
                result.append((table, data))
                continue
            entry = entries[table.name]
            old = (
                Table.model_validate(entry["table"])
                if "table" in entry
                else self._inspect(base, table.name, entry["objects"])
            )
            schema = _arrow_schema(entry) or _schema_of(old)
            problems += append_problems(table, columns_from_arrow(schema))
            merged = table.model_copy(update={"columns": old.columns})
            result.append((merged, _conformed(data, schema)))
        if problems:
            raise ConnectorError("append refused before writing anything: " + "; ".join(problems))

        def largest(name: str, column: str) -> int | None:
            import pyarrow.compute as pc

            keys = [_join(base, k) for k in entries[name]["objects"]]
            tops = [pc.max(b.column(0)).as_py() for b in self._stream(keys, None, [column],
                                                                      65_536)]  # fmt: skip
            tops = [t for t in tops if t is not None]
            return int(max(tops)) if tops else None

        return shift_keys(result, set(existing), largest)


def _conformed(new: Batches, schema: pa.Schema) -> Iterator:
    """New batches conformed to the old schema (missing columns as nulls)."""
    import pyarrow as pa

    for batch in new:
        arrays = [
            batch.column(f.name).cast(f.type)
            if f.name in batch.schema.names
            else pa.nulls(batch.num_rows, f.type)
            for f in schema
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chained(first, rest) -> Iterator:
    if first is not None:
        yield first
    yield from rest


def _arrow_schema(entry: dict) -> pa.Schema | None:
    """A table's Arrow schema as the manifest records it (it types CSV columns)."""
    if not entry.get("table") or entry["table"].get("columns") is None:
        return None
    return _schema_of(Table.model_validate(entry["table"]))


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


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _relative(base: str, key: str) -> str:
    return key[len(base) :].lstrip("/") if base else key
