"""Training and sampling behave as a generator must: deterministic, partitioned, cancellable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from synthpipe import plugins
from synthpipe.errors import CanceledError
from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import Column, GeneratorConfig, ModelConfiguration, SampleSpec, Table
from synthpipe.store import Store
from synthpipe.types import columns_from_arrow

ADULT = Path("/work/shared/data/adult/adult_train.parquet")


@pytest.fixture(scope="module")
def people() -> pa.Table:
    """2,000 Adult rows with a customer key, or a generated stand-in when Adult is absent."""
    if ADULT.exists():
        arrow = pq.read_table(ADULT).slice(0, 2000)
    else:
        rng = np.random.default_rng(0)
        arrow = pa.table(
            {"age": rng.integers(17, 90, 2000), "sex": rng.choice(["Male", "Female"], 2000)}
        )
    ids = pa.array([f"C-{i:05d}" for i in range(arrow.num_rows)])
    return arrow.add_column(0, "customer_id", ids)


def config_for(arrow: pa.Table, **settings) -> GeneratorConfig:
    table = Table(
        name="people", columns=columns_from_arrow(arrow.schema), primary_key=["customer_id"]
    )
    return GeneratorConfig(tables=[table], model_configuration=ModelConfiguration(**settings))


@pytest.fixture(scope="module")
def state(people):
    return FidelityGenerator().fit(TrainingData(config_for(people), {"people": people}), Progress())


def sample(state, **spec) -> pa.Table:
    batches = [b for _, b in FidelityGenerator().sample(state, SampleSpec(**spec), Progress())]
    return pa.Table.from_batches(batches)


def test_the_plugin_registers_the_fidelity_generator():
    assert plugins.generator_class("fidelity") is FidelityGenerator


def test_the_same_seed_gives_the_same_rows(state):
    assert sample(state, seed=3).equals(sample(state, seed=3))


def test_rows_do_not_depend_on_how_batches_are_scheduled(state):
    # several batches are built on parallel threads; the result must not depend on timing
    runs = [sample(state, seed=3, batch_size=150) for _ in range(3)]
    assert runs[0].equals(runs[1]) and runs[1].equals(runs[2])


def test_another_seed_gives_other_rows(state):
    assert not sample(state, seed=3).equals(sample(state, seed=4))


def test_partitions_are_computed_on_their_own_and_never_share_keys(state):
    whole = sample(state, seed=1, sizes={"people": 1000}, partitions=3, partition=1)
    again = sample(state, seed=1, sizes={"people": 1000}, partitions=3, partition=1)
    parts = [
        sample(state, seed=1, sizes={"people": 1000}, partitions=3, partition=i) for i in range(3)
    ]
    assert whole.equals(again)
    assert sum(p.num_rows for p in parts) == 1000
    keys = pa.concat_arrays([p["customer_id"].combine_chunks() for p in parts])
    assert pc.count_distinct(keys).as_py() == 1000


def test_primary_keys_keep_the_source_format(state):
    keys = sample(state, seed=2)["customer_id"].to_pylist()
    assert all(k.startswith("C-") and len(k) == 7 for k in keys)


def test_batches_respect_the_batch_size(state):
    generator = FidelityGenerator()
    sizes = [b.num_rows for _, b in generator.sample(state, SampleSpec(batch_size=300), Progress())]
    assert max(sizes) == 300
    assert sum(sizes) == 2000


def test_a_stored_state_samples_the_same_rows(state, tmp_path):
    store = Store(tmp_path)
    store.save_state("gen-1", state)
    loaded = store.load_state("gen-1")
    assert sample(loaded, seed=9).equals(sample(state, seed=9))


def test_the_fitted_state_is_compact(state):
    size = sum(a.nbytes for a in state.arrays.values())
    size += sum(t.nbytes for t in state.tables.values())
    assert size < 2_000_000


def test_training_reports_a_step_per_table(people):
    progress = Progress()
    FidelityGenerator().fit(TrainingData(config_for(people), {"people": people}), progress)
    assert [s.name for s in progress.steps] == ["train people"]
    assert progress.steps[0].status == "DONE"


def test_a_canceled_training_stops(people):
    progress = Progress()
    progress.cancel()
    with pytest.raises(CanceledError):
        FidelityGenerator().fit(TrainingData(config_for(people), {"people": people}), progress)


def test_max_training_time_stops_training_with_a_usable_model(people):
    config = config_for(people, max_training_time=1e-9)
    state = FidelityGenerator().fit(TrainingData(config, {"people": people}), Progress())
    assert sample(state, seed=1).num_rows == people.num_rows


def test_max_sample_size_limits_the_training_rows(people):
    config = config_for(people, max_sample_size=500)
    state = FidelityGenerator().fit(TrainingData(config, {"people": people}), Progress())
    assert sample(state, seed=1).num_rows == 500


def test_sensitive_columns_are_faked_or_dropped_never_learned(people):
    columns = columns_from_arrow(people.schema)
    columns = [
        c.model_copy(update={"sensitive": {"sex": "drop", "race": "fake"}.get(c.name)})
        for c in columns
    ]
    table = Table(name="people", columns=columns, primary_key=["customer_id"])
    config = GeneratorConfig(tables=[table])
    state = FidelityGenerator().fit(TrainingData(config, {"people": people}), Progress())
    synthetic = sample(state, seed=1)
    assert "sex" not in synthetic.column_names
    real = set(people["race"].to_pylist())
    assert not set(synthetic["race"].to_pylist()) & real  # Faker values, not the training ones


def test_a_column_without_config_is_still_learned():
    arrow = pa.table({"x": np.arange(200) % 7})
    config = GeneratorConfig(tables=[Table(name="t", columns=[Column(name="other")])])
    state = FidelityGenerator().fit(TrainingData(config, {"t": arrow}), Progress())
    generator = FidelityGenerator()
    synthetic = pa.Table.from_batches(
        [b for _, b in generator.sample(state, SampleSpec(), Progress())]
    )
    assert set(synthetic["x"].to_pylist()) <= set(range(7))
