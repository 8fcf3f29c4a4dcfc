"""The verdict never misfires on small or low-cardinality tables, and still catches copies.

Each case here made the verdict POOR before intervals and holdout-referenced matches: a table
of 22 training and 2 holdout rows, and a low-cardinality table whose rows match by necessity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.qa.verdict import GOOD, INCONCLUSIVE, POOR, band


def _plots(n: int, seed: int) -> pd.DataFrame:
    """Like the demo's ``plots``: two values per column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "plot_type": rng.choice(["Control", "Rodent Exclosure"], n),
            "fenced": rng.choice([True, False], n),
        }
    )


def _low_cardinality(n: int, seed: int) -> pd.DataFrame:
    """40 possible rows, skewed: most synthetic and holdout rows equal some training row."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.choice(["x", "y"], n, p=[0.7, 0.3]),
            "b": rng.choice(list("pqrs"), n, p=[0.4, 0.3, 0.2, 0.1]),
            "c": rng.choice(list("12345"), n, p=[0.5, 0.2, 0.15, 0.1, 0.05]),
        }
    )


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    return pd.DataFrame(
        {
            "age": age,
            "income": (rng.lognormal(10, 1, n) * age / 50).round(2),
            "city": rng.choice(["Vienna", "Graz", "Linz", None], n),
            "score": rng.normal(0, 1, n),
        }
    )


def test_two_holdout_rows_say_not_enough_holdout_rows_instead_of_poor():
    real = _plots(24, 0)
    verdict = evaluate(real[:22], _plots(24, 1), real[22:]).headline["verdict"]
    assert verdict["level"] == INCONCLUSIVE
    assert verdict["parts"]["privacy"] == INCONCLUSIVE
    assert any(
        "not enough holdout rows to judge privacy: 2" in f.lower() for f in verdict["findings"]
    )
    assert not any("memorised" in f for f in verdict["findings"])


@pytest.mark.parametrize("seed", [0, 3])
def test_matches_that_the_holdout_shows_too_are_not_flagged_as_copies(seed):
    # 600 training rows, fresh synthetic rows from the same distribution, 60 holdout rows.
    result = evaluate(
        _low_cardinality(600, seed),
        _low_cardinality(600, seed + 10),
        _low_cardinality(60, seed + 20),
        seed=seed,
    )
    privacy = result.metrics["tables"]["table"]["privacy"]
    assert privacy["train_match_share_synthetic"] > 0.9  # matches by necessity ...
    assert privacy["train_match_share_holdout"] > 0.9  # ... for unseen real rows as well
    assert privacy["train_match_excess_interval"][0] <= 0.01
    verdict = result.headline["verdict"]
    assert verdict["parts"]["privacy"] in (GOOD, INCONCLUSIVE)  # 60 holdout rows: either
    assert verdict["level"] != POOR
    assert not any("memorised" in f for f in verdict["findings"])


def test_a_low_cardinality_table_with_a_fair_holdout_is_judged_good():
    result = evaluate(
        _low_cardinality(3000, 1), _low_cardinality(3000, 2), _low_cardinality(400, 3)
    )
    assert result.headline["verdict"]["parts"]["privacy"] == GOOD


def test_a_generator_that_copies_its_training_rows_is_still_poor():
    train, holdout = _people(900, 1), _people(100, 2)
    result = evaluate(train, train.copy(), holdout)
    headline = result.headline
    assert headline["verdict"]["level"] == POOR
    assert headline["verdict"]["parts"]["privacy"] == POOR
    assert any("memorised" in f for f in headline["verdict"]["findings"])
    assert headline["train_match_share_synthetic"] == 1.0
    assert headline["train_match_share_holdout"] == 0.0
    assert headline["train_match_excess_interval"][0] > 0.9


def test_a_copying_generator_of_a_low_cardinality_table_is_still_poor():
    # Unique rows (an id-like value column) copied verbatim: matches the holdout never shows.
    train = _low_cardinality(900, 1).assign(serial=np.arange(900))
    holdout = _low_cardinality(100, 2).assign(serial=np.arange(900, 1000))
    verdict = evaluate(train, train.copy(), holdout).headline["verdict"]
    assert verdict["parts"]["privacy"] == POOR


def test_a_perfect_generator_on_a_small_table_is_not_poor_on_noise():
    # 100 rows: three-column measures have few rows per bin, so even an independent real
    # sample falls well below the analytic ceiling; that shortfall is not the generator's.
    headline = evaluate(_people(100, 1), _people(100, 2), seed=1).headline
    assert headline["ceiling"] - headline["accuracy"] > 0.05  # noise of this size ...
    assert headline["accuracy_noise_gap"] > 0.05  # ... estimated from the real rows
    assert headline["verdict"]["parts"]["fidelity"] in (GOOD, INCONCLUSIVE)


def test_a_perfect_generator_with_enough_rows_is_good_and_a_broken_one_poor():
    real = _people(1500, 1)
    good = evaluate(real, _people(1500, 2)).headline["verdict"]["parts"]["fidelity"]
    broken = _people(1500, 2).assign(city="Vienna", income=lambda d: d["income"].sample(frac=1))
    poor = evaluate(real, broken).headline["verdict"]["parts"]["fidelity"]
    assert (good, poor) == (GOOD, POOR)


def test_a_small_table_is_named_without_setting_the_level_when_others_are_judged():
    big = {"people": _people(1500, 1), "plots": _plots(22, 0)}
    synthetic = {"people": _people(1500, 2), "plots": _plots(24, 1)}
    holdout = {"people": _people(1500, 3), "plots": _plots(2, 2)}
    result = evaluate(big, synthetic, holdout)
    verdict = result.headline["verdict"]
    assert verdict["parts"]["privacy"] == GOOD
    assert any(f.startswith("Table plots: not enough holdout rows") for f in verdict["findings"])
    assert result.metrics["tables"]["plots"]["verdict"]["privacy"] == INCONCLUSIVE
    people = result.metrics["tables"]["people"]["privacy"]
    assert result.headline["dcr_share"] == people["dcr_share"]  # not the tiny table's noise


@pytest.mark.parametrize(
    ("point", "interval", "level"),
    [
        (0.50, [0.48, 0.52], "good"),
        (0.56, [0.545, 0.575], "fair"),
        (0.56, [0.52, 0.60], "good"),  # fair only when the whole interval says so
        (0.70, [0.65, 0.75], "poor"),
        (0.62, [0.58, 0.66], "fair"),  # poor only when the whole interval says so
        (0.55, [0.40, 0.70], "inconclusive"),  # reaches both the good and the poor band
        (0.70, None, "poor"),  # without an interval: the estimate's band
    ],
)
def test_a_band_needs_its_whole_interval(point, interval, level):
    assert band(point, interval, (0.53, 0.60)) == level
