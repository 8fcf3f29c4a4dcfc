"""Fidelity of one table: the accuracy families, per column and per pair, and their ceilings.

Overall accuracy is the mean of the families available for the table: univariate (each
column), bivariate (each column pair, and each column with each parent column for a child
table), trivariate (column triples) and, for sequences, coherence (next-row pairs, distinct
values per sequence, sequences per value).

``accuracy_uncertainty`` gives overall accuracy a 95% interval by a Poisson bootstrap of rows
(of sequences, for a child table) over a fixed random subset of each family's measures, and
the noise gap: how far below the ceiling a perfect generator falls at these sizes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa import accuracy, coherence
from synthpipe.qa.bins import Bins, column_kind, fit_bins, values_of
from synthpipe.qa.intervals import ACCURACY_REPLICATES, normal_interval
from synthpipe.qa.views import LENGTH, View

# Measures per family that the accuracy bootstrap recomputes (chosen at random, fixed over
# replicates). Averaging fewer measures of the same rows varies at least as much, so the
# interval errs on the wide side; the cost stays a fraction of a second on Adult.
BOOTSTRAP_MEASURES = 4

if TYPE_CHECKING:
    from synthpipe.qa.accuracy import Codes, Score


@dataclass
class Fidelity:
    """What fidelity measured on one table: metrics for JSON, details for the report."""

    metrics: dict
    details: dict
    kinds: dict[str, str]  # kind of every target column
    association: np.ndarray  # Cramér's V of target columns in the real data (columns x columns)
    codes: Codes | None = None  # binned real and synthetic rows, for ``accuracy_uncertainty``
    measures: dict[str, list[tuple[int, ...]]] | None = None  # columns of each family's measures


def fidelity(real: View, synthetic: View, rng: np.random.Generator) -> Fidelity:
    """Accuracy of ``synthetic`` against the ``real`` reference (training + holdout)."""
    kinds = {c: column_kind(real.frame[c]) for c in real.frame.columns}
    for nxt, target in real.next_of.items():
        kinds[nxt] = kinds[target]
    bins = {c: fit_bins(values_of(real.frame[c], kinds[c]), kinds[c]) for c in kinds}
    for nxt, target in real.next_of.items():
        bins[nxt] = bins[target]  # a column and its next row share bins, so they compare
    codes = _codes(real, synthetic, kinds, bins)
    target = [codes.index(c) for c in real.target]
    context = [codes.index(c) for c in real.context]
    uni = accuracy.univariates(codes, target)
    pair_index = list(itertools.combinations(target, 2))
    pairs, association = accuracy.bivariates(codes, pair_index)
    ctx_pairs, _ = accuracy.bivariates(codes, list(itertools.product(target, context)))
    tri = accuracy.trivariates(codes, target, rng)
    coherent = _coherence(real, synthetic, codes, kinds, bins)
    families = {"univariate": uni, "bivariate": pairs + ctx_pairs, "trivariate": tri}
    metrics = _family_means(families, coherent)
    metrics["columns"] = [_score_json(s, kind=kinds[s.columns[0]]) for s in _worst_first(uni)]
    metrics["pairs"] = [_score_json(s, kind="pair") for s in pairs] + [
        _score_json(s, kind="context") for s in ctx_pairs
    ]
    metrics["coherence_details"] = {k: [_score_json(s) for s in v] for k, v in coherent.items()}
    details = {
        "columns": _column_details(codes, target, bins, kinds, uni),
        "association": _association_details(real.target, pair_index, target, association),
    }
    matrix = _square(association[:, 0], pair_index, target)
    measures = {
        "univariate": [(j,) for j in target],
        "bivariate": pair_index + list(itertools.product(target, context)),
        "trivariate": list(itertools.combinations(target, 3)),
    }
    if coherent:
        next_pairs = [(codes.index(t), codes.index(n)) for n, t in real.next_of.items()]
        measures["next_row"] = next_pairs
    kept = {c: kinds[c] for c in real.target}
    return Fidelity(metrics, details, kept, matrix, codes, measures)


def accuracy_uncertainty(fid: Fidelity, rng: np.random.Generator) -> dict:
    """``overall_interval`` (95%) and ``noise_gap`` of overall accuracy; None where no rows.

    The interval is the estimate ± 1.96 bootstrap standard deviations: each replicate weighs
    every real and synthetic row by a Poisson(1) draw and recomputes ``BOOTSTRAP_MEASURES``
    measures of each family, and overall accuracy from their family means, as the estimate
    does. Coherence varies through its next-row part only (the other two parts are held).

    ``noise_gap`` is how far below the ceiling a perfect generator falls at these sizes. The
    analytic ceiling assumes every bin's difference is about normal; with few rows per bin
    (three-column measures of a few hundred rows) it expects too little difference. Two random
    halves of the real rows are compared like real and synthetic data, and their shortfall
    below their own ceiling, scaled to the real and synthetic row counts, is that noise.
    """
    overall = fid.metrics.get("overall")
    codes, measures = fid.codes, fid.measures or {}
    empty = {"overall_interval": None, "noise_gap": None}
    if overall is None or codes is None or not len(codes.real) or not len(codes.synthetic):
        return empty
    families = [f for f in ("univariate", "bivariate", "trivariate") if fid.metrics.get(f)]
    parts = sum(1 for v in fid.metrics.get("coherence_details", {}).values() if v)
    weights = {f: 1.0 for f in families} | ({"next_row": 1 / parts} if parts else {})
    total = len(families) + (fid.metrics.get("coherence") is not None)
    chosen = {f: _choose(measures.get(f, []), rng) for f in weights}
    chosen = {f: c for f, c in chosen.items() if c}
    w_real = rng.poisson(1.0, (ACCURACY_REPLICATES, len(codes.real)))
    w_syn = rng.poisson(1.0, (ACCURACY_REPLICATES, len(codes.synthetic)))
    replicate = np.zeros(ACCURACY_REPLICATES)
    for family, picked in chosen.items():
        scores = np.mean([_replicates(codes, m, w_real, w_syn) for m in picked], axis=0)
        replicate += scores * weights[family] / total
    finite = replicate[np.isfinite(replicate)]  # a replicate without any row has no accuracy
    sd = float(finite.std(ddof=1)) if len(finite) > 1 else None
    noise = _noise_gap(codes, chosen, {f: w / total for f, w in weights.items()}, rng)
    return {"overall_interval": normal_interval(overall, sd), "noise_gap": noise}


# Random halvings of the real rows averaged for the noise gap.
NOISE_SPLITS = 4


def _noise_gap(codes: Codes, chosen: dict, weights: dict, rng) -> float | None:
    n, m = len(codes.real), len(codes.synthetic)
    if n < 4:
        return None
    gaps = []
    for _ in range(NOISE_SPLITS):
        order = rng.permutation(n)
        first, second = codes.real[order[: n // 2]], codes.real[order[n // 2 :]]
        gap = 0.0
        for family, picked in chosen.items():
            shortfall = []
            for columns in picked:
                a = accuracy.joint_counts(first, columns, codes.sizes)
                b = accuracy.joint_counts(second, columns, codes.sizes)
                shortfall.append(
                    accuracy.expected_accuracy(a, len(second)) - accuracy.tv_accuracy(a, b)
                )
            gap += float(np.mean(shortfall)) * weights[family]
        gaps.append(gap)
    # Sampling differences shrink like sqrt(1/n + 1/m): from two halves to n real, m synthetic.
    scale = np.sqrt((1 / n + 1 / m) / (1 / (n // 2) + 1 / (n - n // 2)))
    return max(0.0, float(np.mean(gaps)) * float(scale))


def _choose(measures: list[tuple[int, ...]], rng) -> list[tuple[int, ...]]:
    if len(measures) <= BOOTSTRAP_MEASURES:
        return list(measures)
    picked = rng.choice(len(measures), BOOTSTRAP_MEASURES, replace=False)
    return [measures[i] for i in sorted(picked)]


def _replicates(codes: Codes, columns: tuple[int, ...], w_real, w_syn) -> np.ndarray:
    """Accuracy of one measure in every bootstrap replicate."""
    real = _weighted_counts(codes.real, columns, codes.sizes, w_real)
    syn = _weighted_counts(codes.synthetic, columns, codes.sizes, w_syn)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = real / real.sum(axis=1, keepdims=True)
        q = syn / syn.sum(axis=1, keepdims=True)
    return 1 - 0.5 * np.abs(p - q).sum(axis=1)


def _weighted_counts(codes: np.ndarray, columns, sizes, weights: np.ndarray) -> np.ndarray:
    """Joint histogram of ``columns`` under each replicate's row weights: (replicates, cells)."""
    flat = np.zeros(len(codes), dtype="int64")
    cells = 1
    for j in columns:
        flat = flat * sizes[j] + codes[:, j]
        cells *= sizes[j]
    replicates = len(weights)
    offsets = (flat[None, :] + cells * np.arange(replicates)[:, None]).ravel()
    counts = np.bincount(offsets, weights=weights.ravel(), minlength=replicates * cells)
    return counts.reshape(replicates, cells)


def _codes(real: View, synthetic: View, kinds: dict, bins: dict[str, Bins]) -> Codes:
    names = list(kinds)

    def encode(view: View) -> np.ndarray:
        columns = [bins[c].encode(values_of(view.frame[c], kinds[c])) for c in names]
        return np.column_stack(columns) if columns else np.zeros((len(view.frame), 0), "int32")

    return accuracy.Codes(names, [bins[c].size for c in names], encode(real), encode(synthetic))


def _coherence(real: View, synthetic: View, codes: Codes, kinds, bins) -> dict[str, list[Score]]:
    """Next-row, distinct-per-sequence and sequences-per-value scores (empty if not sequences)."""
    if not real.next_of or real.rows is None or synthetic.rows is None:
        return {}
    next_pairs = [(codes.index(t), codes.index(n)) for n, t in real.next_of.items()]
    scores: dict[str, list[Score]] = {
        "next_row": accuracy.bivariates(codes, next_pairs)[0],
        "distinct_per_sequence": [],
        "sequences_per_value": [],
    }
    for column in real.rows.columns:
        b, kind = bins[column], kinds[column]
        real_seq = (
            b.encode(values_of(real.rows[column], kind)),
            real.sequence_ids,
            len(real.lengths),
        )
        syn_seq = (
            b.encode(values_of(synthetic.rows[column], kind)),
            synthetic.sequence_ids,
            len(synthetic.lengths),
        )
        if len(syn_seq[0]) == 0:
            continue
        scores["distinct_per_sequence"].append(
            coherence.distinct_score(column, real_seq, syn_seq, b.size)
        )
        scores["sequences_per_value"].append(
            coherence.spread_score(column, real_seq, syn_seq, b.size)
        )
    return scores


def _family_means(families: dict[str, list[Score]], coherent: dict[str, list[Score]]) -> dict:
    means = {k: accuracy.mean_accuracy(v) for k, v in families.items()}
    parts = [accuracy.mean_accuracy(v) for v in coherent.values() if v]
    means["coherence"] = (
        (float(np.mean([a for a, _ in parts])), float(np.mean([c for _, c in parts])))
        if parts
        else (None, None)
    )
    available = [v for v in means.values() if v[0] is not None]
    overall = (
        (float(np.mean([a for a, _ in available])), float(np.mean([c for _, c in available])))
        if available
        else (None, None)
    )
    metrics = {"overall": overall[0], **{k: v[0] for k, v in means.items()}}
    metrics["ceiling"] = {
        "overall": overall[1],
        **{k: v[1] for k, v in means.items()},
        "method": "analytic",
    }
    return metrics


def _score_json(score: Score, kind: str | None = None) -> dict:
    entry = {
        "column" if len(score.columns) == 1 else "columns": score.columns[0]
        if len(score.columns) == 1
        else list(score.columns),
        "accuracy": score.accuracy,
        "ceiling": score.ceiling,
    }
    if kind is not None:
        entry["kind"] = kind
    return entry


def _worst_first(scores: list[Score]) -> list[Score]:
    return sorted(scores, key=lambda s: (s.accuracy - s.ceiling, s.accuracy))


def _column_details(codes: Codes, target: list[int], bins, kinds, uni: list[Score]) -> list[dict]:
    """Per column, worst first: binned real and synthetic shares for the distribution plots."""
    by_name = {s.columns[0]: s for s in uni}
    details = []
    for j in target:
        name = codes.names[j]
        real = np.bincount(codes.real[:, j], minlength=codes.sizes[j])
        syn = np.bincount(codes.synthetic[:, j], minlength=codes.sizes[j])
        used = (real + syn) > 0
        details.append(
            {
                "column": name,
                "kind": "sequence length" if name == LENGTH else kinds[name],
                "accuracy": by_name[name].accuracy,
                "ceiling": by_name[name].ceiling,
                "labels": [lbl for lbl, u in zip(bins[name].labels, used, strict=True) if u],
                "real": (real[used] / max(real.sum(), 1)).tolist(),
                "synthetic": (syn[used] / max(syn.sum(), 1)).tolist(),
            }
        )
    return sorted(details, key=lambda d: (d["accuracy"] - d["ceiling"], d["accuracy"]))


def _association_details(names, pair_index, target, association) -> dict:
    return {
        "columns": list(names),
        "real": _square(association[:, 0], pair_index, target).tolist(),
        "synthetic": _square(association[:, 1], pair_index, target).tolist(),
    }


def _square(values: np.ndarray, pair_index, target: list[int]) -> np.ndarray:
    """A symmetric columns x columns matrix from per-pair values (1 on the diagonal)."""
    position = {j: i for i, j in enumerate(target)}
    matrix = np.eye(len(target))
    for value, (a, b) in zip(values, pair_index, strict=True):
        matrix[position[a], position[b]] = matrix[position[b], position[a]] = value
    return matrix
