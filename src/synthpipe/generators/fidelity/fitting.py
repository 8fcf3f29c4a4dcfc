"""Fitting every table of a generator, parents before children.

For each learned table: the key formats, the codecs of its value columns plus derived columns
(how many children each row has in every context child table; first value and step of a
sequence's order column), and a chain over their variables, with the parent row and the
previous row as evidence for child tables. Plain foreign keys get a degree distribution;
original-data tables are kept verbatim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthpipe.generators.base import FittedState, TrainingData
from synthpipe.generators.fidelity import sequences
from synthpipe.generators.fidelity.analysis import choose_codec
from synthpipe.generators.fidelity.chain import Chain
from synthpipe.generators.fidelity.columns import NumberColumn, to_float
from synthpipe.generators.fidelity.logic import OFFSET
from synthpipe.generators.fidelity.logic_detect import fit_rules
from synthpipe.generators.fidelity.order import Variable
from synthpipe.generators.fidelity.relational import Degrees, children_per_parent, parent_rows
from synthpipe.generators.fidelity.tablemodel import TableModel
from synthpipe.generators.keys import learn_key_format
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, Table

CHILDREN = "__children__"
FIRST = "__first__"
# Parent variables used as evidence for a child table (the first ones in generation order).
MAX_PARENT_EVIDENCE = 32


@dataclass
class Fitted:
    """What a fitted table passes on to its children: row keys and variables, row-aligned."""

    keys: pa.Array | None
    targets: list[Variable]


def fit_dataset(data: TrainingData, progress: Progress) -> FittedState:
    """Fit all tables of ``data`` in generation order."""
    config = data.config
    state = FittedState(meta={"tables": {}, "order": []})
    fitted: dict[str, Fitted] = {}
    for index, table in enumerate(config.generation_order()):
        arrow = data.tables[table.name]
        prefix = f"t{index}"
        state.meta["order"].append(table.name)
        state.tables[f"{prefix}.schema"] = arrow.schema.empty_table()
        if table.original_data:
            state.tables[f"{prefix}.original"] = arrow
            state.meta["tables"][table.name] = {"original": True, "rows": arrow.num_rows}
            continue
        meta, fitted[table.name] = _fit_table(table, arrow, data, fitted, state, prefix, progress)
        state.meta["tables"][table.name] = meta
    progress.done()
    return state


def _fit_table(
    table: Table,
    arrow: pa.Table,
    data: TrainingData,
    fitted: dict[str, Fitted],
    state: FittedState,
    prefix: str,
    progress: Progress,
) -> tuple[dict, Fitted]:
    config = data.config
    settings = config.settings(table)
    seed = settings.seed or 0
    deadline = (
        time.monotonic() + settings.max_training_time * 60 if settings.max_training_time else None
    )
    rng = np.random.default_rng([seed, int(prefix[1:])])
    if table.context_key is None:
        arrow = _subsample(arrow, settings.max_sample_size, rng)
    meta: dict = {
        "original": False,
        "rows": arrow.num_rows,
        "keys": {},
        "references": {},
        "context": None,
        "order": None,
    }
    for name in table.primary_key or []:
        if not _is_fk_column(table, name):
            meta["keys"][name] = learn_key_format(arrow.column(name).combine_chunks()).to_meta()
    columns, arrangement, evidence = _arrange(
        table, arrow, config, data, fitted, meta, state, prefix
    )
    keys = _row_keys(table, arrow, arrangement)
    rows = arrow.num_rows if arrangement is None else len(arrangement.rows)
    columns.update(_children_columns(table, keys, rows, config, data))
    # rules the real rows hold (logic.py); order rules add an offset column to learn
    arranged = None if arrangement is None else arrangement.rows
    columns.update(fit_rules(table, columns, arrow, arranged, meta, data, state, prefix))
    _plain_references(table, arrow, config, data, meta, state, prefix)
    codecs = [_codec(table, name, array, settings) for name, array in columns.items()]
    targets = TableModel.variables(codecs, columns, rng)
    if arrangement is not None:
        evidence += sequences.position_evidence(
            arrangement.position, arrangement.length - arrangement.position - 1
        )
        evidence += sequences.previous_evidence(targets, arrangement.position)
    progress.step(f"train {table.name}", total=2 * len(targets))
    chain = Chain.fit(evidence, targets, seed=seed, deadline=deadline, progress=progress)
    model = TableModel(codecs, chain)
    meta["model"], arrays, tables = model.to_state(prefix)
    state.arrays.update(arrays)
    state.tables.update(tables)
    return meta, Fitted(keys, targets)


def _arrange(
    table: Table,
    arrow: pa.Table,
    config: GeneratorConfig,
    data: TrainingData,
    fitted: dict[str, Fitted],
    meta: dict,
    state: FittedState,
    prefix: str,
):
    """Value columns (in sequence order for child tables), the arrangement and parent evidence."""
    fk = table.context_key
    value_names = _value_columns(table, config, arrow)
    if fk is not None and config.table(fk.referenced_table).original_data:
        meta["context"] = _lookup_context(fk, arrow, config, data)
    if fk is None or meta["context"] is not None:
        return {n: arrow.column(n).combine_chunks() for n in value_names}, None, []
    parent = fitted[fk.referenced_table]
    rows = parent_rows(arrow.column(fk.columns[0]).combine_chunks(), parent.keys)
    order_column = sequence_order_column(table, arrow.schema)
    keys = [
        sequences.sort_key(arrow.column(c).combine_chunks())
        for c in table.order_by or ([order_column] if order_column else [])
    ]
    arrangement = sequences.arrange(rows, keys)
    take = pa.array(arrangement.rows, pa.int64())
    columns = {n: arrow.column(n).combine_chunks().take(take) for n in value_names}
    if order_column is not None and order_column in columns:
        ordered = to_float(columns.pop(order_column))
        step = sequences.steps(ordered, arrangement.position)
        if np.any(~np.isnan(ordered)):  # summed steps must stay inside the training range
            meta["order_bounds"] = [float(np.nanmin(ordered)), float(np.nanmax(ordered))]
        columns[f"{sequences.STEP}.{order_column}"] = pa.array(step, from_pandas=True)
        meta["order"] = order_column
    used = _parent_evidence(parent.targets)
    meta["context"] = {
        "column": fk.columns[0],
        "parent": fk.referenced_table,
        "parent_key": _parent_key(fk, config),
        "parent_evidence": used,
    }
    evidence = []
    for i in used:
        groups = sequences.parent_groups(parent.targets[i].codes, parent.targets[i].states)
        state.arrays[f"{prefix}.parent_groups.{i}"] = groups
        evidence.append(_grouped(parent.targets[i], groups, arrangement.parent))
    return columns, arrangement, evidence


def _lookup_context(
    fk: ForeignKey, arrow: pa.Table, config: GeneratorConfig, data: TrainingData
) -> dict:
    """Children of an original-data table: the training count per lookup row is kept."""
    parent = data.tables[fk.referenced_table]
    key = _parent_key(fk, config)
    rows = parent_rows(
        arrow.column(fk.columns[0]).combine_chunks(), parent.column(key).combine_chunks()
    )
    return {
        "column": fk.columns[0],
        "parent": fk.referenced_table,
        "parent_key": key,
        "lookup_counts": children_per_parent(rows, parent.num_rows).tolist(),
    }


def _grouped(var: Variable, groups: np.ndarray, parent_of_row: np.ndarray) -> Variable:
    """A parent variable as evidence of child rows, its states merged into groups."""
    size = int(groups.max()) + 1
    return Variable(
        f"parent.{var.name}",
        groups[var.codes[parent_of_row]],
        size,
        np.arange(size, dtype=np.int32),
    )


def _parent_evidence(targets: list[Variable]) -> list[int]:
    """The parent variables a child is conditioned on: the parent's own columns, not the
    derived children counts and sequence starts (those describe the children, and with few
    parents they would single out training parents)."""
    own = [i for i, v in enumerate(targets) if not v.name.startswith((CHILDREN, FIRST))]
    return own[:MAX_PARENT_EVIDENCE]


def sequence_order_column(table: Table, schema: pa.Schema) -> str | None:
    """The numeric or temporal column that orders a sequence (configured, else a datetime);
    it is modelled as steps from the previous row, starting from a value kept by the parent."""
    if table.context_key is None:
        return None
    candidates = table.order_by or [f.name for f in schema if pa.types.is_temporal(f.type)][:1]
    for name in candidates[:1]:
        dtype = schema.field(name).type
        if (
            pa.types.is_temporal(dtype)
            or pa.types.is_integer(dtype)
            or pa.types.is_floating(dtype)
            or pa.types.is_decimal(dtype)
        ):
            return name
    return None


def _value_columns(table: Table, config: GeneratorConfig, arrow: pa.Table) -> list[str]:
    """Columns the model learns: all but keys and sensitive ones; lookup references included."""
    keys = set(table.primary_key or [])
    for fk in table.foreign_keys:
        if not config.table(fk.referenced_table).original_data or fk.is_context:
            keys.update(fk.columns)
    sensitive = {c.name for c in table.columns or [] if c.sensitive}
    return [n for n in arrow.column_names if n not in keys and n not in sensitive]


def _children_columns(
    table: Table, keys: pa.Array | None, rows: int, config: GeneratorConfig, data: TrainingData
) -> dict[str, pa.Array]:
    """Per context child table: how many children each row has and, for sequences with an
    order column, the order value of the first child (sequences start where they should)."""
    out: dict[str, pa.Array] = {}
    if keys is None:
        return out
    for child in config.learned_tables():
        fk = child.context_key
        if fk is None or fk.referenced_table != table.name:
            continue
        arrow = data.tables[child.name]
        owner = parent_rows(arrow.column(fk.columns[0]).combine_chunks(), keys)
        out[f"{CHILDREN}.{child.name}"] = pa.array(children_per_parent(owner, rows))
        order_column = sequence_order_column(child, arrow.schema)
        if order_column is not None:
            values = to_float(arrow.column(order_column).combine_chunks())
            first = np.full(rows, np.nan)
            mine = owner >= 0
            np.fmin.at(first, owner[mine], values[mine])
            out[f"{FIRST}.{child.name}"] = pa.array(first, from_pandas=True)
    return out


def _plain_references(
    table: Table,
    arrow: pa.Table,
    config: GeneratorConfig,
    data: TrainingData,
    meta: dict,
    state: FittedState,
    prefix: str,
) -> None:
    """Degree distributions of plain foreign keys to generated tables."""
    for i, fk in enumerate(table.foreign_keys):
        parent = config.table(fk.referenced_table)
        if fk.is_context or parent.original_data:
            continue
        keys = data.tables[parent.name].column(_parent_key(fk, config)).combine_chunks()
        degrees = Degrees.fit(arrow.column(fk.columns[0]).combine_chunks(), keys)
        ref_meta, arrays = degrees.to_state(f"{prefix}.ref{i}")
        state.arrays.update(arrays)
        meta["references"][fk.columns[0]] = {"table": parent.name, "index": i, **ref_meta}


def _codec(table: Table, name: str, array: pa.Array, settings):
    """The codec of a value or derived column."""
    if name.startswith((CHILDREN + ".", FIRST + ".", sequences.STEP + ".", OFFSET + ".")):
        return NumberColumn.fit(name, array, settings.value_protection)
    if _is_fk_column(table, name):  # real keys of an original-data table: public, not protected
        settings = settings.model_copy(update={"value_protection": False})
    return choose_codec(name, array, table.column(name), settings)


def _row_keys(table: Table, arrow: pa.Table, arrangement) -> pa.Array | None:
    if not table.primary_key:
        return None
    keys = arrow.column(table.primary_key[0]).combine_chunks()
    return keys.take(pa.array(arrangement.rows, pa.int64())) if arrangement is not None else keys


def _parent_key(fk: ForeignKey, config: GeneratorConfig) -> str:
    return (fk.referenced_columns or config.table(fk.referenced_table).primary_key)[0]


def _is_fk_column(table: Table, name: str) -> bool:
    return any(name in fk.columns for fk in table.foreign_keys)


def _subsample(arrow: pa.Table, limit: int | None, rng: np.random.Generator) -> pa.Table:
    if limit is None or arrow.num_rows <= limit:
        return arrow
    rows = np.sort(rng.choice(arrow.num_rows, size=limit, replace=False))
    return arrow.take(pa.array(rows, pa.int64()))
