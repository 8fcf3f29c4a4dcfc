"""MariaDB and MySQL as source and destination, through PyMySQL.

DDL commits on its own here, so the shared SQL delivery core (``synthpipe.connectors.sql``)
works around it. Deliveries to one database are serialized by ``GET_LOCK``. An overwrite of
tables whose columns are unchanged deletes the old rows and loads the new ones into the same
tables in one InnoDB transaction: readers at every isolation level see the old rows until the
COMMIT and the new ones after it (a REPEATABLE READ snapshot never meets a changed table
definition, which would fail it with error 1412), and the locks of readers never block it
(the cost: deleting the old rows, which InnoDB does row by row). Where columns change, the
new tables are loaded into staging tables and committed, then one ``RENAME TABLE`` statement
moves the old tables aside and the new ones in atomically, and the old tables are dropped;
a REPEATABLE READ transaction that read a replaced table before the swap then gets error 1412
on its next read of it. Every wait for a lock is bounded by ``lock_timeout``
(``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` of the session), and the error names
the sessions in the way. Rows go in with ``LOAD DATA LOCAL INFILE`` from a temporary
tab-separated file that Arrow builds in C, or, where the server forbids local files, as
multi-row INSERTs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr

from synthpipe.connectors.base import Batches
from synthpipe.connectors.sql import Dialect, LockTimeoutError, SQLConfig, SQLConnector, Target
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

if TYPE_CHECKING:
    import pyarrow as pa
    import pymysql

log = logging.getLogger(__name__)

SYSTEM_SCHEMAS = {"mysql", "information_schema", "performance_schema", "sys"}


class MySQLDialect(Dialect):
    """Backquoted identifiers; bounded VARCHARs where a column must be indexable."""

    name = "mysql"
    quote_char = "`"
    max_identifier = 64
    identifier_bytes = False  # MySQL counts characters
    types = {
        **Dialect.types,
        LogicalType.FLOAT: "DOUBLE",
        LogicalType.DECIMAL: "DECIMAL({precision}, {scale})",
        LogicalType.CATEGORICAL: "VARCHAR(255)",
        LogicalType.STRING: "TEXT",
        LogicalType.TEXT: "MEDIUMTEXT",
        LogicalType.DATETIME: "DATETIME(6)",
        LogicalType.LAT_LONG: "VARCHAR(64)",
    }
    key_string_type = "VARCHAR(255)"
    catalog_types = [
        (r"^tinyint\(1\)", LogicalType.BOOLEAN),
        (r"^(char|varchar|tinytext|text)\b", LogicalType.STRING),
        *Dialect.catalog_types,
    ]


class MySQLConfig(SQLConfig):
    """How to reach the server; the password falls back to the MYSQL_PWD environment variable."""

    host: str = "localhost"
    port: int = 3306
    user: str | None = None
    # Never shown: masked in reprs and scrubbed from error messages.
    password: SecretStr | None = None
    # Database used when a call names no location (MySQL calls schemas databases).
    database: str | None = None
    charset: str = "utf8mb4"
    # "load_data": LOAD DATA LOCAL INFILE (needs local_infile on the server); "insert":
    # multi-row INSERT statements, slower but allowed everywhere.
    bulk: Literal["load_data", "insert"] = "load_data"
    connect_timeout: int = Field(default=10, gt=0)
    # TLS settings passed to PyMySQL, e.g. {"ca": "/path/ca.pem"}.
    ssl: dict[str, str] | None = None


class MySQLConnector(SQLConnector):
    """Reads and writes tables of a MariaDB or MySQL server; locations are its databases."""

    kind: ClassVar[str] = "mysql"
    Config = MySQLConfig
    dialect = MySQLDialect()
    transactional_ddl = False
    secret_fields = ("password",)

    overwrite_in_place = True
    label = "MySQL"

    # -- connections -----------------------------------------------------------------------
    def _healthy(self, con: pymysql.Connection) -> bool:
        return con.open

    def _connect(self, **extra: Any) -> pymysql.Connection:
        import pymysql

        c = self.config
        wait = max(1, round(self.lock_timeout))
        try:
            return pymysql.connect(
                host=c.host,
                port=c.port,
                user=c.user,
                password=self._password() or "",
                database=c.database,
                charset=c.charset,
                autocommit=True,
                local_infile=c.bulk == "load_data",
                connect_timeout=c.connect_timeout,
                ssl=c.ssl,
                init_command=(
                    f"SET SESSION lock_wait_timeout = {wait}, innodb_lock_wait_timeout = {wait}"
                ),
                **extra,
            )
        except pymysql.MySQLError as exc:
            raise self._error(exc, "cannot connect to") from None

    def _password(self) -> str | None:
        if self.config.password is not None:
            return self.config.password.get_secret_value()
        return os.environ.get("MYSQL_PWD")

    def secret_values(self) -> list[str]:
        """The settings' secrets and the password taken from MYSQL_PWD."""
        return [*super().secret_values(), self._password() or ""]

    def _where(self) -> str:
        c = self.config
        return f"{c.host}:{c.port}/{c.database or ''}"

    @property
    def default_location(self) -> str | None:
        """The database used when a call names none (setting ``database``)."""
        return self.config.database

    # -- plumbing the base class uses ------------------------------------------------------
    def _execute(self, sql: str, params: Any = None) -> list[tuple]:
        import pymysql

        log.debug("mysql: %s", sql)
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == 1205:  # lock wait timeout exceeded
                raise self._lock_error(str(exc)) from None
            raise self._error(exc) from None

    def _lock_error(
        self, detail: str, holder: int | None = None, location: str | None = None
    ) -> LockTimeoutError:
        """The lock wait that timed out, naming the sessions that may hold the lock."""
        try:
            con = self._connect()
            try:
                with con.cursor() as cursor:
                    mine = self._con.thread_id() if self._con is not None else 0
                    where = self.config.database if location is None else location
                    cursor.execute(_BLOCKERS_SQL, [holder, holder, where, mine])
                    rows = cursor.fetchall()
            finally:
                con.close()
        except Exception:  # the timeout is the message; the names are a bonus
            rows = []
        sessions = "; ".join(
            f"connection {pid} (user {user}@{host}, database {db}, {state or command} for {secs} s)"
            for pid, user, host, db, command, state, secs in rows
        )
        return LockTimeoutError(
            f"MySQL delivery to {self._where()} waited lock_timeout = {self.lock_timeout:g} s "
            f"for a lock and gave up; nothing was changed. Held by: {sessions or 'unknown'}; "
            "commit or end that session (KILL <connection>), or raise the destination's "
            f"lock_timeout ({self.mask(detail)})"
        )

    @contextlib.contextmanager
    def _delivery_lock(self, location: str | None) -> Iterator[None]:
        """``GET_LOCK`` on the database's name: one delivery at a time per database."""
        name = f"synthpipe:{self._schema_of(location)}"[:64]
        got = self._execute("SELECT GET_LOCK(%s, %s)", [name, self.lock_timeout])
        if not got or got[0][0] != 1:
            holder = self._execute("SELECT IS_USED_LOCK(%s)", [name])[0][0]
            raise self._lock_error(f"GET_LOCK('{name}') timed out", holder, location)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._execute("SELECT RELEASE_LOCK(%s)", [name])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        import pymysql

        try:
            self.connection.begin()
        except pymysql.MySQLError as exc:
            raise self._error(exc) from None
        with self._commit_or_roll_back((pymysql.MySQLError,)):
            yield

    def _load(self, qualified: str, table: Table, data: Batches) -> int:
        """Load the batches with LOAD DATA (or INSERTs); columns matched by name."""
        batches = iter(data)
        first = next(batches, None)
        if first is None:
            return 0
        names = first.schema.names
        load = self._load_file if self.config.bulk == "load_data" else self._insert
        return sum(load(qualified, b.select(names)) for b in itertools.chain([first], batches))

    def _load_file(self, qualified: str, batch: pa.RecordBatch) -> int:
        from pymysql.converters import escape_string

        columns = ", ".join(self.dialect.quote(n) for n in batch.schema.names)
        fd, path = tempfile.mkstemp(prefix="synthpipe-", suffix=".tsv")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(tsv_bytes(batch))
            loaded, warnings = self._load_data(
                f"LOAD DATA LOCAL INFILE '{escape_string(path)}' INTO TABLE {qualified} "
                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                f"LINES TERMINATED BY '\\n' ({columns})"
            )
        finally:
            os.unlink(path)
        if warnings or loaded != batch.num_rows:
            raise ConnectorError(
                f"MySQL rejected rows loading {qualified}: {loaded} of {batch.num_rows} loaded; "
                + "; ".join(warnings[:3])
                + "; fix the data or the target table's types"
            )
        return loaded

    def _load_data(self, sql: str) -> tuple[int, list[str]]:
        """Run LOAD DATA; the rows it took and its warnings (LOCAL turns errors into warnings)."""
        import pymysql

        try:
            with self.connection.cursor() as cursor:
                loaded = cursor.execute(sql)
                if not cursor._result.warning_count:  # PyMySQL keeps the count only there
                    return loaded, []
                cursor.execute("SHOW WARNINGS LIMIT 3")
                return loaded, [f"{code}: {message}" for _, code, message in cursor.fetchall()]
        except pymysql.MySQLError as exc:
            raise self._error(exc) from None

    def _insert(self, qualified: str, batch: pa.RecordBatch) -> int:
        import pymysql

        columns = ", ".join(self.dialect.quote(n) for n in batch.schema.names)
        # PyMySQL %-formats the statement, so a % in an identifier must be doubled.
        prefix = f"INSERT INTO {qualified} ({columns})".replace("%", "%%")
        sql = f"{prefix} VALUES ({', '.join(['%s'] * batch.num_columns)})"
        rows = list(zip(*(c.to_pylist() for c in batch.columns), strict=True))
        try:
            with self.connection.cursor() as cursor:
                for start in range(0, len(rows), 5_000):
                    cursor.executemany(sql, rows[start : start + 5_000])
        except pymysql.MySQLError as exc:
            raise self._error(exc) from None
        return len(rows)

    def _fetch(self, sql: str, batch_size: int) -> Iterator[list[tuple]]:
        """Rows from an unbuffered cursor on a connection of the stream's own."""
        import pymysql
        from pymysql.cursors import SSCursor

        con = self._connect(cursorclass=SSCursor)
        try:
            with con.cursor() as cursor:
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch_size):
                    yield list(rows)
        except pymysql.MySQLError as exc:
            raise self._error(exc) from None
        finally:
            con.close()

    def _ensure_location(self, location: str | None) -> bool:
        """CREATE DATABASE when the delivery's database is missing (it commits on its own)."""
        location = self._schema_of(location)
        if self._execute(
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [location]
        ):
            return False
        try:
            self._execute(f"CREATE DATABASE IF NOT EXISTS {self.dialect.quote(location)}")
        except ConnectorError as exc:
            raise ConnectorError(
                f"database '{location}' does not exist and could not be created ({exc}); "
                "create it, or grant the delivering user CREATE"
            ) from None
        return True

    def _drop_location(self, location: str | None) -> None:
        """Drop the database a failed delivery created, if nothing else went into it."""
        location = self._schema_of(location)
        if not self.tables(location):
            self._execute(f"DROP DATABASE IF EXISTS {self.dialect.quote(location)}")

    def _swap(self, targets: list[Target], location: str | None) -> None:
        """One atomic RENAME TABLE for every table, then the old tables dropped, children first.

        Foreign keys follow renamed tables, so old children keep pointing at the old parents
        and the new children (created against the parents' staging tables) at the new ones.
        """
        q, token = self.dialect, secrets.token_hex(3)
        pairs, old = [], []
        for target in targets:
            if target.stage is None:
                continue
            if target.existed:
                old.append(q.stage_name(target.final, token))
                pairs.append((target.final, old[-1]))
            pairs.append((target.stage, target.final))
        if not pairs:
            return
        self._execute(
            "RENAME TABLE "
            + ", ".join(f"{q.qualify(location, a)} TO {q.qualify(location, b)}" for a, b in pairs)
        )
        for name in reversed(old):
            try:
                self._execute(f"DROP TABLE {q.qualify(location, name)}")
            except ConnectorError as exc:  # the delivery is complete; only cleanup failed
                log.warning("could not drop the replaced table %s: %s", name, exc)

    # -- catalog ---------------------------------------------------------------------------
    def _schema_of(self, location: str | None) -> str:
        location = location or self.default_location
        if not location:
            # Log in first: a refused login (wrong password, unknown user) is the problem to
            # report, not the missing database setting it would otherwise hide.
            self.connection  # noqa: B018
            raise ConnectorError(
                "no MySQL database given: set the connector's `database` or pass a location"
            )
        return location

    def locations(self, prefix: str = "") -> list[str]:
        """Databases on the server whose names start with ``prefix`` (system ones left out)."""
        rows = self._execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1")
        return [r[0] for r in rows if r[0] not in SYSTEM_SCHEMAS and r[0].startswith(prefix)]

    def _all_tables(self, location: str | None = None) -> list[str]:
        """Tables and views of a database, by name."""
        rows = self._execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "ORDER BY TABLE_NAME",
            [self._schema_of(location)],
        )
        return [r[0] for r in rows]

    def _catalog_columns(self, location: str | None, table: str) -> list[Column]:
        rows = self._execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION",
            [self._schema_of(location), table],
        )
        return [self._column(*row) for row in rows]

    def _column(self, name: str, type_name: str, nullable: str, precision, scale) -> Column:
        logical = self.dialect.logical_type(type_name)
        if logical is not LogicalType.DECIMAL:
            precision = scale = None
        return Column(
            name=name,
            type=logical,
            nullable=nullable == "YES",
            precision=None if precision is None else int(precision),
            scale=None if scale is None else int(scale),
        )

    def _catalog_keys(
        self, location: str | None, table: str
    ) -> tuple[list[str] | None, list[ForeignKey]]:
        rows = self._execute(
            "SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
            "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s AND "
            "TABLE_NAME = %s AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT "
            "NULL) ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
            [self._schema_of(location), table],
        )
        pk = [col for name, col, _, _ in rows if name == "PRIMARY"] or None
        fks = []
        for _, group in itertools.groupby((r for r in rows if r[0] != "PRIMARY"), lambda r: r[0]):
            group = list(group)
            fks.append(
                ForeignKey(
                    columns=[r[1] for r in group],
                    referenced_table=group[0][2],
                    referenced_columns=[r[3] for r in group],
                )
            )
        return pk, fks

    def _referencing(self, location: str | None, table: str) -> list[str]:
        rows = self._execute(
            "SELECT DISTINCT TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
            "REFERENCED_TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME = %s AND TABLE_NAME <> %s "
            "ORDER BY 1",
            [self._schema_of(location), table, table],
        )
        return [r[0] for r in rows]

    def _row_estimate(self, location: str | None, table: str) -> int | None:
        rows = self._execute(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s",
            [self._schema_of(location), table],
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None


# Sessions that may hold what a delivery waits for: the delivery lock's holder, else those
# with an open transaction, else the other sessions on a database.
_BLOCKERS_SQL = """
SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.STATE, p.TIME
FROM information_schema.PROCESSLIST p
WHERE (p.ID = %s OR (%s IS NULL AND (p.DB = %s OR p.ID IN (
        SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX))))
  AND p.ID <> %s AND p.ID <> CONNECTION_ID()
ORDER BY p.ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX) DESC,
         p.TIME DESC LIMIT 5
"""


class MariaDBConnector(MySQLConnector):
    """The same connector under the name MariaDB users look for."""

    kind: ClassVar[str] = "mariadb"


def tsv_bytes(batch: pa.RecordBatch) -> memoryview:
    """One batch as LOAD DATA's tab-separated text: backslash escapes, ``\\N`` for NULL.

    Every column becomes escaped text and the rows are joined by Arrow kernels, so no Python
    code runs per row or per value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = [_tsv_field(column) for column in batch.columns]
    lines = pc.binary_join_element_wise(*fields, "\t")
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), "\n")
    offsets, data = lines.buffers()[1], lines.buffers()[2]
    starts = memoryview(offsets).cast("i")
    return memoryview(data)[starts[lines.offset] : starts[lines.offset + len(lines)]]


_ESCAPES = [("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")]


def _tsv_field(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    elif pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))  # the UTC wall time
    textual = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    column = column.cast(pa.string())
    if textual:
        for raw, escaped in _ESCAPES:
            column = pc.replace_substring(column, raw, escaped)
    return pc.fill_null(column, "\\N")
