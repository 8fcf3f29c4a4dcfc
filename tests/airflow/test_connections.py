"""Airflow connections become synthpipe connections through declarative mappings."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from synthpipe import plugins
from synthpipe.airflow.connections import MAPPINGS, synthpipe_connection
from synthpipe.errors import ConfigError


def conn(conn_type: str, **fields) -> Connection:
    extra = fields.pop("extra", None)
    return Connection(
        conn_id="c", conn_type=conn_type, extra=json.dumps(extra) if extra else None, **fields
    )


def test_postgres_connection_maps_fields_to_connector_options():
    airflow = conn(
        "postgres",
        host="db",
        port=6543,
        login="u",
        password="pw",
        schema="sales",
        extra={"sslmode": "require"},
    )
    spec, _ = synthpipe_connection(airflow)
    assert spec == {
        "connector": "postgres",
        "options": {
            "host": "db",
            "port": 6543,
            "user": "u",
            "password": "pw",
            "database": "sales",
            "sslmode": "require",
        },
    }


def test_mapping_returns_the_secret_values_to_mask():
    airflow = conn("aws", login="AKIA", password="s3cr3t", extra={"aws_session_token": "tok"})
    spec, secrets = synthpipe_connection(airflow)
    assert sorted(secrets) == ["s3cr3t", "tok"]
    assert spec["options"]["aws_access_key_id"] == "AKIA"


def test_pipeline_options_win_over_the_connection():
    airflow = conn("postgres", host="db", schema="sales")
    spec, _ = synthpipe_connection(
        airflow, overrides={"airflow_conn_id": "c", "default_schema": "synthetic", "host": "h2"}
    )
    assert spec["options"] == {"host": "h2", "database": "sales", "default_schema": "synthetic"}


def test_connection_lacking_a_required_field_is_refused_naming_it():
    with pytest.raises(ConfigError, match="lacks host for connector 'postgres'"):
        synthpipe_connection(conn("postgres", schema="sales"))


def test_connection_type_must_match_the_connector_the_pipeline_names():
    with pytest.raises(ConfigError, match="serves connector 'postgres', not 'mysql'"):
        synthpipe_connection(conn("postgres", host="db"), connector="mysql")


def test_mysql_connection_can_serve_mariadb():
    spec, _ = synthpipe_connection(conn("mysql", host="db", login="root"), connector="mariadb")
    assert spec == {"connector": "mariadb", "options": {"host": "db", "user": "root"}}


def test_unknown_connection_type_is_refused_with_the_supported_ones():
    with pytest.raises(ConfigError, match=r"cannot map .*supported: .*postgres.*synthpipe"):
        synthpipe_connection(conn("http", host="x"))


def test_oracle_connection_becomes_an_easy_connect_dsn():
    airflow = conn(
        "oracle",
        host="ora",
        port=1522,
        login="app",
        schema="SALES",
        extra={"service_name": "FREEPDB1"},
    )
    spec, _ = synthpipe_connection(airflow)
    assert spec["options"] == {"dsn": "ora:1522/FREEPDB1", "user": "app", "default_schema": "SALES"}


def test_local_paths_come_from_fs_and_duckdb_connections():
    files, _ = synthpipe_connection(conn("fs", extra={"path": "/data/out"}))
    duck, _ = synthpipe_connection(conn("duckdb", host="/data/w.duckdb"))
    assert files == {"connector": "files", "options": {"path": "/data/out"}}
    assert duck == {"connector": "duckdb", "options": {"path": "/data/w.duckdb"}}


def test_generic_synthpipe_connection_carries_kind_and_options_in_extra():
    airflow = conn(
        "synthpipe", password="pw", extra={"connector": "postgres", "options": {"host": "db"}}
    )
    spec, secrets = synthpipe_connection(airflow)
    assert spec == {"connector": "postgres", "options": {"host": "db", "password": "pw"}}
    assert secrets == ["pw"]


def test_generic_synthpipe_connection_without_a_kind_is_refused():
    with pytest.raises(ConfigError, match="names no connector"):
        synthpipe_connection(conn("synthpipe", extra={"options": {}}))


@pytest.mark.parametrize("conn_type", sorted(MAPPINGS))
def test_every_mapped_option_is_a_setting_of_its_connector(conn_type):
    mapping = MAPPINGS[conn_type]
    for kind in mapping.connectors:
        registry = plugins.get_registry().connectors
        if kind not in registry:
            pytest.skip(f"connector '{kind}' is not installed (its plugin provides it)")
        fields = registry[kind].Config.model_fields
        assert set(mapping.options) <= set(fields), f"{kind}: {set(mapping.options) - set(fields)}"
        assert set(mapping.secret) <= set(mapping.options)


def test_secrets_of_an_airflow_postgres_connection_never_show_in_the_connectors_repr():
    # the password field and a password among the extra's connection parameters
    airflow = conn(
        "postgres",
        host="db",
        login="u",
        password="s3cr3t-field",
        schema="sales",
        extra={"params": {"password": "s3cr3t-extra", "application_name": "synthpipe"}},
    )
    spec, secrets = synthpipe_connection(airflow)
    assert "s3cr3t-field" in secrets
    connector = plugins.connector_class(spec["connector"])(**spec["options"])
    shown = repr(connector) + str(connector)
    assert "s3cr3t-field" not in shown and "s3cr3t-extra" not in shown
    assert "db" in shown  # the connector is still named by its host
