"""A table's model: its variables generated one after another, each by a tree.

The variables are a table's column variables (the *targets*) and, for child tables, *evidence*
variables given at sampling time: the parent row's variables and the previous row of the
sequence. Targets are generated in a learned order, each from the leaf distribution its tree
assigns given everything generated before, with uniforms stratified per leaf so the sample
follows the learned distributions closely.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from synthpipe.generators.fidelity.order import (
    SCORE_ROWS,
    Variable,
    association,
    candidate_sets,
    learn_order,
    strongest,
)
from synthpipe.generators.fidelity.trees import Tree, stratified_uniform

# Rows per leaf: 1% of the table, at least MIN_LEAF and at most MAX_LEAF. Larger leaves
# generalise more (privacy), smaller ones follow the data more closely (fidelity).
MIN_LEAF, MAX_LEAF = 5, 200
# Batches up to this many rows draw stratified uniforms (less Monte Carlo noise where a sample
# is small enough for it to show); larger ones draw plain uniforms, which is faster.
STRATIFY_ROWS = 65_536
# A tree chooses its splits among at most this many earlier variables (those most associated
# with its target), on at most TREE_ROWS rows; its leaf distributions count all rows.
MAX_TREE_FEATURES = 24
TREE_ROWS = 100_000
# Share of the remaining training time the order search may use when a deadline is set.
ORDER_SHARE = 0.4
# Past the deadline a tree still uses its LATE_FEATURES strongest predictors on LATE_ROWS
# rows (milliseconds each), so strong dependencies survive a short max_training_time.
LATE_FEATURES = 2
LATE_ROWS = 5_000
# Trees are fitted on this many threads (the engine targets two cores).
TRAIN_THREADS = 2


def min_leaf(rows: int) -> int:
    """Smallest number of training rows a leaf may hold for a table of ``rows`` rows."""
    return int(np.clip(rows // 100, MIN_LEAF, MAX_LEAF))


@dataclass
class Chain:
    """Variables (evidence first, then targets), their generation order and trees."""

    names: list[str]
    states: list[int]
    n_evidence: int
    order: list[int]
    trees: dict[int, Tree]

    @classmethod
    def fit(
        cls,
        evidence: list[Variable],
        targets: list[Variable],
        *,
        seed: int = 0,
        deadline: float | None = None,
        progress=None,
    ) -> Chain:
        """Learn the order and one tree per target from the variables' training states.

        Cost is bounded: the order search and each tree look at a bounded set of candidate
        predictors (chosen by an association screen) on bounded row samples, and the leaf
        distributions count all rows. With a ``deadline`` (``time.monotonic()``) the order
        search takes at most ``ORDER_SHARE`` of the time left; trees fitted past it use their
        strongest predictors on a small sample, so training stops in time and keeps the
        strongest dependencies.
        """
        variables = [*evidence, *targets]
        e = len(evidence)
        n = len(variables[0].codes) if variables else 0
        rng = np.random.default_rng([seed, 7])
        scored = _row_sample(variables, SCORE_ROWS, rng)
        candidates, strength = candidate_sets(scored, rng=rng)
        if strength is None and len(variables) - 1 > MAX_TREE_FEATURES:
            strength = association(scored, rng)
        order_deadline = deadline
        if deadline is not None:
            order_deadline = time.monotonic() + ORDER_SHARE * max(deadline - time.monotonic(), 0)
        order = learn_order(
            scored,
            list(range(e)),
            list(range(e, len(variables))),
            deadline=order_deadline,
            progress=progress,
            candidates=candidates,
        )
        del scored
        x = np.empty((len(variables), n), np.int32)
        for i, v in enumerate(variables):
            x[i] = v.codes
        sizes = [v.states for v in variables]
        leaf = min_leaf(n)
        fit_rows = np.sort(rng.choice(n, TREE_ROWS, replace=False)) if n > TREE_ROWS else None
        late_rows = np.sort(rng.choice(n, LATE_ROWS, replace=False)) if n > LATE_ROWS else None
        if strength is None and len(variables) - 1 > (
            LATE_FEATURES if deadline is not None else MAX_TREE_FEATURES
        ):
            strength = association(_row_sample(variables, SCORE_ROWS, rng), rng)

        def fit_tree(target: int, before: list[int]) -> Tree:
            late = deadline is not None and time.monotonic() > deadline
            limit = LATE_FEATURES if late else MAX_TREE_FEATURES
            predictors = before
            if len(before) > limit:
                predictors = strongest(strength, target, limit, before).tolist()
            rows = late_rows if late else fit_rows
            return Tree.fit(x, predictors, target, sizes, leaf, seed=seed + target, fit_rows=rows)

        # trees are independent once the order is known: fitted on TRAIN_THREADS threads
        # (scikit-learn and numpy release the GIL), each from its own seed, so the model does
        # not depend on scheduling
        jobs = [(target, [*range(e), *order[:i]]) for i, target in enumerate(order)]
        trees: dict[int, Tree] = {}
        pool = ThreadPoolExecutor(TRAIN_THREADS)
        try:
            futures = [pool.submit(fit_tree, target, before) for target, before in jobs]
            for (target, _), future in zip(jobs, futures, strict=True):
                trees[target] = future.result()
                if progress is not None:
                    progress.advance()
        finally:
            pool.shutdown(cancel_futures=True)
        return cls([v.name for v in variables], [v.states for v in variables], e, order, trees)

    def sample(
        self,
        n: int,
        evidence: list[np.ndarray],
        rng: np.random.Generator,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> list[np.ndarray]:
        """States of every variable for ``n`` rows, given the evidence variables' states."""
        x = np.zeros((len(self.names), n), np.int32)
        for i, codes in enumerate(evidence):
            x[i] = codes
        for target in self.order:
            tree = self.trees[target]
            leaves = tree.apply(x)
            uniform = stratified_uniform(leaves, rng) if n <= STRATIFY_ROWS else rng.random(n)
            if temperature != 1.0 or top_p < 1.0:
                tree = tree.sharpened(temperature, top_p)
            x[target] = tree.sample(leaves, uniform)
        return list(x)

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {
            "names": self.names,
            "states": self.states,
            "n_evidence": self.n_evidence,
            "order": self.order,
        }
        arrays: dict[str, np.ndarray] = {}
        for target, tree in self.trees.items():
            arrays.update(tree.to_state(f"{prefix}.tree.{target}"))
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], prefix: str) -> Chain:
        trees = {
            t: Tree.from_state(arrays, f"{prefix}.tree.{t}", meta["states"][t], meta["states"])
            for t in meta["order"]
        }
        return cls(meta["names"], meta["states"], meta["n_evidence"], list(meta["order"]), trees)


def _row_sample(variables: list[Variable], rows: int, rng: np.random.Generator) -> list[Variable]:
    """The variables on a seeded sample of ``rows`` rows (all of them when there are fewer)."""
    n = len(variables[0].codes) if variables else 0
    if n <= rows:
        return variables
    take = np.sort(rng.choice(n, rows, replace=False))
    return [Variable(v.name, v.codes[take], v.states, v.coarse) for v in variables]
