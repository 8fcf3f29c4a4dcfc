"""Asset URIs for delivered tables, so downstream DAGs (dbt runs, tests) can be scheduled on them.

One URI per table, in the form Airflow's own providers use for the backend:
``postgres://host:5432/db/schema/table``, ``mysql://host:3306/db/table``,
``oracle://host:1521/service/schema/table`` (from an Easy Connect DSN), ``s3://bucket/prefix/table``,
``gs://bucket/prefix/table``, ``file:///folder/table.parquet`` and
``duckdb://localhost/path/to/file.duckdb/schema/table`` (a host, because Airflow drops an empty
one from URIs of schemes it does not know). A URI never holds a user name or password.
Nothing here imports Airflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

Rule = Callable[[dict, str | None, str], str | None]


def _join(*parts: object) -> str:
    return "/".join(str(p).strip("/") for p in parts if p not in (None, ""))


def _postgres(o: dict, location: str | None, table: str) -> str:
    database = o.get("database") or o.get("user") or "postgres"
    schema = location or o.get("default_schema") or "public"
    return f"postgres://{o.get('host') or 'localhost'}:{o.get('port') or 5432}/" + _join(
        database, schema, table
    )


def _mysql(o: dict, location: str | None, table: str) -> str:
    host = f"{o.get('host') or 'localhost'}:{o.get('port') or 3306}"
    return f"mysql://{host}/" + _join(location or o.get("database"), table)


def _oracle(o: dict, location: str | None, table: str) -> str | None:
    # Only an Easy Connect DSN ("host:port/service") names the server; aliases do not.
    found = re.fullmatch(r"(?://)?([\w.-]+)(?::(\d+))?/([\w.-]+)", o.get("dsn") or "")
    if not found:
        return None
    host, port, service = found.group(1), found.group(2) or 1521, found.group(3)
    schema = location or o.get("default_schema") or o.get("user")
    return f"oracle://{host}:{port}/" + _join(service, schema, table)


def _bucket(scheme: str) -> Rule:
    def rule(o: dict, location: str | None, table: str) -> str | None:
        if not o.get("bucket"):
            return None
        return f"{scheme}://" + _join(o["bucket"], o.get("prefix"), location, table)

    return rule


def _duckdb(o: dict, location: str | None, table: str) -> str | None:
    path = o.get("path") or ":memory:"
    if path == ":memory:":  # gone with the task: nothing downstream could read it
        return None
    return "duckdb://localhost/" + _join(
        Path(path).expanduser().resolve(), location or "main", table
    )


def _files(o: dict, location: str | None, table: str) -> str | None:
    if not o.get("path"):
        return None
    folder = Path(o["path"]).expanduser().resolve()
    return "file:///" + _join(folder, location, f"{table}.{o.get('format') or 'parquet'}")


RULES: dict[str, Rule] = {
    "postgres": _postgres,
    "mysql": _mysql,
    "mariadb": _mysql,
    "oracle": _oracle,
    "s3": _bucket("s3"),
    "gcs": _bucket("gs"),
    "duckdb": _duckdb,
    "files": _files,
}


def table_uri(connection: dict, location: str | None, table: str) -> str | None:
    """The asset URI of ``table`` written through ``connection``; None when it has no address.

    ``connection`` is ``{"connector": kind, "options": {...}}`` as a pipeline file spells it.
    """
    rule = RULES.get(connection["connector"])
    return rule(connection.get("options") or {}, location, table) if rule else None
