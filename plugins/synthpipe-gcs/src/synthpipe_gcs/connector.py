"""Google Cloud Storage as source and destination, through google-cloud-storage.

The layout, staging, swap and manifest come from ``synthpipe_objectstore``; this module holds
the seven storage primitives. Copies use the rewrite API, which copies objects of any size
server side. The client honours ``STORAGE_EMULATOR_HOST``; google-cloud-storage is imported only
when the client is first needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr
from synthpipe_objectstore import ObjectStoreConfig, ObjectStoreConnector

from synthpipe.connectors.sql import scrub
from synthpipe.errors import ConnectorError


class GCSConfig(ObjectStoreConfig):
    """Bucket, prefix and credentials; with none given, Application Default Credentials."""

    project: str | None = None
    # Path to a service-account key file.
    credentials_file: str | None = None
    # A service-account key as JSON text. Never shown: masked in reprs, scrubbed from errors.
    credentials_json: SecretStr | None = None
    # No credentials at all: public buckets, or an emulator.
    anonymous: bool = False
    # Another endpoint than storage.googleapis.com (an emulator, a private endpoint).
    endpoint: str | None = None


class GCSConnector(ObjectStoreConnector):
    """Tables as objects in one Google Cloud Storage bucket."""

    kind: ClassVar[str] = "gcs"
    Config = GCSConfig
    scheme = "gs"
    secret_fields = ("credentials_json",)

    def __init__(self, config: GCSConfig | dict | None = None, **options):
        super().__init__(config, **options)
        self._bucket = None

    @property
    def bucket(self):
        """The google-cloud-storage Bucket (its client created on first use)."""
        if self._bucket is None:
            client = self._call(self._make_client)
            self._bucket = client.bucket(self.config.bucket)
        return self._bucket

    def _make_client(self):
        from google.cloud import storage

        c = self.config
        options = {"api_endpoint": c.endpoint} if c.endpoint else None
        return storage.Client(project=c.project, credentials=self._credentials(),
                              client_options=options)  # fmt: skip

    def _credentials(self):
        c = self.config
        if c.anonymous:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        if c.credentials_json is not None:
            from google.oauth2 import service_account

            info = json.loads(c.credentials_json.get_secret_value())
            return service_account.Credentials.from_service_account_info(info)
        if c.credentials_file:
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_file(c.credentials_file)
        return None  # the client finds Application Default Credentials itself

    def _call(self, fn, *args, **kwargs) -> Any:
        """Run a client call; its errors become ConnectorErrors without any secret in them."""
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from requests.exceptions import RequestException

        try:
            return fn(*args, **kwargs)
        except (GoogleAPIError, GoogleAuthError, RequestException, ValueError) as exc:
            secret = self.config.credentials_json
            text = scrub(str(exc), [secret.get_secret_value() if secret else None])
            raise ConnectorError(f"GCS bucket '{self.config.bucket}': {text}") from None

    # -- primitives ------------------------------------------------------------------------
    def _list(self, prefix: str) -> list[str]:
        bucket = self.bucket
        return self._call(lambda: [b.name for b in bucket.client.list_blobs(bucket, prefix=prefix)])

    def _upload(self, key: str, path: Path) -> None:
        self._call(self.bucket.blob(key).upload_from_filename, str(path))

    def _download(self, key: str, path: Path) -> None:
        self._call(self.bucket.blob(key).download_to_filename, str(path))

    def _copy(self, source: str, key: str) -> None:
        target, origin = self.bucket.blob(key), self.bucket.blob(source)
        token, _, _ = self._call(target.rewrite, origin)
        while token is not None:  # large objects are copied in several calls
            token, _, _ = self._call(target.rewrite, origin, token=token)

    def _delete(self, keys: list[str]) -> None:
        blobs = [self.bucket.blob(k) for k in keys]
        self._call(self.bucket.delete_blobs, blobs, on_error=lambda blob: None)

    def _put_bytes(self, key: str, data: bytes) -> None:
        self._call(self.bucket.blob(key).upload_from_string, data,
                   content_type="application/json")  # fmt: skip

    def _get_bytes(self, key: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        blob = self.bucket.blob(key)

        def get() -> bytes | None:
            try:
                return blob.download_as_bytes()
            except NotFound:
                return None

        return self._call(get)
