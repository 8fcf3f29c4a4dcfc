"""Structured strings (IDs, codes, emails) generated character by character.

Each character is drawn given its position and the two characters before it, which keeps
fixed formats (``ORD-00123``, ``ab12@example.com``) while making new values. The table's chain
only models whether the value is null. With value protection, characters seen fewer than
``RARE_MIN_COUNT`` times are replaced by the most frequent character of their kind, and a
value that occurs once in training is never produced (drawn again instead). A large column's
model learns from a sample of ``MAX_MODEL_VALUES`` values; once-seen values are found among all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.categorical import RARE_MIN_COUNT
from synthpipe.generators.fidelity.columns import ColumnCodec, VariableSpec
from synthpipe.generators.fidelity.markov import TokenChain, is_banned, model_values, once_seen_in

MAX_LENGTH = 64
MAX_POSITION = 32  # positions beyond this share one context position
REDRAWS = 8


@dataclass
class CharacterColumn(ColumnCodec):
    """A string column as a null/value variable plus a character model."""

    kind: ClassVar[str] = "characters"
    name: str
    vocab: np.ndarray  # sorted code points (uint32)
    chain: TokenChain
    max_length: int
    banned: np.ndarray  # hashes of once-seen values
    has_null: bool

    @property
    def end(self) -> int:
        return len(self.vocab)

    @classmethod
    def fit(cls, name: str, column: pa.Array, protect: bool) -> CharacterColumn:
        values = [v[:MAX_LENGTH] for v in model_values(column).to_pylist()]
        width = max((len(v) for v in values), default=1) or 1
        points = _code_points(values, width)
        vocab, points = _vocabulary(points, protect)
        tokens = _tokens(points, vocab)
        contexts, nexts = _transitions(tokens, len(vocab))
        chain = TokenChain.fit(contexts, nexts, len(vocab) + 1)
        banned = once_seen_in(column) if protect else np.zeros(0, np.uint64)
        return cls(name, vocab, chain, width, banned, column.null_count > 0)

    def variables(self) -> list[VariableSpec]:
        states = 2 if self.has_null else 1
        return [VariableSpec("", states, np.arange(states, dtype=np.int32))]

    def encode(self, column, rng):
        return [column.is_null().to_numpy(zero_copy_only=False).astype(np.int32)]

    def decode(self, codes, rng, dtype):
        null = codes[0] == 1
        values = self.generate(int((~null).sum()), rng)
        out = np.empty(len(null), dtype=object)
        out[~null] = values
        out[null] = None
        return pa.array(out, pa.string()).cast(dtype)

    def generate(self, n: int, rng: np.random.Generator) -> list[str]:
        """``n`` new values; once-seen training values are drawn again."""
        values = self._draw(n, rng)
        redo = np.flatnonzero(is_banned(values, self.banned))
        for _ in range(REDRAWS):  # only redrawn values can have changed: check just those
            if len(redo) == 0:
                break
            fresh = self._draw(len(redo), rng)
            for i, v in zip(redo, fresh, strict=True):
                values[i] = v
            redo = redo[is_banned(fresh, self.banned)]
        return values

    def _draw(self, n: int, rng: np.random.Generator) -> list[str]:
        start = len(self.vocab) + 1
        size = len(self.vocab) + 2
        prev1 = np.full(n, start, np.int64)
        prev2 = np.full(n, start, np.int64)
        points = np.zeros((n, self.max_length), np.uint32)
        alive = np.ones(n, bool)
        for pos in range(self.max_length):
            rows = np.flatnonzero(alive)
            if len(rows) == 0:
                break
            key = (min(pos, MAX_POSITION) * size + prev1[rows]) * size + prev2[rows]
            nxt = self.chain.sample(key, rng, missing=self.end)
            ended = nxt == self.end
            keep = rows[~ended]
            points[keep, pos] = self.vocab[nxt[~ended]]
            prev2[keep], prev1[keep] = prev1[keep], nxt[~ended]
            alive[rows[ended]] = False
        return points.view(f"<U{self.max_length}").ravel().tolist()

    def to_state(self, prefix):
        meta = {"max_length": self.max_length, "has_null": self.has_null}
        arrays = {
            f"{prefix}.vocab": self.vocab,
            f"{prefix}.banned": self.banned,
            **self.chain.to_state(f"{prefix}.chain"),
        }
        return meta, arrays, {}

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> CharacterColumn:
        chain = TokenChain.from_state(arrays, f"{prefix}.chain")
        return cls(
            name,
            arrays[f"{prefix}.vocab"],
            chain,
            meta["max_length"],
            arrays[f"{prefix}.banned"],
            meta["has_null"],
        )


def _code_points(values: list[str], width: int) -> np.ndarray:
    """(rows x width) code points, zero-padded."""
    if not values:
        return np.zeros((0, width), np.uint32)
    return np.array(values, dtype=f"<U{width}").view(np.uint32).reshape(len(values), width)


def _vocabulary(points: np.ndarray, protect: bool) -> tuple[np.ndarray, np.ndarray]:
    """The characters kept, and the code points with rare characters replaced."""
    used, counts = np.unique(points[points > 0], return_counts=True)
    if not protect or not len(used):
        return used.astype(np.uint32), points
    frequent = counts >= RARE_MIN_COUNT
    if not frequent.any():
        frequent[np.argmax(counts)] = True
    kinds = np.array([_kind(int(c)) for c in used])
    replace = {}
    for i in np.flatnonzero(~frequent):
        same = np.flatnonzero(frequent & (kinds == kinds[i]))
        pool = same if len(same) else np.flatnonzero(frequent)
        replace[int(used[i])] = int(used[pool[np.argmax(counts[pool])]])
    points = points.copy()
    for rare, common in replace.items():
        points[points == rare] = common
    return used[frequent].astype(np.uint32), points


def _kind(point: int) -> str:
    char = chr(point)
    if char.isdigit():
        return "digit"
    if char.isalpha():
        return "upper" if char.isupper() else "lower"
    return "other"


def _tokens(points: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Token per position (``len(vocab)`` marks the end), with one extra end column."""
    end = len(vocab)
    idx = np.searchsorted(vocab, points).astype(np.int64)
    tokens = np.where(points > 0, idx, end)
    return np.hstack([tokens, np.full((len(tokens), 1), end, np.int64)])


def _transitions(tokens: np.ndarray, n_vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """(context key, next token) for every position up to and including each value's end."""
    end, start, size = n_vocab, n_vocab + 1, n_vocab + 2
    n, width = tokens.shape
    prev1 = np.hstack([np.full((n, 1), start), tokens[:, :-1]])
    prev2 = np.hstack([np.full((n, 2), start), tokens[:, :-2]])[:, :width]
    pos = np.minimum(np.arange(width), MAX_POSITION)[None, :]
    keys = (pos * size + prev1) * size + prev2
    # positions after the first end token are not transitions
    ended_before = np.cumsum(tokens == end, axis=1) - (tokens == end) > 0
    valid = ~ended_before
    return keys[valid], tokens[valid]
