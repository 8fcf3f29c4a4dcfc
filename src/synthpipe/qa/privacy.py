"""Privacy: are synthetic rows closer to the training rows than unseen real rows would be?

Synthetic rows are compared with equal-size samples of training and holdout rows, encoded as in
``encode`` and scaled to unit length (as mostlyai-qa does; it also keeps rows that agree on a
few columns from tying exactly). The DCR share is the share of synthetic rows whose nearest
training row is nearer than their nearest holdout row, ties counting half: about 0.5 means the
generator learned the population, towards 1.0 that it memorised its training rows. Like
mostlyai-qa it is the largest share over all columns and three groups of associated columns,
so memorising a few columns together (quasi-identifiers) shows too. (mostlyai-qa also tries
three random groups; their arbitrary choice made the share swing by up to 0.1 between seeds.)
Identical-match shares compare whole rows exactly: every synthetic row against the same
equal-size training and holdout samples, so the two shares compare like with like.

Whether matches mean copies is judged against what unseen real rows do (``train_matches``):
the share of synthetic rows equal to some training row against the share of holdout rows equal
to some training row, both against the same training rows. In a table of a few low-cardinality
columns nearly every row matches by necessity, for the holdout as much as for the synthetic
data; only a synthetic share credibly above the holdout's means memorised rows.

Every share comes with a 95% interval (see ``intervals``): Wilson intervals for the match
shares, Newcombe's for their difference and a cluster bootstrap for the DCR share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa.bins import values_of
from synthpipe.qa.encode import dimensions, encode, fit_encoders
from synthpipe.qa.intervals import BOOTSTRAP_REPLICATES, newcombe, normal_interval, wilson
from synthpipe.qa.knn import Neighbours, nearest, nearest_groups

if TYPE_CHECKING:
    import pandas as pd

# Synthetic rows whose distances are measured.
MAX_QUERIES = 10_000
# Training and holdout rows each are sampled to the same size, at most this.
MAX_REFERENCE_ROWS = 50_000
# Holdout rows whose distance to training rows is shown as the reference histogram, and
# synthetic rows whose second-nearest neighbours are found for the NNDR.
MAX_REFERENCE_QUERIES = 2_000
MAX_NNDR_QUERIES = 2_000
HISTOGRAM_BINS = 30
NO_HOLDOUT = "needs a holdout: pass holdout= to evaluate()"
HOLDOUT_METRICS = (
    "dcr_share",
    "dcr_share_interval",
    "dcr_share_all_columns",
    "dcr_share_columns",
    "dcr_holdout_mean",
    "dcr_holdout_to_train_mean",
    "nndr_holdout",
)


def privacy(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    kinds: dict[str, str],
    association: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[dict, dict]:
    """Privacy metrics of one table and the DCR histograms for the report.

    ``association`` (columns x columns, real data, in ``kinds`` order) drives the grouping of
    associated columns; without it only all columns together are compared.
    """
    (interval_rng,) = rng.spawn(1)  # its own stream: the other metrics draw as they did
    size = min(len(train), len(holdout) if holdout is not None else len(train))
    size = min(size, MAX_REFERENCE_ROWS)
    trn = _sample(train, size, rng)
    hol = _sample(holdout, size, rng) if holdout is not None else None
    metrics = identical_matches(trn, synthetic, hol, kinds)
    metrics |= train_matches(train, synthetic, holdout, kinds, interval_rng)
    if not kinds or len(synthetic) == 0 or size < 2:
        reason = "too few rows or no columns to measure distances"
        return metrics | _missing(("dcr_train_mean", "nndr_train", *HOLDOUT_METRICS), reason), {}
    syn = _sample(synthetic, MAX_QUERIES, rng)
    encoders = fit_encoders(_concat(trn, hol), kinds, [syn])
    x_trn, x_syn = _unit(encode(trn, encoders)), _unit(encode(syn, encoders))
    metrics["rows"] = {
        "synthetic": len(syn),
        "train": len(trn),
        "holdout": len(hol) if hol is not None else 0,
    }
    if hol is None:
        d_trn = nearest(x_syn, x_trn)
        found = _train_metrics(d_trn, x_syn, x_trn) | _missing(HOLDOUT_METRICS, NO_HOLDOUT)
        return metrics | found, _histograms(d_trn, None, None)
    x_hol = _unit(encode(hol, encoders))
    to_trn, to_hol = _both(x_syn, x_trn, x_hol)
    d_trn, d_hol = to_trn.distance, to_hol.distance
    d_ref = nearest(x_hol[:MAX_REFERENCE_QUERIES], x_trn)
    share_all = dcr_share(d_trn[:, 0], d_hol[:, 0])
    best, group, group_neighbours = _group_shares(x_syn, x_trn, x_hol, encoders, association, rng)
    share = max(share_all, best)
    return metrics | _train_metrics(d_trn, x_syn, x_trn) | {
        "dcr_share": share,
        "dcr_share_interval": dcr_share_interval(
            [(to_trn, to_hol), *group_neighbours], share, interval_rng
        ),
        "dcr_share_all_columns": share_all,
        "dcr_share_columns": group if best > share_all else None,
        "dcr_holdout_mean": float(d_hol[:, 0].mean()),
        "dcr_holdout_to_train_mean": float(d_ref[:, 0].mean()),
        "nndr_holdout": _nndr(nearest(x_syn[:MAX_NNDR_QUERIES], x_hol, 2)),
    }, _histograms(d_trn, d_hol, d_ref)


def _train_metrics(d_trn: np.ndarray, x_syn: np.ndarray, x_trn: np.ndarray) -> dict:
    return {
        "dcr_train_mean": float(d_trn[:, 0].mean()),
        "nndr_train": _nndr(nearest(x_syn[:MAX_NNDR_QUERIES], x_trn, 2)),
    }


def _missing(names, reason: str) -> dict:
    """Metrics that could not be measured: null, with the reason in ``notes``."""
    return dict.fromkeys(names) | {"notes": dict.fromkeys(names, reason)}


def dcr_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of rows nearer to training than to holdout, ties counting half."""
    return float(np.mean(to_train < to_holdout) + np.mean(to_train == to_holdout) / 2)


def identical_matches(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    kinds: dict[str, str],
) -> dict:
    """Shares of synthetic rows that equal some training row, and some holdout row.

    Each share has a Wilson interval over the synthetic rows (``*_interval``).
    """
    names = ("identical_match_share_train", "identical_match_share_holdout")
    if not kinds or len(synthetic) == 0:
        return dict.fromkeys([n for name in names for n in (name, f"{name}_interval")])
    syn = row_hashes(synthetic, kinds)
    found = {}
    for name, reference in zip(names, (train, holdout), strict=True):
        matches = (
            int(np.isin(syn, row_hashes(reference, kinds)).sum()) if reference is not None else None
        )
        found[name] = None if matches is None else matches / len(syn)
        found[f"{name}_interval"] = None if matches is None else wilson(matches, len(syn))
    return found


def train_matches(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    kinds: dict[str, str],
    rng: np.random.Generator,
) -> dict:
    """Synthetic rows that equal a training row, against holdout rows that do.

    Both are compared with the same training rows (all of them, or ``MAX_REFERENCE_ROWS``
    sampled), so the holdout's share is what real rows the generator never saw reach: the
    matches that the table's values make unavoidable. ``train_match_excess`` is the synthetic
    share minus the holdout's, with Newcombe's interval; credibly above zero means copies.
    """
    names = [
        f"train_match_{what}{suffix}"
        for what in ("share_synthetic", "share_holdout", "excess")
        for suffix in ("", "_interval")
    ]
    found = dict.fromkeys(names)
    if not kinds or len(synthetic) == 0:
        return found
    reference = row_hashes(_sample(train, MAX_REFERENCE_ROWS, rng), kinds)
    n_syn = len(synthetic)
    k_syn = int(np.isin(row_hashes(synthetic, kinds), reference).sum())
    found["train_match_share_synthetic"] = k_syn / n_syn
    found["train_match_share_synthetic_interval"] = wilson(k_syn, n_syn)
    if holdout is None or len(holdout) == 0:
        return found
    n_hol = len(holdout)
    k_hol = int(np.isin(row_hashes(holdout, kinds), reference).sum())
    return found | {
        "train_match_share_holdout": k_hol / n_hol,
        "train_match_share_holdout_interval": wilson(k_hol, n_hol),
        "train_match_excess": k_syn / n_syn - k_hol / n_hol,
        "train_match_excess_interval": newcombe(k_syn, n_syn, k_hol, n_hol),
    }


def dcr_share_interval(
    candidates: list[tuple[Neighbours, Neighbours]],
    share: float,
    rng: np.random.Generator,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> list[float] | None:
    """95% interval of the DCR share (the largest over ``candidates``) by a cluster bootstrap.

    Each candidate is (nearest training row, nearest holdout row) of every synthetic row, on
    all columns or one group of columns. A synthetic row belongs to the cluster of its nearest
    reference row (training when nearer to training, holdout when nearer to holdout, both
    halves on a tie). A replicate draws Poisson(1) weights for the training and holdout rows,
    and each cluster comes with its synthetic rows, weighted by its reference row's weight
    (relative to the copies of that row). With many reference rows every cluster holds about
    one synthetic row and this is the plain bootstrap of synthetic rows; with a handful of
    holdout rows the share rests on a handful of clusters, and the interval says so.
    """
    first_trn, first_hol = candidates[0]
    w_trn = rng.poisson(1.0, (replicates, len(first_trn.ref_group)))
    w_hol = rng.poisson(1.0, (replicates, len(first_hol.ref_group)))
    shares = np.full((len(candidates), replicates), np.nan)
    for c, (to_trn, to_hol) in enumerate(candidates):
        d_trn, d_hol = to_trn.distance[:, 0], to_hol.distance[:, 0]
        score = np.where(d_trn < d_hol, 1.0, np.where(d_trn == d_hol, 0.5, 0.0))
        at_trn = _group_weights(w_trn, to_trn.ref_group)[:, to_trn.group]
        at_hol = _group_weights(w_hol, to_hol.ref_group)[:, to_hol.group]
        cluster = np.where(
            score == 1.0, at_trn, np.where(score == 0.0, at_hol, (at_trn + at_hol) / 2)
        )
        weight = cluster
        total = weight.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares[c] = np.where(total > 0, (weight * score).sum(axis=1) / total, np.nan)
    best = np.where(np.isfinite(shares), shares, -np.inf).max(axis=0)
    best = best[np.isfinite(best)]  # a replicate that drew no cluster at all has no share
    return normal_interval(share, float(best.std(ddof=1)) if len(best) > 1 else None)


def _group_weights(weights: np.ndarray, ref_group: np.ndarray) -> np.ndarray:
    """Per replicate, each distinct reference row's weight relative to its number of copies."""
    replicates, groups = len(weights), int(ref_group.max()) + 1
    flat = (ref_group[None, :] + groups * np.arange(replicates)[:, None]).ravel()
    sums = np.bincount(flat, weights=weights.ravel(), minlength=replicates * groups)
    return sums.reshape(replicates, groups) / np.bincount(ref_group, minlength=groups)


def row_hashes(frame: pd.DataFrame, kinds: dict[str, str]) -> np.ndarray:
    """One 64-bit hash per row of the columns in ``kinds``, equal for equal values of any dtype."""
    from pandas.util import hash_array

    combined = np.zeros(len(frame), dtype="uint64")
    for name, kind in kinds.items():
        values = values_of(frame[name], kind)
        if values.dtype.kind == "f":
            values = np.where(values == 0, 0.0, values)  # -0.0 and 0.0 are the same value
        with np.errstate(over="ignore"):
            combined = combined * np.uint64(1_000_003) ^ hash_array(values)
    return combined


def _group_shares(x_syn, x_trn, x_hol, encoders, association, rng) -> tuple:
    """The highest DCR share over groups of associated columns, its columns and the nearest
    rows of every group (for the interval)."""
    names = [e.name for e in encoders]
    blocks = dimensions(encoders)
    if x_syn.shape[1] <= 10 or len(names) < 3:
        return 0.0, [], []
    queries = x_syn
    best, best_group, neighbours = 0.0, [], []
    for group in _column_groups(len(names), association, rng):
        dims = [d for j in group for d in blocks[j]]
        to_train, to_holdout = _both(queries[:, dims], x_trn[:, dims], x_hol[:, dims])
        neighbours.append((to_train, to_holdout))
        share = dcr_share(to_train.distance[:, 0], to_holdout.distance[:, 0])
        if share > best:
            best, best_group = share, [names[j] for j in group]
    return best, best_group, neighbours


def _column_groups(n: int, association: np.ndarray | None, rng) -> list[list[int]]:
    """Three groups of associated columns (none without an association matrix)."""
    groups = _associated_groups(association, rng) if association is not None else []
    return [g for g in groups if g and len(g) < n]


def _associated_groups(association: np.ndarray, rng) -> list[list[int]]:
    from sklearn.cluster import SpectralClustering

    affinity = np.clip(np.nan_to_num(association), 0, 1)
    np.fill_diagonal(affinity, 1.0)
    try:
        labels = SpectralClustering(
            n_clusters=3, affinity="precomputed", random_state=int(rng.integers(2**31))
        ).fit_predict(affinity)
    except Exception:  # grouping is a refinement: all columns together still apply
        return []
    return [np.flatnonzero(labels == g).tolist() for g in range(3)]


def _both(queries: np.ndarray, x_trn: np.ndarray, x_hol: np.ndarray):
    """Nearest training and nearest holdout rows, searched side by side.

    numpy releases the GIL in the products, so two threads use two cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        to_holdout = pool.submit(nearest_groups, queries, x_hol)
        return nearest_groups(queries, x_trn), to_holdout.result()


def _nndr(distances: np.ndarray) -> float:
    """Mean nearest-neighbour distance ratio (nearest / second nearest)."""
    return float(np.mean((distances[:, 0] + 1e-8) / (distances[:, 1] + 1e-8)))


def _histograms(d_trn, d_hol, d_ref) -> dict:
    series = {
        "synthetic → training": d_trn,
        "synthetic → holdout": d_hol,
        "holdout → training": d_ref,
    }
    series = {k: v[:, 0] for k, v in series.items() if v is not None}
    top = float(np.quantile(np.concatenate(list(series.values())), 0.99)) or 1.0
    edges = np.linspace(0, top, HISTOGRAM_BINS + 1)
    counts = {k: np.histogram(np.clip(v, 0, top), edges)[0] / len(v) for k, v in series.items()}
    return {"edges": edges.tolist(), "shares": {k: c.tolist() for k, c in counts.items()}}


def _sample(frame: pd.DataFrame, size: int, rng) -> pd.DataFrame:
    # Shuffled, so that any prefix of the sample is a random sample too.
    return frame.iloc[rng.permutation(len(frame))[:size]].reset_index(drop=True)


def _concat(first: pd.DataFrame, second: pd.DataFrame | None) -> pd.DataFrame:
    import pandas as pd

    return first if second is None else pd.concat([first, second], ignore_index=True)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)
