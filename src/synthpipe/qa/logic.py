"""Relationships the real rows hold, and how often the synthetic rows hold them.

The rules are found on the real training rows with the detection of the fidelity engine
(functional dependencies, arithmetic identities, datetime parts, copies of parent columns,
orders within a row and after a parent; held by at least 99.9% of the rows), whatever
generator made the synthetic data; each is then measured on the synthetic rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from synthpipe.qa.tables import TableData


def relationships(table: TableData, by_name: dict[str, TableData]) -> list[dict]:
    """``[{rule, kind, real_share, synthetic_share}]`` for the table's real-data rules."""
    import pyarrow as pa

    from synthpipe.generators.fidelity.logic_detect import MIN_ROWS, ParentRef, detect

    if table.original_data or table.synthetic is None or len(table.train) < MIN_ROWS:
        return []
    shared = [c for c in table.train.columns if c in table.synthetic.columns]
    real, synthetic = _arrays(table.train, shared), _arrays(table.synthetic, shared)
    columns = list(real)
    keys = set(table.key_columns)
    parents, links = [], {}
    for fk in table.foreign_keys:
        parent = by_name.get(fk.referenced_table)
        key = list(fk.referenced_columns or (parent.primary_key if parent else []))
        made = _parent_frame(parent)
        if parent is None or made is None or not key or not set(fk.columns) <= set(columns):
            continue
        try:
            link = _link(real, fk.columns, parent.train, key)
            parents.append(ParentRef(parent.name, list(fk.columns), key, link))
            links[parent.name] = _link(synthetic, fk.columns, made, key)
        except (KeyError, pa.ArrowException, ValueError, TypeError):
            continue  # keys that cannot be joined: no rules across this foreign key
    rules = detect(real, {c for c in columns if c not in keys}, parents)
    return [
        {
            "rule": rule.describe(),
            "kind": rule.kind,
            "real_share": rule.share,
            "synthetic_share": _share(rule, synthetic, links),
        }
        for rule in rules
    ]


def _parent_frame(parent: TableData | None):
    if parent is None:
        return None
    # an original-data parent is copied verbatim: its synthetic rows are its training rows
    return parent.train if parent.synthetic is None and parent.original_data else parent.synthetic


def _arrays(frame: pd.DataFrame, columns: list[str]) -> dict:
    """Arrow arrays of the columns; a column Arrow cannot type (mixed objects) is left out."""
    import pyarrow as pa

    out = {}
    for c in columns:
        try:
            out[str(c)] = pa.Array.from_pandas(frame[c])
        except (pa.ArrowException, ValueError, TypeError):
            continue
    return out


def _share(rule, columns: dict, links: dict) -> float | None:
    """The share of rows holding the rule; None when it cannot be measured (a column missing
    or of another type)."""
    import pyarrow as pa

    from synthpipe.generators.fidelity.logic import measure

    try:
        return measure(rule, columns, links)
    except (KeyError, pa.ArrowException, ValueError, TypeError):
        return None


def _link(columns: dict, fk: list[str], parent: pd.DataFrame, key: list[str]):
    from synthpipe.generators.fidelity.logic import Link, parent_rows

    parent_columns = _arrays(parent, list(parent.columns))
    rows = parent_rows([columns[c] for c in fk], [parent_columns[k] for k in key])
    return Link(rows, parent_columns)
