"""Discretisation: every column becomes small integer bin codes, with bins fitted on real data.

Numbers and datetimes fall into about ten equal-frequency bins (one bin per value when the real
data holds ten or fewer distinct values); categoricals keep their ten most frequent values seen at
least five times, everything else becomes ``(other)``. Nulls, empty strings and the rare-value
token always get bins of their own, and so do numbers below or above the real range (a value
the real data never reaches is not "close enough"). Otherwise the rules, including how bin
edges are searched and rounded, follow mostlyai-qa so that accuracies agree with it (it folds
out-of-range values into the edge bins instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthpipe.schema import RARE_TOKEN

if TYPE_CHECKING:
    import pandas as pd

NA_BIN = "(n/a)"
BELOW_BIN = "(below range)"
ABOVE_BIN = "(above range)"
EMPTY_BIN = "(empty)"
OTHER_BIN = "(other)"
N_BINS = 10
# A category seen fewer times than this is never shown by name: it could identify someone.
MIN_CATEGORY_COUNT = 5
NUMERIC, DATETIME, CATEGORICAL = "numeric", "datetime", "categorical"


def column_kind(series: pd.Series) -> str:
    """Whether a real column is binned as a number, a datetime or a category."""
    from pandas.api import types

    if types.is_datetime64_any_dtype(series):
        return DATETIME
    inferred = types.infer_dtype(series, skipna=True) if series.dtype == object else None
    if inferred in ("date", "datetime"):
        return DATETIME  # Python date objects, e.g. a DATE column read through Arrow
    if inferred in ("decimal", "integer", "floating", "mixed-integer-float"):
        return NUMERIC  # Python numbers in an object column, e.g. a DECIMAL column
    if types.is_bool_dtype(series) or types.is_numeric_dtype(series):
        return NUMERIC
    return CATEGORICAL


def as_numbers(series: pd.Series, kind: str) -> np.ndarray:
    """Float values of a numeric or datetime column (datetimes as seconds), NaN for nulls."""
    import pandas as pd

    if kind == DATETIME:
        stamps = pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
        nanos = stamps.to_numpy("datetime64[ns]").astype("int64").astype("float64")
        nanos[stamps.isna().to_numpy()] = np.nan
        return nanos / 1e9
    values = pd.to_numeric(series, errors="coerce")
    return np.asarray(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")


def as_categories(series: pd.Series) -> np.ndarray:
    """String values of a column with nulls and empty strings replaced by their bin names."""
    strings = series.astype("string").fillna(NA_BIN)
    return strings.mask(strings == "", EMPTY_BIN).to_numpy(dtype=object)


def values_of(series: pd.Series, kind: str) -> np.ndarray:
    """The column as the array its kind is binned from."""
    return as_categories(series) if kind == CATEGORICAL else as_numbers(series, kind)


@dataclass
class Bins:
    """The bins of one column: ``labels[i]`` names code ``i``; the last code holds nulls.

    Numbers have their value bins first, then below-range, above-range and null bins.
    """

    kind: str
    labels: list[str]
    edges: np.ndarray | None = None  # numbers: left edges of the value bins, then the top
    categories: list[str] | None = None  # categoricals: one label per code
    low: float = -np.inf  # numbers: the real range
    high: float = np.inf

    @property
    def size(self) -> int:
        return len(self.labels)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Bin codes (int32) of values prepared by ``values_of``."""
        if self.kind == CATEGORICAL:
            return _encode_categories(values, self.categories or [])
        return _encode_numbers(values, self.edges, self.low, self.high)


def fit_bins(values: np.ndarray, kind: str) -> Bins:
    """Bins for one column, fitted on its real values (as prepared by ``values_of``)."""
    if kind == CATEGORICAL:
        categories = _top_categories(values)
        return Bins(kind, list(categories), categories=categories)
    finite = values[~np.isnan(values)]
    breaks = _breaks(finite)
    distinct = np.unique(finite)
    labels = _number_labels(breaks, kind, exact=len(distinct) <= N_BINS)
    edges = np.array([*breaks[:-1], breaks[-1] + 1], dtype="float64")
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (np.inf, -np.inf)
    labels = [*labels, BELOW_BIN, ABOVE_BIN, NA_BIN]
    return Bins(kind, labels, edges=edges, low=low, high=high)


def _encode_numbers(values: np.ndarray, edges: np.ndarray, low: float, high: float) -> np.ndarray:
    n_value_bins = len(edges) - 1
    codes = np.searchsorted(edges, values, side="right") - 1
    codes = np.clip(codes, 0, n_value_bins - 1).astype("int32")
    codes[values < low] = n_value_bins
    codes[values > high] = n_value_bins + 1
    codes[np.isnan(values)] = n_value_bins + 2
    return codes


def _encode_categories(values: np.ndarray, categories: list[str]) -> np.ndarray:
    import pandas as pd

    codes = pd.Index(categories).get_indexer(values).astype("int32")
    codes[codes < 0] = categories.index(OTHER_BIN)
    return codes


def _top_categories(values: np.ndarray) -> list[str]:
    import pandas as pd

    counts = pd.Series(values).value_counts()
    # Ties broken by value so the bins never depend on row order.
    order = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:N_BINS]
    top = sorted(value for value, count in order if count >= MIN_CATEGORY_COUNT)
    specials = [EMPTY_BIN, OTHER_BIN, RARE_TOKEN, NA_BIN]
    return [c for c in top if c not in specials] + specials


def _breaks(finite: np.ndarray) -> list[float]:
    """Sorted distinct bin boundaries, the last one closing the top bin."""
    distinct = np.unique(finite)
    if len(distinct) == 0:
        return [-1e10, 1e10]
    if len(distinct) <= N_BINS:
        return _round_down([*distinct.tolist(), float(distinct[-1]) + 1])
    return _round_down(_search_breaks(np.sort(finite), N_BINS))


def _search_breaks(values: np.ndarray, n: int) -> list[float]:
    # Equal-frequency quantiles, taking more quantiles until n+1 of them are distinct.
    breaks: list[float] = []
    for count in range(n, max(n + 1, min(1000, len(values) + 1))):
        indices = np.linspace(0, len(values) - 1, count).astype(int)
        breaks = np.unique(values[indices]).tolist()
        if len(breaks) >= n + 1:
            break
    return breaks


def _round_down(breaks: list[float]) -> list[float]:
    """Shortest decimal floor of the inner boundaries that keeps them distinct (for labels)."""
    for precision in range(20):
        scale = 10**precision
        floored = {float(np.true_divide(np.floor(b * scale), scale)) for b in breaks}
        if len(floored) == len(breaks):
            inner = [float(np.true_divide(np.floor(b * scale), scale)) for b in breaks[:-1]]
            return [*inner, breaks[-1]]
    return breaks


def _number_labels(breaks: list[float], kind: str, *, exact: bool) -> list[str]:
    lower = breaks[:-1]
    if kind == DATETIME:
        return [_datetime_label(b, lower) for b in lower]
    text = [str(int(b)) if float(b).is_integer() else str(b) for b in lower]
    return text if exact else [f"≥ {t}" for t in text]


def _datetime_label(seconds: float, all_breaks: list[float]) -> str:
    import pandas as pd

    stamps = pd.to_datetime(np.asarray(all_breaks) * 1e9)
    for fmt in ("%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        if len(set(stamps.strftime(fmt))) == len(stamps):
            return pd.Timestamp(seconds * 1e9).strftime(fmt)
    return pd.Timestamp(seconds * 1e9).isoformat()
