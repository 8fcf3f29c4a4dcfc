"""The S3 and GCS plugins: registration, where credentials come from, and secrets.

The layout and delivery contract they share is in test_object_stores.py.
"""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pytest

from synthpipe import plugins
from synthpipe.errors import ConnectorError
from synthpipe.schema import Table

pytestmark = pytest.mark.services

SECRET = "s3cr3t-St0reKey"


@pytest.mark.parametrize(("kind", "dist"), [("s3", "synthpipe-s3"), ("gcs", "synthpipe-gcs")])
def test_object_stores_are_registered_through_their_entry_points(kind, dist):
    info = next(p for p in plugins.get_registry().plugins if kind in p.connectors)
    assert info.origin.startswith(f"{dist} ")


def test_importing_the_s3_plugin_leaves_boto3_unloaded():
    import subprocess
    import sys

    code = (
        "import sys, synthpipe_s3, synthpipe_gcs; print('boto3' in sys.modules, "
        "'google.cloud.storage' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_s3_credentials_come_from_the_standard_environment(
    moto_endpoint, s3_bucket, monkeypatch, tmp_path
):
    from synthpipe_s3 import S3Connector

    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bare = S3Connector(bucket=s3_bucket, endpoint_url=moto_endpoint, region="us-east-1")
    with pytest.raises(ConnectorError, match="credentials"):
        bare.tables()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    fresh = S3Connector(bucket=s3_bucket, endpoint_url=moto_endpoint, region="us-east-1")
    assert fresh.tables() == []


def test_the_s3_secret_never_shows_in_reprs_errors_or_logs(moto_endpoint, caplog):
    from synthpipe_s3 import S3Connector

    connector = S3Connector(
        bucket="no-such-bucket",
        endpoint_url=moto_endpoint,
        region="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=SECRET,
        aws_session_token=SECRET + "t",
    )
    assert SECRET not in repr(connector)
    with caplog.at_level(logging.DEBUG, logger="synthpipe"), pytest.raises(ConnectorError) as e:
        connector.write(Table(name="t"), pa.table({"a": [1]}).to_batches())
    assert "NoSuchBucket" in str(e.value)
    assert SECRET not in str(e.value) and SECRET not in caplog.text
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_s3_driver_messages_are_scrubbed_of_secrets(s3_store):
    from botocore.exceptions import ClientError

    def fail():
        raise ClientError({"Error": {"Code": "X", "Message": f"echo {SECRET}"}}, "Op")

    with pytest.raises(ConnectorError) as raised:
        s3_store._call(fail)
    assert SECRET not in str(raised.value)


def test_the_gcs_key_never_shows_in_reprs_or_errors(gcs_bucket):
    from synthpipe_gcs import GCSConnector

    key = json.dumps({"type": "service_account", "private_key": SECRET})
    connector = GCSConnector(bucket=gcs_bucket, credentials_json=key)
    assert SECRET not in repr(connector)
    with pytest.raises(ConnectorError) as raised:
        connector.tables()
    assert SECRET not in str(raised.value)


def test_gcs_finds_the_emulator_through_the_standard_variable(gcs_bucket):
    from synthpipe_gcs import GCSConnector

    connector = GCSConnector(bucket=gcs_bucket, project="test", anonymous=True)
    connector.write(Table(name="t"), pa.table({"a": [1]}).to_batches())
    assert connector.tables() == ["t"]
    assert [b.to_pylist() for b in connector.read("t")] == [[{"a": 1}]]


def test_s3_connection_dropped_midway_keeps_the_old_objects_and_a_retry_succeeds(s3_bucket):
    """The S3 endpoint goes away while parts upload (moto's state outlives its HTTP server,
    so a new server on the same port sees the same bucket). The failed delivery cannot remove
    its objects then; the retry does (abandoned_after_s=0)."""
    import socket

    from moto.server import ThreadedMotoServer
    from synthpipe_s3 import S3Connector

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {
        "bucket": s3_bucket,
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": SECRET,
        "partition_rows": 100,
    }
    store = S3Connector(**settings)
    table = Table(name="t")
    store.write(table, pa.table({"a": list(range(250))}).to_batches(), "ds")
    before = {k: store._get_bytes(k) for k in store._list("ds/")}

    def batches():
        yield pa.record_batch({"a": list(range(150))})  # one part is uploaded, then:
        server.stop()
        yield pa.record_batch({"a": list(range(150))})

    try:
        with pytest.raises(ConnectorError, match="S3"):
            S3Connector(**settings).write(table, batches(), "ds", mode="overwrite")
    finally:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        after = {k: store._get_bytes(k) for k in store._list("ds/")}
        assert {k: v for k, v in after.items() if k in before} == before
        assert [r["a"] for b in store.read("t", "ds") for r in b.to_pylist()] == list(range(250))
        leftover = sorted(set(after) - set(before))
        assert [k.rsplit("/", 1)[1] for k in leftover] == ["part-00000.parquet"]
        retry = S3Connector(**settings, abandoned_after_s=0)
        assert retry.write(table, pa.table({"a": [1]}).to_batches(), "ds", mode="overwrite") == 1
        objects = json.loads(store._get_bytes("ds/_manifest.json"))["tables"]["t"]["objects"]
        listed = store.client.list_objects_v2(Bucket=s3_bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == [
            "ds/_manifest.json",
            *(f"ds/{k}" for k in objects),
        ]
    finally:
        server.stop()
