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
    from synthpipe.generators.fidelity.logic import measure
    from synthpipe.generators.fidelity.logic_detect import MIN_ROWS, ParentRef, detect

    if table.original_data or table.synthetic is None or len(table.train) < MIN_ROWS:
        return []
    columns = [c for c in table.train.columns if c in table.synthetic.columns]
    real, synthetic = _arrays(table.train, columns), _arrays(table.synthetic, columns)
    keys = set(table.key_columns)
    parents, links = [], {}
    for fk in table.foreign_keys:
        parent = by_name.get(fk.referenced_table)
        key = list(fk.referenced_columns or (parent.primary_key if parent else []))
        made = _parent_frame(parent)
        if parent is None or made is None or not key or not set(fk.columns) <= set(columns):
            continue
        link = _link(real, fk.columns, parent.train, key)
        parents.append(ParentRef(parent.name, list(fk.columns), key, link))
        links[parent.name] = _link(synthetic, fk.columns, made, key)
    rules = detect(real, {c for c in columns if c not in keys}, parents)
    return [
        {
            "rule": rule.describe(),
            "kind": rule.kind,
            "real_share": rule.share,
            "synthetic_share": measure(rule, synthetic, links),
        }
        for rule in rules
    ]


def _parent_frame(parent: TableData | None):
    if parent is None:
        return None
    # an original-data parent is copied verbatim: its synthetic rows are its training rows
    return parent.train if parent.synthetic is None and parent.original_data else parent.synthetic


def _arrays(frame: pd.DataFrame, columns: list[str]) -> dict:
    import pyarrow as pa

    return {str(c): pa.Array.from_pandas(frame[c]) for c in columns}


def _link(columns: dict, fk: list[str], parent: pd.DataFrame, key: list[str]):
    from synthpipe.generators.fidelity.logic import Link, parent_rows

    parent_columns = _arrays(parent, list(parent.columns))
    rows = parent_rows([columns[c] for c in fk], [parent_columns[k] for k in key])
    return Link(rows, parent_columns)
