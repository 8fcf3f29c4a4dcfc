"""Sequences ordered by their order column whatever the source order, and order values that
stay inside the training range without piling up at its end (TPC-H orders per customer)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.generators.fidelity.sequences import arrange, sort_key
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow


def test_rows_are_arranged_by_parent_then_order_column_not_source_order():
    parent = np.array([1, 0, 1, 0, 1])
    dates = pa.array([dt.date(2020, 1, d) for d in (9, 5, 1, 2, 4)])
    arrangement = arrange(parent, [sort_key(dates)])
    assert arrangement.rows.tolist() == [3, 1, 2, 4, 0]
    assert arrangement.position.tolist() == [0, 1, 0, 1, 2]


def customers_and_orders(seed: int = 0) -> dict[str, pa.Table]:
    # 400 customers with 5-30 orders each on dates spread uniformly over six years, stored in
    # order-key order (not by date), as warehouses keep them
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, 31, 400)
    owner = np.repeat(np.arange(400), counts)
    days = rng.integers(0, 6 * 365, len(owner))
    start = dt.date(1992, 1, 1)
    shuffled = rng.permutation(len(owner))
    orders = pa.table(
        {
            "order_id": np.arange(len(owner)),
            "customer_id": owner[shuffled],
            "ordered_on": pa.array([start + dt.timedelta(int(d)) for d in days[shuffled]]),
            "amount": rng.gamma(2, 50, len(owner)).round(2),
        }
    )
    customers = pa.table({"customer_id": np.arange(400), "segment": rng.choice(list("ABC"), 400)})
    return {"customers": customers, "orders": orders}


def test_order_dates_of_unsorted_sequences_keep_their_distribution():
    tables = customers_and_orders()
    config = GeneratorConfig(
        tables=[
            Table(
                name="customers",
                columns=columns_from_arrow(tables["customers"].schema),
                primary_key=["customer_id"],
            ),
            Table(
                name="orders",
                columns=columns_from_arrow(tables["orders"].schema),
                primary_key=["order_id"],
                foreign_keys=[
                    ForeignKey(column="customer_id", referenced_table="customers", is_context=True)
                ],
            ),
        ]
    )
    generator = FidelityGenerator()
    state = generator.fit(TrainingData(config, tables), Progress())
    batches = [
        b for t, b in generator.sample(state, SampleSpec(seed=1), Progress()) if t == "orders"
    ]
    made = pa.Table.from_batches(batches)
    real_days = np.array([d.toordinal() for d in tables["orders"]["ordered_on"].to_pylist()])
    days = np.array([d.toordinal() for d in made["ordered_on"].to_pylist()])
    assert made["ordered_on"].null_count == 0
    assert real_days.min() <= days.min() and days.max() <= real_days.max()
    # no pile at the last date (summed steps used to run past the range and be clipped there)
    assert np.mean(days == real_days.max()) < 0.01
    # uniform over six years: each year holds about a sixth of the orders
    years = np.histogram(days, bins=6, range=(real_days.min(), real_days.max() + 1))[0]
    assert np.all(np.abs(years / len(days) - 1 / 6) < 0.05), years / len(days)
