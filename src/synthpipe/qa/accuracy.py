"""Accuracy: one minus the total variation distance between binned real and synthetic data.

Every measure compares the joint distribution of a few binned columns (one, two or three) in
the real reference (training + holdout) with the synthetic data. Its ceiling is analytic: the
expected accuracy of an independent sample of the synthetic data's size drawn from the real
distribution, which is what a same-sized holdout would reach on average.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from synthpipe.qa.associations import cramers_v

# Trivariate accuracy averages over at most this many randomly chosen column triples.
MAX_TRIPLES = 1000


@dataclass
class Codes:
    """Binned columns of one table: ``real[:, j]`` and ``synthetic[:, j]`` are codes of column j."""

    names: list[str]
    sizes: list[int]
    real: np.ndarray
    synthetic: np.ndarray

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass
class Score:
    """Accuracy of one set of columns, with its ceiling."""

    columns: tuple[str, ...]
    accuracy: float
    ceiling: float


def tv_accuracy(real_counts: np.ndarray, synthetic_counts: np.ndarray) -> float:
    """One minus the total variation distance between two histograms over the same bins."""
    p = real_counts / real_counts.sum()
    q = synthetic_counts / synthetic_counts.sum()
    return float(1 - 0.5 * np.abs(p - q).sum())


def expected_accuracy(real_counts: np.ndarray, n_synthetic: int) -> float:
    """Expected ``tv_accuracy`` of an independent sample of ``n_synthetic`` rows.

    Each bin's frequency difference is approximately normal with variance p(1-p)(1/n + 1/m),
    and the mean of its absolute value is sqrt(2/pi) times the standard deviation.
    """
    n = real_counts.sum()
    p = real_counts / n
    expected_l1 = np.sqrt(p * (1 - p) * (1 / n + 1 / n_synthetic) * 2 / np.pi).sum()
    return float(1 - expected_l1 / 2)


def joint_counts(codes: np.ndarray, columns: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    """Histogram of the joint bins of ``columns`` (one flat array over all combinations)."""
    flat = np.zeros(len(codes), dtype="int64")
    cells = 1
    for j in columns:
        flat = flat * sizes[j] + codes[:, j]
        cells *= sizes[j]
    return np.bincount(flat, minlength=cells)


def score(codes: Codes, columns: tuple[int, ...]) -> Score:
    """Accuracy and ceiling of the joint distribution of ``columns``."""
    real = joint_counts(codes.real, columns, codes.sizes)
    synthetic = joint_counts(codes.synthetic, columns, codes.sizes)
    return _score(codes, columns, real, synthetic)


def _score(
    codes: Codes, columns: tuple[int, ...], real: np.ndarray, synthetic: np.ndarray
) -> Score:
    return Score(
        tuple(codes.names[j] for j in columns),
        tv_accuracy(real, synthetic),
        expected_accuracy(real, len(codes.synthetic)),
    )


def univariates(codes: Codes, columns: list[int]) -> list[Score]:
    """One score per column."""
    return [score(codes, (j,)) for j in columns]


def bivariates(codes: Codes, pairs: list[tuple[int, int]]) -> tuple[list[Score], np.ndarray]:
    """One score per column pair, and Cramér's V of each pair in real and synthetic data.

    The second result has one row per pair: (V real, V synthetic), from the same histograms.
    """
    scores, associations = [], np.zeros((len(pairs), 2))
    for i, (a, b) in enumerate(pairs):
        real = joint_counts(codes.real, (a, b), codes.sizes)
        synthetic = joint_counts(codes.synthetic, (a, b), codes.sizes)
        scores.append(_score(codes, (a, b), real, synthetic))
        associations[i] = [
            cramers_v(counts, codes.sizes[a], codes.sizes[b]) for counts in (real, synthetic)
        ]
    return scores, associations


def trivariates(codes: Codes, columns: list[int], rng: np.random.Generator) -> list[Score]:
    """Scores of column triples: all of them, or ``MAX_TRIPLES`` chosen at random."""
    triples = list(itertools.combinations(columns, 3))
    if len(triples) > MAX_TRIPLES:
        chosen = rng.choice(len(triples), size=MAX_TRIPLES, replace=False)
        triples = [triples[i] for i in sorted(chosen)]
    return [score(codes, triple) for triple in triples]


def mean_accuracy(scores: list[Score]) -> tuple[float | None, float | None]:
    """Mean accuracy and mean ceiling of a family of scores; (None, None) when it is empty."""
    if not scores:
        return None, None
    return (
        float(np.mean([s.accuracy for s in scores])),
        float(np.mean([s.ceiling for s in scores])),
    )
