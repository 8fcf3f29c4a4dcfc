"""Oracle as source and destination, through python-oracledb in thin mode.

Oracle commits DDL on its own, so an overwrite cannot be one transaction. The shared SQL base
creates the staging tables, loads them with array DML (``executemany`` fed Arrow data, no
Python per row) in one transaction and commits; then, table by table and parents first, the old
table is renamed aside, the staging table renamed into its place, and the old tables dropped.
The non-transactional window: between those two renames (milliseconds) the table does not
exist and a reader gets ORA-00942, and while the tables of a multi-table delivery are swapped
one after the other a reader may see a new parent next to an old child. A failed load leaves
the targets untouched and drops its staging tables.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from synthpipe.connectors.base import Batches
from synthpipe.connectors.sql import Dialect, SQLConfig, SQLConnector, Target
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

if TYPE_CHECKING:
    import oracledb
    import pyarrow as pa

log = logging.getLogger(__name__)


class OracleDialect(Dialect):
    """Oracle's types: NUMBER for integers, decimals and booleans, VARCHAR2 in characters."""

    name = "oracle"
    max_identifier = 128  # Oracle 12.2 and later
    placeholder = ":{n}"
    types = {
        LogicalType.INTEGER: "NUMBER(19)",
        LogicalType.FLOAT: "BINARY_DOUBLE",
        LogicalType.DECIMAL: "NUMBER({precision}, {scale})",
        LogicalType.BOOLEAN: "NUMBER(1)",
        LogicalType.CATEGORICAL: "VARCHAR2(255 CHAR)",
        LogicalType.STRING: "VARCHAR2(4000 CHAR)",
        LogicalType.TEXT: "CLOB",
        LogicalType.DATE: "DATE",
        LogicalType.DATETIME: "TIMESTAMP(6)",
        LogicalType.LAT_LONG: "VARCHAR2(64 CHAR)",
    }
    # An index key is limited to about 6,400 bytes, less than 4000 four-byte characters.
    key_string_type = "VARCHAR2(255 CHAR)"
    catalog_types = [
        (r"^(varchar2|nvarchar2|char|nchar|long$)", LogicalType.STRING),
        (r"^(clob|nclob)$", LogicalType.TEXT),
        (r"^date$", LogicalType.DATETIME),  # an Oracle DATE holds a time of day too
        (r"^timestamp", LogicalType.DATETIME),
        *Dialect.catalog_types,
    ]

    def catalog_column(
        self, name: str, data_type: str, precision: int | None, scale: int | None, nullable: bool
    ) -> Column:
        """A column from ALL_TAB_COLUMNS; NUMBER is told apart by its precision and scale."""
        if data_type == "NUMBER":
            if scale == 0 and precision == 1:
                return Column(name=name, type=LogicalType.BOOLEAN, nullable=nullable)
            if scale == 0:
                return Column(name=name, type=LogicalType.INTEGER, nullable=nullable)
            return Column(
                name=name,
                type=LogicalType.DECIMAL,
                nullable=nullable,
                precision=precision,
                scale=scale,
            )
        return Column(name=name, type=self.logical_type(data_type), nullable=nullable)


class OracleConfig(SQLConfig):
    """How to reach the database (thin mode: no Oracle Client libraries needed)."""

    # Easy Connect string ("host:1521/service") or a tnsnames alias (with config_dir).
    dsn: str
    user: str | None = None
    # Never shown: masked in reprs and scrubbed from error messages.
    password: SecretStr | None = None
    # Schema (owner) used when a call names none; defaults to the user's own schema.
    default_schema: str | None = None
    # Folder with tnsnames.ora, for DSNs given as aliases.
    config_dir: str | None = None
    tcp_connect_timeout: float = Field(default=10, gt=0)
    # Rows bound per round trip of array DML.
    array_size: int = Field(default=50_000, gt=0)


class OracleConnector(SQLConnector):
    """Reads and writes tables of an Oracle database; locations are schemas (owners)."""

    kind: ClassVar[str] = "oracle"
    Config = OracleConfig
    dialect = OracleDialect()
    transactional_ddl = False
    secret_fields = ("password",)

    label = "Oracle"

    # -- connections -----------------------------------------------------------------------
    def _healthy(self, con: oracledb.Connection) -> bool:
        return con.is_healthy()

    def _connect(self) -> oracledb.Connection:
        import oracledb

        c = self.config
        args = {
            "user": c.user,
            "dsn": c.dsn,
            "config_dir": c.config_dir,
            "tcp_connect_timeout": c.tcp_connect_timeout,
        }
        if c.password is not None:
            args["password"] = c.password.get_secret_value()
        try:
            return oracledb.connect(**{k: v for k, v in args.items() if v is not None})
        except oracledb.Error as exc:
            raise self._error(exc, "cannot connect to") from None

    def _where(self) -> str:
        return self.config.dsn  # masked by _error: a DSN may hold user/password@

    @property
    def default_location(self) -> str | None:
        """The schema used when a call names none: ``default_schema`` or the user's own."""
        c = self.config
        return c.default_schema or (c.user.upper() if c.user else None)

    # -- plumbing the base class uses ------------------------------------------------------
    def _execute(self, sql: str, params: Any = None) -> list[tuple]:
        import oracledb

        log.debug("oracle: %s", sql)
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params or [])
                return list(cursor.fetchall()) if cursor.description else []
        except oracledb.Error as exc:
            raise self._error(exc) from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        import oracledb

        with self._commit_or_roll_back((oracledb.Error,)):
            yield

    def _load(self, qualified: str, table: Table, data: Batches) -> int:
        """Array DML: each batch bound as Arrow data to one ``executemany``."""
        import oracledb

        batches = iter(data)
        first = next(batches, None)
        if first is None:
            return 0
        names = first.schema.names
        columns = ", ".join(self.dialect.quote(n) for n in names)
        binds = ", ".join(f":{i + 1}" for i in range(len(names)))
        sql = f"INSERT INTO {qualified} ({columns}) VALUES ({binds})"
        rows = 0
        try:
            with self.connection.cursor() as cursor:
                for batch in itertools.chain([first], batches):
                    cursor.executemany(
                        sql, bindable(batch.select(names)), batch_size=self.config.array_size
                    )
                    rows += batch.num_rows
        except oracledb.Error as exc:
            raise self._error(exc) from None
        return rows

    def _fetch(self, sql: str, batch_size: int) -> Iterator[list[tuple]]:
        """Rows of a query, fetched ``batch_size`` at a time on a connection of their own."""
        import oracledb

        con = self._connect()
        try:
            with con.cursor() as cursor:
                cursor.arraysize = batch_size
                cursor.outputtypehandler = _exact_types
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch_size):
                    yield rows
        except oracledb.Error as exc:
            raise self._error(exc) from None
        finally:
            con.close()

    def _ensure_location(self, location: str | None) -> bool:
        """Refuse, before anything is written, a schema that does not exist.

        An Oracle schema is a user: creating one needs CREATE USER, a password and quotas,
        which a delivery must not decide, so a missing one is reported with the fix instead.
        """
        location = location or self.default_location
        if location and not self._execute(
            "SELECT 1 FROM all_users WHERE username = :1", [location]
        ):
            raise ConnectorError(
                f"Oracle schema '{location}' does not exist, and synthpipe does not create "
                "Oracle schemas (each is a user); have it created (CREATE USER ... QUOTA ...) "
                "or deliver to an existing schema"
            )
        return False

    def _swap(self, targets: list[Target], location: str | None) -> None:
        """Rename old tables aside and staging tables in, parents first; then drop the old.

        Not atomic: see the module's note on the window between the two renames.
        """
        q, token = self.dialect, secrets.token_hex(3)
        old = []
        for target in targets:
            if target.stage is None:
                continue
            if target.existed:
                old.append(q.stage_name(target.final, token))
                self._rename(location, target.final, old[-1])
            self._rename(location, target.stage, target.final)
        for name in reversed(old):
            try:
                self._execute(f"DROP TABLE {q.qualify(location, name)} PURGE")
            except ConnectorError as exc:  # the delivery is complete; only cleanup failed
                log.warning("could not drop the replaced table %s: %s", name, exc)

    def _rename(self, location: str | None, name: str, new: str) -> None:
        q = self.dialect
        self._execute(f"ALTER TABLE {q.qualify(location, name)} RENAME TO {q.quote(new)}")

    def _drop_stages(self, targets: list[Target], location: str | None) -> None:
        """Drop the staging tables a failed delivery created (Oracle has no DROP IF EXISTS)."""
        with contextlib.suppress(Exception):
            present = set(self._all_tables(location))
            for target in reversed(targets):
                if target.stage in present:
                    self._execute(
                        f"DROP TABLE {self.dialect.qualify(location, target.stage)} PURGE"
                    )

    # -- catalog ---------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Schemas (users) that Oracle does not maintain itself, filtered by prefix."""
        rows = self._execute(
            "SELECT username FROM all_users WHERE oracle_maintained = 'N' ORDER BY username"
        )
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def _all_tables(self, location: str | None = None) -> list[str]:
        """Tables and views of a schema, by name."""
        rows = self._execute(
            "SELECT table_name FROM all_tables WHERE owner = :1 AND dropped = 'NO' "
            "UNION SELECT view_name FROM all_views WHERE owner = :1 ORDER BY 1",
            [location or self.default_location],
        )
        return [r[0] for r in rows]

    def _catalog_columns(self, location: str | None, table: str) -> list[Column]:
        rows = self._execute(
            "SELECT column_name, data_type, data_precision, data_scale, nullable "
            "FROM all_tab_columns WHERE owner = :1 AND table_name = :2 ORDER BY column_id",
            [location or self.default_location, table],
        )
        return [self.dialect.catalog_column(n, t, p, s, null == "Y") for n, t, p, s, null in rows]

    def _catalog_keys(
        self, location: str | None, table: str
    ) -> tuple[list[str] | None, list[ForeignKey]]:
        rows = self._execute(_KEYS_SQL, [location or self.default_location, table])
        pk = [col for kind, _, col, _, _ in rows if kind == "P"] or None
        fks = []
        for _, group in itertools.groupby((r for r in rows if r[0] == "R"), lambda r: r[1]):
            group = list(group)
            fks.append(
                ForeignKey(
                    columns=[r[2] for r in group],
                    referenced_table=group[0][3],
                    referenced_columns=[r[4] for r in group],
                )
            )
        return pk, fks

    def _referencing(self, location: str | None, table: str) -> list[str]:
        rows = self._execute(
            "SELECT DISTINCT c.table_name FROM all_constraints c JOIN all_constraints r "
            "ON r.owner = c.r_owner AND r.constraint_name = c.r_constraint_name "
            "WHERE c.constraint_type = 'R' AND r.owner = :1 AND r.table_name = :2 "
            "AND c.table_name <> :2 ORDER BY 1",
            [location or self.default_location, table],
        )
        return [r[0] for r in rows]

    def _row_estimate(self, location: str | None, table: str) -> int | None:
        rows = self._execute(
            "SELECT num_rows FROM all_tables WHERE owner = :1 AND table_name = :2",
            [location or self.default_location, table],
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None


def _exact_types(cursor, metadata):
    """Fetch decimals as Decimal rather than float, and CLOBs as strings rather than LOBs."""
    import decimal

    import oracledb

    if metadata.type_code is oracledb.DB_TYPE_NUMBER and (metadata.scale or 0) > 0:
        return cursor.var(decimal.Decimal, arraysize=cursor.arraysize)
    if metadata.type_code in (oracledb.DB_TYPE_CLOB, oracledb.DB_TYPE_NCLOB):
        return cursor.var(oracledb.DB_TYPE_LONG, arraysize=cursor.arraysize)
    return None


# Primary and foreign keys of one table, columns in key order, with what each fk references.
_KEYS_SQL = """
SELECT c.constraint_type, c.constraint_name, cc.column_name, r.table_name, rc.column_name
FROM all_constraints c
JOIN all_cons_columns cc ON cc.owner = c.owner AND cc.constraint_name = c.constraint_name
LEFT JOIN all_constraints r ON r.owner = c.r_owner AND r.constraint_name = c.r_constraint_name
LEFT JOIN all_cons_columns rc ON rc.owner = r.owner AND rc.constraint_name = r.constraint_name
     AND rc.position = cc.position
WHERE c.owner = :1 AND c.table_name = :2 AND c.constraint_type IN ('P', 'R')
ORDER BY c.constraint_type, c.constraint_name, cc.position
"""


def bindable(batch: pa.RecordBatch) -> pa.Table:
    """A batch as Arrow data python-oracledb binds directly: booleans as 0/1 for NUMBER(1),
    dictionaries decoded, zoned timestamps as UTC wall time."""
    import pyarrow as pa

    columns = []
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_boolean(column.type):
            column = column.cast(pa.int8())
        elif pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.schema.names)
