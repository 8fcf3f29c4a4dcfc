"""Discretisation rules: how numbers, categories, nulls and empty strings are binned."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpipe.qa.bins import (
    CATEGORICAL,
    EMPTY_BIN,
    NA_BIN,
    NUMERIC,
    OTHER_BIN,
    column_kind,
    fit_bins,
    values_of,
)


def _bins(series: pd.Series):
    kind = column_kind(series)
    return fit_bins(values_of(series, kind), kind), kind


def test_few_distinct_numbers_get_one_bin_each():
    series = pd.Series([1, 2, 2, 3, 3, 3, 7])
    bins, kind = _bins(series)
    assert bins.labels[:4] == ["1", "2", "3", "7"]
    codes = bins.encode(values_of(series, kind))
    assert codes.tolist() == [0, 1, 1, 2, 2, 2, 3]


def test_many_distinct_numbers_get_about_ten_equal_frequency_bins():
    series = pd.Series(np.arange(1_000, dtype=float))
    bins, kind = _bins(series)
    counts = np.bincount(bins.encode(values_of(series, kind)), minlength=bins.size)
    value_counts = counts[:-3]
    assert 10 <= len(value_counts) <= 12
    assert value_counts.max() - value_counts.min() <= 0.02 * len(series) + 1


def test_numbers_outside_the_real_range_have_bins_of_their_own():
    bins, _ = _bins(pd.Series(np.arange(100, dtype=float)))
    codes = bins.encode(np.array([-1e9, 1e9]))
    assert [bins.labels[c] for c in codes] == ["(below range)", "(above range)"]


def test_nulls_have_their_own_bin():
    bins, kind = _bins(pd.Series([1.0, None, 2.0]))
    assert bins.encode(values_of(pd.Series([None]), kind)).tolist() == [bins.size - 1]


def test_categories_keep_the_ten_most_frequent_seen_at_least_five_times():
    values = [f"c{i}" for i in range(12) for _ in range(20 - i)] + ["rare"] * 4
    bins, kind = _bins(pd.Series(values))
    named = [c for c in bins.categories if not c.startswith("(") and c != "_RARE_"]
    assert kind == CATEGORICAL
    assert sorted(named) == sorted(f"c{i}" for i in range(10))
    code = bins.encode(values_of(pd.Series(["c11", "rare", "never seen"]), kind))
    assert set(code.tolist()) == {bins.categories.index(OTHER_BIN)}


def test_nulls_and_empty_strings_are_separate_categories():
    series = pd.Series(["a"] * 6 + [None, ""])
    bins, kind = _bins(series)
    codes = bins.encode(values_of(series, kind))
    assert bins.labels[codes[-2]] == NA_BIN
    assert bins.labels[codes[-1]] == EMPTY_BIN


def test_booleans_and_datetimes_bin_as_numbers():
    assert column_kind(pd.Series([True, False])) == NUMERIC
    stamps = pd.Series(pd.date_range("2024-01-01", periods=50, freq="D"))
    bins, kind = _bins(stamps)
    assert kind == "datetime"
    assert bins.labels[0].startswith("2024")
