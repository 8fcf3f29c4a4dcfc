"""Similarity: can a classifier tell synthetic rows from real training rows?

A gradient-boosted classifier (sklearn's HistGradientBoostingClassifier, categoricals handled
natively) is cross-validated on equal-size samples of training and synthetic rows. Its mean
ROC AUC is 0.5 when the two are indistinguishable and 1.0 when every row gives itself away.
Its 95% interval uses Hanley & McNeil's standard error for that many rows of each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa.bins import CATEGORICAL, values_of
from synthpipe.qa.intervals import auc_interval

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 10_000  # per side
FOLDS = 3
# HistGradientBoosting accepts at most 255 bins; rarer categories share one code.
MAX_CATEGORIES = 250


def similarity(
    train: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, str], rng: np.random.Generator
) -> dict:
    """``discriminator_auc`` with its 95% interval and the rows per side it was measured on."""
    auc = discriminator_auc(train, synthetic, kinds, rng)
    rows = min(len(train), len(synthetic), MAX_ROWS) if auc is not None else 0
    return {
        "discriminator_auc": auc,
        "discriminator_auc_interval": auc_interval(auc, rows, rows),
        "discriminator_rows": rows,
    }


def discriminator_auc(
    train: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, str], rng: np.random.Generator
) -> float | None:
    """Mean cross-validated ROC AUC of real-vs-synthetic; None when there is too little data."""
    size = min(len(train), len(synthetic), MAX_ROWS)
    if size < 2 * FOLDS or not kinds:
        return None
    real = train.iloc[rng.choice(len(train), size, replace=False)]
    syn = synthetic.iloc[rng.choice(len(synthetic), size, replace=False)]
    x, categorical = _features(real, syn, kinds)
    y = np.r_[np.zeros(size), np.ones(size)]
    return _cross_validated_auc(x, y, categorical, int(rng.integers(2**31)))


def _features(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]):
    columns, categorical = [], []
    for name, kind in kinds.items():
        values = np.concatenate([values_of(real[name], kind), values_of(syn[name], kind)])
        if kind == CATEGORICAL:
            values = _category_codes(values)
        columns.append(values.astype("float64"))
        categorical.append(kind == CATEGORICAL)
    return np.column_stack(columns), np.array(categorical)


def _category_codes(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    codes, uniques = pd.factorize(values)
    counts = np.bincount(codes, minlength=len(uniques))
    rank = np.empty(len(uniques), dtype="int64")
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(uniques))
    return np.minimum(rank[codes], MAX_CATEGORIES)


def _cross_validated_auc(x: np.ndarray, y: np.ndarray, categorical: np.ndarray, seed: int) -> float:
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y)
    # One OpenMP thread: on a busy machine, spinning threads made the fits 10-20x slower.
    with threadpool_limits(1, user_api="openmp"):
        scores = [_fold_auc(x, y, categorical, seed, fit, test) for fit, test in folds]
    return float(np.mean(scores))


def _fold_auc(x, y, categorical, seed: int, fit_rows, test_rows) -> float:
    """ROC AUC on one held-out fold of a classifier fitted on the others."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    model = HistGradientBoostingClassifier(
        max_iter=50,
        max_depth=10,
        min_samples_leaf=5,
        early_stopping=False,
        categorical_features=categorical if categorical.any() else None,
        random_state=seed,
    )
    model.fit(x[fit_rows], y[fit_rows])
    return float(roc_auc_score(y[test_rows], model.predict_proba(x[test_rows])[:, 1]))
