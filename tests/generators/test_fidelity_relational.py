"""Relations survive: keys, references, children per parent, lookups and ordered sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import synthpipe
from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow

RATDAT = Path(synthpipe.__file__).parent / "demo" / "ratdat"


def ratdat_config(tables: dict[str, pa.Table]) -> GeneratorConfig:
    def cols(name):
        return columns_from_arrow(tables[name].schema)

    return GeneratorConfig(
        tables=[
            Table(name="plots", columns=cols("plots"), primary_key=["plot_id"]),
            Table(
                name="species",
                columns=cols("species"),
                primary_key=["species_id"],
                original_data=True,
            ),
            Table(
                name="surveys",
                columns=cols("surveys"),
                primary_key=["record_id"],
                order_by=["survey_date"],
                foreign_keys=[
                    ForeignKey(column="plot_id", referenced_table="plots", is_context=True),
                    ForeignKey(column="species_id", referenced_table="species"),
                ],
            ),
        ]
    )


@pytest.fixture(scope="module")
def ratdat() -> dict[str, pa.Table]:
    tables = {n: pq.read_table(RATDAT / f"{n}.parquet") for n in ("plots", "surveys", "species")}
    # a third of the surveys keeps the test fast; every plot keeps its sequence
    tables["surveys"] = tables["surveys"].filter(
        pc.equal(pc.bit_wise_and(tables["surveys"]["record_id"], 3), 0)
    )
    return tables


@pytest.fixture(scope="module")
def state(ratdat):
    config = ratdat_config(ratdat)
    return FidelityGenerator().fit(TrainingData(config, ratdat), Progress())


def sample(state, **spec) -> dict[str, pa.Table]:
    out: dict[str, list] = {}
    for name, batch in FidelityGenerator().sample(state, SampleSpec(**spec), Progress()):
        out.setdefault(name, []).append(batch)
    return {n: pa.Table.from_batches(b) for n, b in out.items()}


@pytest.fixture(scope="module")
def synthetic(state):
    return sample(state, seed=4, sizes={"plots": 48})


def test_parents_come_before_their_children(state):
    names = [name for name, _ in FidelityGenerator().sample(state, SampleSpec(), Progress())]
    assert names.index("plots") < names.index("surveys")


def test_every_context_key_points_at_a_generated_parent(synthetic):
    plots, surveys = synthetic["plots"], synthetic["surveys"]
    assert plots.num_rows == 48
    assert pc.all(pc.is_in(surveys["plot_id"], plots["plot_id"])).as_py()


def test_primary_keys_are_unique(synthetic):
    for name, key in (("plots", "plot_id"), ("surveys", "record_id")):
        assert pc.count_distinct(synthetic[name][key]).as_py() == synthetic[name].num_rows


def test_original_data_is_copied_verbatim_and_referenced_by_real_keys(synthetic, ratdat):
    assert synthetic["species"].equals(ratdat["species"])
    referenced = synthetic["surveys"]["species_id"].drop_null()
    assert pc.all(pc.is_in(referenced, synthetic["species"]["species_id"])).as_py()


def test_children_per_parent_follow_the_training_counts(synthetic, ratdat):
    real = pc.value_counts(ratdat["surveys"]["plot_id"]).field("counts").to_numpy()
    made = pc.value_counts(synthetic["surveys"]["plot_id"]).field("counts").to_numpy()
    assert np.median(made) == pytest.approx(np.median(real), rel=0.25)
    assert made.max() <= real.max()


def test_child_sizes_can_be_set(state):
    tables = sample(state, seed=1, sizes={"plots": 10, "surveys": 777})
    assert tables["surveys"].num_rows == 777


def test_sequences_are_ordered_by_their_order_column(synthetic):
    frame = synthetic["surveys"].select(["plot_id", "survey_date"]).to_pandas()
    ordered = frame.groupby("plot_id", sort=False)["survey_date"].apply(
        lambda s: s.is_monotonic_increasing
    )
    assert ordered.all()


def test_children_depend_on_their_parent_row(synthetic, ratdat):
    # rodent exclosures keep out kangaroo rats (DM): that must hold in synthetic plots too
    def dm_share(tables):
        joined = tables["surveys"].join(tables["plots"], "plot_id")
        frame = joined.select(["plot_type", "species_id"]).to_pandas()
        return frame.assign(dm=frame.species_id == "DM").groupby("plot_type")["dm"].mean()

    real, made = dm_share(ratdat), dm_share(synthetic)
    assert real["Rodent Exclosure"] < 0.5 * real["Control"]
    assert made["Rodent Exclosure"] < 0.75 * made["Control"]


def test_plain_foreign_keys_reference_generated_rows_with_their_degree():
    rng = np.random.default_rng(0)
    customers = pa.table({"id": np.arange(300), "tier": rng.choice(["a", "b"], 300)})
    popular = rng.random(300) < 0.1  # a few customers get most orders
    weights = np.where(popular, 20.0, 1.0)
    owner = rng.choice(300, 3000, p=weights / weights.sum())
    orders = pa.table(
        {"order_id": np.arange(3000), "customer": owner, "amount": rng.gamma(2, 10, 3000).round(2)}
    )
    config = GeneratorConfig(
        tables=[
            Table(
                name="customers", columns=columns_from_arrow(customers.schema), primary_key=["id"]
            ),
            Table(
                name="orders",
                columns=columns_from_arrow(orders.schema),
                primary_key=["order_id"],
                foreign_keys=[ForeignKey(column="customer", referenced_table="customers")],
            ),
        ]
    )
    state = FidelityGenerator().fit(
        TrainingData(config, {"customers": customers, "orders": orders}), Progress()
    )
    tables = sample(state, seed=2)
    assert pc.all(pc.is_in(tables["orders"]["customer"], tables["customers"]["id"])).as_py()
    degree = pc.value_counts(tables["orders"]["customer"]).field("counts").to_numpy()
    assert degree.max() > 5 * np.median(degree)  # skewed like training, not uniform


def test_the_demo_pipeline_trains_and_generates_through_the_engine(demo_pipeline, tmp_path):
    from synthpipe.engine import read_dataset
    from synthpipe.store import Store

    record = synthpipe.train(demo_pipeline, generator="fidelity", home=tmp_path)
    dataset = synthpipe.generate(record.id, seed=1, partitions=2, home=tmp_path)
    plots = read_dataset(Store(tmp_path), dataset.id, "plots")
    surveys = read_dataset(Store(tmp_path), dataset.id, "surveys")
    assert plots.num_rows > 0 and surveys.num_rows > 0
    assert pc.count_distinct(surveys["record_id"]).as_py() == surveys.num_rows
    assert pc.all(pc.is_in(surveys["plot_id"], plots["plot_id"])).as_py()
