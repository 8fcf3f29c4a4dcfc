"""Decision trees as conditional distributions: P(variable | earlier variables).

A CART tree (scikit-learn, at training only) partitions the rows by the variables before the
one being modelled; each leaf keeps the counts of the variable's states among its training
rows. A leaf holds at least ``min_leaf`` rows, so no distribution is learned from a handful of
individuals. The fitted tree is kept as plain arrays and evaluated with numpy, level by level,
for a whole batch of rows at once.

Cost is bounded by design: on a large table the tree's splits are chosen on a row sample
(``fit_rows``) and its leaf distributions are then counted over all rows; a leaf that holds
fewer than ``min_leaf`` of all rows takes the distribution of its nearest ancestor that holds
enough. Leaves times states of the target are capped, so a model stays small.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from synthpipe.generators.fidelity.inverse import InverseCDF

# Pseudo-count pulling each leaf's distribution towards the variable's marginal.
LEAF_PRIOR = 1.0
# Trees whose split intervals combine into at most this many cells are evaluated through a
# lookup table (a few array lookups per row) instead of node by node.
MAX_LOOKUP = 1 << 20
# All lookup tables of one tree hold at most this many cells; subtrees beyond it are walked
# level by level (vectorised), so a model of many large trees keeps a bounded memory.
MAX_PLAN_CELLS = 1 << 22
_WALK = "walk"
# At most this many leaves x target states per tree (bounds model size and training memory).
MAX_LEAF_CELLS = 1 << 22
# When the splits are chosen on a row sample, its leaves hold this much more than their share
# of ``min_leaf``, so that nearly every leaf still holds ``min_leaf`` of all rows.
SAMPLE_LEAF_MARGIN = 1.25


@dataclass
class Tree:
    """A fitted tree over feature columns and the cumulative state distribution of each leaf."""

    feature: np.ndarray  # per node: feature column, -1 for leaves
    threshold: np.ndarray  # per node: go left when value <= threshold
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray  # per node: leaf number, -1 for inner nodes
    cdf: np.ndarray  # flat: leaf number + cumulative probability of each state
    states: int
    sizes: list[int]  # number of states of every variable the features refer to
    _plan: dict | None = field(default=None, repr=False, compare=False)
    _inverse: InverseCDF | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        columns: list[int],
        target: int,
        sizes: list[int],
        min_leaf: int,
        seed: int = 0,
        fit_rows: np.ndarray | None = None,
    ) -> Tree:
        """Grow a tree on the rows ``x[columns]`` predicting the row ``x[target]``.

        ``x`` holds one row of training states per variable; ``sizes`` their numbers of states.
        With ``fit_rows`` (row indices) the splits are chosen on those rows only and the leaf
        distributions counted over all rows of ``x``.
        """
        y, states = x[target], sizes[target]
        n = len(y)
        if columns and n >= 2 * min_leaf:
            from sklearn.tree import DecisionTreeClassifier

            if fit_rows is not None and len(fit_rows) < n:
                share = len(fit_rows) / n
                leaf = max(1, int(np.ceil(min_leaf * share * SAMPLE_LEAF_MARGIN)))
                features, labels = x[np.ix_(columns, fit_rows)].T, y[fit_rows]
            else:
                fit_rows, leaf = None, min_leaf
                features, labels = x[columns].T, y
            cap = MAX_LEAF_CELLS // max(states, 1)
            max_leaves = cap if cap < len(labels) // leaf else None
            model = DecisionTreeClassifier(
                min_samples_leaf=leaf, max_leaf_nodes=max_leaves, random_state=seed
            )
            with warnings.catch_warnings():  # "many classes for few rows": expected here
                warnings.simplefilter("ignore", UserWarning)
                model.fit(features.astype(np.float32), labels)
            del features, labels
            t = model.tree_
            feature = np.where(t.feature >= 0, np.asarray(columns)[np.maximum(t.feature, 0)], -1)
            structure = (
                feature.astype(np.int32),
                t.threshold.astype(np.float32),
                t.children_left.astype(np.int32),
                t.children_right.astype(np.int32),
            )
        else:  # a single leaf: the marginal distribution
            fit_rows = None
            structure = (
                np.array([-1], np.int32),
                np.zeros(1, np.float32),
                np.array([-1], np.int32),
                np.array([-1], np.int32),
            )
        is_leaf = structure[0] < 0
        leaf_of = np.where(is_leaf, np.cumsum(is_leaf) - 1, -1).astype(np.int32)
        tree = cls(*structure, leaf_of, np.zeros(0), states, list(sizes))
        n_leaves = int(is_leaf.sum())
        counts = _leaf_counts(tree.apply(x), y, n_leaves, states)
        tree._plan = None  # rebuilt when sampling: training holds one tree's lookups at a time
        if fit_rows is not None:  # counted over all rows: leaves too small borrow from above
            counts = tree._pooled(counts, min_leaf)
        tree.cdf = _leaf_cdf(counts, y, states)
        if n == 0:
            tree.cdf = np.cumsum(np.full(states, 1.0 / states))
        return tree

    def _pooled(self, counts: np.ndarray, min_leaf: int) -> np.ndarray:
        """Leaf counts where a leaf holding fewer than ``min_leaf`` rows takes the counts of its
        nearest ancestor that holds enough (privacy: every leaf distribution is learned from at
        least ``min_leaf`` rows, as when the splits are chosen on all rows)."""
        rows = counts.sum(axis=1)
        small = np.flatnonzero(rows < min_leaf)
        if len(small) == 0 or len(rows) == 1:
            return counts
        parent = np.full(len(self.feature), -1, np.int64)
        inner = np.flatnonzero(self.feature >= 0)
        parent[self.left[inner]] = inner
        parent[self.right[inner]] = inner
        leaf_nodes = np.flatnonzero(self.feature < 0)
        node_of_leaf = leaf_nodes[np.argsort(self.leaf[leaf_nodes])]
        under = self._rows_under(rows)
        out = counts.copy()
        for small_leaf in small:
            node = int(node_of_leaf[small_leaf])
            while parent[node] >= 0 and under[node] < min_leaf:
                node = int(parent[node])
            out[small_leaf] = counts[self._leaves_under(node)].sum(axis=0)
        return out

    def _rows_under(self, leaf_counts: np.ndarray) -> np.ndarray:
        under = np.zeros(len(self.feature), np.int64)
        for node in range(len(self.feature) - 1, -1, -1):  # children come after parents
            if self.feature[node] < 0:
                under[node] = leaf_counts[self.leaf[node]]
            else:
                under[node] = under[self.left[node]] + under[self.right[node]]
        return under

    def _leaves_under(self, node: int) -> np.ndarray:
        nodes = _subtree(self, node)
        return self.leaf[nodes[self.feature[nodes] < 0]]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The leaf number of every row; ``x`` holds one row of states per variable."""
        if self._plan is None:  # built aside, then published whole: threads may share trees
            plan: dict = {}
            self._compile(0, plan, [MAX_PLAN_CELLS])
            self._plan = plan
        out = np.zeros(x.shape[1], np.int32)
        self._route(0, None, x, out)
        return out

    def _compile(self, node: int, plan: dict, budget: list[int]) -> None:
        """Flatten the largest subtrees that fit into lookup tables; split above them. Once
        the tree's ``budget`` of cells is spent, subtrees are walked instead."""
        if budget[0] < 1024:
            plan[node] = _WALK
            return
        lookup = _Lookup.build(self, node, min(MAX_LOOKUP, budget[0]))
        plan[node] = lookup
        if lookup is None:
            self._compile(int(self.left[node]), plan, budget)
            self._compile(int(self.right[node]), plan, budget)
        else:
            budget[0] -= len(lookup.table)

    def _route(self, node: int, rows: np.ndarray | None, x: np.ndarray, out: np.ndarray):
        lookup = self._plan[node]
        if lookup is _WALK:
            rows = np.arange(x.shape[1]) if rows is None else rows
            out[rows] = self._walk(node, rows, x)
            return
        if lookup is not None:
            if rows is None:
                out[:] = lookup.leaves(x, None)
            else:
                out[rows] = lookup.leaves(x, rows)
            return
        values = x[self.feature[node]] if rows is None else x[self.feature[node], rows]
        go_left = values <= self.threshold[node]
        rows = np.arange(x.shape[1]) if rows is None else rows
        self._route(int(self.left[node]), rows[go_left], x, out)
        self._route(int(self.right[node]), rows[~go_left], x, out)

    def _walk(self, node: int, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Leaf numbers of ``rows`` from ``node`` down, one level per step for all rows."""
        at = np.full(len(rows), node, np.int64)
        active = np.flatnonzero(self.feature[at] >= 0)
        while len(active):
            nodes = at[active]
            go_left = x[self.feature[nodes], rows[active]] <= self.threshold[nodes]
            at[active] = np.where(go_left, self.left[nodes], self.right[nodes])
            active = active[self.feature[at[active]] >= 0]
        return self.leaf[at]

    def sample(self, leaves: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """States drawn by inverse CDF of ``uniform`` in each row's leaf distribution."""
        if self._inverse is None:
            self._inverse = InverseCDF.build(self.cdf)
        index = self._inverse.sample(leaves, uniform)
        return (index - leaves.astype(np.int64) * self.states).astype(np.int32)

    def sharpened(self, temperature: float, top_p: float) -> Tree:
        """This tree with every leaf distribution sharpened (or flattened) for sampling."""
        n_leaves = len(self.cdf) // self.states
        cdf = (self.cdf - np.repeat(np.arange(n_leaves), self.states)).reshape(n_leaves, -1)
        probs = sharpen(np.diff(cdf, axis=1, prepend=0.0), temperature, top_p)
        cum = np.cumsum(probs, axis=1)
        cum[:, -1] = 1.0
        return Tree(
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.leaf,
            (cum + np.arange(n_leaves)[:, None]).ravel(),
            self.states,
            self.sizes,
            self._plan,
        )

    def to_state(self, prefix: str) -> dict[str, np.ndarray]:
        names = ("feature", "threshold", "left", "right", "leaf", "cdf")
        return {f"{prefix}.{n}": getattr(self, n) for n in names}

    @classmethod
    def from_state(
        cls, arrays: dict[str, np.ndarray], prefix: str, states: int, sizes: list[int]
    ) -> Tree:
        names = ("feature", "threshold", "left", "right", "leaf", "cdf")
        return cls(*(arrays[f"{prefix}.{n}"] for n in names), states, list(sizes))


@dataclass
class _Lookup:
    """A tree flattened into a table indexed by the split interval of each used feature."""

    features: list[int]
    maps: list[np.ndarray]  # per feature: state -> offset of its interval in the table
    dims: list[int]
    table: np.ndarray  # leaf number per combination of intervals

    @classmethod
    def build(cls, tree: Tree, root: int, limit: int = MAX_LOOKUP) -> _Lookup | None:
        """The lookup of the subtree at ``root``, or None when it would exceed ``limit``."""
        nodes = _subtree(tree, root)
        inner = nodes[tree.feature[nodes] >= 0]
        used = sorted(set(tree.feature[inner].tolist()))
        cuts = {f: np.unique(tree.threshold[inner][tree.feature[inner] == f]) for f in used}
        dims = [len(cuts[f]) + 1 for f in used]
        cells = 1
        for d in dims:  # exact integers: a numpy product would wrap around past 2**63
            cells *= d
            if cells > limit:
                return None
        strides = np.cumprod([1, *dims[::-1]])[-2::-1] if dims else []
        # state -> its split interval times the interval's stride in the flattened table
        maps = [
            np.searchsorted(cuts[f], np.arange(tree.sizes[f]), side="left") * stride
            for f, stride in zip(used, strides, strict=True)
        ]
        small = int(tree.leaf.max(initial=0)) < np.iinfo(np.int16).max
        table = np.zeros(dims, np.int16 if small else np.int32)
        position = {f: i for i, f in enumerate(used)}
        stack = [(root, [(0, d) for d in dims])]
        while stack:  # fill each leaf's box of intervals
            node, box = stack.pop()
            f = int(tree.feature[node])
            if f < 0:
                table[tuple(slice(lo, hi) for lo, hi in box)] = tree.leaf[node]
                continue
            i = position[f]
            split = int(np.searchsorted(cuts[f], tree.threshold[node])) + 1
            lo, hi = box[i]
            for child, part in (
                (tree.left[node], (lo, min(hi, split))),
                (tree.right[node], (max(lo, split), hi)),
            ):
                if part[0] < part[1]:
                    stack.append((int(child), [*box[:i], part, *box[i + 1 :]]))
        return cls(used, maps, dims, table.ravel())

    def leaves(self, x: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """Leaf numbers of all rows of ``x`` (or of the given rows)."""
        if not self.features:
            return np.full(x.shape[1] if rows is None else len(rows), self.table[0], np.int32)
        index = None
        for f, offsets in zip(self.features, self.maps, strict=True):
            part = offsets[x[f] if rows is None else x[f, rows]]
            index = part if index is None else index + part
        return self.table[index]


def _subtree(tree: Tree, root: int) -> np.ndarray:
    nodes, stack = [], [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if tree.feature[node] >= 0:
            stack += [int(tree.left[node]), int(tree.right[node])]
    return np.array(nodes, np.int64)


def _leaf_counts(leaves: np.ndarray, y: np.ndarray, n_leaves: int, states: int) -> np.ndarray:
    return (
        np.bincount(leaves.astype(np.int64) * states + y, minlength=n_leaves * states)
        .reshape(n_leaves, states)
        .astype(float)
    )


def _leaf_cdf(counts: np.ndarray, y: np.ndarray, states: int) -> np.ndarray:
    n_leaves = len(counts)
    marginal = np.bincount(y, minlength=states) / max(len(y), 1)
    probs = (counts + LEAF_PRIOR * marginal) / (counts.sum(axis=1, keepdims=True) + LEAF_PRIOR)
    cdf = np.cumsum(probs, axis=1)
    cdf /= np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(n_leaves)[:, None]).ravel()


def stratified_uniform(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniforms that are stratified within each group of rows (e.g. rows in one leaf).

    Rows of a group get ``(rank + jitter) / size`` in a random order, so the states drawn for a
    group follow its distribution almost exactly instead of with multinomial noise: the sample
    represents the learned distribution with less Monte Carlo error, and rows stay
    independent of their position.
    """
    n = len(groups)
    if n == 0:
        return np.zeros(0)
    perm = rng.permutation(n)
    shuffled = groups[perm]
    if shuffled.max(initial=0) < 1 << 16:  # numpy sorts 16-bit keys by radix, in linear time
        shuffled = shuffled.astype(np.uint16)
    order = np.argsort(shuffled, kind="stable")
    counts = np.bincount(shuffled)
    starts = np.cumsum(counts) - counts
    ordered = shuffled[order]
    strata = np.arange(n) - starts[ordered] + rng.random(n)
    out = np.empty(n)
    out[perm[order]] = strata / counts[ordered]
    return out


def sharpen(probs: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    """Apply a sampling temperature and nucleus (top-p) truncation to each row."""
    if temperature != 1.0:
        probs = probs ** (1.0 / temperature)
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
    if top_p < 1.0:
        order = np.argsort(-probs, axis=1)
        ranked = np.take_along_axis(probs, order, axis=1)
        keep = np.cumsum(ranked, axis=1) - ranked < top_p  # the most likely state always stays
        mask = np.zeros_like(keep)
        np.put_along_axis(mask, order, keep, axis=1)
        probs = np.where(mask, probs, 0.0)
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
    return probs
