"""Every column kind comes back in its own type and format, with its distribution and nulls."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import Column, GeneratorConfig, LogicalType, SampleSpec, Table
from synthpipe.types import columns_from_arrow

N = 3000


def synthesize(arrow: pa.Table, columns: list[Column] | None = None, **spec) -> pa.Table:
    """Fit the fidelity generator on one table and sample it."""
    table = Table(name="t", columns=columns or columns_from_arrow(arrow.schema))
    config = GeneratorConfig(tables=[table])
    generator = FidelityGenerator()
    state = generator.fit(TrainingData(config, {"t": arrow}), Progress())
    batches = [b for _, b in generator.sample(state, SampleSpec(**spec), Progress())]
    return pa.Table.from_batches(batches)


@pytest.fixture(scope="module")
def mixed() -> pa.Table:
    rng = np.random.default_rng(1)
    group = rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2])
    base = np.where(group == "a", 20, np.where(group == "b", 50, 80))
    ages = (base + rng.integers(0, 10, N)).astype(np.int64)
    days = rng.integers(0, 400, N)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    days = days + np.where(weekday >= 5, 7 - weekday, 0)  # weekdays only
    hours = rng.integers(8, 18, N)
    amount = np.round(rng.gamma(2.0, 30.0, N), 2)
    return pa.table(
        {
            "group": pa.array(group),
            "age": pa.array(ages),
            "amount": pa.array(amount),
            "price": pa.array([Decimal(f"{v:.2f}") for v in amount], pa.decimal128(10, 2)),
            "flag": pa.array(ages > 50),
            "day": pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()),
            "at": pa.array((days * 86400 + hours * 3600) * 1_000_000, pa.int64()).cast(
                pa.timestamp("us")
            ),
            "maybe": pa.array(np.where(rng.random(N) < 0.3, None, ages.astype(float))),
        }
    )


@pytest.fixture(scope="module")
def mixed_synthetic(mixed) -> pa.Table:
    return synthesize(mixed, seed=5)


def test_output_has_the_training_schema_and_row_count(mixed, mixed_synthetic):
    assert mixed_synthetic.schema == mixed.schema
    assert mixed_synthetic.num_rows == mixed.num_rows


def test_integers_stay_integers_within_the_training_range(mixed, mixed_synthetic):
    ages = mixed_synthetic["age"]
    assert ages.type == pa.int64()
    assert pc.min(ages).as_py() >= pc.min(mixed["age"]).as_py()
    assert pc.max(ages).as_py() <= pc.max(mixed["age"]).as_py()


def test_floats_keep_the_source_precision(mixed_synthetic):
    amounts = mixed_synthetic["amount"].to_numpy()
    assert np.allclose(amounts, np.round(amounts, 2))
    assert not np.allclose(amounts, np.round(amounts, 1))


def test_decimals_keep_their_scale(mixed_synthetic):
    prices = mixed_synthetic["price"]
    assert prices.type == pa.decimal128(10, 2)
    assert pc.min(prices).as_py() >= Decimal("0")


def test_categories_keep_their_shares(mixed, mixed_synthetic):
    real = pc.value_counts(mixed["group"]).to_pylist()
    synthetic = {
        d["values"]: d["counts"] for d in pc.value_counts(mixed_synthetic["group"]).to_pylist()
    }
    for entry in real:
        assert synthetic[entry["values"]] == pytest.approx(entry["counts"], rel=0.1)


def test_dependencies_between_columns_are_kept(mixed_synthetic):
    frame = mixed_synthetic.select(["group", "age", "flag"]).to_pandas()
    means = frame.groupby("group")["age"].mean()
    assert means["a"] < 35 < means["b"] < 65 < means["c"]
    assert (frame["flag"] == (frame["age"] > 50)).mean() > 0.95


def test_booleans_stay_booleans(mixed_synthetic):
    assert mixed_synthetic["flag"].type == pa.bool_()
    assert 0.3 < pc.mean(mixed_synthetic["flag"].cast(pa.int8())).as_py() < 0.7


def test_dates_keep_their_calendar_structure(mixed_synthetic):
    days = mixed_synthetic["day"].to_pylist()
    assert all(d.weekday() < 5 for d in days)  # training had no weekend days


def test_datetimes_keep_their_resolution_and_time_of_day(mixed_synthetic):
    times = mixed_synthetic["at"].to_pylist()
    assert all(t.minute == 0 and t.second == 0 and t.microsecond == 0 for t in times)
    assert all(8 <= t.hour < 18 for t in times)
    assert all(t.weekday() < 5 for t in times)


def test_nulls_are_a_state_of_their_own(mixed, mixed_synthetic):
    real = mixed["maybe"].null_count / N
    synthetic = mixed_synthetic["maybe"].null_count / N
    assert synthetic == pytest.approx(real, abs=0.03)


def test_high_cardinality_categories_keep_their_frequent_values():
    rng = np.random.default_rng(2)
    cities = [f"city{i:04d}" for i in rng.zipf(1.3, 20_000) % 3000]
    arrow = pa.table({"city": pa.array(cities)})
    columns = [Column(name="city", type=LogicalType.CATEGORICAL)]
    synthetic = synthesize(arrow, columns)
    top = pc.value_counts(arrow["city"]).to_pylist()
    top = sorted(top, key=lambda d: -d["counts"])[:5]
    counts = {d["values"]: d["counts"] for d in pc.value_counts(synthetic["city"]).to_pylist()}
    for entry in top:
        assert counts[entry["values"]] == pytest.approx(entry["counts"], rel=0.15)


def test_lat_long_pairs_keep_format_and_region():
    rng = np.random.default_rng(3)
    centers = np.array([[48.2, 16.37], [40.71, -74.0]])
    pick = rng.integers(0, 2, 2000)
    points = centers[pick] + rng.normal(0, 0.05, (2000, 2))
    arrow = pa.table({"where": [f"{a:.4f}, {b:.4f}" for a, b in points]})
    columns = [Column(name="where", type=LogicalType.LAT_LONG)]
    synthetic = synthesize(arrow, columns)["where"].to_pylist()
    pattern = re.compile(r"^-?\d+\.\d{4}, -?\d+\.\d{4}$")
    assert all(pattern.match(v) for v in synthetic)
    pairs = np.array([[float(x) for x in v.split(", ")] for v in synthetic])
    near = np.min(np.linalg.norm(pairs[:, None, :] - centers[None], axis=2), axis=1)
    assert np.mean(near < 0.3) > 0.95  # points stay in the two cities, not in between


def test_structured_strings_follow_the_source_pattern_without_copying_values():
    rng = np.random.default_rng(4)
    ids = [f"ORD-{n:06d}" for n in rng.choice(1_000_000, 3000, replace=False)]
    emails = [
        f"{w}{n}@example.com"
        for w, n in zip(
            rng.choice(["ann", "bob", "cy"], 3000), rng.integers(1000, 99999, 3000), strict=True
        )
    ]
    arrow = pa.table({"order": ids, "email": emails})
    synthetic = synthesize(arrow)
    assert all(re.match(r"^ORD-\d{6}$", v) for v in synthetic["order"].to_pylist())
    assert all(re.match(r"^[a-z]+\d+@example\.com$", v) for v in synthetic["email"].to_pylist())
    assert not set(synthetic["order"].to_pylist()) & set(ids)


def test_free_text_is_recombined_from_frequent_words():
    rng = np.random.default_rng(5)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]
    texts = [" ".join(rng.choice(words, rng.integers(4, 9))) for _ in range(1500)]
    columns = [Column(name="note", type=LogicalType.TEXT)]
    synthetic = synthesize(pa.table({"note": texts}), columns)["note"].to_pylist()
    assert all(set(t.split()) <= set(words) for t in synthetic)
    lengths = [len(t.split()) for t in synthetic]
    assert 4 <= np.mean(lengths) <= 9
    assert not set(synthetic) & {t for t in texts if texts.count(t) == 1}


def test_an_empty_sample_has_the_schema(mixed):
    synthetic = synthesize(mixed, sizes={"t": 0})
    assert synthetic.num_rows == 0
    assert synthetic.schema == mixed.schema


def test_dates_before_1970_and_null_dates_round_trip():
    days = [dt.date(1950, 1, 2) + dt.timedelta(days=int(d)) for d in range(0, 600, 3)]
    arrow = pa.table({"d": pa.array([*days, None, None], pa.date32())})
    synthetic = synthesize(arrow)["d"]
    assert synthetic.null_count > 0
    assert pc.min(synthetic).as_py() >= dt.date(1950, 1, 2)


def test_a_column_of_nulls_stays_null():
    arrow = pa.table({"x": np.arange(100) % 3, "empty": pa.nulls(100, pa.float64())})
    synthetic = synthesize(arrow)
    assert synthetic["empty"].null_count == 100


def test_narrow_and_zoned_arrow_types_round_trip():
    rng = np.random.default_rng(6)
    n = 200
    arrow = pa.table(
        {
            "small": pa.array(rng.integers(-5, 5, n).astype(np.int8)),
            "unsigned": pa.array(rng.integers(0, 500, n).astype(np.uint16)),
            "single": pa.array(rng.random(n).astype(np.float32)),
            "large": pa.array(rng.choice(["x", "y"], n).tolist(), pa.large_string()),
            "zoned": pa.array(rng.integers(0, 10**15, n)).cast(
                pa.timestamp("us", tz="Europe/Vienna")
            ),
            "maybe": pa.array([True, None, False, True] * (n // 4)),
        }
    )
    synthetic = synthesize(arrow)
    assert synthetic.schema == arrow.schema
    assert synthetic["maybe"].null_count > 0
