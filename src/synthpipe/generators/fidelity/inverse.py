"""Fast inverse-CDF sampling from many small discrete distributions at once.

Distributions are given as one flat array of cumulative probabilities in which row ``r``'s
values lie in ``(r, r + 1]`` (the layout ``searchsorted`` needs). A grid of ``GRID`` guesses
per row gives, for a uniform ``u``, a position at most a few places below the right one,
which a couple of vectorised comparisons then correct: the exact result of a binary search,
at a fraction of its cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 256


@dataclass
class InverseCDF:
    """Inverse-CDF lookup over the rows of a flat cumulative table."""

    cdf: np.ndarray  # flat, row r: r + cumulative probabilities (its last one r + 1)
    ends: np.ndarray  # index of each row's last entry
    guess: np.ndarray  # (rows x GRID) first entry whose cumulative value exceeds a grid point

    @classmethod
    def build(cls, cdf: np.ndarray) -> InverseCDF:
        rows = round(float(cdf[-1])) if len(cdf) else 0
        ends = np.searchsorted(cdf, np.arange(1, rows + 1) - 1e-12, side="left")
        ends = np.minimum(ends, len(cdf) - 1)
        grid = (np.arange(rows)[:, None] + np.arange(GRID)[None, :] / GRID).ravel()
        guess = np.searchsorted(cdf, grid, side="right")
        return cls(cdf, ends, np.minimum(guess, np.repeat(ends, GRID)).astype(np.int64))

    def sample(self, rows: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Flat index of the entry each row's distribution gives each uniform (0 <= u < 1)."""
        rows = rows.astype(np.int64)
        cell = np.minimum((uniform * GRID).astype(np.int64), GRID - 1)
        index = self.guess[rows * GRID + cell]
        target = rows + uniform
        todo = np.flatnonzero((self.cdf[index] <= target) & (index < self.ends[rows]))
        while len(todo):  # step past entries whose cumulative value is not above the target
            index[todo] += 1
            more = (self.cdf[index[todo]] <= target[todo]) & (index[todo] < self.ends[rows[todo]])
            todo = todo[more]
        return index
