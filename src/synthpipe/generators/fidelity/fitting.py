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
from synthpipe.generators.fidelity import relational, sequences
from synthpipe.generators.fidelity.analysis import choose_codec
from synthpipe.generators.fidelity.analysis import codec_kind as choose_codec_kind
from synthpipe.generators.fidelity.categorical import CategoricalCodec
from synthpipe.generators.fidelity.chain import Chain
from synthpipe.generators.fidelity.columns import CategoryColumn, NumberColumn, to_float
from synthpipe.generators.fidelity.logic import OFFSET
from synthpipe.generators.fidelity.logic_detect import fit_rules
from synthpipe.generators.fidelity.order import Variable
from synthpipe.generators.fidelity.relational import children_per_parent, key_of, parent_rows
from synthpipe.generators.fidelity.tablemodel import TableModel
from synthpipe.generators.keys import key_problems, learn_key_format, plan_keys
from synthpipe.progress import Progress
from synthpipe.schema import ForeignKey, GeneratorConfig, Table

CHILDREN = "__children__"
FIRST = "__first__"
# Parent variables used as evidence for a child table (the first ones in generation order).
MAX_PARENT_EVIDENCE = 32


@dataclass
class Fitted:
    """What a fitted table passes on to its children: row keys and variables, row-aligned."""

    keys: pa.Table | None  # the columns other tables reference
    targets: list[Variable]


def fit_dataset(data: TrainingData, progress: Progress) -> FittedState:
    """Fit all tables of ``data`` in generation order."""
    config = data.config
    problems = key_problems(config)
    if problems:  # refused before training, never reduced to what fits
        from synthpipe.errors import ConfigError

        raise ConfigError(problems)
    raw = data.tables
    # string views, dictionaries and binary as their values
    data = TrainingData(config, relational.prepare(raw), whole=data.whole)
    state = FittedState(meta={"tables": {}, "order": []})
    fitted: dict[str, Fitted] = {}
    for index, table in enumerate(config.generation_order()):
        arrow = data.tables[table.name]
        prefix = f"t{index}"
        state.meta["order"].append(table.name)
        state.tables[f"{prefix}.schema"] = raw[table.name].schema.empty_table()
        if table.original_data:
            state.tables[f"{prefix}.original"] = raw[table.name]
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
    plan = plan_keys(table, arrow, sequence_order_column(table, arrow.schema))
    meta["key_plan"] = plan.to_meta()
    for name in [*plan.formatted, *([plan.numbered] if plan.numbered else [])]:
        meta["keys"][name] = learn_key_format(arrow.column(name).combine_chunks()).to_meta()
    arrow = relational.add_lookups(table, arrow, config, data, state, prefix, meta)
    columns, arrangement, evidence = _arrange(
        table, arrow, config, data, fitted, meta, state, prefix
    )
    relational.fit_context_orphans(table, arrow, config, data, state, prefix, meta)
    keys = _row_keys(table, arrow, arrangement, config)
    rows = arrow.num_rows if arrangement is None else len(arrangement.rows)
    columns.update(_children_columns(table, keys, rows, config, data))
    # rules the real rows hold (logic.py); order rules add an offset column to learn
    arranged = None if arrangement is None else arrangement.rows
    columns.update(fit_rules(table, columns, arrow, arranged, meta, data, state, prefix))
    meta["references"] = relational.fit_references(table, arrow, config, data, state, prefix)
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
    value_names = _value_columns(table, config, arrow, meta)
    if fk is not None and config.table(fk.referenced_table).original_data:
        meta["context"] = _lookup_context(fk, arrow, config, data)
    if fk is None or meta["context"] is not None:
        return {n: arrow.column(n).combine_chunks() for n in value_names}, None, []
    parent = fitted[fk.referenced_table]
    parent_key = relational.referenced_columns(fk, config)
    rows = parent_rows(key_of(arrow, fk.columns), parent.keys.select(parent_key))
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
        learned = step
        if np.any(~np.isnan(ordered)):  # summed steps must stay inside the training range
            meta["order_bounds"] = [float(np.nanmin(ordered)), float(np.nanmax(ordered))]
            if meta["key_plan"]["ordered"] != order_column:  # a key part keeps plain steps
                learned = sequences.shares(ordered, step, meta["order_bounds"][1])
                meta["order_steps"] = "shares"
        columns[f"{sequences.STEP}.{order_column}"] = pa.array(learned, from_pandas=True)
        meta["order"] = order_column
    used = _parent_evidence(parent.targets)
    meta["context"] = {**relational.context_meta(fk, config), "parent_evidence": used}
    if meta["order"] is not None and meta["key_plan"]["ordered"] == meta["order"]:
        meta["order_min_step"] = sequences.min_step(step)  # a key part: strictly increasing
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
    context = relational.context_meta(fk, config)
    rows = parent_rows(key_of(arrow, fk.columns), key_of(parent, context["parent_key"]))
    return {**context, "lookup_counts": children_per_parent(rows, parent.num_rows).tolist()}


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


def _value_columns(table: Table, config: GeneratorConfig, arrow: pa.Table, meta: dict) -> list[str]:
    """Columns the model learns: all but keys (except parts of a composite key learned as
    values) and sensitive ones; references to lookups come as their derived lookup rows."""
    keys = relational.key_columns(table) - set(meta["key_plan"]["modelled"])
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
        parent_key = keys.select(relational.referenced_columns(fk, config))
        owner = parent_rows(key_of(arrow, fk.columns), parent_key)
        out[f"{CHILDREN}.{child.name}"] = pa.array(children_per_parent(owner, rows))
        order_column = sequence_order_column(child, arrow.schema)
        if order_column is not None:
            values = to_float(arrow.column(order_column).combine_chunks())
            first = np.full(rows, np.nan)
            mine = owner >= 0
            np.fmin.at(first, owner[mine], values[mine])
            out[f"{FIRST}.{child.name}"] = pa.array(first, from_pandas=True)
    return out


def _codec(table: Table, name: str, array: pa.Array, settings):
    """The codec of a value or derived column."""
    if name.startswith((CHILDREN + ".", FIRST + ".", sequences.STEP + ".", OFFSET + ".")):
        return NumberColumn.fit(name, array, settings.value_protection)
    if name.startswith(relational.LOOKUP + "."):  # a lookup row: public, never protected
        return CategoryColumn(name, CategoricalCodec.fit(array, False, key=True))
    if name in relational.key_columns(table):  # part of a composite key: never protected
        settings = settings.model_copy(update={"value_protection": False})
        if choose_codec_kind(array, table.column(name)) == "category":
            return CategoryColumn(name, CategoricalCodec.fit(array, False, key=True))
    return choose_codec(name, array, table.column(name), settings)


def _row_keys(table: Table, arrow: pa.Table, arrangement, config) -> pa.Table | None:
    columns = relational.needed_columns(config).get(table.name, [])
    rows = arrangement.rows if arrangement is not None else None
    return relational.row_keys(arrow, columns, rows)


def _subsample(arrow: pa.Table, limit: int | None, rng: np.random.Generator) -> pa.Table:
    if limit is None or arrow.num_rows <= limit:
        return arrow
    rows = np.sort(rng.choice(arrow.num_rows, size=limit, replace=False))
    return arrow.take(pa.array(rows, pa.int64()))
