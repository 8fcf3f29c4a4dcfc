"""The discriminator tells synthetic from real rows only when they differ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa.similarity import discriminator_auc

KINDS = {"x": "numeric", "k": "categorical"}


def _rows(seed: int, shift: float = 0.0, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x": rng.normal(shift, 1, n), "k": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])}
    )


def test_rows_from_the_same_distribution_give_an_auc_near_one_half():
    auc = discriminator_auc(_rows(1), _rows(2), KINDS, np.random.default_rng(0))
    assert auc == pytest.approx(0.5, abs=0.05)


def test_rows_from_disjoint_distributions_give_an_auc_near_one():
    auc = discriminator_auc(_rows(1), _rows(2, shift=100.0), KINDS, np.random.default_rng(0))
    assert auc > 0.99


def test_too_few_rows_give_no_auc():
    assert discriminator_auc(_rows(1, n=3), _rows(2, n=3), KINDS, np.random.default_rng(0)) is None
