"""What synthpipe's object-store connectors share; registers no connector itself."""

from __future__ import annotations

from synthpipe_objectstore.store import (
    MANIFEST,
    ConcurrentDeliveryError,
    ObjectStoreConfig,
    ObjectStoreConnector,
)

__all__ = ["MANIFEST", "ConcurrentDeliveryError", "ObjectStoreConfig", "ObjectStoreConnector"]
