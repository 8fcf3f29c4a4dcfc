"""`sources.yml` for a delivered synthetic dataset, and dbt testing the delivered tables with it."""

from __future__ import annotations

import pytest

import synthpipe
from synthpipe.dbt import run_dbt, sources_yml, write_sources_yml
from synthpipe.schema import RARE_TOKEN

PROJECT_YML = """name: delivered_check
version: "1.0.0"
config-version: 2
profile: delivered_check
flags:
  send_anonymous_usage_stats: false
"""

PROFILES_YML = """delivered_check:
  target: dev
  outputs:
    dev: {{type: duckdb, path: "{path}", threads: 1}}
"""


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory, demo_pipeline):
    """The demo pipeline's dataset (value protection with the _RARE_ token), in its own store."""
    home = tmp_path_factory.mktemp("sources-home")
    generator = synthpipe.train(demo_pipeline, generator="independent", home=home)
    dataset = synthpipe.generate(generator.id, sizes={"plots": 24}, seed=42, home=home)
    return home, dataset


def _columns(document, table):
    tables = document["sources"][0]["tables"]
    return {c["name"]: c for c in next(t for t in tables if t["name"] == table)["columns"]}


def test_primary_keys_are_unique_and_not_null(demo_dataset):
    home, dataset = demo_dataset
    document = sources_yml(dataset.id, home=home)
    assert _columns(document, "surveys")["record_id"]["data_tests"] == ["unique", "not_null"]


def test_foreign_keys_are_relationships_to_the_same_source(demo_dataset):
    home, dataset = demo_dataset
    document = sources_yml(dataset.id, home=home, name="synth")
    tests = _columns(document, "surveys")["species_id"]["data_tests"]
    assert tests == [
        {
            "relationships": {
                "arguments": {"to": "source('synth', 'species')", "field": "species_id"}
            }
        }
    ]


def test_context_keys_are_not_null(demo_dataset):
    home, dataset = demo_dataset
    tests = _columns(sources_yml(dataset.id, home=home), "surveys")["plot_id"]["data_tests"]
    assert tests[0] == "not_null"


def test_accepted_values_omit_the_rare_token_when_protection_samples(demo_dataset):
    # The demo pipeline replaces rare categories by samples (SAMPLE), so no _RARE_ appears.
    home, dataset = demo_dataset
    document = sources_yml(dataset.id, home=home)
    plots = _columns(document, "plots")["plot_type"]["data_tests"][0]
    assert RARE_TOKEN not in plots["accepted_values"]["arguments"]["values"]
    taxa = _columns(document, "species")["taxa"]["data_tests"][0]  # original data: verbatim
    assert taxa["accepted_values"]["arguments"]["values"] == ["Bird", "Rabbit", "Reptile", "Rodent"]


def test_materialize_adds_the_plugin_meta_block(demo_dataset):
    home, dataset = demo_dataset
    document = sources_yml(dataset.id, home=home, materialize=True)
    meta = document["sources"][0]["config"]["meta"]
    assert meta["plugin"] == "synthpipe"
    assert meta["synthpipe"] == {"generator": "ratdat_demo", "seed": 42, "size": 24}


def test_dbt_tests_from_the_written_sources_pass_on_the_delivered_tables(demo_dataset, tmp_path):
    home, dataset = demo_dataset
    warehouse = tmp_path / "warehouse.duckdb"
    destination = {"connector": "duckdb", "options": {"path": str(warehouse)}}
    synthpipe.deliver(dataset.id, {"destination": destination, "location": "main"}, home=home)
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT_YML)
    (project / "profiles.yml").write_text(PROFILES_YML.format(path=warehouse))
    document = sources_yml(dataset.id, home=home, name="synth", schema="main")
    write_sources_yml(project / "models" / "sources.yml", document)
    summary = run_dbt(["build", "--quiet"], project, project)
    assert summary["failures"] == []
    assert summary["success"] is True
    assert summary["counts"]["pass"] >= 10
