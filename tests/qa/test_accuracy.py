"""Accuracy on hand-made distributions whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.qa.accuracy import expected_accuracy, tv_accuracy


def test_identical_histograms_have_accuracy_one():
    assert tv_accuracy(np.array([5, 3, 2]), np.array([10, 6, 4])) == pytest.approx(1.0)


def test_disjoint_histograms_have_accuracy_zero():
    assert tv_accuracy(np.array([4, 0]), np.array([0, 7])) == pytest.approx(0.0)


def test_accuracy_is_one_minus_total_variation_distance():
    # p = (0.5, 0.5), q = (0.25, 0.75): TV = 0.25
    assert tv_accuracy(np.array([1, 1]), np.array([1, 3])) == pytest.approx(0.75)


def test_ceiling_rises_towards_one_with_more_synthetic_rows():
    real = np.array([500, 300, 200])
    ceilings = [expected_accuracy(real, n) for n in (100, 1_000, 100_000)]
    assert ceilings == sorted(ceilings)
    assert 0.9 < ceilings[0] < ceilings[-1] < 1.0


def test_ceiling_matches_the_accuracy_of_independent_samples_on_average():
    rng = np.random.default_rng(0)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    real = rng.multinomial(20_000, p)
    measured = [tv_accuracy(real, rng.multinomial(2_000, real / real.sum())) for _ in range(300)]
    assert np.mean(measured) == pytest.approx(expected_accuracy(real, 2_000), abs=0.002)


def _frame(rng, n: int, offset: float = 0.0, letters: str = "abc") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(offset, 1, n),
            "k": rng.choice(list(letters), n),
            "y": rng.integers(0, 5, n) + offset,
        }
    )


def test_identical_data_scores_one_in_every_family():
    frame = _frame(np.random.default_rng(1), 400)
    acc = evaluate(frame, frame.copy()).metrics["tables"]["table"]["accuracy"]
    for family in ("overall", "univariate", "bivariate", "trivariate"):
        assert acc[family] == pytest.approx(1.0)


def test_disjoint_data_scores_zero_in_every_family():
    rng = np.random.default_rng(2)
    real = _frame(rng, 400, offset=0.0, letters="abc")
    synthetic = _frame(rng, 400, offset=1_000.0, letters="xyz")
    acc = evaluate(real, synthetic).metrics["tables"]["table"]["accuracy"]
    for family in ("overall", "univariate", "bivariate", "trivariate"):
        assert acc[family] == pytest.approx(0.0)


def test_real_reference_is_training_plus_holdout():
    # Training holds only "a", holdout only "b"; synthetic half and half matches their union.
    train = pd.DataFrame({"k": ["a"] * 50})
    holdout = pd.DataFrame({"k": ["b"] * 50})
    synthetic = pd.DataFrame({"k": ["a", "b"] * 50})
    acc = evaluate(train, synthetic, holdout).metrics["tables"]["table"]["accuracy"]
    assert acc["univariate"] == pytest.approx(1.0)


def test_columns_are_listed_worst_first():
    rng = np.random.default_rng(3)
    real = _frame(rng, 500)
    synthetic = real.copy()
    synthetic["k"] = "a"  # one column made wrong on purpose
    columns = evaluate(real, synthetic).metrics["tables"]["table"]["accuracy"]["columns"]
    assert columns[0]["column"] == "k"
    assert columns[0]["accuracy"] < columns[-1]["accuracy"]


def test_evaluation_is_deterministic_for_a_seed():
    rng = np.random.default_rng(4)
    real, synthetic, holdout = _frame(rng, 300), _frame(rng, 300), _frame(rng, 300)
    first = evaluate(real, synthetic, holdout, seed=7).metrics
    second = evaluate(real, synthetic, holdout, seed=7).metrics
    for m in (first, second):
        m.pop("created_at"), m.pop("timings")
    assert first == second


def test_columns_missing_from_the_synthetic_data_are_reported_not_compared():
    real = _frame(np.random.default_rng(5), 50)
    metrics = evaluate(real, real.drop(columns="k")).metrics
    table = metrics["tables"]["table"]
    assert table["columns_not_compared"] == ["k"]
    assert sorted(c["column"] for c in table["accuracy"]["columns"]) == ["x", "y"]
    assert metrics["headline"]["columns_not_compared"] == 1
    assert metrics["headline"]["verdict"]["level"] != "good"
