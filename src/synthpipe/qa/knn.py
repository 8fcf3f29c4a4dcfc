"""Nearest-neighbour distances (L2), computed blockwise with matrix products.

Candidates come from the expanded form |q|^2 + |r|^2 - 2 q.r (one matrix product per block)
and their distances are recomputed directly, so identical rows are at distance exactly 0 and
ties are real ties. float64 throughout: in float32 the rounding of the expanded form hides
differences between close rows (e.g. neighbouring quantiles of a continuous column).
"""

from __future__ import annotations

import numpy as np

# Queries per block: few enough that a block of distances stays in cache (measured fastest).
BLOCK = 32


def nearest(queries: np.ndarray, refs: np.ndarray, k: int = 1) -> np.ndarray:
    """Distances from each query to its ``k`` (1 or 2) nearest references, ascending."""
    if len(refs) < k:
        raise ValueError(f"need at least {k} reference rows, got {len(refs)}")
    if k == 1:
        # Few distinct rows (e.g. a group of categorical columns) make the search cheap.
        unique_refs = np.unique(refs, axis=0)
        unique_queries, inverse = np.unique(queries, axis=0, return_inverse=True)
        return _nearest(unique_queries, unique_refs, 1)[inverse.reshape(-1)]
    return _nearest(queries, refs, k)


def _nearest(queries: np.ndarray, refs: np.ndarray, k: int) -> np.ndarray:
    # |q - r|^2 = |q|^2 + (|r|^2 - 2 q.r); the bracket is one product of extended matrices.
    refs_ext = np.hstack([refs, (refs**2).sum(axis=1, keepdims=True)]).T.copy()
    out = np.empty((len(queries), k))
    for start in range(0, len(queries), BLOCK):
        block = queries[start : start + BLOCK]
        block_ext = np.hstack([-2 * block, np.ones((len(block), 1))])
        partial = block_ext @ refs_ext
        if k == 1:
            candidates = partial.argmin(axis=1)[:, None]
        else:
            candidates = np.argpartition(partial, 1, axis=1)[:, :2]
        out[start : start + BLOCK] = _exact(block, refs, candidates)
    return np.sort(out, axis=1)


def _exact(block: np.ndarray, refs: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    diff = refs[candidates] - block[:, None, :]
    return np.sqrt((diff**2).sum(axis=2))
