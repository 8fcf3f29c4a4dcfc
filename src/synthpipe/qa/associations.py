"""Association between two binned columns: Cramér's V of their contingency table.

The report shows real and synthetic association matrices side by side; V is computed on the
same bins as accuracy, so it covers numbers, datetimes and categories alike (0 = independent,
1 = one column determines the other).
"""

from __future__ import annotations

import numpy as np


def cramers_v(counts: np.ndarray, size_a: int, size_b: int) -> float:
    """Cramér's V of a flat joint histogram of two columns with ``size_a`` x ``size_b`` bins."""
    table = counts.reshape(size_a, size_b).astype("float64")
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    k = min(table.shape) - 1
    if n == 0 or k < 1:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(min(1.0, np.sqrt(chi2 / (n * k))))
