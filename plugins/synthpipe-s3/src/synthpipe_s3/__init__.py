"""synthpipe-s3: the S3 connector, registered via the `synthpipe` entry point."""

from __future__ import annotations

from synthpipe import hookimpl
from synthpipe_s3.connector import S3Connector

__all__ = ["S3Connector"]


@hookimpl
def register_connectors(register) -> None:
    """Register the S3 connector."""
    register(S3Connector)
