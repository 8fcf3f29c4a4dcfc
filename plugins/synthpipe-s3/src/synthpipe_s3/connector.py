"""Amazon S3 (or any S3-compatible store) as source and destination.

The delivery, layout and manifest come from ``synthpipe_objectstore`` over pyarrow's
``S3FileSystem`` (multipart uploads for large parts). This module holds what is S3's own: the
settings, credentials (resolved by boto3's standard chain, so profiles work too) and the
manifest's conditional write (``If-None-Match: *`` / ``If-Match: <ETag>``), which pyarrow does
not offer. boto3 and pyarrow are imported only when the store is first used.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import SecretStr
from synthpipe_objectstore import ObjectStoreConfig, ObjectStoreConnector

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
        self._session = self._client = None

    def _native_errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    @property
    def session(self):
        if self._session is None:
            import boto3

            c = self.config
            with self._errors():
                self._session = boto3.session.Session(
                    aws_access_key_id=c.aws_access_key_id,
                    aws_secret_access_key=_secret(c.aws_secret_access_key),
                    aws_session_token=_secret(c.aws_session_token),
                    region_name=c.region,
                    profile_name=None if c.aws_access_key_id else c.profile,
                )
        return self._session

    @property
    def client(self):
        """The boto3 S3 client (created on first use), for the manifest."""
        if self._client is None:
            with self._errors():
                self._client = self.session.client("s3", endpoint_url=self.config.endpoint_url)
        return self._client

    def _call(self, fn, *args, **kwargs) -> Any:
        """Run a client call; its errors become ConnectorErrors without any secret in them."""
        with self._errors():
            return fn(*args, **kwargs)

    def _filesystem(self):
        from pyarrow.fs import AwsStandardS3RetryStrategy, S3FileSystem

        c = self.config
        options: dict[str, Any] = {"region": c.region or self.session.region_name or "us-east-1"}
        found = self.session.get_credentials()
        if found is not None:
            frozen = found.get_frozen_credentials()
            options.update(access_key=frozen.access_key, secret_key=frozen.secret_key,
                           session_token=frozen.token)  # fmt: skip
        if c.endpoint_url:
            scheme, _, host = c.endpoint_url.rpartition("://")
            options.update(endpoint_override=host or c.endpoint_url, scheme=scheme or "https")
        return S3FileSystem(
            **options,
            connect_timeout=10,
            request_timeout=60,
            retry_strategy=AwsStandardS3RetryStrategy(max_attempts=3),
            check_directory_existence_before_creation=False,
        )

    def _read_versioned(self, key: str) -> tuple[bytes | None, Any]:
        client = self.client
        with self._errors():
            try:
                found = client.get_object(Bucket=self.config.bucket, Key=key)
            except client.exceptions.NoSuchKey:
                return None, None
            return found["Body"].read(), found["ETag"]

    def _write_if(self, key: str, data: bytes, version: Any) -> bool:
        from botocore.exceptions import ClientError

        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.config.bucket, Key=key, Body=data, **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
                "NoSuchKey",  # If-Match on a manifest another delivery's cleanup removed
            ):
                return False
            with self._errors():
                raise
        return True

    def _delete_objects(self, keys: list[str]) -> None:
        # DeleteObjects, 1000 keys a call; pyarrow's deletes would leave folder markers.
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            found = self.client.delete_objects(
                Bucket=self.config.bucket, Delete={"Objects": chunk, "Quiet": True}
            )
            failed = [f"{e['Key']} ({e.get('Code')})" for e in found.get("Errors", [])]
            if failed:
                raise ConnectorError(
                    f"S3 bucket '{self.config.bucket}' refused to delete: {', '.join(failed)}"
                )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
