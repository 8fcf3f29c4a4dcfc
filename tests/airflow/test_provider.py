"""Airflow discovers synthpipe as a provider (hook, connection type) and loads its UI plugin."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import airflow
import jsonschema

from synthpipe.airflow.provider import get_provider_info


def test_provider_info_follows_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_provider_package_name_is_the_distribution_name():
    assert metadata.distribution(get_provider_info()["package-name"]).name == "synthpipe"


def test_airflow_discovers_the_provider_and_its_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers["synthpipe"].version == metadata.version("synthpipe")
    hook = manager.hooks["synthpipe"]
    assert hook.hook_class_name == "synthpipe.airflow.hook.SynthpipeHook"
    assert hook.connection_id_attribute_name == "synthpipe_conn_id"


def test_airflow_loads_the_ui_plugin_from_its_entry_point():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert "synthpipe" in [p.name for p in plugins]
    problems = [e for name, e in errors.items() if "synthpipe" in name]
    # "already registered" means two installed metadata folders declare the entry point, e.g.
    # a stale src/synthpipe.egg-info beside the editable install's dist-info: delete it.
    assert not problems
