"""Declarative mappings from Airflow connections to synthpipe connections.

Teams already keep their credentials in Airflow connections (postgres, mysql, oracle, aws,
google_cloud_platform, ...). Each ``Mapping`` says which synthpipe connector serves one Airflow
connection type and where each connector option comes from: an Airflow field (``host``,
``port``, ``login``, ``password``, ``schema``) or a key of the connection's extra
(``extra.region_name``). Adding a backend is one entry in ``MAPPINGS``. Nothing here imports
Airflow: a mapping reads any object with the attributes of an Airflow ``Connection``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from synthpipe.errors import ConfigError

# The option a pipeline file uses to name an Airflow connection instead of spelling out settings.
CONN_ID_OPTION = "airflow_conn_id"

# Where an option's value comes from: a field, "extra.<key>", several tried in turn, or a
# function of the connection (for values assembled from several fields, e.g. an Oracle DSN).
Source = str | tuple[str, ...] | Callable[["AirflowConnection"], Any]


class AirflowConnection(Protocol):
    """The attributes of ``airflow.sdk.Connection`` a mapping reads."""

    conn_id: str
    conn_type: str
    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None

    @property
    def extra_dejson(self) -> dict: ...


@dataclass(frozen=True)
class Mapping:
    """How one Airflow connection type becomes the options of a synthpipe connector."""

    # Airflow connection type, as in the connection's "Connection Type".
    conn_type: str
    # synthpipe connector kinds this type can serve; the first is the default.
    connectors: tuple[str, ...]
    # Connector option -> its source (see Source).
    options: dict[str, Source] = field(default_factory=dict)
    # Connector options that must have a value, else the connection is refused.
    required: tuple[str, ...] = ()
    # Connector options holding secrets: masked in Airflow's logs, never logged by synthpipe.
    secret: tuple[str, ...] = ()

    def read(self, conn: AirflowConnection) -> dict[str, Any]:
        """The connector options found on the connection (unset values left out)."""
        found = {}
        for option, source in self.options.items():
            value = source(conn) if callable(source) else _first(conn, source)
            if value is not None and value != "":
                found[option] = value
        return found

    def missing(self, options: dict[str, Any]) -> list[str]:
        return [name for name in self.required if options.get(name) in (None, "")]


def _first(conn: AirflowConnection, sources: str | tuple[str, ...]) -> Any:
    extra = conn.extra_dejson or {}
    for source in (sources,) if isinstance(sources, str) else sources:
        if source.startswith("extra."):
            value = extra.get(source.removeprefix("extra."))
        else:
            value = getattr(conn, source, None)
        if value is not None and value != "":
            return value
    return None


_SQL = {"host": "host", "port": "port", "user": "login", "password": "password"}


def _oracle_dsn(conn: AirflowConnection) -> str | None:
    """extra.dsn, else an Easy Connect string (service name) or a descriptor (SID), as
    Airflow's Oracle provider builds them from host, port and extra."""
    extra = conn.extra_dejson or {}
    if extra.get("dsn"):
        return extra["dsn"]
    if not conn.host:
        return None
    port = conn.port or 1521
    if extra.get("sid") and not extra.get("service_name"):
        return (
            f"(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST={conn.host})(PORT={port}))"
            f"(CONNECT_DATA=(SID={extra['sid']})))"
        )
    return f"{conn.host}:{port}/{extra.get('service_name') or ''}".rstrip("/")


MAPPINGS: dict[str, Mapping] = {
    m.conn_type: m
    for m in (
        Mapping(
            "postgres",
            ("postgres",),
            {
                **_SQL,
                "database": ("schema", "extra.database"),
                "sslmode": "extra.sslmode",
                "connect_timeout": "extra.connect_timeout",
            },
            required=("host",),
            secret=("password",),
        ),
        Mapping(
            "mysql",
            ("mysql", "mariadb"),
            {
                **_SQL,
                "database": "schema",
                "charset": "extra.charset",
                "connect_timeout": "extra.connect_timeout",
            },
            required=("host",),
            secret=("password",),
        ),
        Mapping(
            "oracle",
            ("oracle",),
            {
                "dsn": _oracle_dsn,
                "user": "login",
                "password": "password",
                # Like Airflow's OracleHook: the connection's schema is the session's schema.
                "default_schema": "schema",
            },
            required=("dsn",),
            secret=("password",),
        ),
        Mapping(
            "aws",
            ("s3",),
            {
                "aws_access_key_id": ("login", "extra.aws_access_key_id"),
                "aws_secret_access_key": ("password", "extra.aws_secret_access_key"),
                "aws_session_token": "extra.aws_session_token",
                "region": "extra.region_name",
                "endpoint_url": ("extra.endpoint_url", "host"),
                "profile": "extra.profile_name",
            },
            secret=("aws_secret_access_key", "aws_session_token"),
        ),
        Mapping(
            "google_cloud_platform",
            ("gcs",),
            {
                "project": ("extra.project", "extra.extra__google_cloud_platform__project"),
                "credentials_file": (
                    "extra.key_path",
                    "extra.extra__google_cloud_platform__key_path",
                ),
                "credentials_json": (
                    "extra.keyfile_dict",
                    "extra.extra__google_cloud_platform__keyfile_dict",
                ),
            },
            secret=("credentials_json",),
        ),
        # DuckDB has no Airflow connection type of its own; this follows the community
        # DuckDB provider, which keeps the database file in `host`.
        Mapping(
            "duckdb",
            ("duckdb",),
            {"path": ("host", "extra.path", "schema"), "read_only": "extra.read_only"},
            required=("path",),
        ),
        # Airflow's "File (path)" connection: the folder in extra.path.
        Mapping(
            "fs",
            ("files",),
            {"path": ("extra.path", "host"), "format": "extra.format"},
            required=("path",),
        ),
    )
}


def mapping_for(conn: AirflowConnection, connector: str | None = None) -> Mapping:
    """The mapping for a connection's type, checked against the connector a pipeline names."""
    mapping = MAPPINGS.get(conn.conn_type)
    if mapping is None:
        known = ", ".join([*sorted(MAPPINGS), "synthpipe"])
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' has type '{conn.conn_type}', which synthpipe "
            f"cannot map (supported: {known}); use a connection of type 'synthpipe' whose extra "
            'is {"connector": KIND, "options": {...}}'
        )
    if connector is not None and connector not in mapping.connectors:
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' (type '{conn.conn_type}') serves connector "
            f"{' or '.join(repr(c) for c in mapping.connectors)}, not '{connector}'; "
            "name a connection of the matching type"
        )
    return mapping


def synthpipe_connection(
    conn: AirflowConnection, connector: str | None = None, overrides: dict | None = None
) -> tuple[dict, list[str]]:
    """``({"connector": kind, "options": {...}}, secret values)`` for an Airflow connection.

    ``overrides`` (options written in a pipeline file beside ``airflow_conn_id``) win over what
    the connection says. The secret values are returned so the caller can mask them.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if k != CONN_ID_OPTION}
    if conn.conn_type == "synthpipe":
        kind, options, secrets = _custom(conn, connector)
        return {"connector": kind, "options": {**options, **overrides}}, secrets
    mapping = mapping_for(conn, connector)
    kind = connector or mapping.connectors[0]
    options = {**mapping.read(conn), **overrides}
    missing = mapping.missing(options)
    if missing:
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' lacks {', '.join(missing)} for connector "
            f"'{kind}'; set it on the connection or in the pipeline's options"
        )
    secrets = [str(options[name]) for name in mapping.secret if name in options]
    return {"connector": kind, "options": options}, secrets


def _custom(conn: AirflowConnection, connector: str | None) -> tuple[str, dict, list[str]]:
    """A 'synthpipe' connection: the extra holds the connector kind and its options."""
    extra = conn.extra_dejson or {}
    kind = extra.get("connector") or connector
    if not kind:
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' (type 'synthpipe') names no connector; "
            'set its extra to {"connector": KIND, "options": {...}}'
        )
    if connector is not None and kind != connector:
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' is for connector '{kind}', "
            f"but the pipeline asks for '{connector}'"
        )
    options = dict(extra.get("options") or {})
    secret = []
    if conn.password:
        # The connection's password field keeps the secret out of the (visible) extra.
        options.setdefault("password", conn.password)
        secret.append(conn.password)
    return kind, options, secret
