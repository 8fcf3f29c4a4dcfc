"""The dbt-duckdb plugin called as dbt-duckdb calls it: load(SourceConfig), store(TargetConfig)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt.adapters.duckdb.utils import SourceConfig, TargetConfig, TargetLocation

import synthpipe
from synthpipe.dbt.duckdb import Plugin
from synthpipe.errors import ConfigError
from synthpipe.store import Store


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_pipeline):
    """A store holding the demo pipeline's generator (independent baseline), named `ratdat`."""
    home = tmp_path_factory.mktemp("plugin-home")
    synthpipe.train(demo_pipeline, generator="independent", name="ratdat", home=home)
    return home


def source(name: str, **block) -> SourceConfig:
    meta = {"plugin": "synthpipe", "synthpipe": block}
    return SourceConfig(name=name, identifier=name, schema="raw", database=None, meta=meta, tags=[])


def plugin(**config) -> Plugin:
    return Plugin(name="synthpipe", plugin_config=config)


def test_load_returns_the_generator_table_named_like_the_source(trained):
    plots = plugin(home=str(trained)).load(source("plots", generator="ratdat", size=7, seed=1))
    assert isinstance(plots, pa.Table)
    assert plots.num_rows == 7
    assert plots.column_names == ["plot_id", "plot_type"]


def test_same_generator_size_and_seed_give_consistent_keys_across_tables(trained):
    p = plugin(home=str(trained))
    plots = p.load(source("plots", generator="ratdat", size=5, seed=2))
    surveys = p.load(source("surveys", generator="ratdat", size=5, seed=2))
    parents = set(plots.column("plot_id").to_pylist())
    assert surveys.num_rows > 0
    assert set(surveys.column("plot_id").to_pylist()) <= parents


def test_a_dataset_is_reused_for_the_same_generator_size_and_seed(trained):
    before = len(Store(trained).datasets())
    plugin(home=str(trained)).load(source("plots", generator="ratdat", size=6, seed=3))
    plugin(home=str(trained)).load(source("species", generator="ratdat", size=6, seed=3))
    assert len(Store(trained).datasets()) == before + 1


def test_meta_table_picks_another_generator_table(trained):
    block = {"generator": "ratdat", "size": 4, "seed": 1, "table": "plots"}
    loaded = plugin(home=str(trained)).load(source("plot_dim", **block))
    assert loaded.num_rows == 4


def test_size_per_table_sets_child_rows(trained):
    block = {"generator": "ratdat", "size": {"plots": 3, "surveys": 50}, "seed": 1}
    assert plugin(home=str(trained)).load(source("surveys", **block)).num_rows == 50


def test_exported_generator_file_is_imported_once_on_first_use(trained, tmp_path):
    export = synthpipe.export_generator("ratdat", tmp_path / "ratdat.zip", home=trained)
    home = tmp_path / "fresh-home"
    p = plugin(home=str(home))
    p.load(source("plots", generator=str(export), size=3))
    p.load(source("surveys", generator=str(export), size=3))
    assert [g.name.split("@")[0] for g in Store(home).generators()] == ["ratdat"]


def test_unknown_table_names_the_generator_tables(trained):
    with pytest.raises(ConfigError, match=r"no table 'visits'.*plots.*surveys"):
        plugin(home=str(trained)).load(source("visits", generator="ratdat", size=3))


def test_missing_generator_names_the_source(trained):
    with pytest.raises(ConfigError, match=r"source 'raw.plots'.*generator is missing"):
        plugin(home=str(trained)).load(source("plots", size=3))


def test_unknown_meta_key_names_the_source_and_the_known_keys(trained):
    with pytest.raises(ConfigError, match=r"source 'raw.plots'.*sizes.*keys: generator, size"):
        plugin(home=str(trained)).load(source("plots", generator="ratdat", sizes=3))


def test_size_for_an_unknown_table_names_the_generator_tables(trained):
    with pytest.raises(ConfigError, match=r"size names table\(s\) visits.*plots"):
        plugin(home=str(trained)).load(source("plots", generator="ratdat", size={"visits": 3}))


def test_unknown_plugin_setting_is_an_error():
    with pytest.raises(ConfigError, match="hoem"):
        plugin(hoem="/tmp/x")


def test_read_from_reads_the_delivered_table_instead_of_generating(trained, tmp_path):
    dataset = synthpipe.generate("ratdat", sizes={"plots": 9}, seed=5, home=trained)
    target = tmp_path / "delivered.duckdb"
    delivery = {"destination": {"connector": "duckdb", "options": {"path": str(target)}}}
    synthpipe.deliver(dataset.id, delivery, home=trained)
    before = len(Store(trained).datasets())
    read_from = {"connector": "duckdb", "options": {"path": str(target), "read_only": True}}
    p = plugin(home=str(trained), read_from={**read_from, "location": "main"})
    plots = p.load(source("plots", generator="ratdat", size=100))
    assert plots.num_rows == 9
    assert len(Store(trained).datasets()) == before


def test_read_from_a_missing_table_says_to_deliver_first(tmp_path):
    read_from = {"connector": "duckdb", "options": {"path": str(tmp_path / "empty.duckdb")}}
    with pytest.raises(ConfigError, match="deliver the dataset first"):
        plugin(read_from=read_from).load(source("plots", generator="ratdat"))


class _Relation:
    identifier = "plot_summary"


def _target(path, meta) -> TargetConfig:
    return TargetConfig(
        relation=_Relation(),
        column_list=[],
        config={"meta": meta},
        location=TargetLocation(path=str(path), format="parquet"),
    )


def test_store_delivers_the_model_file_to_a_named_destination(tmp_path):
    pq.write_table(pa.table({"plot_id": [1, 2], "n": [3, 4]}), tmp_path / "m.parquet")
    destinations = {"out": {"connector": "files", "options": {"path": str(tmp_path / "out")}}}
    p = plugin(destinations=destinations)
    p.store(_target(tmp_path / "m.parquet", {"synthpipe": {"destination": "out"}}))
    pq.write_table(pa.table({"plot_id": [9], "n": [0]}), tmp_path / "m.parquet")
    p.store(_target(tmp_path / "m.parquet", {"synthpipe": {"destination": "out"}}))
    assert pq.read_table(tmp_path / "out" / "plot_summary.parquet").to_pylist() == [
        {"plot_id": 9, "n": 0}
    ]


def test_store_to_an_unknown_destination_names_the_configured_ones(tmp_path):
    p = plugin(destinations={"out": {"connector": "files", "options": {"path": str(tmp_path)}}})
    meta = {"synthpipe": {"destination": "warehouse"}}
    with pytest.raises(ConfigError, match=r"model 'plot_summary'.*'warehouse'.*\(out\)"):
        p.store(_target(tmp_path / "m.parquet", meta))


def test_read_from_an_empty_delivered_table_keeps_its_columns(tmp_path):
    path = tmp_path / "empty.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table plots (plot_id bigint, plot_type varchar)")
    read_from = {"connector": "duckdb", "options": {"path": str(path), "read_only": True}}
    plots = plugin(read_from=read_from).load(source("plots", generator="ratdat"))
    assert plots.num_rows == 0
    assert plots.column_names == ["plot_id", "plot_type"]


def test_a_generator_file_that_is_no_export_says_what_to_point_at(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="neither a pipeline file"):
        plugin(home=str(tmp_path)).load(source("plots", generator=str(tmp_path / "model.bin")))
