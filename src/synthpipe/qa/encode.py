"""Rows as numeric vectors for distance-based privacy metrics.

Numbers and datetimes are quantile-encoded into [-0.5, 0.5] with quantiles of the real data
(nulls at 0 plus a -0.5/0.5 null flag); a category becomes a point on a sphere of diameter 1,
categories spread evenly over it in order of frequency (a Fibonacci lattice), so changing a
category moves a row about as far as moving a number across its whole range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa.bins import CATEGORICAL, values_of

if TYPE_CHECKING:
    import pandas as pd

N_QUANTILES = 100
# Categories beyond the most frequent ones share the point of unseen values.
MAX_CATEGORIES = 1000


@dataclass
class ColumnEncoder:
    """How one column becomes one or more dimensions."""

    name: str
    kind: str
    quantiles: np.ndarray | None = None
    null_flag: bool = False
    points: dict[str, np.ndarray] = field(default_factory=dict)
    unseen: np.ndarray | None = None

    @property
    def width(self) -> int:
        if self.kind == CATEGORICAL:
            return 3
        return 2 if self.null_flag else 1

    def transform(self, series: pd.Series) -> np.ndarray:
        values = values_of(series, self.kind)
        if self.kind == CATEGORICAL:
            return _category_points(values, self.points, self.unseen)
        nulls = np.isnan(values)
        ranks = np.where(nulls, 0.0, quantile_rank(values, self.quantiles) - 0.5)
        if not self.null_flag:
            return ranks[:, None]
        return np.column_stack([ranks, nulls - 0.5])


def fit_encoders(
    real: pd.DataFrame, kinds: dict[str, str], others: list[pd.DataFrame]
) -> list[ColumnEncoder]:
    """Encoders for the columns of ``kinds``, fitted on ``real``.

    A null flag is added wherever any of ``real`` and ``others`` has nulls, so every dataset is
    encoded into the same dimensions.
    """
    encoders = []
    for name, kind in kinds.items():
        values = values_of(real[name], kind)
        if kind == CATEGORICAL:
            encoders.append(_categorical(name, values))
            continue
        finite = values[~np.isnan(values)]
        quantiles = (
            np.quantile(finite, np.linspace(0, 1, min(N_QUANTILES, len(finite))))
            if len(finite)
            else np.zeros(1)
        )
        null_flag = any(frame[name].isna().any() for frame in [real, *others])
        encoders.append(ColumnEncoder(name, kind, quantiles, null_flag))
    return encoders


def encode(frame: pd.DataFrame, encoders: list[ColumnEncoder]) -> np.ndarray:
    """The rows of ``frame`` as vectors, one block of dimensions per encoder."""
    if not encoders:
        return np.zeros((len(frame), 0))
    return np.hstack([e.transform(frame[e.name]) for e in encoders])


def dimensions(encoders: list[ColumnEncoder]) -> list[list[int]]:
    """The dimensions each column occupies in ``encode``'s output."""
    blocks, start = [], 0
    for e in encoders:
        blocks.append(list(range(start, start + e.width)))
        start += e.width
    return blocks


def quantile_rank(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Position of values among the real quantiles, in [0, 1] (ties averaged, as sklearn does)."""
    if len(quantiles) < 2:
        return np.full(len(values), 0.5)
    refs = np.linspace(0, 1, len(quantiles))
    up = np.interp(values, quantiles, refs)
    down = -np.interp(-values, -quantiles[::-1], -refs[::-1])
    return 0.5 * (up + down)


def sphere_points(n: int) -> np.ndarray:
    """``n`` points spread evenly over a sphere of diameter 1 (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    radius = np.sqrt(1 - z**2)
    angle = np.pi * (3 - np.sqrt(5)) * i
    return 0.5 * np.column_stack([radius * np.cos(angle), radius * np.sin(angle), z])


def _categorical(name: str, values: np.ndarray) -> ColumnEncoder:
    import pandas as pd

    frequent = pd.Series(values).value_counts().index[:MAX_CATEGORIES].tolist()
    points = sphere_points(len(frequent) + 1)
    return ColumnEncoder(
        name, CATEGORICAL, points=dict(zip(frequent, points[:-1], strict=True)), unseen=points[-1]
    )


def _category_points(values: np.ndarray, points: dict, unseen: np.ndarray) -> np.ndarray:
    import pandas as pd

    categories = list(points)
    codes = pd.Index(categories).get_indexer(values)
    table = np.vstack([*points.values(), unseen]) if points else unseen[None, :]
    return table[np.where(codes < 0, len(categories), codes)]
