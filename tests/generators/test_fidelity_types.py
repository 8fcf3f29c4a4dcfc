"""Every Arrow type a connector can return trains and comes back in the same type.

One small table per type: the column of that type next to a category it depends on. Also
float +inf, -inf, NaN and null kept apart, binary that is not text refused by name, and the
`independent` baseline on the same types.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from synthpipe.errors import ConfigError
from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.generators.independent import IndependentGenerator
from synthpipe.progress import Progress
from synthpipe.schema import GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow

N = 400
RNG = np.random.default_rng(7)
GROUP = RNG.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2])
WORDS = np.where(GROUP == "a", "red", np.where(GROUP == "b", "green", "blue")).tolist()
SMALL = RNG.integers(0, 100, N)
DAYS = RNG.integers(0, 3000, N)


def _column(kind: str) -> pa.Array:
    """A column of the named Arrow type, with a null in it."""
    ints = pa.array([*SMALL.tolist()[:-1], None], pa.int64())
    builders = {
        "string": lambda: pa.array([*WORDS[:-1], None]),
        "large_string": lambda: pa.array(WORDS, pa.large_string()),
        "string_view": lambda: pa.array(WORDS, pa.string_view()),
        "dictionary": lambda: pa.array(WORDS).dictionary_encode(),
        "dictionary_int8": lambda: pa.array(WORDS).cast(pa.dictionary(pa.int8(), pa.string())),
        "decimal128": lambda: pa.array(
            [Decimal(f"{v / 7:.2f}") for v in SMALL], pa.decimal128(12, 2)
        ),
        "decimal256": lambda: pa.array(
            [Decimal(f"{v / 7:.3f}") for v in SMALL], pa.decimal256(50, 3)
        ),
        "date32": lambda: pa.array(DAYS.astype(np.int32), pa.int32()).cast(pa.date32()),
        "date64": lambda: pa.array(DAYS * 86_400_000).cast(pa.date64()),
        "time32_s": lambda: pa.array((SMALL * 600).astype(np.int32), pa.time32("s")),
        "time32_ms": lambda: pa.array((SMALL * 600_000).astype(np.int32), pa.time32("ms")),
        "time64_us": lambda: pa.array(SMALL * 600_000_000, pa.time64("us")),
        "time64_ns": lambda: pa.array(SMALL * 600_000_000_000, pa.time64("ns")),
        "timestamp_s": lambda: pa.array(DAYS * 86_400 + SMALL * 60, pa.timestamp("s")),
        "timestamp_ms": lambda: pa.array((DAYS * 86_400 + SMALL) * 1000, pa.timestamp("ms")),
        "timestamp_us_tz": lambda: pa.array(
            (DAYS * 86_400 + SMALL * 3600) * 10**6, pa.timestamp("us", tz="America/New_York")
        ),
        "timestamp_ns_utc": lambda: pa.array(
            (DAYS * 86_400 + SMALL) * 10**9, pa.timestamp("ns", tz="UTC")
        ),
        "duration_s": lambda: pa.array(SMALL * 30, pa.duration("s")),
        "duration_ms": lambda: pa.array(SMALL * 30_000, pa.duration("ms")),
        "duration_us": lambda: pa.array(SMALL * 30_000_000, pa.duration("us")),
        "duration_ns": lambda: pa.array(SMALL * 30_000_000_000, pa.duration("ns")),
        "bool": lambda: pa.array([*(GROUP == "a").tolist()[:-1], None]),
        "float16": lambda: pa.array((SMALL / 8).astype(np.float16)),
        "float32": lambda: pa.array((SMALL / 8).astype(np.float32)),
        "float64": lambda: pa.array(SMALL / 8),
        "binary": lambda: pa.array([w.encode() for w in WORDS], pa.binary()),
        "large_binary": lambda: pa.array([w.encode() for w in WORDS], pa.large_binary()),
        "binary_view": lambda: pa.array([w.encode() for w in WORDS], pa.binary_view()),
    }
    for width in (8, 16, 32, 64):
        builders[f"int{width}"] = lambda w=width: ints.cast(getattr(pa, f"int{w}")())
        builders[f"uint{width}"] = lambda w=width: ints.cast(getattr(pa, f"uint{w}")())
    return builders[kind]()


KINDS = [
    "string",
    "large_string",
    "string_view",
    "dictionary",
    "dictionary_int8",
    "decimal128",
    "decimal256",
    "date32",
    "date64",
    "time32_s",
    "time32_ms",
    "time64_us",
    "time64_ns",
    "timestamp_s",
    "timestamp_ms",
    "timestamp_us_tz",
    "timestamp_ns_utc",
    "duration_s",
    "duration_ms",
    "duration_us",
    "duration_ns",
    "bool",
    *[f"{s}int{w}" for s in ("", "u") for w in (8, 16, 32, 64)],
    "float16",
    "float32",
    "float64",
    "binary",
    "large_binary",
    "binary_view",
]


def synthesize(arrow: pa.Table, generator=None, **spec) -> pa.Table:
    generator = generator or FidelityGenerator()
    config = GeneratorConfig(
        generator=generator.kind,
        tables=[Table(name="t", columns=columns_from_arrow(arrow.schema))],
    )
    state = generator.fit(TrainingData(config, {"t": arrow}), Progress())
    batches = [b for _, b in generator.sample(state, SampleSpec(**spec), Progress())]
    return pa.Table.from_batches(batches)


def _sane(real: pa.Array, made: pa.Array) -> None:
    """Values of the synthetic column look like the real ones: the same categories, or
    numbers (and times) inside the real range."""
    assert len(made) == len(real)
    assert made.null_count <= 2 * real.null_count + len(made) // 20  # nulls stay rare
    dtype = real.type
    if pa.types.is_dictionary(dtype):
        real, made = real.cast(dtype.value_type), made.cast(dtype.value_type)
        dtype = dtype.value_type
    simple = (
        pa.types.is_boolean(dtype)
        or pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
        or pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_binary_view(dtype)
    )
    if simple:
        assert set(made.drop_null().to_pylist()) <= set(real.drop_null().to_pylist())
        return
    if pa.types.is_duration(dtype):
        real, made = real.cast(pa.int64()), made.cast(pa.int64())
    if pa.types.is_float16(dtype):
        real, made = real.cast(pa.float32()), made.cast(pa.float32())
    low, high = pc.min_max(real).values()
    assert pc.min(made).as_py() >= low.as_py()
    assert pc.max(made).as_py() <= high.as_py()


@pytest.mark.parametrize("kind", KINDS)
def test_every_arrow_type_trains_and_comes_back_in_its_type(kind):
    arrow = pa.table({"group": GROUP, "value": _column(kind)})
    synthetic = synthesize(arrow, seed=1)
    assert synthetic.schema == arrow.schema
    _sane(arrow["value"].combine_chunks(), synthetic["value"].combine_chunks())


@pytest.mark.parametrize("kind", KINDS)
def test_the_independent_generator_keeps_the_same_types(kind):
    arrow = pa.table({"group": GROUP, "value": _column(kind)})
    synthetic = synthesize(arrow, IndependentGenerator(), seed=1)
    assert synthetic.schema == arrow.schema
    _sane(arrow["value"].combine_chunks(), synthetic["value"].combine_chunks())


def test_infinities_nan_and_null_stay_apart():
    rng = np.random.default_rng(3)
    n = 4000
    values = rng.normal(0, 1, n)
    kind = rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])
    values[kind == 1] = np.inf
    values[kind == 2] = -np.inf
    values[kind == 3] = np.nan
    null = rng.random(n) < 0.05
    arrow = pa.table({"x": pa.array(values, mask=null), "g": rng.choice(["p", "q"], n)})
    synthetic = synthesize(arrow, seed=2)
    made = synthetic["x"].combine_chunks()
    x = made.fill_null(0.0).to_numpy()
    is_null = made.is_null().to_numpy(zero_copy_only=False)
    for share, observed in (
        (0.1 * 0.95, np.isposinf(x) & ~is_null),
        (0.1 * 0.95, np.isneginf(x) & ~is_null),
        (0.1 * 0.95, np.isnan(x) & ~is_null),
        (0.05, is_null),
    ):
        assert observed.mean() == pytest.approx(share, abs=0.02)
    finite = x[np.isfinite(x) & ~is_null]
    assert np.abs(finite).max() < 10  # no stand-ins for infinity such as 1e307


def test_rare_infinities_are_protected_but_never_become_huge_numbers():
    values = np.r_[np.linspace(0, 1, 500), [np.inf, -np.inf]]
    synthetic = synthesize(pa.table({"x": values}), seed=1)
    x = synthetic["x"].to_numpy()
    assert np.isfinite(x).all()
    assert x.min() >= 0 and x.max() <= 1


def test_binary_that_is_not_text_is_refused_by_name():
    blobs = pa.array([bytes([255, i % 7]) for i in range(100)], pa.binary())
    arrow = pa.table({"id": np.arange(100) % 5, "blob": blobs})
    with pytest.raises(ConfigError, match=r"'t\.blob'.*excluded_columns"):
        synthesize(arrow)


@pytest.mark.parametrize("generator", [FidelityGenerator, IndependentGenerator])
def test_large_unsigned_integers_keep_their_range(generator):
    values = (np.arange(300, dtype=np.uint64) % 30) * np.uint64(2**58) + np.uint64(2**63)
    synthetic = synthesize(pa.table({"u": pa.array(values, pa.uint64())}), generator(), seed=1)
    made = synthetic["u"].to_numpy()
    assert made.min() >= np.uint64(2**63)
    assert len(np.unique(made)) > 5


def test_dictionary_columns_from_pandas_categoricals_round_trip():
    import pandas as pd

    frame = pd.DataFrame(
        {"city": pd.Categorical(WORDS), "n": SMALL, "when": pd.to_datetime(DAYS, unit="D")}
    )
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    synthetic = synthesize(arrow, seed=4)
    assert synthetic.schema == arrow.schema
    back = synthetic.to_pandas()
    assert isinstance(back["city"].dtype, pd.CategoricalDtype)
    assert set(back["city"].dropna()) <= {"red", "green", "blue"}


def test_times_of_day_keep_the_training_clock_resolution():
    arrow = pa.table({"g": GROUP, "at": _column("time32_s")})
    made = synthesize(arrow, seed=3)["at"].cast(pa.int32()).to_numpy()
    assert (made % 600 == 0).mean() > 0.5  # ten-minute slots mostly stay on the slot
    assert dt.time(0, 0) <= synthesize(arrow, seed=4)["at"][0].as_py() <= dt.time(23, 59, 59)
