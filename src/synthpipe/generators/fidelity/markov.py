"""Next-token distributions per context: the engine of the string and text codecs.

Kept sparse (only observed context/token pairs, cumulative within each context), so it
scales to large vocabularies; sampling a whole batch of contexts is one searchsorted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

# String and text models learn from at most this many values (a fixed-seed sample of larger
# columns): their cost and memory stay bounded; values seen once are still found among all.
MAX_MODEL_VALUES = 100_000


@dataclass
class TokenChain:
    """Observed next tokens of each context key, with their cumulative probabilities."""

    keys: np.ndarray  # sorted unique context keys (int64)
    tokens: np.ndarray  # next token per cell, cells grouped by context (int32)
    cdf: np.ndarray  # context index + cumulative probability within the context

    @classmethod
    def fit(cls, contexts: np.ndarray, nexts: np.ndarray, n_tokens: int) -> TokenChain:
        """Count next tokens per context from aligned arrays of context keys and tokens."""
        if len(contexts) == 0:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0))
        cells, counts = np.unique(contexts.astype(np.int64) * n_tokens + nexts, return_counts=True)
        ctx, tok = cells // n_tokens, (cells % n_tokens).astype(np.int32)
        keys, ctx_index = np.unique(ctx, return_inverse=True)
        totals = np.bincount(ctx_index, weights=counts)
        before = np.r_[0.0, np.cumsum(totals)][ctx_index]
        cdf = (np.cumsum(counts) - before) / totals[ctx_index] + ctx_index
        last = np.r_[ctx_index[1:] != ctx_index[:-1], True]
        cdf[last] = ctx_index[last] + 1.0
        return cls(keys, tok, cdf)

    def sample(self, contexts: np.ndarray, rng: np.random.Generator, missing: int) -> np.ndarray:
        """A next token per context; ``missing`` for contexts never seen in training."""
        if len(self.keys) == 0:
            return np.full(len(contexts), missing, np.int32)
        pos = np.minimum(np.searchsorted(self.keys, contexts), len(self.keys) - 1)
        found = self.keys[pos] == contexts
        cell = np.searchsorted(self.cdf, pos + rng.random(len(contexts)), side="right")
        out = self.tokens[np.minimum(cell, len(self.tokens) - 1)]
        return np.where(found, out, missing).astype(np.int32)

    def to_state(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}.keys": self.keys,
            f"{prefix}.tokens": self.tokens,
            f"{prefix}.cdf": self.cdf,
        }

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], prefix: str) -> TokenChain:
        return cls(arrays[f"{prefix}.keys"], arrays[f"{prefix}.tokens"], arrays[f"{prefix}.cdf"])


def model_values(values: pa.Array) -> pa.Array:
    """The non-null values a string or text model learns from: all of them, or a
    fixed-seed sample of ``MAX_MODEL_VALUES`` for a large column."""
    values = _plain(values).drop_null()
    if len(values) <= MAX_MODEL_VALUES:
        return values
    rng = np.random.default_rng(len(values))
    take = np.sort(rng.choice(len(values), MAX_MODEL_VALUES, replace=False))
    return values.take(pa.array(take, pa.int64()))


def _plain(column: pa.Array) -> pa.Array:
    """A string column in a type every Arrow kernel takes (string_view has few kernels)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string_view(column.type):
        return column.cast(pa.large_string())
    return column


def stable_hashes(values: list[str]) -> np.ndarray:
    """64-bit hashes of strings that are the same in every process (unlike ``hash``)."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little")
            for v in values
        ],
        dtype=np.uint64,
    )


def once_seen_in(column: pa.Array) -> np.ndarray:
    """Sorted hashes of the values of an Arrow string column that occur exactly once
    (counted by Arrow, so only those values are hashed in Python)."""
    import pyarrow.compute as pc

    counts = pc.value_counts(_plain(column).drop_null())
    once = counts.field("values").filter(pc.equal(counts.field("counts"), 1))
    return np.unique(stable_hashes(once.to_pylist()))


def once_seen(values: list[str]) -> np.ndarray:
    """Sorted hashes of the values that occur exactly once."""
    hashes = stable_hashes(values)
    unique, counts = np.unique(hashes, return_counts=True)
    return unique[counts == 1]


def is_banned(values: list[str], banned: np.ndarray) -> np.ndarray:
    """Which values hash to one of the sorted ``banned`` hashes."""
    if len(banned) == 0 or not values:
        return np.zeros(len(values), bool)
    hashes = stable_hashes(values)
    pos = np.minimum(np.searchsorted(banned, hashes), len(banned) - 1)
    return banned[pos] == hashes
