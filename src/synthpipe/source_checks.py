"""Key checks of the source data at training: duplicate primary keys and orphan rows.

The config can be valid while the data breaks its keys: two rows share a primary key, or a
foreign key names a row the referenced table does not have (an orphan). What training does
about each is the generator's ``source_checks`` setting (docs/pipelines.md, "Source checks"):
duplicate keys are refused by default, orphans kept (the engine reproduces their share) and
recorded on the generator.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synthpipe.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.schema import ForeignKey, GeneratorConfig, Table

log = logging.getLogger("synthpipe.source_checks")


def apply(config: GeneratorConfig, data: dict[str, pa.Table]) -> tuple[dict, list[dict]]:
    """The source tables after the checks, and what was found (one dict per finding).

    Tables are visited parents first, so rows dropped from a parent make their children
    orphans that the same pass finds. Raises ConfigError for findings set to ``refuse``.
    """
    settings = config.source_checks
    data, findings, refused = dict(data), [], []
    for table in config.generation_order():
        arrow = data[table.name]
        if table.primary_key:
            arrow, found = _duplicates(table, arrow, settings.duplicate_keys)
            findings += found
        for fk in table.foreign_keys:
            parent = config.table(fk.referenced_table)
            if parent is not None and fk.referenced_table in data:
                arrow, found = _orphans(table, fk, arrow, parent, data, settings.orphans)
                findings += found
        data[table.name] = arrow
    for finding in findings:
        if finding["action"] == "refused":
            refused.append(finding["message"])
        else:
            log.warning("%s", finding["message"])
    if refused:
        raise ConfigError(refused, source="source data")
    return data, findings


def _duplicates(table: Table, arrow: pa.Table, action: str) -> tuple[pa.Table, list[dict]]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    key = table.primary_key
    indexed = arrow.select(key).append_column("_row", pa.array(np.arange(arrow.num_rows)))
    for column in key:  # rows with a null key are not duplicates of each other
        indexed = indexed.filter(pc.is_valid(indexed[column]))
    groups = indexed.group_by(key, use_threads=False).aggregate(
        [("_row", "min"), ("_row", "count")]
    )
    repeated = groups.filter(pc.greater(groups["_row_count"], 1))
    if repeated.num_rows == 0:
        return arrow, []
    extra = int(pc.sum(repeated["_row_count"]).as_py()) - repeated.num_rows
    example = {c: repeated[c][0].as_py() for c in key}
    done = {"refuse": "refused", "drop": "dropped", "keep": "kept"}[action]
    fixes = {
        "refuse": "fix the source, or set generator.source_checks.duplicate_keys to drop (keep "
        "the first row of each key) or keep",
        "drop": "all but the first row of each key were dropped",
        "keep": "kept as they are (generated keys are unique)",
    }
    finding = {
        "table": table.name,
        "check": "duplicate_keys",
        "rows": extra,
        "of": arrow.num_rows,
        "example": example,
        "action": done,
        "message": (
            f"table '{table.name}' has {extra} row(s) of {arrow.num_rows} repeating a primary "
            f"key ({', '.join(key)}) value, e.g. {example}; {fixes[action]}"
        ),
    }
    if action == "drop":
        first = np.sort(groups["_row_min"].to_numpy())
        nulls = np.setdiff1d(np.arange(arrow.num_rows), indexed["_row"].to_numpy())
        arrow = arrow.take(pa.array(np.union1d(first, nulls)))
    return arrow, [finding]


def _orphans(
    table: Table, fk: ForeignKey, arrow: pa.Table, parent: Table, data: dict, action: str
) -> tuple[pa.Table, list[dict]]:
    import pyarrow as pa

    from synthpipe.generators.fidelity.relational import match_rows

    parent_key = fk.referenced_columns or parent.primary_key
    if not parent_key or arrow.num_rows == 0:
        return arrow, []
    rows, null = match_rows(arrow.select(fk.columns), data[parent.name].select(parent_key))
    orphan = (rows < 0) & ~null
    count = int(orphan.sum())
    if count == 0:
        return arrow, []
    first = int(orphan.argmax())
    example = {c: arrow[c][first].as_py() for c in fk.columns}
    share = count / arrow.num_rows
    ref = f"{table.name}({', '.join(fk.columns)}) -> {parent.name}({', '.join(parent_key)})"
    done = {"refuse": "refused", "drop": "dropped", "keep": "kept"}[action]
    fixes = {
        "refuse": "fix the source, or set generator.source_checks.orphans to keep or drop",
        "drop": "they (and rows referencing them) were dropped",
        "keep": "kept; synthetic data reproduces about the same share",
    }
    finding = {
        "table": table.name,
        "check": "orphans",
        "foreign_key": ref,
        "rows": count,
        "of": arrow.num_rows,
        "example": example,
        "action": done,
        "message": (
            f"table '{table.name}' has {count} orphan row(s) of {arrow.num_rows} ({share:.1%}): "
            f"foreign key {ref} matches no row, e.g. {example}; {fixes[action]}"
        ),
    }
    if action == "drop":
        arrow = arrow.filter(pa.array(~orphan))
    return arrow, [finding]
