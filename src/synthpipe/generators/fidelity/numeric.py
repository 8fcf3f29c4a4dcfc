"""Numbers as discrete states: quantile bins, and values drawn inside a bin.

A numeric column becomes up to ``MAX_BINS`` equal-frequency bins (one bin per value when it
has few distinct values) plus a null state. The table's chain models the bin; decoding draws a value
inside the bin from the training values that fell into it. With value protection on, extreme
values are first clipped to protected ranks, and a value that occurs only once in training is
never reproduced: its share of the bin is spread over an interval reaching a few distinct
neighbours either side, rounded to the column's precision, and nudged off any such value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthpipe.generators.fidelity.inverse import InverseCDF

MAX_BINS = 32
COARSE_GROUPS = 8
# With value protection, this many rows at each end (fewer for small tables) are clipped.
CLIP_ROWS = 5
# A once-seen value is spread over the interval to its SPREAD_NEIGHBOURS-th distinct neighbour
# on each side: wide enough that drawn values are no closer to training values than new data.
SPREAD_NEIGHBOURS = 5
# With value protection, values seen fewer times than this are rare: their share is spread
# like a once-seen value's (only once-seen values are banned outright).
ATOM_MIN_COUNT = 5


@dataclass
class NumericCodec:
    """States of a numeric column (as float64) and how to draw values back from them."""

    edges: np.ndarray  # inner bin edges; bin i holds edges[i-1] <= v < edges[i]
    item_lo: np.ndarray  # per item (atom or spread singleton), bins concatenated
    item_hi: np.ndarray
    item_cdf: np.ndarray  # cumulative weight inside the bin, plus the bin index
    banned: np.ndarray  # sorted values that must never be produced
    step: float  # values are multiples of step (0: no rounding)
    has_null: bool
    coarse: np.ndarray
    _inverse: InverseCDF | None = field(default=None, repr=False, compare=False)
    _banned_set: _BannedSet | None = field(default=None, repr=False, compare=False)

    @property
    def bins(self) -> int:
        return len(self.edges) + 1

    @property
    def states(self) -> int:
        return self.bins + int(self.has_null)

    @property
    def null_state(self) -> int:
        return self.bins

    @classmethod
    def fit(
        cls, values: np.ndarray, protect: bool, step: float | None = None, max_bins: int = MAX_BINS
    ) -> NumericCodec:
        """Learn bins and within-bin values from float64 values (NaN is null)."""
        null = np.isnan(values)
        raw = np.sort(values[~null])
        if not len(raw):  # nothing but nulls: one empty bin that is never drawn
            one = np.zeros(1)
            return cls(
                np.zeros(0), one, one, np.ones(1), np.zeros(0), 0.0, True, np.zeros(2, np.int32)
            )
        valid = _clip_sorted(raw) if protect else raw
        if step is None:
            step = detect_step(valid)
        edges = _edges(valid, max_bins)
        distinct, counts = np.unique(valid, return_counts=True)
        # Rarity is judged before clipping: a clip bound that occurred once stays protected.
        seen = _counts_before_clipping(raw, distinct)
        rare = seen < ATOM_MIN_COUNT if protect else np.zeros(len(distinct), bool)
        lo, hi, cdf = _items(distinct, counts, rare, edges)
        banned = distinct[seen == 1] if protect else np.zeros(0)
        codec = cls(
            edges, lo, hi, cdf, banned, float(step), bool(null.any()), np.zeros(0, np.int32)
        )
        codec.coarse = _coarse_groups(codec.encode(values), codec)
        return codec

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Fine state of each value (clipped values fall into the outer bins)."""
        codes = np.searchsorted(self.edges, values, side="right").astype(np.int32)
        if self.has_null:
            codes[np.isnan(values)] = self.null_state
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values drawn inside each state's bin; NaN for the null state."""
        out = np.full(len(codes), np.nan)
        rows = np.flatnonzero(codes < self.bins)
        if len(rows) == 0:
            return out
        if self._inverse is None:
            self._inverse = InverseCDF.build(self.item_cdf)
        item = self._inverse.sample(codes[rows], rng.random(len(rows)))
        lo, hi = self.item_lo[item], self.item_hi[item]
        values = lo + (hi - lo) * rng.random(len(rows))
        spread = np.flatnonzero(hi > lo)
        values[spread] = self._draw_spread(lo[spread], hi[spread], rng)
        out[rows] = values
        return out

    def _draw_spread(self, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator):
        """Values inside spread intervals, rounded, never equal to a once-seen value.

        A value that lands on a once-seen training value is drawn again (not moved by one
        step, which would leave it closer to that training value than new data would be).
        """
        values = self._round(lo + (hi - lo) * rng.random(len(lo)))
        if not len(self.banned):
            return values
        if self._banned_set is None:
            self._banned_set = _BannedSet(self.banned, self.step)
        hit = np.flatnonzero(self._banned_set.contains(values))
        for _ in range(8):
            if len(hit) == 0:
                return values
            values[hit] = self._round(lo[hit] + (hi[hit] - lo[hit]) * rng.random(len(hit)))
            hit = hit[self._banned_set.contains(values[hit])]
        return self._nearest_allowed(values, self._banned_set.contains(values))

    def _nearest_allowed(self, values: np.ndarray, hit: np.ndarray) -> np.ndarray:
        """Move values still on once-seen values (crowded intervals) to the nearest free one."""
        step = self.step if self.step > 0 else 1e-9 * max(float(np.abs(values).max()), 1.0)
        low, high = float(self.item_lo.min()), float(self.item_hi.max())
        todo = np.flatnonzero(hit)
        for distance in range(1, 10_000):
            if not len(todo):
                break
            for sign in (-1.0, 1.0):
                moved = self._round(values[todo] + sign * distance * step)
                ok = (moved >= low) & (moved <= high) & ~self._banned_set.contains(moved)
                values[todo[ok]] = moved[ok]
                todo = todo[~ok]
        return values

    def _round(self, values: np.ndarray) -> np.ndarray:
        if self.step <= 0:
            return values
        values = np.round(values / self.step) * self.step
        # Clean float noise such as 0.30000000000000004 by rounding to the decimals kept.
        return np.round(values, max(0, int(-np.floor(np.log10(self.step)))))

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"step": self.step, "has_null": self.has_null}
        names = ("edges", "item_lo", "item_hi", "item_cdf", "banned", "coarse")
        return meta, {f"{prefix}.{n}": getattr(self, n) for n in names}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], prefix: str) -> NumericCodec:
        get = {
            n: arrays[f"{prefix}.{n}"]
            for n in ("edges", "item_lo", "item_hi", "item_cdf", "banned", "coarse")
        }
        return cls(
            get["edges"],
            get["item_lo"],
            get["item_hi"],
            get["item_cdf"],
            get["banned"],
            meta["step"],
            meta["has_null"],
            get["coarse"],
        )


def clip_rows(n: int) -> int:
    """Rows clipped at each end under value protection: 5, fewer for small tables."""
    return int(min(CLIP_ROWS, max(1, n // 1000))) if n > 2 else 0


def _counts_before_clipping(raw: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """How often each (clipped) distinct value occurred in the unclipped sorted values."""
    return np.searchsorted(raw, distinct, side="right") - np.searchsorted(raw, distinct)


def _clip_sorted(valid: np.ndarray) -> np.ndarray:
    k = clip_rows(len(valid))
    if k == 0:
        return valid
    return np.clip(valid, valid[k], valid[len(valid) - 1 - k])


def detect_step(valid: np.ndarray) -> float:
    """The precision of the values: 10**-d for the fewest decimals d, or 10**k for integers
    that are all multiples of it (prices in hundreds stay in hundreds); 0 when none fits."""
    if len(valid) == 0:
        return 0.0
    sample = valid[:: max(1, len(valid) // 20_000)]
    for decimals in range(0, 11):
        scaled = sample * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + np.abs(scaled) * 1e-14):
            break
    else:
        return 0.0
    if decimals > 0:
        return 10.0**-decimals
    power = 0
    while power < 6 and np.all(np.mod(sample, 10.0 ** (power + 1)) == 0) and sample.any():
        power += 1
    return 10.0**power


def _edges(valid: np.ndarray, max_bins: int) -> np.ndarray:
    distinct = np.unique(valid)
    if len(distinct) <= max_bins:
        return distinct[1:]
    cuts = valid[(np.arange(1, max_bins) * len(valid)) // max_bins]
    return np.unique(cuts[cuts > valid[0]])


def _items(distinct: np.ndarray, counts: np.ndarray, single: np.ndarray, edges: np.ndarray):
    """Atoms (repeated values) and spread intervals (once-seen values) of every bin."""
    bins = np.searchsorted(edges, distinct, side="right")
    lo, hi = distinct.astype(np.float64).copy(), distinct.astype(np.float64).copy()
    if single.any():
        idx = np.arange(len(distinct))
        prev = distinct[np.maximum(idx - SPREAD_NEIGHBOURS, 0)]
        nxt = distinct[np.minimum(idx + SPREAD_NEIGHBOURS, len(distinct) - 1)]
        bin_lo = np.r_[-np.inf, edges][bins]
        bin_hi = np.r_[edges, np.inf][bins]
        lo[single] = np.maximum(prev[single], bin_lo[single])
        hi[single] = np.minimum(nxt[single], np.nextafter(bin_hi[single], -np.inf))
    weight = counts.astype(np.float64)
    totals = np.bincount(bins, weights=weight, minlength=len(edges) + 1)
    cum = np.cumsum(weight)
    before = np.r_[0.0, np.cumsum(totals)][bins]
    cdf = (cum - before) / totals[bins] + bins
    last = np.r_[bins[1:] != bins[:-1], True]
    cdf[last] = bins[last] + 1.0  # exact upper end of every bin
    return lo, hi, cdf


def _coarse_groups(codes: np.ndarray, codec: NumericCodec) -> np.ndarray:
    """Merge neighbouring bins into about COARSE_GROUPS equal-frequency groups; null apart."""
    freq = np.bincount(codes, minlength=codec.states)[: codec.bins].astype(np.float64)
    mid = (np.cumsum(freq) - freq / 2) / max(freq.sum(), 1.0)
    groups = np.minimum((mid * COARSE_GROUPS).astype(np.int32), COARSE_GROUPS - 1)
    _, groups = np.unique(groups, return_inverse=True)
    groups = groups.astype(np.int32)
    if codec.has_null:
        groups = np.r_[groups, groups.max(initial=-1) + 1].astype(np.int32)
    return groups


class _BannedSet:
    """Membership in the once-seen values: a bitmap over the grid of steps when it is small
    enough, a binary search otherwise."""

    MAX_BITMAP = 1 << 26

    def __init__(self, banned: np.ndarray, step: float):
        self.sorted = banned
        self.bitmap = None
        if step > 0 and len(banned):
            self.low, self.step = float(banned[0]), step
            span = round((float(banned[-1]) - self.low) / step) + 1
            if span <= self.MAX_BITMAP:
                self.bitmap = np.zeros(span, bool)
                self.bitmap[np.round((banned - self.low) / step).astype(np.int64)] = True

    def contains(self, values: np.ndarray) -> np.ndarray:
        if self.bitmap is None:
            pos = np.minimum(np.searchsorted(self.sorted, values), len(self.sorted) - 1)
            return self.sorted[pos] == values
        slot = np.round((values - self.low) / self.step)
        inside = (slot >= 0) & (slot < len(self.bitmap))
        out = np.zeros(len(values), bool)
        out[inside] = self.bitmap[slot[inside].astype(np.int64)]
        return out
