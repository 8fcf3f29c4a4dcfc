"""Categories as discrete states, with rare categories protected.

Each category seen at least ``RARE_MIN_COUNT`` times is a state (most frequent first); null
is a state of its own. With value protection on, rarer categories are never reproduced: they
become one ``_RARE_`` state (method CONSTANT, string columns) or are replaced, already in
training, by draws from the frequent categories (method SAMPLE, and any non-string column).
Key columns (references to original-data tables) are never protected nor capped: beyond the
``MAX_CATEGORIES`` most frequent values, one *tail* state stands for the others, and decoding
it draws one of them by its training frequency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.schema import RARE_TOKEN, RareCategoryReplacement

RARE_MIN_COUNT = 5
COARSE_GROUPS = 10
# High-cardinality columns keep at most this many categories (the most frequent ones).
MAX_CATEGORIES = 5000


@dataclass
class CategoricalCodec:
    """States of a categorical column: kept categories, maybe a rare state, maybe null."""

    categories: pa.Array  # of the column's type, most frequent first
    has_rare: bool
    has_null: bool
    sample_rare: bool  # replace rare values by frequent ones instead of a _RARE_ state
    weights: np.ndarray  # training frequency of each category (for SAMPLE replacement)
    coarse: np.ndarray
    tail: pa.Array | None = None  # keys: the values the rare state stands for
    tail_weights: np.ndarray | None = None

    @property
    def states(self) -> int:
        return len(self.categories) + int(self.has_rare) + int(self.has_null)

    @property
    def rare_state(self) -> int:
        return len(self.categories)

    @property
    def null_state(self) -> int:
        return len(self.categories) + int(self.has_rare)

    @classmethod
    def fit(
        cls,
        column: pa.Array,
        protect: bool,
        method: RareCategoryReplacement = RareCategoryReplacement.CONSTANT,
        min_count: int = RARE_MIN_COUNT,
        key: bool = False,
    ) -> CategoricalCodec:
        """Learn the categories of a column; ``protect`` turns on rare-category protection;
        ``key`` keeps every value (a tail state beyond the most frequent ones)."""
        counts = pc.value_counts(column.drop_null())
        values, freq = counts.field("values"), counts.field("counts").to_numpy()
        order = np.argsort(-freq, kind="stable")
        least = min_count if protect and not key else 1
        keep = order[freq[order] >= least][:MAX_CATEGORIES]
        rare = len(keep) < len(order)
        sample = rare and (method is RareCategoryReplacement.SAMPLE or not _is_string(column.type))
        if rare and not len(keep):  # everything is rare: nothing but the token can be shown
            sample = False
        if key:
            sample = False
        codec = cls(
            values.take(pa.array(keep, pa.int64())),
            rare and not sample,
            column.null_count > 0,
            sample,
            freq[keep].astype(np.float64),
            np.zeros(0, np.int32),
        )
        if key and rare:
            rest = order[MAX_CATEGORIES:]
            codec.tail = values.take(pa.array(rest, pa.int64()))
            codec.tail_weights = freq[rest].astype(np.float64)
        codec.coarse = codec._coarse_groups()
        return codec

    def encode(self, column: pa.Array, rng: np.random.Generator | None = None) -> np.ndarray:
        """State of each value; rare values go to the rare state or (SAMPLE) a frequent one."""
        index = pc.index_in(column, value_set=self.categories)
        codes = index.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        missing = codes < 0
        if self.has_null:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            codes[nulls] = self.null_state
            missing &= ~nulls
        if missing.any():
            if self.sample_rare:
                rng = rng or np.random.default_rng(0)
                p = self.weights / self.weights.sum()
                codes[missing] = rng.choice(len(p), size=int(missing.sum()), p=p)
            elif self.has_rare:
                codes[missing] = self.rare_state
            else:  # unseen non-null values outside training (e.g. during evaluation)
                codes[missing] = 0
        return codes

    def decode(
        self, codes: np.ndarray, dtype: pa.DataType, rng: np.random.Generator | None = None
    ) -> pa.Array:
        """Values of the states, as an Arrow array of ``dtype``."""
        dictionary = (
            self.categories.cast(dtype) if self.categories.type != dtype else self.categories
        )
        if self.tail is not None:
            return self._decode_with_tail(codes, dictionary, dtype, rng)
        if self.has_rare:  # a non-string column that is all rare has no token: null instead
            token = RARE_TOKEN if _is_string(dtype) else None
            dictionary = pa.concat_arrays([dictionary, pa.array([token], dtype)])
        mask = codes >= len(dictionary)
        index = pa.array(np.minimum(codes, max(len(dictionary) - 1, 0)), pa.int32(), mask=mask)
        if len(dictionary) == 0:
            return pa.nulls(len(codes), dtype)
        return dictionary.take(index)

    def _decode_with_tail(self, codes, dictionary, dtype, rng) -> pa.Array:
        """Keys: the tail state draws one of the values beyond the kept ones."""
        rng = rng or np.random.default_rng(0)
        tail = self.tail.cast(dtype) if self.tail.type != dtype else self.tail
        everything = pa.concat_arrays([dictionary, tail])
        index = codes.astype(np.int64)
        rest = np.flatnonzero(codes == self.rare_state)
        p = self.tail_weights / self.tail_weights.sum()
        index[rest] = len(dictionary) + rng.choice(len(tail), size=len(rest), p=p)
        null = codes == self.null_state if self.has_null else np.zeros(len(codes), bool)
        index[null] = 0
        mask = null if null.any() else None
        return everything.take(pa.array(index, pa.int64(), mask=mask))

    def _coarse_groups(self) -> np.ndarray:
        """The most frequent categories keep a group each; the rest share one; null apart."""
        top = COARSE_GROUPS - 1
        n = len(self.categories)
        groups = np.minimum(np.arange(n), top).astype(np.int32)
        extra = groups.max(initial=-1) + 1
        if self.has_rare:  # rare rows join the "other" group when there is one
            groups = np.r_[groups, min(extra, top) if n > top else extra]
        if self.has_null:
            groups = np.r_[groups, groups.max(initial=-1) + 1]
        _, groups = np.unique(groups, return_inverse=True)
        return groups.astype(np.int32)

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray], dict[str, pa.Table]]:
        meta = {
            "has_rare": self.has_rare,
            "has_null": self.has_null,
            "sample_rare": self.sample_rare,
        }
        arrays = {f"{prefix}.weights": self.weights, f"{prefix}.coarse": self.coarse}
        tables = {f"{prefix}.categories": pa.table({"value": self.categories})}
        if self.tail is not None:
            arrays[f"{prefix}.tail_weights"] = self.tail_weights
            tables[f"{prefix}.tail"] = pa.table({"value": self.tail})
        return meta, arrays, tables

    @classmethod
    def from_state(
        cls, meta: dict, arrays: dict[str, np.ndarray], tables: dict[str, pa.Table], prefix: str
    ) -> CategoricalCodec:
        categories = tables[f"{prefix}.categories"].column("value").combine_chunks()
        tail = tables.get(f"{prefix}.tail")
        return cls(
            categories,
            meta["has_rare"],
            meta["has_null"],
            meta["sample_rare"],
            arrays[f"{prefix}.weights"],
            arrays[f"{prefix}.coarse"],
            tail.column("value").combine_chunks() if tail is not None else None,
            arrays.get(f"{prefix}.tail_weights"),
        )


def _is_string(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )
