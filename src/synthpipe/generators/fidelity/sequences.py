"""Child tables as sequences: rows per parent, in order, each conditioned on the row before.

A child row's evidence is its parent row's variables, its position in the sequence and the
number of rows still to come (both on a log scale), and the previous row's variables (a start
state for the first row). A numeric or temporal order column is modelled as the first value
of the sequence plus the step from the previous row, so sequences come out ordered and with
realistic gaps. Sampling walks all sequences of a batch of parents one position at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.order import Variable

POSITION_BUCKETS = 14
STEP = "__step__"
# Parent evidence never singles out fewer parents than this (see parent_groups).
MIN_PARENTS = 5


def bucket(values: np.ndarray) -> np.ndarray:
    """0 -> 0, 1 -> 1, 2-3 -> 2, 4-7 -> 3, ...: positions on a log scale."""
    values = np.asarray(values, dtype=np.int64)
    out = np.zeros(len(values), np.int32)
    positive = values > 0
    out[positive] = np.minimum(np.log2(values[positive]).astype(np.int32) + 1, POSITION_BUCKETS - 1)
    return out


@dataclass
class Arrangement:
    """Child rows in sequence order: which row, its parent row, position and sequence length."""

    rows: np.ndarray
    parent: np.ndarray
    position: np.ndarray
    length: np.ndarray


def arrange(parent_of_row: np.ndarray, sort_keys: list[np.ndarray]) -> Arrangement:
    """Order child rows by parent, then by the sort keys (first most significant).

    Rows without a parent (null or dangling foreign key) are left out.
    """
    # np.lexsort sorts by the last key first: parent, then the sort keys, then source order
    keys = [np.arange(len(parent_of_row)), *reversed(sort_keys), parent_of_row]
    rows = np.lexsort(keys)
    rows = rows[parent_of_row[rows] >= 0]
    parent = parent_of_row[rows]
    first = np.r_[True, parent[1:] != parent[:-1]] if len(parent) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    lengths = np.diff(np.r_[starts, len(parent)])
    position = np.arange(len(parent)) - np.repeat(starts, lengths)
    return Arrangement(rows, parent, position, np.repeat(lengths, lengths))


def sort_key(column: pa.Array) -> np.ndarray:
    """A numeric sort key for any orderable column (nulls last)."""
    import pyarrow.compute as pc

    ranks = pc.rank(column, sort_keys="ascending", tiebreaker="dense")
    return ranks.to_numpy(zero_copy_only=False).astype(np.int64)


def position_evidence(position: np.ndarray, remaining: np.ndarray) -> list[Variable]:
    """The position and rows-to-come evidence variables."""
    identity = np.arange(POSITION_BUCKETS, dtype=np.int32)
    return [
        Variable("sequence.position", bucket(position), POSITION_BUCKETS, identity),
        Variable("sequence.remaining", bucket(remaining), POSITION_BUCKETS, identity),
    ]


USE_PREVIOUS = True


def previous_evidence(targets: list[Variable], position: np.ndarray) -> list[Variable]:
    """The previous row's states of every target (a start state at position 0)."""
    out = []
    if not USE_PREVIOUS:
        return out
    for var in targets:
        previous = np.r_[var.states, var.codes[:-1]].astype(np.int32)
        previous[position == 0] = var.states
        coarse = np.r_[var.coarse, var.coarse.max(initial=-1) + 1].astype(np.int32)
        out.append(Variable(f"previous.{var.name}", previous, var.states + 1, coarse))
    return out


def steps(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Steps of an order column (float64, arranged) from the previous row; NaN at the start."""
    step = np.full(len(values), np.nan)
    step[1:] = values[1:] - values[:-1]
    step[position == 0] = np.nan
    return step


def shares(values: np.ndarray, step: np.ndarray, upper: float) -> np.ndarray:
    """Steps as shares of the room left below ``upper`` (the training maximum): 0 keeps the
    previous value, 1 jumps to the maximum. Summed shares never pass the maximum, where free
    steps drift past it in long sequences and pile up there."""
    room = np.full(len(values), np.nan)
    room[1:] = upper - values[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(room > 0, step / room, 0.0)
    return np.where(np.isnan(step), np.nan, np.clip(share, 0.0, 1.0))


def join_shares(first: np.ndarray, share: np.ndarray, position: np.ndarray, upper: float):
    """Order column values (arranged) from each sequence's start and the shares of the room
    left below ``upper``: ``upper - v[k] = (upper - v[k-1]) * (1 - share[k])``."""
    kept = np.where(position == 0, 1.0, 1.0 - np.clip(np.nan_to_num(share), 0.0, 1.0))
    starts = np.flatnonzero(position == 0)
    sequence = np.cumsum(position == 0) - 1

    def running(x: np.ndarray) -> np.ndarray:  # sums so far within each sequence
        total = np.cumsum(x)
        return total - (total[starts] - x[starts])[sequence]

    # the product of the kept shares so far, as a sum of logs; a share of 1 (no room left) is
    # counted apart so that no -inf runs on into the next sequence
    full = kept <= 0
    product = np.exp(running(np.log(np.where(full, 1.0, kept))))
    product[running(full.astype(np.float64)) > 0] = 0.0
    start = np.nan_to_num(first)[starts][sequence]
    values = upper - (upper - start) * product
    return np.where(np.isnan(first), np.nan, values)


def min_step(step: np.ndarray) -> float:
    """The smallest positive step of an order column (1 when there is none)."""
    positive = step[step > 0]
    return float(positive.min()) if len(positive) else 1.0


def join_order(
    first: np.ndarray, step: np.ndarray, position: np.ndarray, min_step: float = 0.0
) -> np.ndarray:
    """Order column values (arranged) from each row's sequence start and the steps (at least
    ``min_step``: a positive one keeps the values strictly increasing, as key parts must)."""
    steps = np.maximum(np.nan_to_num(step), min_step)
    increments = np.where(position == 0, np.nan_to_num(first), steps)
    total = np.cumsum(increments)
    starts = np.flatnonzero(position == 0)
    sequence = np.cumsum(position == 0) - 1
    values = total - (total[starts] - increments[starts])[sequence]
    return np.where(np.isnan(first), np.nan, values)


def walk(
    chain,
    parent_states: list[np.ndarray],
    counts: np.ndarray,
    target_states: list[int],
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Generate the sequences of a batch of parents, one position at a time.

    ``parent_states`` are the parents' variables, ``counts`` their sequence lengths. Returns
    the targets' states, parent number and position of every generated row, arranged by
    parent and position.
    """
    previous = [np.full(len(counts), s, np.int32) for s in target_states]
    steps, owners, positions = [], [], []
    for t in range(int(counts.max(initial=0))):
        active = np.flatnonzero(counts > t)
        evidence = [p[active] for p in parent_states]
        evidence += [
            np.full(len(active), bucket(np.array([t]))[0], np.int32),
            bucket(counts[active] - t - 1),
        ]
        evidence += [p[active] for p in previous] if USE_PREVIOUS else []
        states = chain.sample(len(active), evidence, rng, temperature, top_p)
        targets = states[len(evidence) :]
        for prev, target in zip(previous, targets, strict=True):
            prev[active] = target
        steps.append(np.stack(targets) if targets else np.zeros((0, len(active)), np.int32))
        owners.append(active)
        positions.append(np.full(len(active), t))
    if not steps:
        return (
            [np.zeros(0, np.int32) for _ in target_states],
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
    owner, position = np.concatenate(owners), np.concatenate(positions)
    order = np.lexsort((position, owner))
    stacked = np.concatenate(steps, axis=1)[:, order]
    return list(stacked), owner[order], position[order]


def parent_groups(codes: np.ndarray, states: int, min_parents: int = MIN_PARENTS) -> np.ndarray:
    """Map a parent variable's states to groups that each hold at least ``min_parents`` parents.

    Neighbouring states are merged in order. Without it a parent attribute that is nearly
    unique (a count, a date) would let the child model recognise individual training parents
    and copy their children.
    """
    counts = np.bincount(codes, minlength=states)
    groups = np.zeros(states, np.int32)
    group, filled = 0, 0
    for state in range(states):
        if filled >= min_parents and counts[state] > 0:
            group, filled = group + 1, 0
        groups[state] = group
        filled += counts[state]
    if filled < min_parents and group > 0:  # a small last group joins the one before
        groups[groups == group] = group - 1
    return groups
