"""The order in which a table's variables are generated.

Each variable is generated from the ones before it, so the order matters: strongly related
variables should come early and together. A greedy search in the spirit of K2 and PrivBayes
places one variable at a time: for every remaining variable the best few predictors among the
placed ones are chosen by leave-one-out log-likelihood (which refuses predictors that only
memorise rare combinations), and the variable they predict best is placed next. Evidence
variables (a parent row, the previous row of a sequence) are placed from the start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

# Upper bound on configurations x states scored for one variable.
MAX_CELLS = 1 << 20
# Pseudo-count of the marginal prior in the leave-one-out score.
LOO_PRIOR = 1.0


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
) -> list[int]:
    """The targets in generation order; ``progress.advance()`` after each one is placed.

    Past ``deadline`` (a ``time.monotonic()`` value) the remaining targets keep their order.
    """
    scorer = _Scorer(variables)
    placed, remaining, order = list(evidence), list(targets), []
    while remaining:
        if deadline is not None and time.monotonic() > deadline:
            order += remaining
            break
        if placed:
            gains = {x: scorer.best_gain(x, placed, max_predictors) for x in remaining}
        else:  # nothing placed yet: start with the variable most related to all others
            gains = {x: scorer.connectivity(x, remaining) for x in remaining}
        pick = max(remaining, key=lambda x: (gains[x], -x))
        order.append(pick)
        placed.append(pick)
        remaining.remove(pick)
        if progress is not None:
            progress.advance()
    return order


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
