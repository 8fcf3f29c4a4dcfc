"""Each delivered table has an Asset URI in the form Airflow's providers use."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from synthpipe.airflow.assets import table_uri


@pytest.mark.parametrize(
    ("connection", "location", "uri"),
    [
        ({"connector": "postgres", "options": {"host": "db", "database": "dev"}}, "synthetic",
         "postgres://db:5432/dev/synthetic/plots"),
        ({"connector": "postgres", "options": {"host": "db", "port": 6543, "database": "dev",
                                               "default_schema": "s"}}, None,
         "postgres://db:6543/dev/s/plots"),
        ({"connector": "mysql", "options": {"host": "db", "database": "dev"}}, None,
         "mysql://db:3306/dev/plots"),
        ({"connector": "oracle", "options": {"dsn": "ora:1522/PDB1", "user": "APP"}}, None,
         "oracle://ora:1522/PDB1/APP/plots"),
        ({"connector": "s3", "options": {"bucket": "lake", "prefix": "synthetic"}}, "v1",
         "s3://lake/synthetic/v1/plots"),
        ({"connector": "gcs", "options": {"bucket": "lake"}}, None, "gs://lake/plots"),
        ({"connector": "duckdb", "options": {"path": "/data/dev.duckdb"}}, None,
         "duckdb://localhost/data/dev.duckdb/main/plots"),
        ({"connector": "files", "options": {"path": "/data/out"}}, "v1",
         "file:///data/out/v1/plots.parquet"),
    ],
)  # fmt: skip
def test_table_uri_per_backend(connection, location, uri):
    assert table_uri(connection, location, "plots") == uri


def test_uris_are_left_unchanged_by_airflow_normalisation():
    uris = [
        table_uri({"connector": "duckdb", "options": {"path": "/d/x.duckdb"}}, "main", "t"),
        table_uri({"connector": "postgres", "options": {"host": "db"}}, None, "t"),
        table_uri({"connector": "files", "options": {"path": "/d"}}, None, "t"),
    ]
    assert [Asset(u).uri for u in uris] == uris


def test_uri_never_holds_credentials():
    options = {"host": "db", "user": "admin", "password": "hunter2", "database": "dev"}
    uri = table_uri({"connector": "postgres", "options": options}, None, "t")
    assert "hunter2" not in uri
    assert "admin" not in uri


def test_destinations_without_an_address_have_no_uri():
    assert table_uri({"connector": "duckdb", "options": {"path": ":memory:"}}, None, "t") is None
    assert table_uri({"connector": "oracle", "options": {"dsn": "TNS_ALIAS"}}, None, "t") is None
    assert table_uri({"connector": "mystery", "options": {}}, None, "t") is None
