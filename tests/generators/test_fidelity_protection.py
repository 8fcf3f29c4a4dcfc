"""Value protection (on by default): rare categories, once-seen values and extremes never leak."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.generators.fidelity.numeric import clip_rows
from synthpipe.progress import Progress
from synthpipe.schema import (
    RARE_TOKEN,
    GeneratorConfig,
    ModelConfiguration,
    RareCategoryReplacement,
    SampleSpec,
    Table,
)
from synthpipe.types import columns_from_arrow

N = 4000


def synthesize(arrow: pa.Table, rows: int = 20_000, **settings) -> pa.Table:
    table = Table(name="t", columns=columns_from_arrow(arrow.schema))
    config = GeneratorConfig(tables=[table], model_configuration=ModelConfiguration(**settings))
    generator = FidelityGenerator()
    state = generator.fit(TrainingData(config, {"t": arrow}), Progress())
    spec = SampleSpec(sizes={"t": rows}, seed=11)
    return pa.Table.from_batches([b for _, b in generator.sample(state, spec, Progress())])


def training_table() -> pa.Table:
    rng = np.random.default_rng(7)
    colours = rng.choice(["red", "green", "blue"], N).astype(object)
    colours[:3] = ["mauve", "teal", "teal"]  # rare: seen fewer than 5 times
    income = np.round(rng.lognormal(10, 0.5, N)).astype(np.int64)
    income[0] = 10_000_000  # one extreme value
    scores = np.repeat(np.arange(100, 140), N // 40)
    scores[:40] = np.arange(1000, 1040)  # forty values seen once each
    return pa.table(
        {
            "colour": pa.array(colours.tolist()),
            "income": pa.array(income),
            "score": pa.array(scores.astype(np.int64)),
        }
    )


def test_rare_categories_become_the_rare_token():
    synthetic = synthesize(training_table())
    values = set(synthetic["colour"].to_pylist())
    assert not values & {"mauve", "teal"}
    assert RARE_TOKEN in values


def test_rare_categories_can_be_replaced_by_frequent_ones():
    method = RareCategoryReplacement.SAMPLE
    synthetic = synthesize(training_table(), rare_category_replacement_method=method)
    assert set(synthetic["colour"].to_pylist()) == {"red", "green", "blue"}


def test_a_value_seen_once_in_training_never_appears():
    arrow = training_table()
    synthetic = synthesize(arrow, rows=50_000)
    once = [v for v in range(1000, 1040)]
    produced = set(synthetic["score"].to_pylist())
    assert not produced & set(once)
    assert any(v > 140 for v in produced)  # the tail is still represented, by new values


def test_extreme_values_are_clipped_to_protected_ranks():
    arrow = training_table()
    synthetic = synthesize(arrow, rows=50_000)
    ordered = np.sort(arrow["income"].to_numpy())
    k = clip_rows(N)  # rows clipped at each end: 5, fewer for tables under 5000 rows
    assert k >= 1
    assert pc.max(synthetic["income"]).as_py() <= ordered[-1 - k] < ordered[-1]
    assert pc.min(synthetic["income"]).as_py() >= ordered[k] > ordered[0]


def test_without_value_protection_rare_values_may_appear():
    synthetic = synthesize(training_table(), rows=50_000, value_protection=False)
    assert {"mauve", "teal"} <= set(synthetic["colour"].to_pylist())
    assert pc.max(synthetic["income"]).as_py() == 10_000_000
