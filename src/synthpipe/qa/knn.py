"""Nearest-neighbour distances (L2), computed blockwise with matrix products.

Candidates come from the expanded form |q|^2 + |r|^2 - 2 q.r (one matrix product per block)
and their distances are recomputed directly, so identical rows are at distance exactly 0 and
ties are real ties. float64 throughout: in float32 the rounding of the expanded form hides
differences between close rows (e.g. neighbouring quantiles of a continuous column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Queries per block: few enough that a block of distances stays in cache (measured fastest).
BLOCK = 32


@dataclass
class Neighbours:
    """Each query's nearest reference: its distance and which distinct reference row it is."""

    distance: np.ndarray  # (queries, 1)
    group: np.ndarray  # (queries,): index of the nearest distinct reference row
    ref_group: np.ndarray  # (refs,): index of the distinct row each reference row equals


def nearest(queries: np.ndarray, refs: np.ndarray, k: int = 1) -> np.ndarray:
    """Distances from each query to its ``k`` (1 or 2) nearest references, ascending."""
    if k == 1:
        return nearest_groups(queries, refs).distance
    if len(refs) < k:
        raise ValueError(f"need at least {k} reference rows, got {len(refs)}")
    return _nearest(queries, refs, k)[0]


def nearest_groups(queries: np.ndarray, refs: np.ndarray) -> Neighbours:
    """The nearest reference of each query, with equal reference rows counted as one group.

    The groups let a bootstrap resample reference rows without searching again (see
    ``privacy.dcr_share_interval``).
    """
    if len(refs) < 1:
        raise ValueError("need at least 1 reference row, got 0")
    # Few distinct rows (e.g. a group of categorical columns) make the search cheap.
    unique_refs, ref_inverse = np.unique(refs, axis=0, return_inverse=True)
    unique_queries, inverse = np.unique(queries, axis=0, return_inverse=True)
    distance, index = _nearest(unique_queries, unique_refs, 1)
    inverse = inverse.reshape(-1)
    return Neighbours(distance[inverse], index[inverse, 0], ref_inverse.reshape(-1))


def _nearest(queries: np.ndarray, refs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the ``k`` nearest references (ascending) and, for k=1, their indices."""
    # |q - r|^2 = |q|^2 + (|r|^2 - 2 q.r); the bracket is one product of extended matrices.
    refs_ext = np.hstack([refs, (refs**2).sum(axis=1, keepdims=True)]).T.copy()
    out = np.empty((len(queries), k))
    index = np.zeros((len(queries), 1), dtype="int64")
    for start in range(0, len(queries), BLOCK):
        block = queries[start : start + BLOCK]
        block_ext = np.hstack([-2 * block, np.ones((len(block), 1))])
        partial = block_ext @ refs_ext
        if k == 1:
            candidates = partial.argmin(axis=1)[:, None]
            index[start : start + BLOCK] = candidates
        else:
            candidates = np.argpartition(partial, 1, axis=1)[:, :2]
        out[start : start + BLOCK] = _exact(block, refs, candidates)
    return np.sort(out, axis=1), index


def _exact(block: np.ndarray, refs: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    diff = refs[candidates] - block[:, None, :]
    return np.sqrt((diff**2).sum(axis=2))
