"""A table's model: its variables generated one after another, each by a tree.

The variables are a table's column variables (the *targets*) and, for child tables, *evidence*
variables given at sampling time: the parent row's variables and the previous row of the
sequence. Targets are generated in a learned order, each from the leaf distribution its tree
assigns given everything generated before, with uniforms stratified per leaf so the sample
follows the learned distributions closely.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from synthpipe.generators.fidelity.order import Variable, learn_order
from synthpipe.generators.fidelity.trees import Tree, stratified_uniform

# Rows per leaf: 1% of the table, at least MIN_LEAF and at most MAX_LEAF. Larger leaves
# generalise more (privacy), smaller ones follow the data more closely (fidelity).
MIN_LEAF, MAX_LEAF = 5, 200
# Batches up to this many rows draw stratified uniforms (less Monte Carlo noise where a sample
# is small enough for it to show); larger ones draw plain uniforms, which is faster.
STRATIFY_ROWS = 65_536


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

        Past ``deadline`` (``time.monotonic()``) the remaining targets keep their order and
        their marginal distribution, so training stops in time with a usable model.
        """
        variables = [*evidence, *targets]
        e = len(evidence)
        order = learn_order(
            variables,
            list(range(e)),
            list(range(e, len(variables))),
            deadline=deadline,
            progress=progress,
        )
        x = np.stack([v.codes for v in variables]).astype(np.int32)
        sizes = [v.states for v in variables]
        leaf = min_leaf(x.shape[1])
        trees, before = {}, list(range(e))
        for target in order:
            late = deadline is not None and time.monotonic() > deadline
            trees[target] = Tree.fit(
                x, [] if late else before, target, sizes, leaf, seed=seed + target
            )
            before.append(target)
            if progress is not None:
                progress.advance()
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
