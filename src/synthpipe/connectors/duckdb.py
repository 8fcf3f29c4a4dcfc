"""DuckDB as source and destination: an embedded database file (or ``:memory:``), no server.

DuckDB's DDL is transactional and its readers see snapshots, so a whole multi-table delivery is
one transaction: other connections see every old table or every new one, never a mix. Rows go
in through Arrow (a registered record-batch reader and one ``INSERT ... BY NAME``), DuckDB's
bulk path. DuckDB forbids dropping or renaming a table that a foreign key references, so unlike
the server databases the replaced tables are dropped (children first) at the start of the
transaction and each staging table is renamed right after it is loaded; nobody outside the
transaction sees the gap.

DuckDB lets one process at a time open a file for writing, and no other process open it at all
meanwhile (not even read-only). Opening a file another process holds is retried for up to
``lock_timeout`` seconds (default 30), then fails naming the file and the setting.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from synthpipe.connectors.base import Batches
from synthpipe.connectors.sql import Dialect, SQLConfig, SQLConnector, Target, _Log, references
from synthpipe.errors import ConnectorError, NotFoundError
from synthpipe.hookspecs import hookimpl
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


class DuckDBDialect(Dialect):
    """DuckDB's spelling of types; identifiers are double-quoted as in standard SQL."""

    name = "duckdb"
    max_identifier = 255
    placeholder = "?"
    types = {
        **Dialect.types,
        LogicalType.FLOAT: "DOUBLE",
        LogicalType.DECIMAL: "DECIMAL({precision}, {scale})",
        LogicalType.TEXT: "VARCHAR",
    }
    catalog_types = [(r"^(varchar|text|string)", LogicalType.STRING), *Dialect.catalog_types]


class DuckDBConfig(SQLConfig):
    """Where the DuckDB database lives and how to open it."""

    # Database file; ":memory:" for a private in-memory database (gone when the connector is).
    path: str = ":memory:"
    # Open without write access, so several processes may read the same file.
    read_only: bool = False


class DuckDBConnector(SQLConnector):
    """Reads and writes tables of one DuckDB database; locations are its schemas."""

    kind: ClassVar[str] = "duckdb"
    Config = DuckDBConfig
    dialect = DuckDBDialect()
    secret_fields = ()

    label = "DuckDB"

    def __init__(self, config: DuckDBConfig | dict | None = None, **options):
        super().__init__(config, **options)
        # Arrow sources an aborted transaction would not let go of until its rollback.
        self._leftover_sources: list[str] = []

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the database, retrying for up to ``lock_timeout`` s while another process
        holds the file."""
        import duckdb

        path = self.config.path
        if path != ":memory:":
            path = str(Path(path).expanduser())
            if not self.config.read_only:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        deadline, pause = time.monotonic() + self.lock_timeout, 0.05
        while True:
            try:
                return duckdb.connect(path, read_only=self.config.read_only)
            except duckdb.Error as exc:
                locked = "lock" in str(exc).lower()
                if locked and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                if locked:
                    raise ConnectorError(
                        f"DuckDB database '{path}' is held by another process (DuckDB lets "
                        "only one process open a file that is written, even to read it); "
                        f"waited lock_timeout = {self.lock_timeout:g} s. Close that process's "
                        f"connection, or raise the destination's lock_timeout ({exc})"
                    ) from exc
                raise ConnectorError(
                    f"cannot open DuckDB database '{path}': {exc}; check the connector's path "
                    "setting (and read_only for a file another process is writing)"
                ) from exc

    @property
    def default_location(self) -> str:
        """The schema used when a call names none: ``main``."""
        return "main"

    # -- plumbing the base class uses ------------------------------------------------------
    def _execute(self, sql: str, params: Any = None) -> list[tuple]:
        import duckdb

        try:
            cursor = self.connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        except duckdb.Error as exc:
            raise ConnectorError(f"DuckDB '{self.config.path}': {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.connection.execute("ROLLBACK")
            while self._leftover_sources:
                with contextlib.suppress(Exception):
                    self.connection.unregister(self._leftover_sources.pop())
            raise
        self._execute("COMMIT")

    def _load(self, qualified: str, table: Table, data: Batches) -> int:
        """Insert the batches through one registered Arrow reader, columns matched by name."""
        import pyarrow as pa

        batches = iter(data)
        first = next(batches, None)
        if first is None:
            return 0
        source = f"_sp_source_{secrets.token_hex(4)}"
        feed = _Feed(first, batches)
        self.connection.register(source, pa.RecordBatchReader.from_batches(first.schema, feed))
        try:
            rows = self._execute(
                f"INSERT INTO {qualified} BY NAME SELECT * FROM {self.dialect.quote(source)}"
            )
        except ConnectorError:
            feed.reraise()  # the producer's own exception says more than DuckDB's wrapper
            raise
        finally:
            self._unregister(source)
        return int(rows[0][0]) if rows else 0

    def _unregister(self, source: str) -> None:
        import duckdb

        try:
            self.connection.unregister(source)
        except duckdb.Error:  # an aborted transaction refuses it until the rollback
            self._leftover_sources.append(source)

    def _deliver(
        self,
        targets: list[Target],
        data: list[Batches],
        location: str | None,
        create_constraints: bool,
        record: _Log | None = None,
    ) -> list[int]:
        """One transaction: drop the replaced tables, then create, load and rename each stage."""
        tables = {t.final: t.table for t in targets}
        with self._transaction():
            if location:  # a new schema is part of the delivery (and rolled back with it)
                self._execute(f"CREATE SCHEMA IF NOT EXISTS {self.dialect.quote(location)}")
            if record is not None:
                self._prepare_log(location, record)
            for target in reversed(targets):
                if target.stage and target.existed:
                    self._execute(f"DROP TABLE {self.dialect.qualify(location, target.final)}")
            rows = []
            for target, batches in zip(targets, data, strict=True):
                made = target.stage is not None or target.create
                refs = references(target.table, tables) if create_constraints and made else []
                rows.append(self._stage_and_load(target, batches, location, refs))
            if record is not None:
                self._record(targets, rows, location, record)
        return rows

    def _stage_and_load(
        self,
        target: Target,
        data: Batches,
        location: str | None,
        refs: list[tuple[ForeignKey, str]],
    ) -> int:
        """Load one table; new tables are staged then renamed, except those with foreign keys.

        Renaming a table that holds a foreign key leaves the referenced table's dependency under
        the staging name (DuckDB 2.0), so such a table is created under its final name: until
        the transaction commits it is as invisible to other connections as a staging table.
        """
        q = self.dialect
        if target.skip:
            return 0
        if target.create:  # an append creating its table
            parents = [(fk, q.qualify(location, parent)) for fk, parent in refs]
            self._execute(q.create_table(q.qualify(location, target.final), target.table, parents))
        if target.stage is None:
            return self._load(q.qualify(location, target.final), target.table, data)
        name = target.final if refs else target.stage
        parents = [(fk, q.qualify(location, parent)) for fk, parent in refs]
        self._execute(q.create_table(q.qualify(location, name), target.table, parents))
        rows = self._load(q.qualify(location, name), target.table, data)
        if name != target.final:
            self._execute(
                f"ALTER TABLE {q.qualify(location, name)} RENAME TO {q.quote(target.final)}"
            )
        return rows

    # -- source ----------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Schemas of the database whose names start with ``prefix``."""
        rows = self._execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            "AND (NOT internal OR schema_name = 'main') AND starts_with(schema_name, ?) "
            "ORDER BY schema_name",
            [prefix],
        )
        return [r[0] for r in rows]

    def _all_tables(self, location: str | None = None) -> list[str]:
        """Tables and views of a schema (``main`` by default), by name."""
        rows = self._execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ? ORDER BY table_name",
            [location or self.default_location],
        )
        return [r[0] for r in rows]

    def _catalog_columns(self, location: str | None, table: str) -> list[Column]:
        rows = self._execute(
            "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
            "FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [location or self.default_location, table],
        )
        return [self._column(*row) for row in rows]

    def _column(self, name: str, data_type: str, nullable: bool, precision, scale) -> Column:
        logical = self.dialect.logical_type(data_type)
        if logical is not LogicalType.DECIMAL:
            precision = scale = None
        return Column(name=name, type=logical, nullable=nullable, precision=precision, scale=scale)

    def _catalog_keys(
        self, location: str | None, table: str
    ) -> tuple[list[str] | None, list[ForeignKey]]:
        rows = self._execute(
            "SELECT constraint_type, constraint_column_names, referenced_table, "
            "referenced_column_names FROM duckdb_constraints() WHERE database_name = "
            "current_database() AND schema_name = ? AND table_name = ? AND constraint_type IN "
            "('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index",
            [location, table],
        )
        pk = next((list(r[1]) for r in rows if r[0] == "PRIMARY KEY"), None)
        fks = [
            ForeignKey(columns=list(cols), referenced_table=parent, referenced_columns=list(ref))
            for kind, cols, parent, ref in rows
            if kind == "FOREIGN KEY"
        ]
        return pk, fks

    def _referencing(self, location: str | None, table: str) -> list[str]:
        rows = self._execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE database_name = "
            "current_database() AND schema_name = ? AND constraint_type = 'FOREIGN KEY' AND "
            "referenced_table = ? AND table_name <> ? ORDER BY table_name",
            [location, table, table],
        )
        return [r[0] for r in rows]

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows as Arrow record batches, streamed from a cursor of their own."""
        location = location or self.default_location
        if not self.exists(table, location):
            raise NotFoundError(
                f"DuckDB schema '{location}' has no table '{table}'; tables there: "
                f"{', '.join(self.tables(location)) or 'none'}"
            )
        select = ", ".join(self.dialect.quote(c) for c in columns) if columns else "*"
        sql = f"SELECT {select} FROM {self.dialect.qualify(location, table)}"
        return self._stream(sql, batch_size)

    def _stream(self, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        # A cursor of its own, so other calls on the connector don't cut the stream short.
        cursor = self.connection.cursor()
        try:
            yield from cursor.sql(sql).to_arrow_reader(batch_size)
        finally:
            cursor.close()


class _Feed:
    """The batches, each cast to the first one's schema, remembering a producer's exception."""

    def __init__(self, first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]):
        self._batches = itertools.chain([first], rest)
        self._schema = first.schema
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                yield batch if batch.schema.equals(self._schema) else batch.cast(self._schema)
        except BaseException as exc:
            self.error = exc
            raise

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error


@hookimpl
def register_connectors(register) -> None:
    """Register the embedded DuckDB connector."""
    register(DuckDBConnector)
