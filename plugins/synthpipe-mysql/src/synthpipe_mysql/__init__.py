"""synthpipe-mysql: the MariaDB / MySQL connector, registered via the `synthpipe` entry point."""

from __future__ import annotations

from synthpipe import hookimpl
from synthpipe_mysql.connector import MariaDBConnector, MySQLConnector

__all__ = ["MariaDBConnector", "MySQLConnector"]


@hookimpl
def register_connectors(register) -> None:
    """Register the connector as kind ``mysql`` and, the same class, as ``mariadb``."""
    register(MySQLConnector)
    register(MariaDBConnector)
