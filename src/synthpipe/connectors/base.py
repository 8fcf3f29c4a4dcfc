"""The connector interface: a source to read real tables from and a destination to write to.

A connector kind is a class with a ``kind`` name, a pydantic ``Config`` (``extra="forbid"``)
describing its connection settings, and the methods below. Default methods raise
``NotImplementedError`` naming the connector, so a read-only or write-only plugin says plainly
what it cannot do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from synthpipe.errors import ConnectorError, TargetExistsError

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.schema import Table


# Seconds a delivery waits for a lock (another delivery, a reader) before giving up.
DEFAULT_LOCK_TIMEOUT = 30.0


class LockTimeoutError(ConnectorError):
    """A delivery gave up waiting for a lock; the message names the blocking session(s)."""


class WriteMode(StrEnum):
    """What to do when a target table already exists."""

    OVERWRITE = "overwrite"  # replace it; readers see the old or the new table, never a mix
    APPEND = "append"  # insert into it; columns are matched by name and type-checked first
    FAIL = "fail"  # refuse, before anything is written, listing every existing target


class ConnectorConfig(BaseModel):
    """Base of connector settings; secrets are ``SecretStr`` so they never show in reprs."""

    model_config = ConfigDict(extra="forbid")


Batches = Iterable["pa.RecordBatch"]


class Connector:
    """Base class of every connector; subclasses set ``kind`` and ``Config``."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    # Fields of Config that hold secrets; masked wherever the config is shown.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ConnectorConfig | dict | None = None, **options):
        if config is None or isinstance(config, dict):
            config = self.Config(**{**(config or {}), **options})
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe(self.config)})"

    def secret_values(self) -> list[str]:
        """Every secret the settings hold (see ``secrets_of``), to scrub from messages."""
        return secrets_of(self.config)

    def mask(self, text: str) -> str:
        """``text`` with every secret of the settings, and any credential in a URL or DSN,
        replaced by ``***``: the one policy for errors, logs and reprs."""
        return mask_text(text, self.secret_values())

    def _unsupported(self, what: str):
        return NotImplementedError(f"connector '{self.kind}' does not support {what}")

    # -- source ---------------------------------------------------------------------------
    def locations(self, prefix: str = "") -> list[str]:
        """Locations (schemas, folders, prefixes) below ``prefix`` that hold tables."""
        raise self._unsupported("listing locations")

    def tables(self, location: str | None = None) -> list[str]:
        """Names of the tables at a location."""
        raise self._unsupported("listing tables")

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        """Tables at a location with columns, types, nullability, keys and row counts.

        Reads only the catalog (or file metadata), never the data itself.
        """
        raise self._unsupported("schema discovery")

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows as Arrow record batches of at most ``batch_size`` rows."""
        raise self._unsupported("reading")

    # -- destination ------------------------------------------------------------------------
    def exists(self, table: str, location: str | None = None) -> bool:
        """Whether the target table (or object) exists."""
        raise self._unsupported("checking targets")

    def write(
        self,
        table: Table,
        data: Batches,
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
    ) -> int:
        """Write one table's batches with the given mode; returns rows written. By default one
        ``write_tables`` call; a connector overrides one of the two."""
        if type(self).write_tables is Connector.write_tables:
            raise self._unsupported("writing")
        return self.write_tables([(table, data)], location, mode)[table.name]

    def write_tables(
        self,
        tables: list[tuple[Table, Batches]],
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
        *,
        create_constraints: bool = False,
        dataset_id: str | None = None,
    ) -> dict[str, int]:
        """Write several tables, parents first (the caller orders them).

        Mode ``fail`` checks every target before writing any, so nothing is written when one
        exists. ``create_constraints`` asks backends with constraints to create primary and
        foreign keys on new tables. ``dataset_id`` names the dataset delivered, so a connector
        can make a repeated append of it a no-op (the SQL connectors record it in
        ``_synthpipe_deliveries``); this default ignores it. Connectors with multi-table
        transactions override this.
        """
        mode = WriteMode(mode)
        if mode is WriteMode.FAIL:
            existing = [t.name for t, _ in tables if self.exists(t.name, location)]
            if existing:
                raise TargetExistsError(existing)
        return {t.name: self.write(t, data, location, mode) for t, data in tables}

    def close(self) -> None:
        """Release connections; the connector may not be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# Setting or parameter names whose values are secrets wherever they appear (dict keys too).
SECRET_NAME = re.compile(r"pass|secret|token|credential|private|api_?key", re.IGNORECASE)
# A password inside a URL (scheme://user:PW@host) or an Oracle-style DSN (user/PW@host).
_URL_CREDENTIAL = re.compile(r"(://[^/\s:@]*:)([^@\s]+)(@)")
_DSN_CREDENTIAL = re.compile(r"(?<![^\s'\"(=])([^/\s@:'\"]+/)([^@\s'\"]+)(@)")


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, str):
        return "***" if value and SECRET_NAME.search(name) else mask_text(value, [])
    return value


def describe(config: BaseModel) -> str:
    """A one-line view of a config with every secret masked: ``SecretStr`` fields, values under
    secret-looking names (also inside dicts such as ``params``), credentials in URLs or DSNs."""
    return ", ".join(f"{name}={_masked(name, value)!r}" for name, value in config)


def secrets_of(config: BaseModel) -> list[str]:
    """The secret values a config holds: ``SecretStr`` fields, values under secret-looking names
    (also inside dict fields) and passwords embedded in URLs or DSNs."""
    found: list[str] = []

    def visit(name: str, value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(str(key), item)
        elif isinstance(value, str):
            if SECRET_NAME.search(name):
                found.append(value)
            for pattern in (_URL_CREDENTIAL, _DSN_CREDENTIAL):
                found.extend(m[2] for m in pattern.finditer(value))

    for name, value in config:
        visit(name, value)
    return [s for s in found if s]


def mask_text(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each secret, and any password inside a URL or DSN, replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIAL.sub(r"\1***\3", text)
    return _DSN_CREDENTIAL.sub(r"\1***\3", text)
