"""synthpipe-postgres: the PostgreSQL connector, registered through the `synthpipe` entry point."""

from __future__ import annotations

from synthpipe import hookimpl
from synthpipe_postgres.connector import PostgresConnector

__all__ = ["PostgresConnector"]


@hookimpl
def register_connectors(register) -> None:
    """Register the PostgreSQL connector."""
    register(PostgresConnector)
