"""synthpipe-gcs: the Google Cloud Storage connector, registered via the `synthpipe` entry point."""

from __future__ import annotations

from synthpipe import hookimpl
from synthpipe_gcs.connector import GCSConnector

__all__ = ["GCSConnector"]


@hookimpl
def register_connectors(register) -> None:
    """Register the GCS connector."""
    register(GCSConnector)
