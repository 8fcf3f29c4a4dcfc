"""PostgreSQL as source and destination, through psycopg 3.

Rows go in with ``COPY ... FROM STDIN (FORMAT csv)``, the CSV written by Arrow in C, which is
PostgreSQL's bulk path. The shared SQL delivery core (``synthpipe.connectors.sql``) does a whole
delivery in one transaction under a session advisory lock on the schema. An overwrite of a table
whose columns are unchanged deletes the old rows and COPYs the new ones into the same table, so
readers at every isolation level (a REPEATABLE READ snapshot taken before the delivery too) see
the old rows until the COMMIT and the new ones after it, and their locks never block it (the cost:
the old rows stay as dead tuples until autovacuum removes them). A table whose columns change is
swapped by drop and rename (the staging table's key renamed after the table), taking ACCESS
EXCLUSIVE locks parents first. Every lock wait is bounded by ``lock_timeout``; on timeout the
error names the sessions holding the lock. psycopg is imported only when a connection is opened.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import re
import secrets
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from synthpipe.connectors.base import Batches
from synthpipe.connectors.sql import Dialect, LockTimeoutError, SQLConfig, SQLConnector, Target
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

log = logging.getLogger(__name__)


class PostgresDialect(Dialect):
    """PostgreSQL's types; ``text`` is its ordinary string type."""

    name = "postgres"
    types = {
        **Dialect.types,
        LogicalType.CATEGORICAL: "TEXT",
        LogicalType.STRING: "TEXT",
        LogicalType.LAT_LONG: "TEXT",
    }
    catalog_types = [
        (r"^(text|character|char|varchar|name|citext)", LogicalType.STRING),
        (r"^timestamp", LogicalType.DATETIME),
        *Dialect.catalog_types,
    ]

    def quote(self, name: str) -> str:
        """The identifier quoted by psycopg (``psycopg.sql.Identifier``)."""
        from psycopg import sql

        super().quote(name)  # refuses empty names and NUL characters
        return sql.Identifier(name).as_string(None)


class PostgresConfig(SQLConfig):
    """How to reach the database; unset values fall back to libpq (PGHOST, PGPASSWORD, ...)."""

    # Server host name or socket directory.
    host: str | None = None
    port: int | None = None
    user: str | None = None
    # Never shown: masked in reprs and scrubbed from error messages.
    password: SecretStr | None = None
    database: str | None = None
    # Schema used when a call names no location.
    default_schema: str = "public"
    # libpq sslmode: disable, prefer, require, verify-ca, verify-full.
    sslmode: str | None = None
    connect_timeout: int = Field(default=10, gt=0)
    # Further libpq connection parameters, e.g. {"target_session_attrs": "read-write"}.
    params: dict[str, str] = Field(default_factory=dict)


class PostgresConnector(SQLConnector):
    """Reads and writes tables of one PostgreSQL database; locations are its schemas."""

    kind: ClassVar[str] = "postgres"
    Config = PostgresConfig
    dialect = PostgresDialect()
    secret_fields = ("password",)

    overwrite_in_place = True
    label = "PostgreSQL"

    # -- connections -----------------------------------------------------------------------
    def _healthy(self, con: psycopg.Connection) -> bool:
        return not (con.closed or con.broken)

    def _connect(self) -> psycopg.Connection:
        import psycopg

        try:
            con = psycopg.connect(autocommit=True, **self._connect_args())
            con.execute(f"SET lock_timeout = {int(self.lock_timeout * 1000)}")
            return con
        except psycopg.Error as exc:
            raise self._error(exc, "cannot connect to") from None

    def _connect_args(self) -> dict[str, Any]:
        c = self.config
        args = {
            "host": c.host,
            "port": c.port,
            "user": c.user,
            "dbname": c.database,
            "sslmode": c.sslmode,
            "connect_timeout": c.connect_timeout,
            "application_name": "synthpipe",
            **c.params,
        }
        if c.password is not None:
            args["password"] = c.password.get_secret_value()
        return {k: v for k, v in args.items() if v is not None}

    def _where(self) -> str:
        c = self.config
        return f"{c.host or 'localhost'}:{c.port or 5432}/{c.database or ''}"

    @property
    def default_location(self) -> str:
        """The schema used when a call names none (setting ``default_schema``)."""
        return self.config.default_schema

    # -- plumbing the base class uses ------------------------------------------------------
    def _execute(self, sql: str, params: Any = None) -> list[tuple]:
        import psycopg

        log.debug("postgres: %s", sql)
        try:
            cursor = self.connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.errors.LockNotAvailable as exc:
            raise self._lock_error(exc) from None
        except psycopg.Error as exc:
            raise self._error(exc) from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        import psycopg

        try:
            with self.connection.transaction():
                yield
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _lock_error(self, exc: Exception) -> LockTimeoutError:
        """The lock wait that timed out, naming the sessions that hold locks in the way."""
        me = self._con.info.backend_pid if self._con is not None else 0
        try:
            with self._connect() as con:
                rows = con.execute(_BLOCKERS_SQL, [me]).fetchall()
        except Exception:  # the timeout is the message; the names are a bonus
            rows = []
        sessions = "; ".join(
            f"pid {pid} (user {user}, application '{app}', {state}, on {what})"
            for pid, user, app, state, what in rows
        )
        return LockTimeoutError(
            f"PostgreSQL delivery to {self._where()} waited lock_timeout = {self.lock_timeout:g} "
            f"s for a lock and gave up; nothing was changed. Held by: {sessions or 'unknown'}; "
            "end or commit that session (pg_terminate_backend(pid)), or raise the "
            f"destination's lock_timeout ({self.mask(str(exc).strip())})"
        )

    @contextlib.contextmanager
    def _delivery_lock(self, location: str | None) -> Iterator[None]:
        """A session advisory lock on the schema: one delivery at a time per schema."""
        key = _lock_key(location)
        self._execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._execute("SELECT pg_advisory_unlock(%s)", [key])

    def _lock_for_swap(self, names: list[str], location: str | None) -> None:
        tables = ", ".join(self.dialect.qualify(location, n) for n in names)
        self._execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")

    def _load(self, qualified: str, table: Table, data: Batches) -> int:
        """COPY the batches in as CSV written by Arrow; columns matched by name."""
        import psycopg

        batches = iter(data)
        first = next(batches, None)
        if first is None:
            return 0
        names = first.schema.names
        columns = ", ".join(self.dialect.quote(n) for n in names)
        sql = f"COPY {qualified} ({columns}) FROM STDIN (FORMAT csv)"
        rows = 0
        try:
            with self.connection.cursor() as cursor, cursor.copy(sql) as copy:
                for batch in itertools.chain([first], batches):
                    copy.write(csv_bytes(batch.select(names)))
                    rows += batch.num_rows
        except psycopg.Error as exc:
            raise self._error(exc) from None
        return rows

    def _fetch(self, sql: str, batch_size: int) -> Iterator[list[tuple]]:
        """Rows from a server-side cursor on a connection of the stream's own."""
        import psycopg

        try:
            with (
                self._connect() as con,
                con.transaction(),
                con.cursor(name=f"sp_read_{secrets.token_hex(4)}") as cursor,
            ):
                cursor.itersize = batch_size
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch_size):
                    yield rows
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _ensure_location(self, location: str | None) -> bool:
        """CREATE SCHEMA when the delivery's schema is missing (inside its transaction)."""
        if not location or self._execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", [location]
        ):
            return False
        try:
            self._execute(f"CREATE SCHEMA IF NOT EXISTS {self.dialect.quote(location)}")
        except ConnectorError as exc:
            raise ConnectorError(
                f"schema '{location}' does not exist and could not be created ({exc}); create "
                "it, or grant the delivering user CREATE on the database"
            ) from None
        return True

    def _swap(self, targets: list[Target], location: str | None) -> None:
        """The shared drop-and-rename, then primary keys renamed after their tables."""
        super()._swap(targets, location)
        for target in targets:
            if target.stage and target.table.primary_key:
                self._rename_primary_key(location, target.final)

    def _rename_primary_key(self, location: str | None, table: str) -> None:
        # The key's index kept the staging name; give it the one PostgreSQL would have chosen.
        rows = self._execute(
            "SELECT con.conname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
            "c.relname = %s AND con.contype = 'p'",
            [location, table],
        )
        wanted = f"{table}_pkey"
        if rows and rows[0][0] != wanted and len(wanted.encode()) <= 63:
            self._execute(
                f"ALTER TABLE {self.dialect.qualify(location, table)} RENAME CONSTRAINT "
                f"{self.dialect.quote(rows[0][0])} TO {self.dialect.quote(wanted)}"
            )

    # -- catalog ---------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Schemas of the database whose names start with ``prefix`` (system schemas left out)."""
        rows = self._execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
            "AND nspname <> 'information_schema' AND starts_with(nspname, %s) ORDER BY nspname",
            [prefix],
        )
        return [r[0] for r in rows]

    def _all_tables(self, location: str | None = None) -> list[str]:
        """Tables and views of a schema, by name."""
        rows = self._execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname",
            [location or self.default_location],
        )
        return [r[0] for r in rows]

    def _catalog_columns(self, location: str | None, table: str) -> list[Column]:
        rows = self._execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
            "t.typtype FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            [location or self.default_location, table],
        )
        return [self._column(*row) for row in rows]

    def _column(self, name: str, type_name: str, nullable: bool, typtype: str) -> Column:
        if typtype == "e":  # an enum is a categorical by declaration
            return Column(name=name, type=LogicalType.CATEGORICAL, nullable=nullable)
        logical = self.dialect.logical_type(type_name)
        precision = scale = None
        found = re.search(r"\((\d+),(\d+)\)", type_name)
        if logical is LogicalType.DECIMAL and found:
            precision, scale = int(found[1]), int(found[2])
        return Column(name=name, type=logical, nullable=nullable, precision=precision, scale=scale)

    def _catalog_keys(
        self, location: str | None, table: str
    ) -> tuple[list[str] | None, list[ForeignKey]]:
        rows = self._execute(_KEYS_SQL, [location or self.default_location, table])
        pk = next((list(cols) for kind, cols, _, _ in rows if kind == "p"), None)
        fks = [
            ForeignKey(columns=list(cols), referenced_table=parent, referenced_columns=list(ref))
            for kind, cols, parent, ref in rows
            if kind == "f"
        ]
        return pk, fks

    def _referencing(self, location: str | None, table: str) -> list[str]:
        rows = self._execute(
            "SELECT DISTINCT c.relname FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid "
            "JOIN pg_namespace n ON n.oid = r.relnamespace WHERE con.contype = 'f' "
            "AND n.nspname = %s AND r.relname = %s AND c.oid <> r.oid ORDER BY 1",
            [location or self.default_location, table],
        )
        return [r[0] for r in rows]

    def _row_estimate(self, location: str | None, table: str) -> int | None:
        rows = self._execute(
            "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            [location or self.default_location, table],
        )
        return int(rows[0][0]) if rows and rows[0][0] >= 0 else None


def _lock_key(location: str | None) -> int:
    """The advisory-lock key of deliveries to one schema (stable across processes)."""
    return zlib.crc32(f"synthpipe-delivery:{location}".encode()) - 2**31


# Sessions (other than the given pid) holding granted locks that a delivery may wait for.
_BLOCKERS_SQL = """
SELECT DISTINCT a.pid, a.usename, a.application_name, a.state,
       CASE WHEN l.locktype = 'advisory' THEN 'the delivery lock'
            ELSE COALESCE(l.relation::regclass::text, l.locktype) END
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND a.pid <> %s AND a.pid <> pg_backend_pid()
  AND (l.locktype = 'advisory' OR (l.locktype = 'relation' AND l.database = (
       SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.relation::regclass::text NOT LIKE 'pg\\_%%'))
ORDER BY 1 LIMIT 5
"""


# Primary and foreign keys of one table with their columns in key order.
_KEYS_SQL = """
SELECT con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       ref.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class ref ON ref.oid = con.confrelid
WHERE n.nspname = %s AND c.relname = %s AND con.contype IN ('p', 'f')
ORDER BY con.contype DESC, con.conname
"""


def csv_bytes(batch: pa.RecordBatch) -> memoryview:
    """One batch as headerless CSV: nulls empty and unquoted, every string quoted.

    COPY's CSV format reads an unquoted empty field as NULL and a quoted one as an empty string,
    which is exactly how Arrow writes them.
    """
    import pyarrow as pa
    import pyarrow.csv as csv

    columns = [
        c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns
    ]
    batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    buffer = io.BytesIO()
    csv.write_csv(batch, buffer, csv.WriteOptions(include_header=False))
    return buffer.getbuffer()
