"""Free text: a word-level Markov chain, the sensible fallback without a language model.

Each word is drawn given the two words before it (from the start of the text), so short
phrases and the vocabulary and length of the texts are kept while sentences are recombined.
With value protection, words seen fewer than ``RARE_MIN_COUNT`` times are left out of the
model, and a text that occurs once in training is never produced (drawn again instead).
A large column's model learns from a sample of ``MAX_MODEL_VALUES`` texts; once-seen texts are
found among all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.categorical import RARE_MIN_COUNT
from synthpipe.generators.fidelity.columns import ColumnCodec, VariableSpec
from synthpipe.generators.fidelity.markov import TokenChain, is_banned, model_values, once_seen_in

MAX_WORDS = 100
REDRAWS = 8


@dataclass
class TextColumn(ColumnCodec):
    """A text column as a null/value variable plus a word chain."""

    kind: ClassVar[str] = "text"
    name: str
    words: list[str]
    chain: TokenChain
    max_words: int
    banned: np.ndarray
    has_null: bool

    @classmethod
    def fit(cls, name: str, column: pa.Array, protect: bool) -> TextColumn:
        split = [t.split()[:MAX_WORDS] for t in model_values(column).to_pylist()]
        counts = Counter(w for words in split for w in words)
        minimum = RARE_MIN_COUNT if protect else 1
        words = sorted(w for w, c in counts.items() if c >= minimum)
        index = {w: i for i, w in enumerate(words)}
        sequences = [[index[w] for w in ws if w in index] for ws in split]
        max_words = max((len(s) for s in sequences), default=1) or 1
        contexts, nexts = _transitions(sequences, len(words))
        chain = TokenChain.fit(contexts, nexts, len(words) + 1)
        banned = once_seen_in(column) if protect else np.zeros(0, np.uint64)
        return cls(name, words, chain, max_words, banned, column.null_count > 0)

    def variables(self) -> list[VariableSpec]:
        states = 2 if self.has_null else 1
        return [VariableSpec("", states, np.arange(states, dtype=np.int32))]

    def encode(self, column, rng):
        return [column.is_null().to_numpy(zero_copy_only=False).astype(np.int32)]

    def decode(self, codes, rng, dtype):
        null = codes[0] == 1
        out = np.empty(len(null), dtype=object)
        out[~null] = self.generate(int((~null).sum()), rng)
        out[null] = None
        return pa.array(out, pa.string()).cast(dtype)

    def generate(self, n: int, rng: np.random.Generator) -> list[str]:
        """``n`` new texts; once-seen training texts are drawn again."""
        texts = self._draw(n, rng)
        redo = np.flatnonzero(is_banned(texts, self.banned))
        for _ in range(REDRAWS):  # only redrawn values can have changed: check just those
            if len(redo) == 0:
                break
            fresh = self._draw(len(redo), rng)
            for i, t in zip(redo, fresh, strict=True):
                texts[i] = t
            redo = redo[is_banned(fresh, self.banned)]
        return texts

    def _draw(self, n: int, rng: np.random.Generator) -> list[str]:
        end = len(self.words)
        size = end + 2
        prev1 = np.full(n, end + 1, np.int64)
        prev2 = np.full(n, end + 1, np.int64)
        drawn = np.full((n, self.max_words), end, np.int64)
        alive = np.ones(n, bool)
        for pos in range(self.max_words):
            rows = np.flatnonzero(alive)
            if len(rows) == 0:
                break
            nxt = self.chain.sample(prev1[rows] * size + prev2[rows], rng, missing=end)
            drawn[rows, pos] = nxt
            prev2[rows], prev1[rows] = prev1[rows], nxt
            alive[rows[nxt == end]] = False
        vocab = np.array([*self.words, ""], dtype=object)
        return [" ".join(w for w in row if w) for row in vocab[drawn]]

    def to_state(self, prefix):
        meta = {"max_words": self.max_words, "has_null": self.has_null}
        arrays = {f"{prefix}.banned": self.banned, **self.chain.to_state(f"{prefix}.chain")}
        return (
            meta,
            arrays,
            {f"{prefix}.words": pa.table({"word": pa.array(self.words, pa.string())})},
        )

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> TextColumn:
        words = tables[f"{prefix}.words"].column("word").to_pylist()
        return cls(
            name,
            words,
            TokenChain.from_state(arrays, f"{prefix}.chain"),
            meta["max_words"],
            arrays[f"{prefix}.banned"],
            meta["has_null"],
        )


def _transitions(sequences: list[list[int]], n_words: int) -> tuple[np.ndarray, np.ndarray]:
    end, start, size = n_words, n_words + 1, n_words + 2
    contexts, nexts = [], []
    for seq in sequences:
        full = [start, start, *seq, end]
        for i in range(2, len(full)):
            contexts.append(full[i - 1] * size + full[i - 2])
            nexts.append(full[i])
    return np.array(contexts, np.int64), np.array(nexts, np.int64)
