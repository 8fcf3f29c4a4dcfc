"""The rows accuracy is measured on: a flat table's rows, or one row per sequence of a child table.

A child table (one with a context key) is measured the way mostlyai-qa does it: each sequence
(the children of one parent, in ``order_by`` order) contributes one randomly picked row, its
sequence length, the parent's columns (the context) and the row that follows the picked one
(for next-row coherence). All rows of the sampled sequences are kept for the sequence-level
coherence measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from synthpipe.qa.tables import align_key_types

if TYPE_CHECKING:
    import pandas as pd

    from synthpipe.qa.tables import TableData

LENGTH = "(sequence length)"
NEXT_SUFFIX = " → next"


@dataclass
class View:
    """Rows of one dataset (training, holdout or synthetic) as accuracy sees them."""

    frame: pd.DataFrame
    target: list[str]
    context: list[str] = field(default_factory=list)
    next_of: dict[str, str] = field(default_factory=dict)  # next column -> its target column
    rows: pd.DataFrame | None = None  # all rows of the sampled sequences (value columns)
    sequence_ids: np.ndarray | None = None  # sequence of each of ``rows``, numbered from 0
    lengths: np.ndarray | None = None  # length of each sampled sequence


def flat_view(table: TableData, frame: pd.DataFrame, rng, max_rows: int | None) -> View:
    """The value columns of a table without context, at most ``max_rows`` random rows."""
    frame = frame[table.value_columns]
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))]
    return View(frame.reset_index(drop=True), list(table.value_columns))


def sequence_view(
    table: TableData,
    frame: pd.DataFrame,
    parent: TableData | None,
    parent_frame: pd.DataFrame | None,
    rng,
    max_rows: int | None,
    sequential: bool,
) -> View:
    """One row per sequence of a child table, with its length, context and next row."""
    import pandas as pd

    fk = table.context_key.columns
    ordered = _ordered(frame, fk + table.order_by)
    starts, lengths = _sequences(ordered[fk])
    if max_rows is not None and len(starts) > max_rows:
        keep = np.sort(rng.choice(len(starts), max_rows, replace=False))
        starts, lengths = starts[keep], lengths[keep]
    # A random row of each sequence that has a successor whenever the sequence has two rows.
    picked = starts + (rng.random(len(starts)) * np.maximum(lengths - 1, 0)).astype(int)
    values = ordered[table.value_columns]
    parts = [values.iloc[picked].reset_index(drop=True)]
    target = list(table.value_columns)
    next_of: dict[str, str] = {}
    if sequential:
        parts.append(pd.DataFrame({LENGTH: lengths.astype("float64")}))
        target.append(LENGTH)
        following = values.iloc[np.minimum(picked + 1, len(values) - 1)].reset_index(drop=True)
        single = np.repeat((lengths < 2)[:, None], following.shape[1], axis=1)
        following = following.mask(single)
        next_of = {f"{c}{NEXT_SUFFIX}": c for c in table.value_columns}
        parts.append(following.set_axis(list(next_of), axis=1))
    context = _context(ordered[fk].iloc[picked], table, parent, parent_frame)
    parts.append(context)
    rows, ids = _rows(values, starts, lengths) if sequential else (None, None)
    return View(
        pd.concat(parts, axis=1), target, list(context.columns), next_of, rows, ids, lengths
    )


def combine(first: View, second: View | None) -> View:
    """Training and holdout views stacked into the real reference."""
    import pandas as pd

    if second is None:
        return first
    frame = pd.concat([first.frame, second.frame], ignore_index=True)
    view = View(frame, first.target, first.context, first.next_of)
    if first.rows is not None and second.rows is not None:
        view.rows = pd.concat([first.rows, second.rows], ignore_index=True)
        view.sequence_ids = np.concatenate(
            [first.sequence_ids, second.sequence_ids + len(first.lengths)]
        )
        view.lengths = np.concatenate([first.lengths, second.lengths])
    return view


def is_sequential(table: TableData, frames: list[pd.DataFrame]) -> bool:
    """Whether any parent has more than one child in the real data."""
    fk = table.context_key.columns
    return any(f[fk].dropna().duplicated().any() for f in frames if f is not None)


def _ordered(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame = frame.dropna(subset=by[:1])
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def _sequences(keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start row and length of each run of equal keys in sorted rows."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ids = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return starts, np.diff(np.r_[starts, n])


def _rows(values: pd.DataFrame, starts: np.ndarray, lengths: np.ndarray):
    ids = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.repeat(starts, lengths) + offsets
    return values.iloc[positions].reset_index(drop=True), ids


def _context(
    keys: pd.DataFrame,
    table: TableData,
    parent: TableData | None,
    parent_frame: pd.DataFrame | None,
) -> pd.DataFrame:
    """The parent's value columns for each picked row, named ``parent.column``."""
    import pandas as pd

    if parent is None or parent_frame is None or not parent.value_columns:
        return pd.DataFrame(index=range(len(keys)))
    fk = table.context_key
    refs = list(fk.referenced_columns or parent.primary_key)
    names = {c: f"{parent.name}.{c}" for c in parent.value_columns}
    right = parent_frame[refs + parent.value_columns].drop_duplicates(refs).rename(columns=names)
    left = keys.reset_index(drop=True).set_axis(refs, axis=1)
    left, right = align_key_types(left, right)
    merged = left.merge(right, on=refs, how="left")
    return merged[list(names.values())]
