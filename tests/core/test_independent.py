"""The independent baseline keeps keys, relations and null rates; it is deterministic."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import synthpipe
from synthpipe.engine import read_dataset
from synthpipe.store import Store


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def generator(module_home, demo_pipeline):
    return synthpipe.train(demo_pipeline, generator="independent", home=module_home)


def _table(home, dataset, name) -> pa.Table:
    return read_dataset(Store(home), dataset.id, name)


def test_keys_are_unique_and_foreign_keys_point_at_generated_parents(generator, module_home):
    ds = synthpipe.generate(generator.id, sizes={"plots": 60}, seed=3, home=module_home)
    plots, surveys = _table(module_home, ds, "plots"), _table(module_home, ds, "surveys")
    species = _table(module_home, ds, "species")
    assert plots.num_rows == 60
    assert pc.count_distinct(plots["plot_id"]).as_py() == 60
    assert pc.count_distinct(surveys["record_id"]).as_py() == surveys.num_rows
    assert pc.all(pc.is_in(surveys["plot_id"], plots["plot_id"])).as_py()
    referenced = surveys["species_id"].drop_null()
    assert pc.all(pc.is_in(referenced, species["species_id"])).as_py()


def test_original_data_is_copied_verbatim(generator, module_home):
    import pyarrow.parquet as pq

    from synthpipe.pipeline import demo_path

    ds = synthpipe.generate(generator.id, seed=1, home=module_home)
    assert _table(module_home, ds, "species").equals(pq.read_table(demo_path() / "species.parquet"))


def test_null_rates_follow_training(generator, module_home):
    ds = synthpipe.generate(generator.id, seed=2, home=module_home)
    surveys = _table(module_home, ds, "surveys")
    rate = surveys["weight"].null_count / surveys.num_rows
    assert 0.05 < rate < 0.14  # training: 3,266 of 35,549 = 9.2%


def test_same_seed_same_rows_other_seed_other_rows(generator, module_home):
    a = synthpipe.generate(generator.id, seed=9, home=module_home)
    b = synthpipe.generate(generator.id, seed=9, home=module_home)
    c = synthpipe.generate(generator.id, seed=10, home=module_home)
    assert _table(module_home, a, "surveys").equals(_table(module_home, b, "surveys"))
    assert not _table(module_home, a, "surveys").equals(_table(module_home, c, "surveys"))


def test_partitions_are_independent_and_keys_stay_unique(generator, module_home):
    ds = synthpipe.generate(
        generator.id, sizes={"plots": 50}, seed=4, partitions=3, home=module_home
    )
    plots, surveys = _table(module_home, ds, "plots"), _table(module_home, ds, "surveys")
    assert plots.num_rows == 50
    assert pc.count_distinct(surveys["record_id"]).as_py() == surveys.num_rows
    assert pc.all(pc.is_in(surveys["plot_id"], plots["plot_id"])).as_py()
    assert _table(module_home, ds, "species").num_rows == 54  # copied once, not per partition
    # Partition 1 generated alone gives the same rows as inside the 3-partition run.
    from synthpipe.engine import generate_partition

    store = Store(module_home)
    part = store.dataset_dir(ds.id) / "tables" / "surveys" / "part-00001-00000.parquet"
    import pyarrow.parquet as pq

    before = pq.read_table(part)
    generate_partition(store, ds.id, 1)
    assert pq.read_table(part).equals(before)


def test_requested_child_size_is_met(generator, module_home):
    ds = synthpipe.generate(
        generator.id, sizes={"plots": 10, "surveys": 777}, seed=1, home=module_home
    )
    assert _table(module_home, ds, "surveys").num_rows == 777


def test_rare_categories_are_protected(tmp_path):
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    values = ["common"] * 90 + ["also"] * 9 + ["unique-person"]
    pq.write_table(pa.table({"id": list(range(100)), "v": values}), data / "t.parquet")
    home = tmp_path / "h"
    gen = synthpipe.train(
        source={"connector": "files", "options": {"path": str(data)}},
        tables=[{"name": "t", "primary_key": "id"}],
        generator="independent",
        holdout=0,
        home=home,
    )
    ds = synthpipe.generate(gen.id, sizes={"t": 5000}, home=home)
    seen = set(read_dataset(Store(home), ds.id, "t")["v"].to_pylist())
    assert "unique-person" not in seen and "_RARE_" in seen
