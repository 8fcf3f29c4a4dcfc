"""Google Cloud Storage as source and destination.

The delivery, layout and manifest come from ``synthpipe_objectstore`` over pyarrow's
``GcsFileSystem``. This module holds what is GCS's own: the settings, credentials (a service
account's key is turned into an access token by google-auth; without one, Application Default
Credentials) and the manifest's conditional write (``ifGenerationMatch``), through
google-cloud-storage. ``STORAGE_EMULATOR_HOST`` is honoured. Libraries are imported only when
the store is first used.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, ClassVar

from pydantic import SecretStr
from synthpipe_objectstore import ObjectStoreConfig, ObjectStoreConnector

from synthpipe.errors import ConnectorError

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


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
        self._bucket = self._creds = None

    def _native_errors(self) -> tuple[type[BaseException], ...]:
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from requests.exceptions import RequestException

        return (GoogleAPIError, GoogleAuthError, RequestException, ValueError)

    def _endpoint(self) -> str | None:
        return self.config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")

    def _credentials(self):
        """google-auth credentials from the settings; None for Application Default ones."""
        c = self.config
        if self._creds is None and not c.anonymous:
            from google.oauth2 import service_account

            with self._errors():
                if c.credentials_json is not None:
                    info = json.loads(c.credentials_json.get_secret_value())
                    self._creds = service_account.Credentials.from_service_account_info(
                        info, scopes=[SCOPE]
                    )
                elif c.credentials_file:
                    self._creds = service_account.Credentials.from_service_account_file(
                        c.credentials_file, scopes=[SCOPE]
                    )
        return self._creds

    @property
    def bucket(self):
        """The google-cloud-storage Bucket (its client created on first use), for the manifest."""
        if self._bucket is None:
            from google.cloud import storage

            c = self.config
            options = {"api_endpoint": c.endpoint} if c.endpoint else None
            with self._errors():
                if c.anonymous:
                    from google.auth.credentials import AnonymousCredentials

                    creds = AnonymousCredentials()
                else:
                    creds = self._credentials()
                client = storage.Client(project=c.project, credentials=creds,
                                        client_options=options)  # fmt: skip
                self._bucket = client.bucket(c.bucket)
        return self._bucket

    def _filesystem(self):
        import datetime as dt

        from pyarrow.fs import GcsFileSystem

        c = self.config
        options: dict[str, Any] = {"project_id": c.project}
        endpoint = self._endpoint()
        if endpoint:
            scheme, _, host = endpoint.rpartition("://")
            options.update(endpoint_override=host or endpoint, scheme=scheme or "https")
        creds = self._credentials()
        if c.anonymous:
            options["anonymous"] = True
        elif creds is not None:
            from google.auth.transport.requests import Request

            with self._errors():
                creds.refresh(Request())
            options.update(access_token=creds.token,
                           credential_token_expiration=creds.expiry)  # fmt: skip
        return GcsFileSystem(**options, retry_time_limit=dt.timedelta(seconds=15))

    def _read_versioned(self, key: str) -> tuple[bytes | None, Any]:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        # The content must be the generation's: a writer between the two calls means again.
        for _ in range(5):
            with self._errors():
                blob = self.bucket.get_blob(key)
                if blob is None:
                    return None, None
                # Taken first: the download resets it from the response's headers.
                generation = blob.generation
                try:
                    data = blob.download_as_bytes(if_generation_match=generation)
                except (NotFound, PreconditionFailed):
                    continue
                return data, generation
        raise ConnectorError(
            f"GCS bucket '{self.config.bucket}': {key} kept changing while being read; retry"
        )

    def _write_if(self, key: str, data: bytes, version: Any) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self.bucket.blob(key).upload_from_string(
                data, content_type="application/json", if_generation_match=version or 0
            )
        except (PreconditionFailed, NotFound):
            return False
        except self._native_errors():
            with self._errors():
                raise
        return True

    def _delete_objects(self, keys: list[str]) -> None:
        from google.api_core.exceptions import NotFound

        for key in keys:
            with contextlib.suppress(NotFound):
                self.bucket.delete_blob(key)
