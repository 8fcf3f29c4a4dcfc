"""The order in which a table's variables are generated.

Each variable is generated from the ones before it, so the order matters: strongly related
variables should come early and together. A greedy search in the spirit of K2 and PrivBayes
places one variable at a time: for every remaining variable the best few predictors among the
placed ones are chosen by leave-one-out log-likelihood (which refuses predictors that only
memorise rare combinations), and the variable they predict best is placed next. Evidence
variables (a parent row, the previous row of a sequence) are placed from the start.

Cost is bounded by design. On a wide or large table every variable's predictors are searched
among a bounded set of *candidates*: the variables most associated with it by a cheap screen
(mutual information of coarse states on a row sample, all pairs in one matrix product). A
variable's best gain is computed again only when one of its candidates has just been placed,
so the search costs about variables x candidates^2 scores instead of variables^3; scores are
computed on a row sample of at most ``SCORE_ROWS`` rows. Small tables (Adult) keep the
exhaustive search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

# Upper bound on configurations x states scored for one variable.
MAX_CELLS = 1 << 20
# Pseudo-count of the marginal prior in the leave-one-out score.
LOO_PRIOR = 1.0
# The order search scores on at most this many rows (a seeded sample of larger tables).
SCORE_ROWS = 50_000
# Budget of the search: at most this many scores, and scores x rows (each score is a pass
# over the rows); candidate sets shrink to fit, down to MIN_CANDIDATES per variable.
MAX_SCORES = 250_000
MAX_SCORE_WORK = 2e9
MIN_CANDIDATES = 8
# The association screen works on at most this many rows and one-hot cells (rows x states).
SCREEN_ROWS = 20_000
SCREEN_CELLS = 1 << 25


@dataclass
class Variable:
    """A discrete model variable: its training states and their grouping into coarse states."""

    name: str
    codes: np.ndarray  # int32 state per training row
    states: int
    coarse: np.ndarray  # state -> coarse state

    @property
    def coarse_states(self) -> int:
        return int(self.coarse.max()) + 1 if len(self.coarse) else 1

    def predictor(self, coarse: bool) -> tuple[np.ndarray, int]:
        if coarse:
            return self.coarse[self.codes], self.coarse_states
        return self.codes, self.states


def learn_order(
    variables: list[Variable],
    evidence: list[int],
    targets: list[int],
    max_predictors: int = 3,
    deadline: float | None = None,
    progress=None,
    candidates: list[np.ndarray] | None = None,
) -> list[int]:
    """The targets in generation order; ``progress.advance()`` after each one is placed.

    ``candidates[x]`` (variable indices) bounds where the predictors of ``x`` are searched;
    None searches all variables. Past ``deadline`` (a ``time.monotonic()`` value) the
    remaining targets are placed by their association with the placed ones (no more scores).
    """
    scorer = _Scorer(variables)
    allowed = None if candidates is None else [set(c.tolist()) for c in candidates]

    def among(x: int, pool: list[int]) -> list[int]:
        return pool if allowed is None else [p for p in pool if p in allowed[x]]

    placed, remaining, order = list(evidence), list(targets), []
    gains: dict[int, float] = {}
    stale = set(remaining)  # variables whose best gain must be computed (again)
    while remaining:
        if deadline is not None and time.monotonic() > deadline:
            order += _by_candidates(remaining, placed, candidates)
            break
        first = not placed
        if first:  # nothing placed yet: start with the variable most related to all others
            gains = {x: scorer.connectivity(x, among(x, remaining)) for x in remaining}
        else:
            for x in stale:
                gains[x] = scorer.best_gain(x, among(x, placed), max_predictors)
        pick = max(remaining, key=lambda x: (gains[x], -x))
        order.append(pick)
        placed.append(pick)
        remaining.remove(pick)
        # a gain changes only when one of the variable's candidates was placed
        stale = (
            set(remaining)
            if first or allowed is None
            else {x for x in remaining if pick in allowed[x]}
        )
        if progress is not None:
            progress.advance()
    return order


def _by_candidates(
    remaining: list[int], placed: list[int], candidates: list[np.ndarray] | None
) -> list[int]:
    """Remaining targets, those with the most placed candidates first (no scoring: in time)."""
    if candidates is None:
        return list(remaining)
    done = set(placed)
    out, left = [], list(remaining)
    while left:
        pick = max(left, key=lambda x: (sum(int(c) in done for c in candidates[x]), -x))
        out.append(pick)
        done.add(pick)
        left.remove(pick)
    return out


def candidate_sets(
    variables: list[Variable],
    max_predictors: int = 3,
    rng: np.random.Generator | None = None,
) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
    """Candidate predictors per variable within the search budget, and the association
    matrix they were chosen by; ``(None, None)`` when the exhaustive search fits the budget."""
    v = len(variables)
    rows = min(len(variables[0].codes), SCORE_ROWS) if variables else 0
    k = v - 1
    while k > MIN_CANDIDATES and not _affordable(v, k, rows, max_predictors):
        k -= 1
    if k >= v - 1:
        return None, None
    strength = association(variables, rng)
    return top_candidates(strength, k), strength


def _affordable(v: int, k: int, rows: int, max_predictors: int) -> bool:
    scores = v * (k + 1) * 2 * k * max_predictors  # each gain recomputed <= k + 1 times
    return scores <= MAX_SCORES and scores * rows <= MAX_SCORE_WORK


def top_candidates(strength: np.ndarray, k: int) -> list[np.ndarray]:
    """Per variable, the ``k`` others it is most associated with (sorted indices)."""
    everyone = np.arange(len(strength))
    return [strongest(strength, x, k, everyone) for x in range(len(strength))]


def strongest(strength: np.ndarray, x: int, k: int, pool) -> np.ndarray:
    """The ``k`` variables of ``pool`` (not ``x``) most associated with ``x``, sorted."""
    pool = np.asarray(pool, np.int64)
    others = pool[pool != x]
    order = np.lexsort((others, -strength[x, others]))  # strongest first, ties by index
    return np.sort(others[order[:k]])


def association(variables: list[Variable], rng: np.random.Generator | None = None) -> np.ndarray:
    """Mutual information (nats, bias-corrected) between every pair of variables' coarse
    states, on a row sample; all pairs at once from one product of one-hot matrices."""
    v = len(variables)
    n = len(variables[0].codes) if v else 0
    sizes = np.array([var.coarse_states for var in variables], np.int64)
    total = int(sizes.sum())
    rows = min(n, SCREEN_ROWS, max(1000, SCREEN_CELLS // max(total, 1)))
    rng = rng or np.random.default_rng(0)
    take = np.sort(rng.choice(n, size=rows, replace=False)) if rows < n else slice(None)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    onehot = np.zeros((rows if rows < n else n, total), np.float32)
    for i, var in enumerate(variables):
        codes = var.coarse[var.codes[take]]
        onehot[np.arange(len(codes)), offsets[i] + codes] = 1.0
    m = max(len(onehot), 1)
    joint = (onehot.T @ onehot) / m  # joint distributions of every pair, block by block
    single = np.diag(joint).astype(np.float64)
    joint = joint.astype(np.float64)
    expected = np.outer(single, single)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / expected), 0.0)
    mi = np.add.reduceat(np.add.reduceat(terms, offsets, axis=0), offsets, axis=1)
    used = np.add.reduceat((single > 0).astype(np.float64), offsets)  # states seen per variable
    bias = np.outer(np.maximum(used - 1, 0), np.maximum(used - 1, 0)) / (2 * m)  # Miller-Madow
    strength = np.maximum(mi - bias, 0.0)
    np.fill_diagonal(strength, 0.0)
    return strength


class _Scorer:
    """Leave-one-out log-likelihood gains of variables given candidate predictors."""

    def __init__(self, variables: list[Variable]):
        self.variables = variables
        self.n = len(variables[0].codes) if variables else 0
        self.marginals = [
            np.bincount(v.codes, minlength=v.states) / max(self.n, 1) for v in variables
        ]

    def best_gain(self, child: int, candidates: list[int], limit: int) -> float:
        """Gain of the best predictor set (grown greedily, fine or coarse) over none."""
        var = self.variables[child]
        config, n_configs = np.zeros(self.n, dtype=np.int64), 1
        base = current = self.score(child, config, 1)
        used: set[int] = set()
        while len(used) < limit:
            best = (current, None, None, 0)
            for cand in candidates:
                if cand in used:
                    continue
                for coarse in (True, False):
                    codes, states = self.variables[cand].predictor(coarse)
                    if not coarse and states == self.variables[cand].coarse_states:
                        continue
                    joint, n_joint = config * states + codes, n_configs * states
                    if n_joint * var.states > MAX_CELLS:
                        joint = _compress(joint)
                        n_joint = int(joint.max()) + 1
                    score = self.score(child, joint, n_joint)
                    if score > best[0] + 1e-9:
                        best = (score, cand, joint, n_joint)
            if best[1] is None:
                break
            current, used = best[0], used | {best[1]}
            config = _compress(best[2])
            n_configs = int(config.max()) + 1
        return current - base

    def score(self, child: int, config: np.ndarray, n_configs: int) -> float:
        """Each row predicted from the other rows' counts, smoothed towards the marginal."""
        var = self.variables[child]
        cells = np.bincount(config * var.states + var.codes, minlength=n_configs * var.states)
        cells = cells.reshape(n_configs, var.states)
        per_config = cells.sum(axis=1)
        rows, states = np.nonzero(cells)
        n_cell = cells[rows, states].astype(np.float64)
        prior = LOO_PRIOR * self.marginals[child][states]
        held = (n_cell - 1 + prior) / (per_config[rows] - 1 + LOO_PRIOR)
        return float(np.sum(n_cell * np.log(held)))

    def connectivity(self, x: int, others: list[int]) -> float:
        base = self.score(x, np.zeros(self.n, dtype=np.int64), 1)
        total = 0.0
        for other in others:
            if other != x:
                codes, states = self.variables[other].predictor(True)
                total += self.score(x, codes.astype(np.int64), states) - base
        return total


def _compress(config: np.ndarray) -> np.ndarray:
    """Renumber configurations densely (0..k-1) so count tables stay as small as the data."""
    _, inverse = np.unique(config, return_inverse=True)
    return inverse.astype(np.int64)
