"""SynthpipeHook opens synthpipe connectors from Airflow connections and masks their secrets."""

from __future__ import annotations

import json

import pytest
from airflow.sdk._shared.secrets_masker import redact

from synthpipe.airflow.hook import SynthpipeHook, resolve
from synthpipe.errors import ConfigError
from synthpipe.pipeline import Connection


@pytest.fixture
def airflow_connection(monkeypatch):
    """Define an Airflow connection the way deployments do: an AIRFLOW_CONN_* variable."""

    def define(conn_id: str, **fields) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    return define


def test_hook_opens_the_connector_of_an_airflow_connection(airflow_connection, tmp_path):
    airflow_connection("warehouse", conn_type="duckdb", host=str(tmp_path / "w.duckdb"))
    with SynthpipeHook("warehouse").get_conn() as connector:
        assert connector.kind == "duckdb"
        assert connector.tables("main") == []


def test_hook_masks_the_password_of_the_connection(airflow_connection):
    airflow_connection("pg_mask", conn_type="postgres", host="db", password="Tr0ub4dor&3")
    connection = SynthpipeHook("pg_mask").connection()
    assert connection.options["password"] == "Tr0ub4dor&3"
    assert "Tr0ub4dor&3" not in redact("connecting with Tr0ub4dor&3")


def test_hook_masks_secrets_kept_in_the_extra(airflow_connection):
    airflow_connection("aws_mask", conn_type="aws", extra={"aws_session_token": "SessTok123456"})
    SynthpipeHook("aws_mask").connection()
    assert "SessTok123456" not in redact("token SessTok123456")


def test_hook_masks_secret_options_of_a_generic_connection(airflow_connection):
    options = {"bucket": "b", "aws_secret_access_key": "GenericS3cret42"}
    airflow_connection(
        "generic", conn_type="synthpipe", extra={"connector": "s3", "options": options}
    )
    SynthpipeHook("generic").connection()
    assert "GenericS3cret42" not in redact("key GenericS3cret42")


def test_resolve_replaces_airflow_conn_id_and_keeps_the_pipeline_options(airflow_connection):
    airflow_connection("pg_res", conn_type="postgres", host="db", login="u", schema="dev")
    pipeline_side = Connection(
        connector="postgres", options={"airflow_conn_id": "pg_res", "default_schema": "synthetic"}
    )
    resolved = resolve(pipeline_side)
    assert resolved.connector == "postgres"
    assert resolved.options == {
        "host": "db", "user": "u", "database": "dev", "default_schema": "synthetic"
    }  # fmt: skip


def test_resolve_masks_a_password_written_in_the_pipeline_file():
    resolve(Connection(connector="postgres", options={"host": "db", "password": "InFile9876"}))
    assert "InFile9876" not in redact("password InFile9876")


def test_resolve_refuses_a_connection_of_another_type(airflow_connection):
    airflow_connection("pg_type", conn_type="postgres", host="db")
    with pytest.raises(ConfigError, match="serves connector 'postgres', not 'duckdb'"):
        resolve(Connection(connector="duckdb", options={"airflow_conn_id": "pg_type"}))


def test_test_connection_reports_failure_without_raising(airflow_connection):
    airflow_connection("broken", conn_type="fs", extra={"path": "/nonexistent/folder"})
    ok, message = SynthpipeHook("broken").test_connection()
    assert ok is False
    assert message
