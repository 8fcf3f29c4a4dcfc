"""Privacy metrics on data whose answers are known: copies, unseen rows, no holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.qa.privacy import dcr_share, row_hashes


def _people(seed: int, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 1, n).round(2),
            "city": rng.choice(["Vienna", "Graz", "Linz", "Salzburg", None], n),
            "score": rng.normal(0, 1, n),
        }
    )


def _privacy(train, synthetic, holdout=None) -> dict:
    return evaluate(train, synthetic, holdout).metrics["tables"]["table"]["privacy"]


def test_a_copy_of_training_data_has_dcr_share_one_and_only_identical_matches():
    train, holdout = _people(1), _people(2)
    privacy = _privacy(train, train.copy(), holdout)
    assert privacy["dcr_share"] == pytest.approx(1.0, abs=0.01)
    assert privacy["identical_match_share_train"] == 1.0
    assert privacy["identical_match_share_holdout"] == 0.0
    assert privacy["dcr_train_mean"] == 0.0


def test_fresh_rows_from_the_same_population_have_dcr_share_near_one_half():
    train, holdout, synthetic = _people(1, 2000), _people(2, 2000), _people(3, 2000)
    privacy = _privacy(train, synthetic, holdout)
    assert privacy["dcr_share"] == pytest.approx(0.5, abs=0.06)
    assert privacy["identical_match_share_train"] == 0.0


def test_the_holdout_itself_is_never_nearer_to_training():
    train, holdout = _people(1), _people(2)
    privacy = _privacy(train, holdout.copy(), holdout)
    assert privacy["dcr_share"] == pytest.approx(0.0, abs=0.01)
    assert privacy["identical_match_share_holdout"] == 1.0


def test_without_a_holdout_the_metrics_needing_one_are_null_with_a_reason():
    train = _people(1)
    privacy = _privacy(train, _people(3))
    assert privacy["dcr_share"] is None
    assert "holdout" in privacy["notes"]["dcr_share"]
    assert privacy["identical_match_share_holdout"] is None
    assert privacy["dcr_train_mean"] > 0


def test_dcr_share_counts_ties_half():
    assert dcr_share(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 1.0])) == 0.375


def test_equal_rows_hash_equal_whatever_their_dtypes():
    kinds = {"n": "numeric", "c": "categorical"}
    ints = pd.DataFrame({"n": [1, 2], "c": ["a", None]})
    floats = pd.DataFrame({"n": [1.0, 2.0], "c": pd.Series(["a", None], dtype="string")})
    assert (row_hashes(ints, kinds) == row_hashes(floats, kinds)).all()
