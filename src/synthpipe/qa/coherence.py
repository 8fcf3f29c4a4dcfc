"""Sequence coherence beyond the next row: how values spread within and across sequences.

Two measures per column of a child table, both as accuracies (one minus total variation):
the distribution of the number of distinct (binned) values per sequence, and the number of
sequences holding each of the most common values (the nine most common plus ``(other)``).
"""

from __future__ import annotations

import numpy as np

from synthpipe.qa.accuracy import Score, expected_accuracy, tv_accuracy
from synthpipe.qa.bins import NUMERIC, fit_bins

TOP_VALUES = 9


def distinct_per_sequence(
    codes: np.ndarray, sequence_ids: np.ndarray, n_sequences: int, size: int
) -> np.ndarray:
    """Number of distinct codes in each sequence."""
    pairs = np.unique(sequence_ids.astype("int64") * size + codes)
    return np.bincount(pairs // size, minlength=n_sequences)


def sequences_per_value(codes: np.ndarray, sequence_ids: np.ndarray, size: int) -> np.ndarray:
    """Number of sequences holding each code at least once."""
    pairs = np.unique(sequence_ids.astype("int64") * size + codes)
    return np.bincount(pairs % size, minlength=size)


def distinct_score(name: str, real: tuple, synthetic: tuple, size: int) -> Score:
    """Accuracy of the distinct-values-per-sequence distribution of one column.

    ``real`` and ``synthetic`` are ``(codes, sequence_ids, n_sequences)``.
    """
    real_counts = distinct_per_sequence(real[0], real[1], real[2], size).astype("float64")
    syn_counts = distinct_per_sequence(synthetic[0], synthetic[1], synthetic[2], size)
    bins = fit_bins(real_counts, NUMERIC)
    real_hist = np.bincount(bins.encode(real_counts), minlength=bins.size)
    syn_hist = np.bincount(bins.encode(syn_counts.astype("float64")), minlength=bins.size)
    return Score(
        (name,), tv_accuracy(real_hist, syn_hist), expected_accuracy(real_hist, len(syn_counts))
    )


def spread_score(name: str, real: tuple, synthetic: tuple, size: int) -> Score:
    """Accuracy of the number of sequences holding each of the top values of one column."""
    real_counts = sequences_per_value(real[0], real[1], size)
    syn_counts = sequences_per_value(synthetic[0], synthetic[1], size)
    top = np.argsort(-real_counts, kind="stable")[:TOP_VALUES]
    rest = np.setdiff1d(np.arange(size), top)
    real_hist = np.r_[real_counts[top], real_counts[rest].sum()]
    syn_hist = np.r_[syn_counts[top], syn_counts[rest].sum()]
    return Score(
        (name,), tv_accuracy(real_hist, syn_hist), expected_accuracy(real_hist, int(syn_hist.sum()))
    )
