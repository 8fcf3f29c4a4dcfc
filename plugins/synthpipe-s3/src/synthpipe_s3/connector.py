"""Amazon S3 (or any S3-compatible store) as source and destination, through boto3.

The layout, staging, swap and manifest come from ``synthpipe_objectstore``; this module holds
the seven storage primitives. Uploads and copies go through boto3's managed transfers, so large
objects use multipart requests and a failed one is aborted rather than left visible. boto3 is
imported only when the client is first needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr
from synthpipe_objectstore import ObjectStoreConfig, ObjectStoreConnector

from synthpipe.connectors.sql import scrub
from synthpipe.errors import ConnectorError


class S3Config(ObjectStoreConfig):
    """Bucket, prefix and credentials; unset credentials use boto3's standard chain."""

    region: str | None = None
    # Another S3-compatible service (MinIO, Ceph, a local emulator): its URL.
    endpoint_url: str | None = None
    # Named profile of ~/.aws/config; ignored when keys are given.
    profile: str | None = None
    aws_access_key_id: str | None = None
    # Never shown: masked in reprs and scrubbed from error messages.
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None


class S3Connector(ObjectStoreConnector):
    """Tables as objects in one S3 bucket."""

    kind: ClassVar[str] = "s3"
    Config = S3Config
    scheme = "s3"
    secret_fields = ("aws_secret_access_key", "aws_session_token")

    def __init__(self, config: S3Config | dict | None = None, **options):
        super().__init__(config, **options)
        self._client = None

    @property
    def client(self):
        """The boto3 S3 client (created on first use)."""
        if self._client is None:
            self._client = self._call(self._make_client)
        return self._client

    def _make_client(self):
        import boto3

        c = self.config
        session = boto3.session.Session(
            aws_access_key_id=c.aws_access_key_id,
            aws_secret_access_key=_secret(c.aws_secret_access_key),
            aws_session_token=_secret(c.aws_session_token),
            region_name=c.region,
            profile_name=None if c.aws_access_key_id else c.profile,
        )
        return session.client("s3", endpoint_url=c.endpoint_url)

    def _call(self, fn, *args, **kwargs) -> Any:
        """Run a boto3 call; its errors become ConnectorErrors without any secret in them."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            c = self.config
            text = scrub(str(exc), [_secret(c.aws_secret_access_key), _secret(c.aws_session_token)])
            raise ConnectorError(f"S3 bucket '{c.bucket}': {text}") from None

    # -- primitives ------------------------------------------------------------------------
    def _list(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.config.bucket, Prefix=prefix
        )
        return self._call(lambda: [o["Key"] for page in pages for o in page.get("Contents", [])])

    def _upload(self, key: str, path: Path) -> None:
        self._call(self.client.upload_file, str(path), self.config.bucket, key)

    def _download(self, key: str, path: Path) -> None:
        self._call(self.client.download_file, self.config.bucket, key, str(path))

    def _copy(self, source: str, key: str) -> None:
        bucket = self.config.bucket
        self._call(self.client.copy, {"Bucket": bucket, "Key": source}, bucket, key)

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # the API's limit per request
            objects = [{"Key": k} for k in keys[start : start + 1000]]
            self._call(
                self.client.delete_objects,
                Bucket=self.config.bucket,
                Delete={"Objects": objects, "Quiet": True},
            )

    def _put_bytes(self, key: str, data: bytes) -> None:
        self._call(self.client.put_object, Bucket=self.config.bucket, Key=key, Body=data)

    def _get_bytes(self, key: str) -> bytes | None:
        client = self.client

        def get() -> bytes | None:
            try:
                return client.get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
            except client.exceptions.NoSuchKey:
                return None

        return self._call(get)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
