"""Keys between tables: which parent a child row belongs to, and references to other tables.

Children per parent are learned as a column of the parent (see ``fitting``); this module
finds each child's parent row, counts children, and handles plain (non-context) foreign keys
to generated tables: the learned *degree distribution* (how many rows reference one parent
row, zeros included) decides how often each generated parent key is referenced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def parent_rows(child_keys: pa.Array, parent_keys: pa.Array) -> np.ndarray:
    """Row number of each child's parent in ``parent_keys``; -1 for null or dangling keys."""
    index = pc.index_in(child_keys.cast(parent_keys.type), value_set=parent_keys)
    return index.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def children_per_parent(parent_of_row: np.ndarray, n_parents: int) -> np.ndarray:
    """How many child rows each parent row has (zeros included)."""
    return np.bincount(parent_of_row[parent_of_row >= 0], minlength=n_parents).astype(np.int64)


@dataclass
class Degrees:
    """Learned degree distribution of a plain foreign key, and its share of nulls."""

    values: np.ndarray  # distinct degrees
    weights: np.ndarray  # number of parent rows with each degree
    null_share: float

    @classmethod
    def fit(cls, child_keys: pa.Array, parent_keys: pa.Array) -> Degrees:
        rows = parent_rows(child_keys, parent_keys)
        degree = children_per_parent(rows, len(parent_keys))
        values, weights = np.unique(degree, return_counts=True)
        null_share = float(np.mean(rows < 0)) if len(rows) else 0.0
        return cls(values.astype(np.int64), weights.astype(np.float64), null_share)

    def assign(self, keys: pa.Array, n: int, rng: np.random.Generator) -> pa.Array:
        """``n`` references to ``keys``, each key used about as often as its drawn degree."""
        if len(keys) == 0 or n == 0:
            return pa.nulls(n, keys.type)
        degree = rng.choice(self.values, size=len(keys), p=self.weights / self.weights.sum())
        weights = degree + 1e-9
        wanted = round(n * (1 - self.null_share))
        counts = rng.multinomial(wanted, weights / weights.sum())
        picks = np.repeat(np.arange(len(keys)), counts)
        rng.shuffle(picks)
        refs = keys.take(pa.array(picks, pa.int64()))
        nulls = pa.nulls(n - wanted, keys.type)
        out = pa.concat_arrays([refs, nulls]) if n > wanted else refs
        return out.take(pa.array(rng.permutation(n), pa.int64()))

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
        return {"null_share": self.null_share}, {
            f"{prefix}.values": self.values,
            f"{prefix}.weights": self.weights,
        }

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], prefix: str) -> Degrees:
        return cls(arrays[f"{prefix}.values"], arrays[f"{prefix}.weights"], meta["null_share"])
