"""synthpipe-oracle: the Oracle connector, registered via the `synthpipe` entry point."""

from __future__ import annotations

from synthpipe import hookimpl
from synthpipe_oracle.connector import OracleConnector

__all__ = ["OracleConnector"]


@hookimpl
def register_connectors(register) -> None:
    """Register the Oracle connector."""
    register(OracleConnector)
