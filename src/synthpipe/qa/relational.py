"""Relational checks: keys that resolve, unique keys, and how many children parents have."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa.accuracy import expected_accuracy, tv_accuracy
from synthpipe.qa.bins import NUMERIC, fit_bins
from synthpipe.qa.tables import align_key_types

if TYPE_CHECKING:
    import pandas as pd


def referential_integrity(
    child: pd.DataFrame, columns: list[str], parent: pd.DataFrame, referenced: list[str]
) -> float | None:
    """Share of child rows with a non-null key whose key exists in the parent; None if none."""
    keys = child[columns].dropna()
    if keys.empty:
        return None
    found = _keys(keys, parent[referenced])
    return float(found.mean())


def pk_uniqueness(frame: pd.DataFrame, primary_key: list[str]) -> float | None:
    """Share of rows whose primary key is non-null and appears only once; None without rows."""
    if len(frame) == 0:
        return None
    keys = frame[primary_key]
    unique = ~keys.duplicated(keep=False) & keys.notna().all(axis=1)
    return float(unique.mean())


def children_per_parent(
    child: pd.DataFrame, columns: list[str], parent: pd.DataFrame, referenced: list[str]
) -> np.ndarray:
    """Number of child rows of each parent row, zeros included."""
    import pandas as pd

    left, right = align_key_types(
        child[columns].dropna(), parent[referenced].set_axis(columns, axis=1)
    )
    counts = left.value_counts()
    index = pd.MultiIndex.from_frame(right)
    return counts.reindex(index, fill_value=0).to_numpy()


def children_accuracy(real: np.ndarray, synthetic: np.ndarray) -> dict:
    """Accuracy of the children-per-parent distribution, with the binned shares for a plot."""
    bins = fit_bins(real.astype("float64"), NUMERIC)
    real_hist = np.bincount(bins.encode(real.astype("float64")), minlength=bins.size)
    syn_hist = np.bincount(bins.encode(synthetic.astype("float64")), minlength=bins.size)
    used = (real_hist + syn_hist) > 0
    return {
        "accuracy": tv_accuracy(real_hist, syn_hist) if syn_hist.sum() else None,
        "ceiling": expected_accuracy(real_hist, int(syn_hist.sum())) if syn_hist.sum() else None,
        "labels": [label for label, u in zip(bins.labels, used, strict=True) if u],
        "real": (real_hist[used] / max(real_hist.sum(), 1)).tolist(),
        "synthetic": (syn_hist[used] / max(syn_hist.sum(), 1)).tolist(),
    }


def _keys(keys: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    import pandas as pd

    left, right = align_key_types(keys, targets.set_axis(list(keys.columns), axis=1))
    return pd.MultiIndex.from_frame(left).isin(pd.MultiIndex.from_frame(right))
