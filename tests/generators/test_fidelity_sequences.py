"""Sequences keep their length distribution, their order and their row-to-row dynamics."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow

# A case moves through these statuses, never backwards; most cases end closed.
NEXT = {
    "open": ["in_review", "closed"],
    "in_review": ["approved", "rejected"],
    "approved": ["closed"],
    "rejected": ["closed"],
    "closed": [],
}


def histories(cases: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    kinds = rng.choice(["claim", "complaint"], cases)
    rows = {"case_id": [], "status": [], "changed_at": [], "handler": []}
    for case, kind in enumerate(kinds):
        status, day = "open", dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 300)))
        while True:
            rows["case_id"].append(case)
            rows["status"].append(status)
            rows["changed_at"].append(day)
            rows["handler"].append("team_a" if kind == "claim" else "team_b")
            if not NEXT[status] or (
                status == "open" and kind == "complaint" and rng.random() < 0.7
            ):
                break
            status = NEXT[status][rng.integers(0, len(NEXT[status]))]
            day = day + dt.timedelta(days=int(rng.integers(1, 15)))
    case_table = pa.table({"case_id": np.arange(cases), "kind": kinds})
    status_table = pa.table({"event_id": np.arange(len(rows["case_id"])), **rows})
    return {"cases": case_table, "events": status_table}


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return histories(1500, np.random.default_rng(0))


@pytest.fixture(scope="module")
def synthetic(tables) -> dict[str, pa.Table]:
    config = GeneratorConfig(
        tables=[
            Table(
                name="cases",
                columns=columns_from_arrow(tables["cases"].schema),
                primary_key=["case_id"],
            ),
            Table(
                name="events",
                columns=columns_from_arrow(tables["events"].schema),
                primary_key=["event_id"],
                order_by=["changed_at"],
                foreign_keys=[
                    ForeignKey(column="case_id", referenced_table="cases", is_context=True)
                ],
            ),
        ]
    )
    generator = FidelityGenerator()
    state = generator.fit(TrainingData(config, tables), Progress())
    out: dict[str, list] = {}
    for name, batch in generator.sample(state, SampleSpec(seed=1), Progress()):
        out.setdefault(name, []).append(batch)
    return {n: pa.Table.from_batches(b) for n, b in out.items()}


def sequences(events: pa.Table) -> list[list[str]]:
    frame = events.to_pandas().sort_values(["case_id", "changed_at", "event_id"], kind="stable")
    return frame.groupby("case_id")["status"].apply(list).tolist()


def test_sequence_lengths_follow_the_training_distribution(tables, synthetic):
    real = np.bincount([len(s) for s in sequences(tables["events"])], minlength=8)[:8]
    made = np.bincount([len(s) for s in sequences(synthetic["events"])], minlength=8)[:8]
    real, made = real / real.sum(), made / made.sum()
    assert 0.5 * np.abs(real - made).sum() < 0.1


def test_sequences_start_where_training_sequences_start(synthetic):
    firsts = [s[0] for s in sequences(synthetic["events"])]
    assert np.mean([f == "open" for f in firsts]) > 0.9


def test_row_to_row_transitions_follow_the_learned_dynamics(synthetic):
    steps = [(a, b) for s in sequences(synthetic["events"]) for a, b in itertools.pairwise(s)]
    allowed = np.mean([b in NEXT[a] for a, b in steps])
    assert allowed > 0.9


def test_sequences_depend_on_their_parent(synthetic):
    joined = synthetic["events"].join(synthetic["cases"], "case_id").to_pandas()
    handler = joined.groupby("kind")["handler"].agg(
        lambda s: s.value_counts(normalize=True).index[0]
    )
    assert handler["claim"] == "team_a" and handler["complaint"] == "team_b"


def test_order_column_never_goes_backwards_within_a_sequence(synthetic):
    frame = synthetic["events"].to_pandas()
    ordered = frame.groupby("case_id", sort=False)["changed_at"].apply(
        lambda s: s.is_monotonic_increasing
    )
    assert ordered.all()


def test_every_event_belongs_to_a_generated_case(synthetic):
    events, cases = synthetic["events"], synthetic["cases"]
    assert pc.all(pc.is_in(events["case_id"], cases["case_id"])).as_py()
