"""Sampling one partition of a fitted generator, table by table, parents first.

Root rows are sampled in batches; child rows per batch of generated parents, as sequences.
Every batch draws from its own random generator, seeded by (seed, table, partition, batch),
so partition ``i`` of ``N`` is the same whenever and wherever it is computed. Keys follow the
table's ``KeyPlan``: columns from global row indices (``keys``), unique across partitions;
context foreign keys point at the generated parent (every column of a composite key);
references to original-data tables are learned lookup rows; plain foreign keys take whole
key tuples of the referenced table by their learned degree distribution (within the tuples
that match columns already filled), with the training shares of nulls and orphans;
original-data tables are copied once, by partition 0, and referenced by their real keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from synthpipe.generators.base import FittedState
from synthpipe.generators.fidelity import relational, sequences
from synthpipe.generators.fidelity.columns import from_float, model_type
from synthpipe.generators.fidelity.fitting import CHILDREN, FIRST
from synthpipe.generators.fidelity.logic import RuleSet, kept_columns
from synthpipe.generators.fidelity.relational import Degrees, draw_matching
from synthpipe.generators.fidelity.tablemodel import TableModel
from synthpipe.generators.keys import (
    KeyFormat,
    KeyPlan,
    format_keys,
    global_indices,
    key_array,
    partition_rows,
)
from synthpipe.progress import Progress
from synthpipe.schema import GeneratorConfig, SampleSpec, Table

# Threads building root batches in parallel (each batch has its own random generator, so the
# rows do not depend on the number of threads).
THREADS = 2


@dataclass
class Generated:
    """What later tables need from a generated table of this partition."""

    keys: list[pa.Table] = field(default_factory=list)  # the columns other tables reference
    targets: list[list[np.ndarray]] = field(default_factory=list)
    children: dict[str, list[np.ndarray]] = field(default_factory=dict)
    firsts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    # columns that children's rules read (logic.py), per batch
    values: dict[str, list[pa.Array]] = field(default_factory=dict)

    def all_keys(self) -> pa.Table | None:
        if not self.keys:
            return None
        if len(self.keys) > 1:  # concatenated once, kept as one batch
            self.keys = [pa.concat_tables(self.keys).combine_chunks()]
        return self.keys[0]


class PartitionSampler:
    """Generates the tables of one partition of a dataset."""

    def __init__(self, state: FittedState, spec: SampleSpec, progress: Progress):
        self.state, self.spec, self.progress = state, spec, progress
        self.config = GeneratorConfig.model_validate(state.meta["config"])
        self.generated: dict[str, Generated] = {}
        self.needed = _needed(self.config)
        self.key_columns = relational.needed_columns(self.config)
        self.kept = kept_columns(state.meta)

    def run(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        for index, name in enumerate(self.state.meta["order"]):
            table, meta = self.config.table(name), self.state.meta["tables"][name]
            prefix = f"t{index}"
            self.generated[name] = Generated()
            if meta["original"]:
                yield from self._original(table, prefix)
                continue
            model = TableModel.from_state(
                meta["model"], self.state.arrays, self.state.tables, prefix
            )
            writer = _Assembler(self, table, meta, model, prefix)
            context = meta["context"]
            if context is None:
                yield from self._roots(writer, index)
            elif "lookup_counts" in context:
                yield from self._lookup_children(writer, index, context)
            else:
                yield from self._sequences(writer, index, context)
        self.progress.done()

    def parent_columns(self, name: str) -> dict[str, pa.Array]:
        """The columns of a generated (or original-data) table that children's rules read."""
        index = self.state.meta["order"].index(name)
        original = self.state.tables.get(f"t{index}.original")
        if original is not None:
            return {n: original.column(n).combine_chunks() for n in original.column_names}
        parts = self.generated[name].values
        return {c: pa.concat_arrays(a) for c, a in parts.items() if a}

    def rng(self, table_index: int, batch: int) -> np.random.Generator:
        seq = np.random.SeedSequence([self.spec.seed, table_index, self.spec.partition, batch])
        return np.random.default_rng(seq)

    def _original(self, table: Table, prefix: str):
        original = self.state.tables[f"{prefix}.original"]
        columns = self.key_columns.get(table.name)
        if columns:
            self.generated[table.name].keys.append(relational.key_of(original, columns))
        if self.spec.partition == 0:  # copied once, by the first partition
            for batch in original.to_batches(max_chunksize=self.spec.batch_size):
                yield table.name, batch

    def _roots(self, writer: _Assembler, index: int):
        name = writer.table.name
        total = self.spec.sizes.get(name, writer.meta["rows"])
        n = partition_rows(total, self.spec.partition, self.spec.partitions)
        self.progress.step(f"generate {name}", total=n)
        if n == 0:
            yield name, writer.empty()

        def make(batch_no: int):
            start = batch_no * self.spec.batch_size
            size = min(self.spec.batch_size, n - start)
            rng = self.rng(index, batch_no)
            states = writer.model.chain.sample(
                size, [], rng, self.spec.temperature, self.spec.top_p
            )
            return writer.build(states, rng, start, None)

        batches = range(-(-n // self.spec.batch_size))
        for batch, memo in _in_order(make, batches):
            writer.remember(memo)
            self.progress.advance(batch.num_rows)
            yield name, batch

    def _lookup_children(self, writer: _Assembler, index: int, context: dict):
        name = writer.table.name
        keys = self.generated[context["parent"]].all_keys()
        counts = np.asarray(context["lookup_counts"], np.int64)
        mine = np.arange(len(counts)) % self.spec.partitions == self.spec.partition
        counts = np.where(mine, counts, 0)
        counts = self._resize(name, counts)
        if writer.plan.one_child:
            counts = np.minimum(counts, 1)
        owners = np.repeat(np.arange(len(counts)), counts)
        self.progress.step(f"generate {name}", total=len(owners))
        if len(owners) == 0:
            yield name, writer.empty()
        start = 0
        for batch_no, lo in enumerate(range(0, len(owners), self.spec.batch_size)):
            chunk = owners[lo : lo + self.spec.batch_size]
            rng = self.rng(index, batch_no)
            states = writer.model.chain.sample(
                len(chunk), [], rng, self.spec.temperature, self.spec.top_p
            )
            parents = keys.take(pa.array(chunk, pa.int64()))
            yield name, writer.batch(states, rng, start, parents, owner=chunk)
            start += len(chunk)
            self.progress.advance(len(chunk))

    def _sequences(self, writer: _Assembler, index: int, context: dict):
        name = writer.table.name
        parent = self.generated[context["parent"]]
        keys = parent.all_keys()
        counts = self._resize(name, _concat(parent.children.get(name, []), np.int64))
        if writer.plan.one_child:  # the key is the context key: one child per parent at most
            counts = np.minimum(counts, 1)
        firsts = _filled(_concat(parent.firsts.get(name, []), np.float64), len(counts))
        evidence = [
            self.state.arrays[f"{writer.prefix}.parent_groups.{i}"][
                _concat([t[i] for t in parent.targets], np.int32)
            ]
            for i in context["parent_evidence"]
        ]
        chain = writer.model.chain
        target_states = [chain.states[t] for t in sorted(chain.order)]
        self.progress.step(f"generate {name}", total=int(counts.sum()))
        if counts.sum() == 0:
            yield name, writer.empty()
        start = 0
        for batch_no, chunk in enumerate(_chunks(counts, self.spec.batch_size)):
            rng = self.rng(index, batch_no)
            targets, owner, position = sequences.walk(
                chain,
                [e[chunk] for e in evidence],
                counts[chunk],
                target_states,
                rng,
                self.spec.temperature,
                self.spec.top_p,
            )
            states = [*([None] * chain.n_evidence), *targets]
            parents = keys.take(pa.array(chunk[owner], pa.int64()))
            first = firsts[chunk[owner]]
            yield name, writer.batch(states, rng, start, parents, position, first, chunk[owner])
            start += len(owner)
            self.progress.advance(len(owner))

    def _resize(self, name: str, counts: np.ndarray) -> np.ndarray:
        """Children per parent, rescaled when the table's size is set in the sample spec."""
        requested = self.spec.sizes.get(name)
        if requested is None or not len(counts):
            return counts
        target = partition_rows(requested, self.spec.partition, self.spec.partitions)
        weights = counts + 1e-9
        rng = self.rng(len(self.state.meta["order"]), 0)  # a stream no table batch uses
        return rng.multinomial(target, weights / weights.sum()).astype(np.int64)


class _Assembler:
    """Turns sampled states of one table into record batches in the training schema."""

    def __init__(
        self, sampler: PartitionSampler, table: Table, meta: dict, model: TableModel, prefix: str
    ):
        self.sampler, self.table, self.meta, self.model = sampler, table, meta, model
        self.prefix = prefix
        schema = sampler.state.tables[f"{prefix}.schema"].schema
        dropped = {c.name for c in table.columns or [] if c.sensitive == "drop"}
        self.schema = pa.schema([f for f in schema if f.name not in dropped])
        # Values are generated in model types and cast to the source's types at the end.
        self.types = {f.name: model_type(f.type) for f in self.schema}
        self.plan = KeyPlan.from_meta(meta.get("key_plan"))
        self.fake = [
            c for c in table.columns or [] if c.sensitive == "fake" and c.name in self.types
        ]
        state = sampler.state
        self.references = {
            key: Degrees.from_state(ref, state.arrays, f"{prefix}.ref{ref['index']}", state.tables)
            for key, ref in meta["references"].items()
        }
        self.rules = RuleSet.from_state(
            meta.get("logic"), sampler.state, prefix, sampler.parent_columns
        )

    def empty(self) -> pa.RecordBatch:
        """A batch without rows, so every partition has every table."""
        return pa.RecordBatch.from_arrays(
            [pa.array([], f.type) for f in self.schema], schema=self.schema
        )

    def batch(
        self,
        states: list,
        rng: np.random.Generator,
        start: int,
        parents: pa.Table | None,
        position: np.ndarray | None = None,
        first: np.ndarray | None = None,
        owner: np.ndarray | None = None,
    ) -> pa.RecordBatch:
        """A record batch from sampled states, remembered for later tables."""
        batch, memo = self.build(states, rng, start, parents, position, first, owner)
        self.remember(memo)
        return batch

    def build(
        self,
        states: list,
        rng: np.random.Generator,
        start: int,
        parents: pa.Table | None,
        position: np.ndarray | None = None,
        first: np.ndarray | None = None,
        owner: np.ndarray | None = None,
    ) -> tuple[pa.RecordBatch, tuple]:
        """A record batch from sampled states (for sequences, each row's position and the
        start value of its sequence's order column; for children, each row's parent number),
        and what later tables need of it.

        Touches no shared state, so batches can be built in parallel threads.
        """
        chain = self.model.chain
        targets = [states[t] for t in sorted(chain.order)]
        n = len(targets[0]) if targets else (len(parents) if parents is not None else 0)
        types = {
            **self.types,
            **{c.name: pa.float64() for c in self.model.codecs if c.name not in self.types},
        }
        values = self.model.decode(targets, rng, types)
        keys = self._keys(n, start, rng, parents, values, position, owner)
        if self.meta["order"] is not None:
            values[self.meta["order"]] = self._order_values(values, position, first)
        values.update(keys)
        for column in self.fake:
            values[column.name] = self._fake(column, n, rng)
        self.rules.apply(values, types, rng)
        kept = {c: values[c] for c in self.sampler.kept.get(self.table.name, ()) if c in values}
        memo = (*self._memo(values, targets, keys), kept)
        arrays = [values[f.name] if f.name in values else pa.nulls(n, f.type) for f in self.schema]
        arrays = [a.cast(f.type) for a, f in zip(arrays, self.schema, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), memo

    def _keys(self, n, start, rng, parents, values, position, owner) -> dict[str, pa.Array]:
        """Key columns by the table's key plan; derived lookup rows are taken out of values."""
        out: dict[str, pa.Array] = {}
        spec = self.sampler.spec
        for name, fmt in self.meta["keys"].items():
            if name == self.plan.numbered and position is not None:
                index = np.asarray(position, np.int64)  # numbered within the parent
            else:
                index = global_indices(n, spec.partition, spec.partitions, start)
            keys = format_keys(KeyFormat.from_meta(fmt), index, rng)
            out[name] = key_array(keys, self.types[name])
        context = self.meta["context"]
        if parents is not None:
            for column, parent_column in zip(
                context["columns"], context["parent_key"], strict=True
            ):
                out[column] = parents.column(parent_column).combine_chunks()
            self._context_orphans(out, context, n, rng)
        for i, lookup in self.meta.get("lookups", {}).items():
            rows = values.pop(f"{relational.LOOKUP}.{i}")
            out.update(self._lookup(lookup, rows, i, n))
        for key, ref in self.meta["references"].items():
            out.update(self._reference(ref, self.references[key], out, n, rng, owner))
        return out

    def _context_orphans(self, out: dict, context: dict, n: int, rng) -> None:
        """Relabel the training share of children without a parent: null or dangling keys."""
        nulls, orphans = context.get("null_share", 0.0), context.get("orphan_share", 0.0)
        if not n or nulls + orphans <= 0:
            return
        u = rng.random(n)
        null = u < nulls
        dangling = np.flatnonzero((u >= nulls) & (u < nulls + orphans))
        columns = context["columns"]
        table = self.sampler.state.tables.get(f"{self.prefix}.context_orphans")
        if len(dangling) and table is not None:
            taken = pa.table({c: out[c] for c in columns})
            tuples = Degrees(np.zeros(1, np.int64), np.ones(1), 0.0, 0.0, table)
            picked = tuples.orphan_tuples(len(dangling), taken, rng)
            index = np.arange(n)
            index[dangling] = n + np.arange(len(dangling))
            take = pa.array(np.where(null, 0, index), pa.int64(), mask=null if null.any() else None)
            for column in columns:
                extra = picked.column(column).combine_chunks().cast(out[column].type, safe=False)
                out[column] = pa.concat_arrays([out[column], extra]).take(take)
        elif null.any():
            take = pa.array(np.arange(n), pa.int64(), mask=null)
            for column in columns:
                out[column] = out[column].take(take)

    def _lookup(self, lookup: dict, rows: pa.Array, index: str, n: int) -> dict[str, pa.Array]:
        """A learned lookup row as the referenced key tuple (or a dangling training tuple)."""
        keys = self.sampler.generated[lookup["table"]].all_keys().select(lookup["referenced"])
        orphans = self.sampler.state.tables[f"{self.prefix}.lookup{index}.orphans"]
        every = pa.concat_tables([keys, orphans.cast(keys.schema, safe=False)])
        take = pa.array(rows.to_numpy(zero_copy_only=False), from_pandas=True).cast(pa.int64())
        return {
            column: every.column(parent_column).combine_chunks().take(take)
            for column, parent_column in zip(lookup["columns"], lookup["referenced"], strict=True)
        }

    def _reference(self, ref, degrees: Degrees, filled: dict, n, rng, owner) -> dict:
        """Columns of a plain foreign key: whole referenced tuples, drawn among those matching
        the columns already filled (nothing to do when all are); distinct within a parent when
        the reference is part of the primary key."""
        columns, referenced = ref["columns"], ref["referenced"]
        free = [c for c in columns if c not in filled]
        if not free:
            return {}
        keys = self.sampler.generated[ref["table"]].all_keys()
        if keys is None or keys.num_rows == 0:
            return {c: pa.nulls(n, self.types[c]) for c in free}
        keys = keys.select(referenced)
        fixed = [c for c in columns if c in filled]
        if fixed:
            sub = keys.select([referenced[columns.index(c)] for c in fixed])
            p = degrees.weights / degrees.weights.sum()
            weights = rng.choice(degrees.values, size=keys.num_rows, p=p) + 1e-9
            picks = draw_matching(pa.table({c: filled[c] for c in fixed}), sub, weights, rng)
            picks[rng.random(n) < degrees.null_share] = -1
        else:
            picks, _ = degrees.draw(keys.num_rows, n, rng)
        if ref["index"] == self.plan.distinct_reference:
            mine = owner if owner is not None else np.zeros(n, np.int64)
            picks = relational.distinct_within(picks, mine, keys.num_rows, rng)
        orphan_rows = np.flatnonzero(picks == -2)
        every = keys
        if len(orphan_rows):
            orphans = degrees.orphan_tuples(len(orphan_rows), keys, rng)
            every = pa.concat_tables([keys, orphans.cast(keys.schema, safe=False)])
            picks[orphan_rows] = keys.num_rows + np.arange(len(orphan_rows))
        take = pa.array(picks, pa.int64(), mask=picks < 0)
        return {
            c: every.column(referenced[columns.index(c)]).combine_chunks().take(take) for c in free
        }

    def _memo(self, values: dict, targets: list, keys: dict[str, pa.Array]) -> tuple:
        """What children and referencing tables will need from this batch."""
        needs = self.sampler.needed.get(self.table.name, set())
        columns = self.sampler.key_columns.get(self.table.name, [])
        key = pa.table({c: values[c] for c in columns}) if "keys" in needs and columns else None
        if "children" not in needs:
            return key, None, {}, {}
        children, firsts = {}, {}
        for column, array in values.items():
            if column.startswith(CHILDREN + "."):
                numbers = np.nan_to_num(array.to_numpy(zero_copy_only=False).astype(float))
                children[column[len(CHILDREN) + 1 :]] = np.maximum(np.round(numbers), 0).astype(
                    np.int64
                )
            elif column.startswith(FIRST + "."):
                firsts[column[len(FIRST) + 1 :]] = array.to_numpy(zero_copy_only=False).astype(
                    float
                )
        return key, targets, children, firsts

    def remember(self, memo: tuple) -> None:
        """Keep a batch's memo, in batch order."""
        key, targets, children, firsts, kept = memo
        generated = self.sampler.generated[self.table.name]
        for name, array in kept.items():
            generated.values.setdefault(name, []).append(array)
        if key is not None:
            generated.keys.append(key)
        if targets is not None:
            generated.targets.append(targets)
        for name, counts in children.items():
            generated.children.setdefault(name, []).append(counts)
        for name, values in firsts.items():
            generated.firsts.setdefault(name, []).append(values)

    def _order_values(self, values: dict, position: np.ndarray, first: np.ndarray) -> pa.Array:
        column = self.meta["order"]
        step = values.pop(f"{sequences.STEP}.{column}").to_numpy(zero_copy_only=False)
        if self.meta.get("order_steps") == "shares":
            upper = self.meta["order_bounds"][1]
            joined = sequences.join_shares(first, step.astype(float), position, upper)
        else:
            joined = sequences.join_order(
                first, step.astype(float), position, self.meta.get("order_min_step", 0.0)
            )
        if self.meta.get("order_bounds"):
            joined = np.clip(joined, *self.meta["order_bounds"])  # NaN (null) stays NaN
        return from_float(joined, self.types[column])

    def _fake(self, column, n: int, rng) -> pa.Array:
        from synthpipe.sensitive import fake_values

        values = fake_values(column, n, int(rng.integers(0, 2**31)))
        return pa.array(values).cast(self.types[column.name], safe=False)


def _needed(config: GeneratorConfig) -> dict[str, set[str]]:
    """Per table: whether later tables need its keys and its states (context children)."""
    needs: dict[str, set[str]] = {}
    for table in config.tables:
        for fk in table.foreign_keys:
            needs.setdefault(fk.referenced_table, set()).add("keys")
            if fk.is_context:
                needs[fk.referenced_table].add("children")
    return needs


def _in_order(make, items) -> Iterator:
    """``make(item)`` for every item on a couple of threads (numpy releases the GIL in its
    array work), results in order; at most one result per thread is held in memory."""
    from concurrent.futures import ThreadPoolExecutor

    workers = min(THREADS, os.cpu_count() or 1)
    items = list(items)
    if workers < 2 or len(items) < 2:
        yield from map(make, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = [pool.submit(make, item) for item in items[:workers]]
        for next_item in [*items[workers:], *([None] * workers)]:
            yield pending.pop(0).result()
            if next_item is not None:
                pending.append(pool.submit(make, next_item))


def _filled(first: np.ndarray, n: int) -> np.ndarray:
    """Sequence start values, a null one replaced by the median (its parent has children)."""
    if len(first) != n:
        return np.full(n, np.nan)
    known = first[~np.isnan(first)]
    return np.where(np.isnan(first), np.median(known), first) if len(known) else first


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _chunks(counts: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive parents whose children make up about one batch (at least one parent)."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + batch_size, side="right"))
        stop = max(stop, start + 1)
        yield np.arange(start, stop)
        start = stop
