"""Keys of warehouse schemas: composite primary, context and plain foreign keys, kept jointly.

Small synthetic schemas built here: contestants keyed by (season, contestant) with their
episodes; parts, suppliers (a lookup), part-suppliers keyed by (partkey, suppkey) and order
lines referencing them; a weather lookup keyed by (origin, time_hour) with more rows than the
category cap. Every declared foreign key must have no orphans unless the real data has them,
and then their share within half a point.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from synthpipe.errors import ConfigError
from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import RARE_TOKEN, ForeignKey, GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow

NAMES = [f"{a} {b}" for a in ("Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus") for b in "KLMNOP"]


def table(name: str, arrow: pa.Table, **kwargs) -> Table:
    return Table(name=name, columns=columns_from_arrow(arrow.schema), **kwargs)


def train_and_sample(config: GeneratorConfig, tables: dict[str, pa.Table], **spec):
    generator = FidelityGenerator()
    state = generator.fit(TrainingData(config, tables), Progress())
    out: dict[str, list] = {}
    for name, batch in generator.sample(state, SampleSpec(**spec), Progress()):
        out.setdefault(name, []).append(batch)
    return {n: pa.Table.from_batches(b) for n, b in out.items()}


def tuples(arrow: pa.Table, columns: list[str]) -> list[tuple]:
    return list(zip(*(arrow.column(c).to_pylist() for c in columns), strict=True))


def orphan_share(child: pa.Table, columns: list[str], parent: pa.Table, keys: list[str]) -> float:
    """Share of child rows whose (non-null) key tuple is no parent key tuple."""
    known = set(tuples(parent, keys))
    refs = [t for t in tuples(child, columns) if all(v is not None for v in t)]
    return sum(t not in known for t in refs) / max(len(tuples(child, columns)), 1)


def assert_unique(arrow: pa.Table, columns: list[str]) -> None:
    keys = tuples(arrow, columns)
    assert all(v is not None for t in keys for v in t), f"null in key {columns}"
    assert len(set(keys)) == len(keys), f"duplicate key tuples in {columns}"


# -- 1. composite primary and context keys ------------------------------------------------------


@pytest.fixture(scope="module")
def shows():
    rng = np.random.default_rng(0)
    rows, episodes = [], []
    for season in range(1, 41):
        cast = rng.choice(NAMES, size=int(rng.integers(6, 12)), replace=False)
        for name in cast:
            age = int(rng.integers(20, 60))
            rows.append((f"S{season:02d}", str(name), age, age > 40))
            for episode in range(1, int(rng.integers(2, 9))):
                points = float(np.round(rng.gamma(2.0, 5.0) + (10 if age > 40 else 0), 1))
                episodes.append((f"S{season:02d}", str(name), episode, points))
    contestants = pa.table(
        dict(zip(["season", "contestant", "age", "veteran"], zip(*rows, strict=True), strict=True))
    )
    appearances = pa.table(
        dict(
            zip(
                ["season", "contestant", "episode", "points"],
                zip(*episodes, strict=True),
                strict=True,
            )
        )
    )
    tables = {"contestants": contestants, "appearances": appearances}
    config = GeneratorConfig(
        tables=[
            table("contestants", contestants, primary_key=["season", "contestant"]),
            table(
                "appearances",
                appearances,
                primary_key=["season", "contestant", "episode"],
                foreign_keys=[
                    ForeignKey(
                        column=["season", "contestant"],
                        referenced_table="contestants",
                        is_context=True,
                    )
                ],
            ),
        ]
    )
    return tables, train_and_sample(config, tables, seed=3)


def test_a_composite_primary_key_is_unique_and_keeps_its_groups(shows):
    real, synthetic = shows
    contestants = synthetic["contestants"]
    assert_unique(contestants, ["season", "contestant"])
    # season is a group, not a key on its own: it repeats like in the real data
    seasons = pc.count_distinct(contestants["season"]).as_py()
    assert seasons < contestants.num_rows / 3
    assert set(contestants["season"].to_pylist()) <= set(real["contestants"]["season"].to_pylist())


def test_a_composite_context_key_points_at_whole_parent_tuples(shows):
    _, synthetic = shows
    appearances, contestants = synthetic["appearances"], synthetic["contestants"]
    assert appearances.num_rows > 0
    assert appearances["contestant"].null_count == 0
    assert appearances["season"].null_count == 0
    key = ["season", "contestant"]
    assert orphan_share(appearances, key, contestants, key) == 0.0
    assert_unique(appearances, ["season", "contestant", "episode"])


def test_a_key_part_numbered_within_its_parent_counts_from_the_source_start(shows):
    _, synthetic = shows
    frame = synthetic["appearances"].to_pandas()
    firsts = frame.groupby(["season", "contestant"])["episode"].min()
    assert (firsts == 1).all()


# -- 2. composite plain foreign keys, to learned and to original-data tables ---------------------


@pytest.fixture(scope="module")
def orders():
    rng = np.random.default_rng(1)
    parts = pa.table(
        {
            "partkey": np.arange(1, 301),
            "size": rng.integers(1, 50, 300),
            "brand": rng.choice(list("ABCD"), 300),
        }
    )
    suppliers = pa.table(
        {"suppkey": np.arange(1, 41), "nation": rng.choice(["DE", "FR", "US"], 40)}
    )
    pairs = [(p, int(s)) for p in range(1, 301) for s in rng.choice(40, 4, replace=False) + 1]
    partsupp = pa.table(
        {
            "partkey": [p for p, _ in pairs],
            "suppkey": [s for _, s in pairs],
            "cost": np.round(rng.gamma(3.0, 20.0, len(pairs)), 2),
        }
    )
    # order lines are children of parts: (partkey, suppkey) -> partsupp overlaps the context
    # key; (audit_part, audit_supp) -> partsupp does not, and has 3% orphans in the real data
    n = 6000
    line_pair = rng.integers(0, len(pairs), n)
    audit_pair = rng.integers(0, len(pairs), n)
    orphan = rng.random(n) < 0.03
    lines = pa.table(
        {
            "line_id": np.arange(n),
            "partkey": [pairs[i][0] for i in line_pair],
            "suppkey": [pairs[i][1] for i in line_pair],
            "quantity": rng.integers(1, 50, n),
            "audit_part": [
                9999 if o else pairs[i][0] for i, o in zip(audit_pair, orphan, strict=True)
            ],
            "audit_supp": [pairs[i][1] for i in audit_pair],
        }
    )
    tables = {"parts": parts, "suppliers": suppliers, "partsupp": partsupp, "lines": lines}
    config = GeneratorConfig(
        tables=[
            table("parts", parts, primary_key=["partkey"]),
            table("suppliers", suppliers, primary_key=["suppkey"], original_data=True),
            table(
                "partsupp",
                partsupp,
                primary_key=["partkey", "suppkey"],
                foreign_keys=[
                    ForeignKey(column="partkey", referenced_table="parts", is_context=True),
                    ForeignKey(column="suppkey", referenced_table="suppliers"),
                ],
            ),
            table(
                "lines",
                lines,
                primary_key=["line_id"],
                foreign_keys=[
                    ForeignKey(column="partkey", referenced_table="parts", is_context=True),
                    ForeignKey(column=["partkey", "suppkey"], referenced_table="partsupp"),
                    ForeignKey(column="suppkey", referenced_table="suppliers"),
                    ForeignKey(
                        column=["audit_part", "audit_supp"],
                        referenced_table="partsupp",
                        referenced_column=["partkey", "suppkey"],
                    ),
                ],
            ),
        ]
    )
    return tables, train_and_sample(config, tables, seed=5)


def test_a_key_of_a_context_and_a_plain_foreign_key_stays_unique(orders):
    _, synthetic = orders
    partsupp = synthetic["partsupp"]
    assert_unique(partsupp, ["partkey", "suppkey"])
    assert orphan_share(partsupp, ["partkey"], synthetic["parts"], ["partkey"]) == 0.0
    assert orphan_share(partsupp, ["suppkey"], synthetic["suppliers"], ["suppkey"]) == 0.0


def test_a_composite_foreign_key_is_kept_jointly(orders):
    _, synthetic = orders
    lines, partsupp = synthetic["lines"], synthetic["partsupp"]
    key = ["partkey", "suppkey"]
    assert lines["suppkey"].null_count == 0
    assert orphan_share(lines, key, partsupp, key) == 0.0
    assert orphan_share(lines, ["partkey"], synthetic["parts"], ["partkey"]) == 0.0
    assert orphan_share(lines, ["suppkey"], synthetic["suppliers"], ["suppkey"]) == 0.0


def test_the_real_orphan_share_of_a_foreign_key_is_reproduced(orders):
    real, synthetic = orders
    audit, key = ["audit_part", "audit_supp"], ["partkey", "suppkey"]
    wanted = orphan_share(real["lines"], audit, real["partsupp"], key)
    made = orphan_share(synthetic["lines"], audit, synthetic["partsupp"], key)
    assert wanted == pytest.approx(0.03, abs=0.01)
    assert made == pytest.approx(wanted, abs=0.005)


# -- 3. references with more distinct values than the category cap ------------------------------


def test_a_reference_to_a_large_lookup_is_never_rare_and_keeps_its_orphan_share():
    rng = np.random.default_rng(2)
    # EWR reports at even hours, JFK at odd ones: only whole tuples exist
    hours = [dt.datetime(2013, 1, 1) + dt.timedelta(hours=2 * h) for h in range(3000)]
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    codes = ["".join(rng.choice(letters, 6)) for _ in range(6000)]
    weather = pa.table(
        {
            "origin": ["EWR"] * 3000 + ["JFK"] * 3000,
            "time_hour": hours + [h + dt.timedelta(hours=1) for h in hours],
            "temp": np.round(rng.normal(10, 8, 6000), 1),
            "code": codes,
        }
    )
    n = 20_000
    pick = rng.integers(0, 6000, n)
    dangling = rng.random(n) < 0.0045 * 2  # about 0.9% point at hours without weather
    flights = pa.table(
        {
            "flight_id": np.arange(n),
            "origin": weather["origin"].take(pick),
            "time_hour": pa.array(
                [
                    dt.datetime(2014, 6, 1) if d else t
                    for d, t in zip(
                        dangling, weather["time_hour"].take(pick).to_pylist(), strict=True
                    )
                ],
                pa.timestamp("us"),
            ),
            "weather_code": weather["code"].take(pick),  # a single-column key with 6,000 values
            "delay": rng.integers(0, 60, n),
        }
    )
    tables = {"flights": flights, "weather": weather}
    config = GeneratorConfig(
        tables=[
            table(
                "flights",
                flights,
                primary_key=["flight_id"],
                foreign_keys=[
                    ForeignKey(column=["origin", "time_hour"], referenced_table="weather"),
                    ForeignKey(
                        column="weather_code", referenced_table="weather", referenced_column="code"
                    ),
                ],
            ),
            table("weather", weather, primary_key=["origin", "time_hour"], original_data=True),
        ]
    )
    synthetic = train_and_sample(config, tables, seed=1)
    made = synthetic["flights"]
    assert made.schema == flights.schema
    assert RARE_TOKEN not in set(made["weather_code"].to_pylist())
    assert made["weather_code"].null_count == 0
    assert orphan_share(made, ["weather_code"], weather, ["code"]) == 0.0
    key = ["origin", "time_hour"]
    wanted = orphan_share(flights, key, weather, key)
    assert orphan_share(made, key, weather, key) == pytest.approx(wanted, abs=0.005)
    # more rows are referenced than the category cap keeps: the others are still referenced
    assert pc.count_distinct(flights["weather_code"]).as_py() > 5000
    assert pc.count_distinct(made["weather_code"]).as_py() > 5000


def test_a_composite_lookup_reference_overlapping_a_narrower_one_follows_the_other_columns():
    # (origin, time_hour) -> weather and origin -> airports share origin. Flights leave only
    # in the daytime and the late flights are long: the weather row must be learned with the
    # other columns, not drawn at random among all (night) rows of the lookup.
    rng = np.random.default_rng(5)
    hours = [dt.datetime(2013, 1, 1) + dt.timedelta(hours=h) for h in range(24 * 60)]
    origins = ["EWR", "JFK"]
    weather = pa.table(
        {
            "origin": [o for o in origins for _ in hours],
            "time_hour": hours * 2,
            "temp": np.round(rng.normal(10, 8, 2 * len(hours)), 1),
        }
    )
    airports = pa.table({"faa": ["EWR", "JFK", "LGA"], "name": ["Newark", "Kennedy", "LaG"]})
    day = [i for i, t in enumerate(weather["time_hour"].to_pylist()) if 6 <= t.hour <= 21]
    n = 8_000
    pick = pa.array(rng.choice(day, n))
    late = np.array([t.hour >= 17 for t in weather["time_hour"].take(pick).to_pylist()])
    flights = pa.table(
        {
            "flight_id": np.arange(n),
            "origin": weather["origin"].take(pick),
            "time_hour": weather["time_hour"].take(pick),
            "distance": np.where(late, rng.normal(2000, 100, n), rng.normal(500, 50, n)).round(),
        }
    )
    config = GeneratorConfig(
        tables=[
            table(
                "flights",
                flights,
                primary_key=["flight_id"],
                foreign_keys=[
                    ForeignKey(column="origin", referenced_table="airports"),
                    ForeignKey(column=["origin", "time_hour"], referenced_table="weather"),
                ],
            ),
            table("weather", weather, primary_key=["origin", "time_hour"], original_data=True),
            table("airports", airports, primary_key=["faa"], original_data=True),
        ]
    )
    made = train_and_sample(config, {"flights": flights, "weather": weather, "airports": airports},
                            seed=2)["flights"]  # fmt: skip
    made_hours = np.array([t.hour for t in made["time_hour"].to_pylist()])
    assert np.mean((made_hours >= 6) & (made_hours <= 21)) > 0.99  # no night flights
    long = made["distance"].to_numpy() > 1250
    assert np.mean(long == (made_hours >= 17)) > 0.95  # the hour and the distance agree
    assert orphan_share(made, ["origin", "time_hour"], weather, ["origin", "time_hour"]) == 0.0
    assert orphan_share(made, ["origin"], airports, ["faa"]) == 0.0


# -- refused shapes ------------------------------------------------------------------------------


def test_a_key_shape_the_engine_cannot_keep_is_refused_before_training():
    a = pa.table({"a_id": np.arange(20), "x": np.arange(20)})
    links = pa.table({"a_id": np.arange(20) % 10, "b_id": np.arange(20) % 7, "w": np.arange(20)})
    config = GeneratorConfig(
        tables=[
            table("a", a, primary_key=["a_id"], original_data=True),
            table(
                "links",
                links,
                primary_key=["a_id", "b_id"],
                foreign_keys=[
                    ForeignKey(column="a_id", referenced_table="a"),
                    ForeignKey(column="b_id", referenced_table="a"),
                ],
            ),
        ]
    )
    with pytest.raises(ConfigError) as error:
        FidelityGenerator().fit(TrainingData(config, {"a": a, "links": links}), Progress())
    message = str(error.value)
    assert "links" in message and "a_id, b_id" in message and "is_context" in message


def test_a_one_to_one_child_keyed_by_its_context_key_gets_one_row_per_parent_at_most():
    rng = np.random.default_rng(4)
    users = pa.table({"user_id": np.arange(500), "plan": rng.choice(["free", "pro"], 500)})
    has = rng.random(500) < 0.7
    profiles = pa.table(
        {"user_id": np.arange(500)[has], "score": rng.integers(0, 100, int(has.sum()))}
    )
    config = GeneratorConfig(
        tables=[
            table("users", users, primary_key=["user_id"]),
            table(
                "profiles",
                profiles,
                primary_key=["user_id"],
                foreign_keys=[
                    ForeignKey(column="user_id", referenced_table="users", is_context=True)
                ],
            ),
        ]
    )
    synthetic = train_and_sample(
        config, {"users": users, "profiles": profiles}, seed=2, sizes={"profiles": 900}
    )
    assert_unique(synthetic["profiles"], ["user_id"])
    assert orphan_share(synthetic["profiles"], ["user_id"], synthetic["users"], ["user_id"]) == 0.0


def test_a_holdout_split_keeps_the_children_of_kept_parents_by_their_whole_key(shows):
    from synthpipe.engine import split

    real, _ = shows
    config = GeneratorConfig(
        tables=[
            table("contestants", real["contestants"], primary_key=["season", "contestant"]),
            table(
                "appearances",
                real["appearances"],
                foreign_keys=[
                    ForeignKey(
                        column=["season", "contestant"],
                        referenced_table="contestants",
                        is_context=True,
                    )
                ],
            ),
        ]
    )
    train, holdout = split(real, config, share=0.5, seed=1)
    key = ["season", "contestant"]
    for part in (train, holdout):
        assert orphan_share(part["appearances"], key, part["contestants"], key) == 0.0
    total = train["appearances"].num_rows + holdout["appearances"].num_rows
    assert total == real["appearances"].num_rows


def test_references_to_held_out_rows_are_not_learned_as_orphans(tmp_path):
    """Through the engine, with a holdout split: a plain foreign key across the root's rows
    points at held-out parents in the training rows; the real data has no orphan, nor must
    the synthetic data."""
    import pyarrow.parquet as pq

    import synthpipe
    from synthpipe.engine import read_dataset
    from synthpipe.store import Store

    rng = np.random.default_rng(6)
    parts = pa.table({"partkey": np.arange(1, 201), "brand": rng.choice(list("ABC"), 200)})
    pairs = [(p, s) for p in range(1, 201) for s in (1, 2, 3)]
    partsupp = pa.table(
        {
            "partkey": [p for p, _ in pairs],
            "suppkey": [s for _, s in pairs],
            "cost": rng.random(600),
        }
    )
    n = 3000
    pick = rng.integers(0, len(pairs), n)
    lines = pa.table(
        {
            "line_id": np.arange(n),
            "partkey": rng.integers(1, 201, n),  # the part a line belongs to
            "other_part": [pairs[i][0] for i in pick],  # a part-supplier of any part
            "other_supp": [pairs[i][1] for i in pick],
        }
    )
    source = tmp_path / "source"
    source.mkdir()
    for name, arrow in {"parts": parts, "partsupp": partsupp, "lines": lines}.items():
        pq.write_table(arrow, source / f"{name}.parquet")
    context = {"column": "partkey", "referenced_table": "parts", "is_context": True}
    record = synthpipe.train(
        source={"connector": "files", "options": {"path": str(source)}},
        tables=[
            {"name": "parts", "primary_key": "partkey"},
            {"name": "partsupp", "primary_key": ["partkey", "suppkey"], "foreign_keys": [context]},
            {
                "name": "lines",
                "primary_key": "line_id",
                "foreign_keys": [
                    context,
                    {
                        "column": ["other_part", "other_supp"],
                        "referenced_table": "partsupp",
                        "referenced_column": ["partkey", "suppkey"],
                    },
                ],
            },
        ],
        holdout=0.3,
        home=tmp_path,
    )
    dataset = synthpipe.generate(record.id, seed=1, home=tmp_path)
    made = {n: read_dataset(Store(tmp_path), dataset.id, n) for n in ("partsupp", "lines")}
    refs = ["other_part", "other_supp"]
    assert made["lines"]["other_part"].null_count == 0
    assert orphan_share(made["lines"], refs, made["partsupp"], ["partkey", "suppkey"]) == 0.0


def test_a_context_key_keeps_the_real_shares_of_orphans_and_nulls():
    rng = np.random.default_rng(8)
    customers = pa.table({"cid": np.arange(1, 401), "tier": rng.choice(["a", "b"], 400)})
    n = 6000
    owner = rng.integers(1, 401, n)
    kind = rng.random(n)
    cid = pa.array(
        [
            None if k < 0.03 else (5000 + int(o) if k < 0.05 else int(o))
            for k, o in zip(kind, owner, strict=True)
        ],
        pa.int64(),
    )
    orders = pa.table({"oid": np.arange(n), "cid": cid, "amount": rng.gamma(2.0, 10.0, n).round(2)})
    config = GeneratorConfig(
        tables=[
            table("customers", customers, primary_key=["cid"]),
            table(
                "orders",
                orders,
                primary_key=["oid"],
                foreign_keys=[
                    ForeignKey(column="cid", referenced_table="customers", is_context=True)
                ],
            ),
        ]
    )
    made = train_and_sample(config, {"customers": customers, "orders": orders}, seed=3)
    orders_made = made["orders"]
    real_orphans = orphan_share(orders, ["cid"], customers, ["cid"])
    made_orphans = orphan_share(orders_made, ["cid"], made["customers"], ["cid"])
    assert made_orphans == pytest.approx(real_orphans, abs=0.005)
    real_nulls = orders["cid"].null_count / orders.num_rows
    assert orders_made["cid"].null_count / orders_made.num_rows == pytest.approx(
        real_nulls, abs=0.005
    )
    assert_unique(orders_made, ["oid"])
