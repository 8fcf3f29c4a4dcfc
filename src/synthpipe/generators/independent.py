"""The `independent` baseline: every column from its own empirical distribution.

It ignores all dependencies between columns, so its QA accuracy is the floor any real model
must beat, and it lets the whole flow run end to end. Relational structure is kept: keys are
unique and in the source's format, children per parent follow the training distribution, and
every foreign key points at a generated parent (or at a real key of an original-data table).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.errors import ConfigError
from synthpipe.generators.base import FittedState, Generator, TrainingData
from synthpipe.generators.fidelity.columns import model_array
from synthpipe.generators.keys import (
    KeyFormat,
    format_keys,
    global_indices,
    learn_key_format,
    partition_rows,
)
from synthpipe.hookspecs import hookimpl
from synthpipe.progress import Progress
from synthpipe.schema import (
    RARE_TOKEN,
    GeneratorConfig,
    RareCategoryReplacement,
    SampleSpec,
    Table,
)

# Categories seen fewer times than this are rare and never reproduced as they are.
RARE_MIN_COUNT = 5
# Numbers are clipped to these training quantiles when value protection is on.
CLIP_QUANTILES = (0.01, 0.99)


class IndependentGenerator(Generator):
    """Baseline generator: independent empirical marginals, relational structure kept."""

    kind = "independent"
    version = 1
    description = "baseline: each column from its own empirical distribution"

    def _fit(self, data: TrainingData, progress: Progress) -> FittedState:
        state = FittedState(meta={"tables": {}})
        config = data.config
        _refuse_composite_keys(config)
        for table in config.generation_order():
            arrow = data.tables[table.name]
            progress.step(f"train {table.name}", total=arrow.num_columns)
            state.tables[f"schema.{table.name}"] = arrow.schema.empty_table()
            if table.original_data:
                state.tables[f"original.{table.name}"] = arrow
                state.meta["tables"][table.name] = {"rows": arrow.num_rows}
                continue
            state.meta["tables"][table.name] = _fit_table(table, arrow, data, state, progress)
        progress.done()
        return state

    def _sample(
        self, state: FittedState, spec: SampleSpec, progress: Progress
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        config = GeneratorConfig.model_validate(state.meta["config"])
        sampler = _Sampler(state, spec, progress)
        for index, table in enumerate(config.generation_order()):
            yield from sampler.table(table, index)
        progress.done()


def _fit_table(
    table: Table, arrow: pa.Table, data: TrainingData, state: FittedState, progress: Progress
) -> dict:
    settings = data.config.settings(table)
    keys = set(table.primary_key or []) | {c for fk in table.foreign_keys for c in fk.columns}
    meta: dict = {"rows": arrow.num_rows, "keys": {}}
    for name in table.primary_key or []:
        meta["keys"][name] = learn_key_format(arrow.column(name).combine_chunks()).to_meta()
    for name in arrow.column_names:
        if name not in keys:
            # string views, dictionaries and binary as plain values, cast back when sampled
            values = _protect(model_array(arrow.column(name)), settings)
            state.tables[f"values.{table.name}.{name}"] = values
        progress.advance()
    for fk in table.foreign_keys:
        if fk.is_context:
            parent = data.tables[fk.referenced_table]
            counts = _children_per_parent(arrow, parent, fk, data.config)
            state.arrays[f"children.{table.name}"] = counts
        else:
            column = arrow.column(fk.columns[0]).combine_chunks()
            meta.setdefault("null_rate", {})[fk.columns[0]] = column.null_count / max(
                len(column), 1
            )
            state.tables[f"values.{table.name}.{fk.columns[0]}"] = _value_counts(column)
    return meta


def _refuse_composite_keys(config: GeneratorConfig) -> None:
    """The baseline keeps single-column keys only: refuse others instead of reducing them."""
    problems = []
    for table in config.learned_tables():
        keys = [table.primary_key or [], *(fk.columns for fk in table.foreign_keys)]
        for key in keys:
            if len(key) > 1:
                problems.append(
                    f"table '{table.name}': key ({', '.join(key)}) spans several columns, "
                    "which generator 'independent' does not keep; use generator: fidelity"
                )
    if problems:
        raise ConfigError(problems)


def _value_counts(column: pa.Array) -> pa.Table:
    counts = pc.value_counts(column)
    return pa.table({"value": counts.field("values"), "count": counts.field("counts")})


def _protect(column: pa.Array, settings) -> pa.Table:
    """Value counts of a column after value protection (rare categories, extreme numbers)."""
    if settings.value_protection and (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
        or pa.types.is_temporal(column.type)
    ):
        column = _clip(column)
    table = _value_counts(column)
    if not settings.value_protection or not (
        pa.types.is_string(column.type)
        or pa.types.is_large_string(column.type)
        or pa.types.is_boolean(column.type)
    ):
        return table
    values, counts = table.column("value"), table.column("count").to_numpy()
    rare = (counts < RARE_MIN_COUNT) & values.is_valid().to_numpy(zero_copy_only=False)
    if not rare.any():
        return table
    kept = table.filter(pa.array(~rare))
    if settings.rare_category_replacement_method is RareCategoryReplacement.CONSTANT and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        token = pa.table(
            {
                "value": pa.array([RARE_TOKEN], column.type),
                "count": pa.array([int(counts[rare].sum())], pa.int64()),
            }
        )
        kept = pa.concat_tables([kept, token])
    return kept


def _clip(column: pa.Array) -> pa.Array:
    """Clip numbers and dates to the protected training quantiles."""
    if column.null_count == len(column):
        return column
    temporal = pa.types.is_temporal(column.type)
    source = _temporal_ints(column) if temporal else column.cast(pa.float64(), safe=False)
    lo, hi = np.quantile(source.drop_null().to_numpy(), CLIP_QUANTILES, method="inverted_cdf")
    lo_s, hi_s = pa.scalar(lo.item()), pa.scalar(hi.item())
    clipped = pc.min_element_wise(
        pc.max_element_wise(source, lo_s, skip_nulls=False), hi_s, skip_nulls=False
    )
    if temporal:
        storage = pa.int32() if column.type.bit_width == 32 else pa.int64()
        return clipped.cast(storage).cast(column.type)
    return clipped.cast(column.type, safe=False)


def _temporal_ints(column: pa.Array) -> pa.Array:
    storage = pa.int32() if column.type.bit_width == 32 else pa.int64()
    return column.cast(storage).cast(pa.int64())


def _children_per_parent(
    child: pa.Table, parent: pa.Table, fk, config: GeneratorConfig
) -> np.ndarray:
    """How many children each training parent has (zeros included), as an int array."""
    parent_table = config.table(fk.referenced_table)
    parent_key = (fk.referenced_columns or parent_table.primary_key)[0]
    parents = parent.column(parent_key).combine_chunks()
    counts = pc.value_counts(child.column(fk.columns[0]).combine_chunks().drop_null())
    lookup = pc.index_in(parents, value_set=counts.field("values"))
    per_parent = np.zeros(len(parents), dtype=np.int64)
    found = lookup.is_valid().to_numpy(zero_copy_only=False)
    idx = lookup.drop_null().to_numpy()
    per_parent[found] = counts.field("counts").to_numpy()[idx]
    return per_parent


class _Sampler:
    """Samples one partition table by table, remembering generated keys for children."""

    def __init__(self, state: FittedState, spec: SampleSpec, progress: Progress):
        self.state, self.spec, self.progress = state, spec, progress
        self.keys: dict[str, pa.Array] = {}  # generated primary keys of each table

    def rng(self, index: int, batch: int) -> np.random.Generator:
        seq = np.random.SeedSequence([self.spec.seed, index, self.spec.partition, batch])
        return np.random.default_rng(seq)

    def table(self, table: Table, index: int) -> Iterator[tuple[str, pa.RecordBatch]]:
        schema = self.state.tables[f"schema.{table.name}"].schema
        if table.original_data:
            original = self.state.tables[f"original.{table.name}"]
            self.keys[table.name] = _key_column(original, table)
            if self.spec.partition == 0:  # copied once, by the first partition
                yield from ((table.name, b) for b in original.to_batches())
            return
        parents = self._parent_rows(table, index)
        self.progress.step(f"generate {table.name}", total=len(parents))
        start, generated = 0, []
        for batch_no, lo in enumerate(range(0, max(len(parents), 1), self.spec.batch_size)):
            owners = parents[lo : lo + self.spec.batch_size]
            if len(owners) == 0:
                break
            batch = self._batch(table, schema, owners, start, self.rng(index, batch_no))
            start += len(owners)
            if table.primary_key:
                generated.append(batch.column(schema.get_field_index(table.primary_key[0])))
            self.progress.advance(len(owners))
            yield table.name, batch
        if start == 0:  # no rows: an empty batch keeps the table and its schema
            yield table.name, pa.RecordBatch.from_pylist([], schema=schema)
        if table.primary_key:
            self.keys[table.name] = (
                pa.concat_arrays(generated)
                if generated
                else pa.array([], schema.field(table.primary_key[0]).type)
            )

    def _parent_rows(self, table: Table, index: int) -> pa.Array | np.ndarray:
        """One entry per row to generate: the parent key it belongs to (or a row number)."""
        meta = self.state.meta["tables"][table.name]
        fk = table.context_key
        requested = self.spec.sizes.get(table.name)
        if fk is None:
            total = requested if requested is not None else meta["rows"]
            return np.arange(partition_rows(total, self.spec.partition, self.spec.partitions))
        parent_keys = self.keys[fk.referenced_table]
        rng = self.rng(index, 2**31)  # counts: apart from the batch streams
        learned = self.state.arrays[f"children.{table.name}"]
        counts = (
            rng.choice(learned, size=len(parent_keys))
            if len(learned)
            else np.zeros(len(parent_keys), dtype=np.int64)
        )
        if requested is not None and len(parent_keys):
            target = partition_rows(requested, self.spec.partition, self.spec.partitions)
            weights = counts + 1e-9
            counts = rng.multinomial(target, weights / weights.sum())
        return parent_keys.take(pa.array(np.repeat(np.arange(len(parent_keys)), counts)))

    def _batch(
        self, table: Table, schema: pa.Schema, owners, start: int, rng: np.random.Generator
    ) -> pa.RecordBatch:
        n = len(owners)
        meta = self.state.meta["tables"][table.name]
        columns = {}
        for name in table.primary_key or []:
            fmt = KeyFormat.from_meta(meta["keys"][name])
            idx = global_indices(n, self.spec.partition, self.spec.partitions, start)
            columns[name] = format_keys(fmt, idx, rng)
        for fk in table.foreign_keys:
            column = fk.columns[0]
            if fk.is_context:
                columns[column] = owners
            else:
                columns[column] = self._reference(table, fk, n, rng)
        arrays = []
        for field in schema:
            if field.name in columns:
                arrays.append(pa.array(columns[field.name]).cast(field.type))
            else:
                arrays.append(self._values(table, field, n, rng))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _values(self, table: Table, field: pa.Field, n: int, rng: np.random.Generator) -> pa.Array:
        counts = self.state.tables[f"values.{table.name}.{field.name}"]
        if counts.num_rows == 0:
            return pa.nulls(n, field.type)
        weights = counts.column("count").to_numpy().astype(float)
        picks = rng.choice(counts.num_rows, size=n, p=weights / weights.sum())
        return counts.column("value").combine_chunks().take(pa.array(picks)).cast(field.type)

    def _reference(self, table: Table, fk, n: int, rng: np.random.Generator) -> pa.Array:
        target = self.keys.get(fk.referenced_table)
        counts = self.state.tables[f"values.{table.name}.{fk.columns[0]}"]
        null_rate = self.state.meta["tables"][table.name].get("null_rate", {}).get(fk.columns[0], 0)
        if target is None or len(target) == 0:
            return pa.nulls(n)
        if self.state.tables.get(f"original.{fk.referenced_table}") is not None:
            # Real keys of a lookup table: follow how often training referenced each one.
            weights = counts.column("count").to_numpy().astype(float)
            picks = rng.choice(counts.num_rows, size=n, p=weights / weights.sum())
            return counts.column("value").combine_chunks().take(pa.array(picks))
        picks = target.take(pa.array(rng.integers(0, len(target), size=n)))
        nulls = rng.random(n) < null_rate
        return pc.if_else(pa.array(nulls), pa.nulls(n, picks.type), picks)


def _key_column(arrow: pa.Table, table: Table) -> pa.Array:
    if not table.primary_key:
        return pa.array([])
    return arrow.column(table.primary_key[0]).combine_chunks()


@hookimpl
def register_generators(register):
    register(IndependentGenerator)
