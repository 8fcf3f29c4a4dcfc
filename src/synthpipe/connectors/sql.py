"""What every SQL database connector shares: dialects, type mapping and one delivery core.

A delivery to a database runs the same plan everywhere, under a per-location delivery lock
(``_delivery_lock``: an advisory lock on PostgreSQL, ``GET_LOCK`` on MariaDB) taken with the
destination's bounded ``lock_timeout``, so two deliveries to one location run one after the
other. Inside it, staging tables a killed delivery left (``_sp_*``) are dropped first, table and
column names are checked against the dialect's identifier limit, and every target is checked:
mode ``fail`` refuses when any exists, mode ``append`` checks columns and types, and mode
``overwrite`` refuses to replace a table that an undelivered table references.

How an overwrite replaces a table depends on ``overwrite_in_place``. Where it is true
(PostgreSQL, MariaDB) and every existing target keeps its columns, types and primary key, the
old rows are deleted (children first) and the new ones loaded into the same table in one
transaction: readers at every isolation level keep seeing the old rows until the commit and
the new ones after it, and no lock a reader holds blocks the delivery. Otherwise each new table
is loaded into a staging table named ``_sp_<token>_<table>`` and swapped in: in the load's
transaction where DDL is transactional (PostgreSQL, DuckDB), by renaming after the commit
elsewhere (``_swap``); the swap locks the targets parents first.

Mode ``append`` loads straight into the targets (missing ones are created first) in one
transaction. When the caller gives a ``dataset_id``, each delivery is recorded in the table
``_synthpipe_deliveries`` of the location within the same transaction, and appending a dataset
that is already recorded there skips its tables (an Airflow retry is a no-op). Appending into a
table that holds rows shifts a single-column integer primary key (and the foreign keys of the
delivery that reference it) past the table's largest key; an existing lookup table
(``original_data``) is left as it is. Whatever fails, staging tables are dropped and the
targets keep their previous data.

Plugins subclass ``SQLConnector`` and supply the driver: ``_connect``, ``_execute``,
``_transaction``, ``_load`` (the bulk path), ``_fetch`` (a streaming cursor), the catalog
queries and their dialect's quirks. Nothing here imports a driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from synthpipe.connectors.appending import TEXTUAL, append_problems, shift_keys
from synthpipe.connectors.base import (
    DEFAULT_LOCK_TIMEOUT,
    Batches,
    Connector,
    ConnectorConfig,
    WriteMode,
    mask_text,
)
from synthpipe.connectors.base import (
    LockTimeoutError as LockTimeoutError,  # re-exported: the SQL plugins raise it
)
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

STAGE_PREFIX = "_sp_"
# The table that records which dataset was delivered to which table (append idempotency).
DELIVERY_LOG = "_synthpipe_deliveries"
# Names hidden from tables() and schema(): staging tables and synthpipe's own bookkeeping.
HIDDEN_PREFIXES = (STAGE_PREFIX, "_synthpipe_")

# Scale kept when reading a decimal column declared without precision (NUMERIC, NUMBER).
UNBOUNDED_SCALE = 10
_TEN_PLACES = Decimal(1).scaleb(-UNBOUNDED_SCALE)
_CONTEXT = Context(prec=38)

# Tables with more rows than this (by the catalog's estimate) are not counted exactly.
EXACT_COUNT_BELOW = 100_000


# Logical types a column may be appended into, per logical type of the incoming column.
class Dialect:
    """How one database spells identifiers and types; subclasses adjust the tables."""

    name: ClassVar[str] = "sql"
    quote_char: ClassVar[str] = '"'
    max_identifier: ClassVar[int] = 63
    # DDL type of each logical type; DECIMAL is formatted with precision and scale.
    types: ClassVar[dict[LogicalType, str]] = {
        LogicalType.INTEGER: "BIGINT",
        LogicalType.FLOAT: "DOUBLE PRECISION",
        LogicalType.DECIMAL: "NUMERIC({precision}, {scale})",
        LogicalType.BOOLEAN: "BOOLEAN",
        LogicalType.CATEGORICAL: "VARCHAR",
        LogicalType.STRING: "VARCHAR",
        LogicalType.TEXT: "TEXT",
        LogicalType.DATE: "DATE",
        LogicalType.DATETIME: "TIMESTAMP",
        LogicalType.LAT_LONG: "VARCHAR",
    }
    # Type of a textual key column, where the database needs a bounded length to index it.
    key_string_type: ClassVar[str | None] = None
    # (regex on the lower-cased catalog type, logical type); the first match wins.
    catalog_types: ClassVar[list[tuple[str, LogicalType]]] = [
        (r"^(tiny|small|medium|big|huge)?int(eger)?\b", LogicalType.INTEGER),
        (r"^(u(tiny|small|big|huge)?int|int[248]|(big)?serial)\b", LogicalType.INTEGER),
        (r"^(decimal|numeric|number)", LogicalType.DECIMAL),
        (r"^(real|float|double|binary_float|binary_double)", LogicalType.FLOAT),
        (r"^bool", LogicalType.BOOLEAN),
        (r"^date$", LogicalType.DATE),
        (r"^(timestamp|datetime)", LogicalType.DATETIME),
        (r"^(text|clob|nclob|mediumtext|longtext)$", LogicalType.TEXT),
        (r"^enum", LogicalType.CATEGORICAL),
    ]
    # Precision and scale of a DECIMAL column whose schema gives none.
    default_decimal: ClassVar[tuple[int, int]] = (38, 10)

    def quote(self, name: str) -> str:
        """The identifier quoted for this dialect, embedded quote characters doubled."""
        if not name or "\x00" in name:
            raise ConnectorError(
                f"identifier {name!r} is empty or holds a NUL character; rename the table or column"
            )
        q = self.quote_char
        return q + name.replace(q, q + q) + q

    # Whether max_identifier counts bytes of UTF-8 (PostgreSQL, Oracle) or characters (MySQL).
    identifier_bytes: ClassVar[bool] = True
    # The driver's placeholder for the n-th parameter (1-based).
    placeholder: ClassVar[str] = "%s"

    def param(self, n: int) -> str:
        """The placeholder of the ``n``-th (1-based) statement parameter."""
        return self.placeholder.format(n=n)

    def too_long(self, name: str) -> bool:
        """Whether the database would truncate or refuse ``name`` as an identifier."""
        size = len(name.encode()) if self.identifier_bytes else len(name)
        return size > self.max_identifier

    def qualify(self, location: str | None, name: str) -> str:
        """``location.name`` quoted, or just ``name`` when there is no location."""
        return f"{self.quote(location)}.{self.quote(name)}" if location else self.quote(name)

    def column_type(self, column: Column, *, key: bool = False) -> str:
        """The DDL type of a column, with precision and scale for decimals."""
        if key and column.type in TEXTUAL and self.key_string_type:
            return self.key_string_type
        template = self.types[column.type]
        if column.type is LogicalType.DECIMAL:
            precision, scale = self.default_decimal
            if column.precision is not None:
                precision, scale = column.precision, column.scale or 0
            return template.format(precision=precision, scale=scale)
        return template

    def logical_type(self, catalog_type: str) -> LogicalType:
        """The logical type of a catalog type name; STRING when nothing else fits."""
        lowered = catalog_type.strip().lower()
        for pattern, logical in self.catalog_types:
            if re.match(pattern, lowered):
                return logical
        return LogicalType.STRING

    def stage_name(self, table: str, token: str) -> str:
        """A staging-table name unique to one delivery, within the dialect's identifier limit.

        A name too long to keep whole gets a hash of the table name, so two long names that
        share a beginning still stage apart.
        """
        name = f"{STAGE_PREFIX}{token}_{table}"
        if len(name.encode()) <= self.max_identifier:
            return name
        digest = hashlib.sha1(table.encode()).hexdigest()[:8]
        head = f"{STAGE_PREFIX}{token}_{digest}_"
        return head + _cut(table, self.max_identifier - len(head.encode()))

    def create_table(
        self, qualified: str, table: Table, references: Iterable[tuple[ForeignKey, str]] = ()
    ) -> str:
        """CREATE TABLE for ``table`` under ``qualified``; ``references`` are (fk, parent) pairs.

        ``parent`` is already qualified and quoted; each fk names its referenced columns.
        """
        keys = {c for fk in table.foreign_keys for c in fk.columns} | set(table.primary_key or [])
        parts = [self._column_ddl(c, key=c.name in keys) for c in table.columns or []]
        if table.primary_key:
            parts.append(f"PRIMARY KEY ({self._names(table.primary_key)})")
        for fk, parent in references:
            parts.append(
                f"FOREIGN KEY ({self._names(fk.columns)}) REFERENCES {parent} "
                f"({self._names(fk.referenced_columns or [])})"
            )
        return f"CREATE TABLE {qualified} ({', '.join(parts)})"

    def _column_ddl(self, column: Column, *, key: bool) -> str:
        null = "" if column.nullable else " NOT NULL"
        return f"{self.quote(column.name)} {self.column_type(column, key=key)}{null}"

    def _names(self, names: Iterable[str]) -> str:
        return ", ".join(self.quote(n) for n in names)


class SQLConfig(ConnectorConfig):
    """Settings every SQL destination has."""

    # Seconds a delivery waits for a lock held by another delivery or by a reader before it
    # fails naming the blocking session, with nothing changed.
    lock_timeout: float = Field(default=DEFAULT_LOCK_TIMEOUT, gt=0)


@dataclass
class Target:
    """One table of a delivery: where its rows go and what happens to the old table."""

    table: Table
    final: str  # unquoted target name
    stage: str | None  # staging table, or None when rows go straight into the target
    existed: bool
    replace: bool = False  # in place: the old rows are deleted in the load's transaction
    skip: bool = False  # left as it is (an existing lookup table, or already delivered)

    @property
    def create(self) -> bool:
        """Whether the table is created under its final name (it does not exist, no stage)."""
        return self.stage is None and not self.existed and not self.skip


def hidden(name: str) -> bool:
    """Whether a table name is synthpipe's own (staging or bookkeeping), not a user's table."""
    return name.startswith(HIDDEN_PREFIXES)


class SQLConnector(Connector):
    """Base of the database connectors: the delivery plan, append checks and schema assembly."""

    dialect: ClassVar[Dialect] = Dialect()
    # DDL commits on its own (MySQL, Oracle): stages are loaded and committed, then swapped.
    transactional_ddl: ClassVar[bool] = True
    # Overwrite an unchanged table by delete + load in one transaction (MVCC-safe for every
    # reader) rather than by swapping a staging table in.
    overwrite_in_place: ClassVar[bool] = False
    # Setting names whose values are scrubbed from driver messages.
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    # The database's name in messages.
    label: ClassVar[str] = "SQL"

    def __init__(self, config=None, **options):
        super().__init__(config, **options)
        self._con: Any = None

    @property
    def lock_timeout(self) -> float:
        """Seconds to wait for a lock (setting ``lock_timeout``)."""
        return float(getattr(self.config, "lock_timeout", DEFAULT_LOCK_TIMEOUT))

    # -- connection and messages, shared ---------------------------------------------------
    @property
    def connection(self) -> Any:
        """The open connection (opened on first use, reopened after it broke)."""
        if self._con is None or not self._healthy(self._con):
            self._con = self._connect()
        return self._con

    def _healthy(self, con: Any) -> bool:
        return True

    def _connect(self) -> Any:
        raise self._unsupported("connecting")

    def _where(self) -> str:
        """The server and database, for messages (never a secret)."""
        return ""

    def _error(self, exc: Exception, doing: str = "error from") -> ConnectorError:
        """A ConnectorError naming the server, with every secret masked in the driver text."""
        where = mask_text(self._where(), self.secret_values())
        return ConnectorError(f"{self.label} {doing} {where}: {self.mask(str(exc).strip())}")

    def close(self) -> None:
        """Close the connection."""
        if self._con is not None:
            with contextlib.suppress(Exception):
                self._con.close()
            self._con = None

    # -- what a driver plugin provides -----------------------------------------------------
    @property
    def default_location(self) -> str | None:
        """The schema (or database) used when a call names no location."""
        return None

    def _execute(self, sql: str, params: Any = None) -> list[tuple]:
        """Run one statement on the connector's connection and return its rows."""
        raise self._unsupported("SQL statements")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Run the block in one transaction: commit when it succeeds, roll back when not."""
        raise self._unsupported("transactions")
        yield  # pragma: no cover

    @contextlib.contextmanager
    def _commit_or_roll_back(self, errors: tuple[type[Exception], ...]) -> Iterator[None]:
        """For DB-API drivers: commit after the block, roll back when it raises; ``errors``
        (the driver's) at commit become ConnectorErrors."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.connection.rollback()
            raise
        try:
            self.connection.commit()
        except errors as exc:
            raise self._error(exc) from None

    def _load(self, qualified: str, table: Table, data: Batches) -> int:
        """Bulk-load batches into an existing table, columns by name; returns rows loaded."""
        raise self._unsupported("bulk loading")

    def _fetch(self, sql: str, batch_size: int) -> Iterator[list[tuple]]:
        """Rows of a query in lists of at most ``batch_size``, streamed (server-side cursor)."""
        raise self._unsupported("reading")

    def _catalog_columns(self, location: str | None, table: str) -> list[Column]:
        """Columns of an existing table as the catalog describes them, in table order."""
        raise self._unsupported("reading the catalog")

    def _catalog_keys(
        self, location: str | None, table: str
    ) -> tuple[list[str] | None, list[ForeignKey]]:
        """The table's primary key (None if none) and foreign keys, from the catalog."""
        raise self._unsupported("reading keys from the catalog")

    def _referencing(self, location: str | None, table: str) -> list[str]:
        """Names of the tables whose foreign keys reference ``table``."""
        return []

    def _row_estimate(self, location: str | None, table: str) -> int | None:
        """The catalog's row estimate, when it keeps one; None otherwise."""
        return None

    def _ensure_location(self, location: str | None) -> bool:
        """Create the delivery's location (schema, database) when it does not exist yet.

        Returns whether it was created. Runs inside the delivery transaction where DDL is
        transactional, before the staging tables otherwise. The default does nothing.
        """
        return False

    def _drop_location(self, location: str | None) -> None:
        """Remove a location this delivery created, after the delivery failed (non-transactional
        DDL only; a rollback undoes it elsewhere)."""

    def _all_tables(self, location: str | None) -> list[str]:
        """Every table and view of a location, synthpipe's own included."""
        raise self._unsupported("listing tables")

    @contextlib.contextmanager
    def _delivery_lock(self, location: str | None) -> Iterator[None]:
        """Hold the location's delivery lock (waiting at most ``lock_timeout``) for the block."""
        yield

    def _lock_for_swap(self, names: list[str], location: str | None) -> None:
        """Lock the tables a swap replaces, in the order given (parents first)."""

    # -- source ----------------------------------------------------------------------------
    def tables(self, location: str | None = None) -> list[str]:
        """Tables and views of a location by name; synthpipe's staging and bookkeeping tables
        (names starting ``_sp_`` or ``_synthpipe_``) are left out."""
        return [t for t in self._all_tables(location or self.default_location) if not hidden(t)]

    def exists(self, table: str, location: str | None = None) -> bool:
        """Whether the target table exists at the location."""
        return table in self._all_tables(location or self.default_location)

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        """Tables with columns, types, nullability, primary and foreign keys and row counts.

        Row counts are exact for small tables and the catalog's estimate for large ones.
        """
        location = location or self.default_location
        known = self.tables(location)
        names = known if tables is None else tables
        missing = [n for n in names if n not in known]
        if missing:
            raise NotFoundError(
                f"{self.kind} location '{location}' has no table(s) {', '.join(missing)}; "
                f"tables there: {', '.join(known) or 'none'}"
            )
        return [self._table(location, name) for name in names]

    def _table(self, location: str | None, name: str) -> Table:
        pk, fks = self._catalog_keys(location, name)
        columns = self._catalog_columns(location, name)
        return Table(
            name=name,
            columns=columns,
            primary_key=pk,
            foreign_keys=fks,
            rows=self._row_count(location, name),
        )

    def _row_count(self, location: str | None, table: str) -> int:
        estimate = self._row_estimate(location, table)
        if estimate is not None and estimate >= EXACT_COUNT_BELOW:
            return estimate
        rows = self._execute(f"SELECT COUNT(*) FROM {self.dialect.qualify(location, table)}")
        return int(rows[0][0])

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows as Arrow record batches of at most ``batch_size`` rows."""
        location = location or self.default_location
        known = self._catalog_columns(location, table)
        if not known:
            raise NotFoundError(
                f"{self.kind} location '{location}' has no table '{table}'; tables there: "
                f"{', '.join(self.tables(location)) or 'none'}"
            )
        by_name = {c.name: c for c in known}
        unknown = [c for c in columns or [] if c not in by_name]
        if unknown:
            raise NotFoundError(
                f"table '{table}' has no column(s) {', '.join(unknown)}; "
                f"columns: {', '.join(by_name)}"
            )
        chosen = [by_name[c] for c in columns] if columns else known
        select = ", ".join(self.dialect.quote(c.name) for c in chosen)
        sql = f"SELECT {select} FROM {self.dialect.qualify(location, table)}"
        return (rows_to_batch(rows, chosen) for rows in self._fetch(sql, batch_size))

    # -- delivery --------------------------------------------------------------------------
    def write_tables(
        self,
        tables: list[tuple[Table, Batches]],
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
        *,
        create_constraints: bool = False,
        dataset_id: str | None = None,
    ) -> dict[str, int]:
        """Deliver several tables, parents first, with the mode's guarantees for all of them.

        Every target is checked before any row is written: ``fail`` raises listing every
        existing target, ``append`` checks columns by name and their types, ``overwrite``
        refuses to replace a table referenced by a table outside the delivery. New tables are
        created from the schema (types, nullability, primary key), with foreign keys between
        the delivered tables when ``create_constraints`` is true. ``dataset_id`` records the
        delivery, so appending the same dataset again changes nothing.
        """
        mode = WriteMode(mode)
        location = location or self.default_location
        completed = [_complete(t, d) for t, d in tables]
        self._check_names([t for t, _ in completed])
        with self._delivery_lock(location):
            self._drop_leftovers(location)
            targets = self._plan([t for t, _ in completed], location, mode)
            done = self._already_delivered(targets, location, mode, dataset_id)
            if all(t.skip for t in targets) and done:
                return {t.final: done.get(t.final, 0) for t in targets}
            data = _shift_keys(self, targets, [d for _, d in completed], location, mode)
            rows = self._deliver(
                targets, data, location, create_constraints, _Log(mode, dataset_id)
            )
        return {
            t.final: done.get(t.final, 0) if t.skip else n
            for t, n in zip(targets, rows, strict=True)
        }

    def _check_names(self, tables: list[Table]) -> None:
        """Refuse names the database would truncate, before anything is written."""
        limit = self.dialect.max_identifier
        unit = "bytes" if self.dialect.identifier_bytes else "characters"
        problems = [f"table '{t.name}'" for t in tables if self.dialect.too_long(t.name)] + [
            f"column '{t.name}.{c}'"
            for t in tables
            for c in t.column_names
            if self.dialect.too_long(c)
        ]
        if problems:
            raise ConnectorError(
                f"{', '.join(problems)}: name longer than {self.label}'s limit of {limit} "
                f"{unit}, which the database would cut short; rename it (a column override or "
                "the table's name in the generator config) before delivering"
            )

    def _drop_leftovers(self, location: str | None) -> None:
        """Drop the staging and replaced tables a killed delivery left (names ``_sp_*``).

        Runs under the delivery lock, so no running delivery owns them. Children are dropped
        before their parents by retrying until no drop succeeds any more.
        """
        left = [t for t in self._all_tables(location) if t.startswith(STAGE_PREFIX)]
        while left:
            failed = []
            for name in left:
                try:
                    self._execute(f"DROP TABLE {self.dialect.qualify(location, name)}")
                except ConnectorError:
                    failed.append(name)
            if len(failed) == len(left):
                log.warning("could not drop leftover staging tables: %s", ", ".join(failed))
                return
            left = failed

    def _already_delivered(
        self, targets: list[Target], location: str | None, mode: WriteMode, dataset_id
    ) -> dict[str, int]:
        """For an append of a recorded dataset: mark its recorded tables skipped; their rows."""
        if mode is not WriteMode.APPEND or not dataset_id:
            return {}
        if DELIVERY_LOG not in self._all_tables(location):
            return {}
        p = self.dialect.param
        rows = self._execute(
            f"SELECT table_name, rows_written FROM {self.dialect.qualify(location, DELIVERY_LOG)}"
            f" WHERE dataset_id = {p(1)}",
            [dataset_id],
        )
        done = {name: int(n) for name, n in rows}
        for target in targets:
            if target.final in done:
                target.skip = True
        return done

    def _plan(self, tables: list[Table], location: str | None, mode: WriteMode) -> list[Target]:
        existing = {t.name for t in tables if self.exists(t.name, location)}
        if mode is WriteMode.FAIL and existing:
            raise TargetExistsError([t.name for t in tables if t.name in existing])
        if mode is WriteMode.APPEND:
            problems = [
                p for t in tables if t.name in existing for p in self._append_problems(t, location)
            ]
            if problems:
                raise ConnectorError(
                    "append refused before writing any row: " + "; ".join(problems)
                )
        if mode is WriteMode.OVERWRITE:
            self._check_replaceable(sorted(existing), {t.name for t in tables}, location)
        token = secrets.token_hex(3)
        replace = (
            mode is WriteMode.OVERWRITE
            and self.overwrite_in_place
            and all(self._same_shape(t, location) for t in tables if t.name in existing)
        )
        targets = []
        for table in tables:
            existed = table.name in existing
            if mode is WriteMode.APPEND or replace:  # straight into the target
                targets.append(Target(table, table.name, None, existed, replace and existed))
                targets[-1].skip = existed and mode is WriteMode.APPEND and table.original_data
            else:
                stage = self.dialect.stage_name(table.name, token)
                targets.append(Target(table, table.name, stage, existed))
        return targets

    def _same_shape(self, table: Table, location: str | None) -> bool:
        """Whether the existing target has the table's columns, types and primary key, so an
        overwrite can replace its rows in place."""
        have = {c.name: c for c in self._catalog_columns(location, table.name)}
        if set(have) != set(table.column_names):
            return False
        for column in table.columns or []:
            old = have[column.name]
            same = old.type == column.type or (old.type in TEXTUAL and column.type in TEXTUAL)
            if column.type is LogicalType.DECIMAL and column.precision is not None:
                same = same and (old.precision, old.scale) == (column.precision, column.scale)
            if not same or (column.nullable and not old.nullable):
                return False
        pk, _ = self._catalog_keys(location, table.name)
        return (pk or None) == (table.primary_key or None)

    def _check_replaceable(self, existing: list[str], delivered: set[str], location) -> None:
        problems = []
        for name in existing:
            outside = [t for t in self._referencing(location, name) if t not in delivered]
            if outside:
                problems.append(f"'{name}' is referenced by foreign keys of {', '.join(outside)}")
        if problems:
            raise ConnectorError(
                "overwrite refused before writing any row: cannot replace table "
                + "; ".join(problems)
                + "; deliver those tables in the same delivery or drop their constraints"
            )

    def _append_problems(self, table: Table, location: str | None) -> list[str]:
        """Why ``table``'s columns cannot be appended into the existing target; [] if they can."""
        return append_problems(table, self._catalog_columns(location, table.name))

    def _deliver(
        self,
        targets: list[Target],
        data: list[Batches],
        location: str | None,
        create_constraints: bool,
        record: _Log | None = None,
    ) -> list[int]:
        """Create, load, swap; record the delivery; clean up whatever a failure leaves."""
        record = record or _Log(WriteMode.FAIL, None)
        pairs = list(zip(targets, data, strict=True))
        created = False
        made: list[Target] = []
        try:
            if self.transactional_ddl:
                with self._transaction():  # a new schema is rolled back with the rest
                    self._ensure_location(location)
                    self._prepare_log(location, record)
                    self._create_tables(targets, location, create_constraints)
                    self._clear(targets, location)
                    rows = [self._load_target(t, d, location) for t, d in pairs]
                    self._swap(targets, location)
                    self._record(targets, rows, location, record)
                return rows
            created = self._ensure_location(location)
            self._prepare_log(location, record)
            made = self._create_tables(targets, location, create_constraints)
            with self._transaction():
                self._clear(targets, location)
                rows = [self._load_target(t, d, location) for t, d in pairs]
                self._record(targets, rows, location, record)
            made = []
            self._swap(targets, location)
            return rows
        except BaseException:
            self._drop_stages(targets, location)
            for target in reversed(made):
                if target.create:
                    with contextlib.suppress(Exception):
                        self._execute(f"DROP TABLE {self.dialect.qualify(location, target.final)}")
            if created:
                with contextlib.suppress(Exception):
                    self._drop_location(location)
            raise

    def _create_tables(
        self, targets: list[Target], location: str | None, create_constraints: bool
    ) -> list[Target]:
        """Create every staging table and every missing target; returns those created.

        A child's foreign keys reference its parent's stage (or new table); foreign keys follow
        a renamed table in PostgreSQL, MySQL and Oracle, so after the swap the new child
        references the new parent.
        """
        name_of = {t.final: t.stage for t in targets if t.stage}
        tables = {t.final: t.table for t in targets}
        made = []
        for target in targets:
            if target.stage is None and not target.create:
                continue
            refs = []
            if create_constraints:
                refs = [
                    (fk, self.dialect.qualify(location, name_of.get(parent, parent)))
                    for fk, parent in references(target.table, tables)
                ]
            qualified = self.dialect.qualify(location, target.stage or target.final)
            self._execute(self.dialect.create_table(qualified, target.table, refs))
            made.append(target)
        return made

    # Kept under its old name for plugins that call it.
    _create_stages = _create_tables

    def _clear(self, targets: list[Target], location: str | None) -> None:
        """Delete the old rows of tables replaced in place, children first (MVCC: readers
        whose snapshot predates the commit still see them)."""
        for target in reversed(targets):
            if target.replace:
                self._execute(f"DELETE FROM {self.dialect.qualify(location, target.final)}")

    def _load_target(self, target: Target, data: Batches, location: str | None) -> int:
        if target.skip:
            return 0
        name = target.stage or target.final
        return self._load(self.dialect.qualify(location, name), target.table, data)

    def _swap(self, targets: list[Target], location: str | None) -> None:
        """Replace each target by its staging table: lock the old ones parents first, drop
        them children first, rename the stages."""
        q = self.dialect
        old = [t.final for t in targets if t.stage and t.existed]
        if old:
            self._lock_for_swap(old, location)
        for target in reversed(targets):
            if target.stage and target.existed:
                self._execute(f"DROP TABLE {q.qualify(location, target.final)}")
        for target in targets:
            if target.stage:
                self._execute(
                    f"ALTER TABLE {q.qualify(location, target.stage)} "
                    f"RENAME TO {q.quote(target.final)}"
                )

    def _drop_stages(self, targets: list[Target], location: str | None) -> None:
        """Drop staging tables a failed delivery left (none after a rollback of DDL)."""
        for target in reversed(targets):
            if target.stage:
                with contextlib.suppress(Exception):
                    self._execute(
                        f"DROP TABLE IF EXISTS {self.dialect.qualify(location, target.stage)}"
                    )

    # -- the delivery log --------------------------------------------------------------------
    def _prepare_log(self, location: str | None, record: _Log) -> None:
        """Create ``_synthpipe_deliveries`` when this delivery names its dataset."""
        if not record.dataset_id or DELIVERY_LOG in self._all_tables(location):
            return
        qualified = self.dialect.qualify(location, DELIVERY_LOG)
        self._execute(self.dialect.create_table(qualified, LOG_TABLE))

    def _record(
        self, targets: list[Target], rows: list[int], location: str | None, record: _Log
    ) -> None:
        """In the load's transaction: forget what the replaced tables held, note this dataset."""
        if not record.dataset_id and DELIVERY_LOG not in self._all_tables(location):
            return
        qualified, p = self.dialect.qualify(location, DELIVERY_LOG), self.dialect.param
        for target, count in zip(targets, rows, strict=True):
            if target.skip:
                continue
            if record.mode is not WriteMode.APPEND:
                self._execute(f"DELETE FROM {qualified} WHERE table_name = {p(1)}", [target.final])
            if record.dataset_id:
                self._execute(
                    f"INSERT INTO {qualified} (dataset_id, table_name, write_mode, rows_written, "
                    f"delivered_at) VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, {p(5)})",
                    [record.dataset_id, target.final, record.mode.value, count, _now()],
                )


@dataclass
class _Log:
    """What a delivery records in ``_synthpipe_deliveries``."""

    mode: WriteMode
    dataset_id: str | None


LOG_TABLE = Table(
    name=DELIVERY_LOG,
    columns=[
        Column(name="dataset_id", type=LogicalType.CATEGORICAL, nullable=False),
        Column(name="table_name", type=LogicalType.CATEGORICAL, nullable=False),
        Column(name="write_mode", type=LogicalType.CATEGORICAL, nullable=False),
        Column(name="rows_written", type=LogicalType.INTEGER, nullable=False),
        Column(name="delivered_at", type=LogicalType.CATEGORICAL, nullable=False),
    ],
)


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _shift_keys(
    connector: SQLConnector,
    targets: list[Target],
    data: list[Batches],
    location: str | None,
    mode: WriteMode,
) -> list[Batches]:
    """Batches of an append with keys moved past the existing ones (``appending.shift_keys``),
    so a second dataset's keys, which start at the source's first key again, do not collide;
    the largest existing key is asked of the database."""
    if mode is not WriteMode.APPEND:
        return data
    q = connector.dialect
    finals = {t.table.name: t.final for t in targets}

    def largest(table: str, column: str) -> int | None:
        top = connector._execute(
            f"SELECT MAX({q.quote(column)}) FROM {q.qualify(location, finals[table])}"
        )[0][0]
        return None if top is None else int(top)

    existing = {t.table.name for t in targets if t.existed}
    tables = [(t.table, d) for t, d in zip(targets, data, strict=True)]
    return [batches for _, batches in shift_keys(tables, existing, largest)]


def references(table: Table, tables: dict[str, Table]) -> list[tuple[ForeignKey, str]]:
    """Each foreign key with its referenced columns filled in, and its parent's name (unquoted).

    The referenced columns default to the parent's primary key when the parent is delivered
    alongside.
    """
    refs = []
    for fk in table.foreign_keys:
        columns = fk.referenced_columns
        parent = tables.get(fk.referenced_table)
        if columns is None and parent is not None:
            columns = parent.primary_key
        if not columns:
            raise ConnectorError(
                f"foreign key {table.name}.{','.join(fk.columns)} references "
                f"'{fk.referenced_table}' without naming its columns; set referenced_columns "
                "or create_constraints: false"
            )
        refs.append(
            (fk.model_copy(update={"referenced_columns": list(columns)}), fk.referenced_table)
        )
    return refs


def _complete(table: Table, data: Batches) -> tuple[Table, Batches]:
    """The table with columns taken from the first batch when the schema gives none."""
    if table.columns is not None:
        return table, data
    from synthpipe.types import columns_from_arrow

    batches = iter(data)
    first = next(batches, None)
    if first is None:
        raise ConnectorError(
            f"table '{table.name}' has no columns in its schema and no rows to take them "
            "from; give its columns"
        )
    columns = columns_from_arrow(first.schema)
    return table.model_copy(update={"columns": columns}), itertools.chain([first], batches)


def rows_to_batch(rows: list[tuple], columns: list[Column]) -> pa.RecordBatch:
    """Driver rows as one Arrow record batch typed after the columns' logical types."""
    import pyarrow as pa

    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = [_array(list(v), c) for v, c in zip(values, columns, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])


def _array(values: list, column: Column) -> pa.Array:
    import pyarrow as pa

    from synthpipe.types import arrow_type

    if column.type is LogicalType.DECIMAL:
        # Some drivers hand out floats for decimals; str() keeps the digits they show.
        values = [Decimal(str(v)) if isinstance(v, float) else v for v in values]
        if column.precision is None:  # unbounded NUMERIC: one type for every batch
            values = [
                None if v is None else v.quantize(_TEN_PLACES, context=_CONTEXT) for v in values
            ]
            return pa.array(values, pa.decimal128(38, UNBOUNDED_SCALE))
    dtype = arrow_type(column)
    if column.type is LogicalType.BOOLEAN:
        values = [None if v is None else bool(v) for v in values]
    elif column.type is LogicalType.DATE:
        values = [v.date() if hasattr(v, "date") else v for v in values]
    elif dtype == pa.string():
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, dtype)


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``limit`` bytes."""
    return text.encode()[:limit].decode(errors="ignore")


def scrub(text: str, secrets_: Iterable[str | None]) -> str:
    """``text`` with every secret value (and any credential in a URL or DSN) as ``***``."""
    return mask_text(text, secrets_)
