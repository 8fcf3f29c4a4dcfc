"""Keys between tables: which parent a child row belongs to, and references to other tables.

Keys may span several columns: a key is an Arrow table of its columns, and a reference always
takes a *whole* tuple of the referenced table, so a child's foreign-key tuple is an existing
parent key tuple (never a mix of columns of different parents). Children per parent are
learned as a column of the parent (see ``fitting``); this module finds each child's parent
row, counts children, and handles plain (non-context) foreign keys to generated tables: the
learned *degree distribution* (how many rows reference one parent row, zeros included)
decides how often each generated parent key is referenced, and the training shares of null
and of dangling references (orphans) are reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.fidelity.columns import model_array, model_type
from synthpipe.schema import ForeignKey, GeneratorConfig, Table

# Dangling training references kept to reproduce the orphan share (distinct tuples).
MAX_ORPHANS = 1000
# Prefix of the derived column holding a reference to an original-data table (a lookup row).
LOOKUP = "__ref__"


def as_key(arrays) -> pa.Table:
    """A key as an Arrow table of its columns (from a table, one array or a list of arrays)."""
    if isinstance(arrays, pa.Table):
        return arrays
    if isinstance(arrays, (pa.Array, pa.ChunkedArray)):
        arrays = [arrays]
    return pa.table({f"k{i}": a for i, a in enumerate(arrays)})


def key_of(arrow: pa.Table, columns: list[str]) -> pa.Table:
    """The key columns of a table, in model types (views and dictionaries decoded)."""
    return pa.table({c: model_array(arrow.column(c).combine_chunks()) for c in columns})


def match_rows(child_keys, parent_keys) -> tuple[np.ndarray, np.ndarray]:
    """Row of each child's key tuple among the parent key tuples, and which child tuples are
    null (any column null: not checked, as in SQL). Rows are -1 for null and dangling tuples."""
    child, parent = as_key(child_keys), as_key(parent_keys)
    n = child.num_rows
    null = np.zeros(n, bool)
    child_code = np.zeros(n, np.int64)
    parent_code = np.zeros(parent.num_rows, np.int64)
    for c, p in zip(child.columns, parent.columns, strict=True):
        c = model_array(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c)
        p = model_array(p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p)
        if c.type != p.type:
            c = c.cast(p.type, safe=False)
        null |= c.is_null().to_numpy(zero_copy_only=False)
        values = pc.unique(p.drop_null())
        pcodes = _index(p, values)
        ccodes = _index(c, values)
        child_code, parent_code = _combine(child_code, ccodes, parent_code, pcodes, len(values))
    rows = np.full(n, -1, np.int64)
    if parent.num_rows and n:
        order = np.argsort(parent_code, kind="stable")
        sorted_codes = parent_code[order]
        pos = np.minimum(np.searchsorted(sorted_codes, child_code), len(order) - 1)
        found = (sorted_codes[pos] == child_code) & (child_code >= 0)
        rows[found] = order[pos[found]]
    rows[null] = -1
    return rows, null


def parent_rows(child_keys, parent_keys) -> np.ndarray:
    """Row number of each child's parent among ``parent_keys``; -1 for null or dangling keys."""
    return match_rows(child_keys, parent_keys)[0]


def _index(array: pa.Array, values: pa.Array) -> np.ndarray:
    return pc.index_in(array, value_set=values).fill_null(-1).to_numpy(zero_copy_only=False)


def _combine(child_code, ccodes, parent_code, pcodes, size):
    """Mixed-radix codes of the columns so far and one more column (-1 stays -1), compacted
    when they would grow large."""
    missing = (child_code < 0) | (ccodes < 0)
    child_code = np.where(missing, -1, child_code * size + ccodes)
    parent_code = np.where((parent_code < 0) | (pcodes < 0), -1, parent_code * size + pcodes)
    if max(child_code.max(initial=0), parent_code.max(initial=0)) > 2**40:
        both = np.r_[parent_code, child_code]
        _, inverse = np.unique(both, return_inverse=True)
        inverse = np.where(both < 0, -1, inverse)
        parent_code, child_code = inverse[: len(parent_code)], inverse[len(parent_code) :]
    return child_code, parent_code


def children_per_parent(parent_of_row: np.ndarray, n_parents: int) -> np.ndarray:
    """How many child rows each parent row has (zeros included)."""
    return np.bincount(parent_of_row[parent_of_row >= 0], minlength=n_parents).astype(np.int64)


def referenced_columns(fk: ForeignKey, config: GeneratorConfig) -> list[str]:
    """The referenced table's columns a foreign key points at (its primary key by default)."""
    return list(fk.referenced_columns or config.table(fk.referenced_table).primary_key or [])


def needed_columns(config: GeneratorConfig) -> dict[str, list[str]]:
    """Per table: the columns other tables reference (kept while generating), in order."""
    out: dict[str, list[str]] = {}
    for table in config.tables:
        for fk in table.foreign_keys:
            names = out.setdefault(fk.referenced_table, [])
            names += [c for c in referenced_columns(fk, config) if c not in names]
    return out


def key_columns(table: Table) -> set[str]:
    """Columns of a table filled by its key machinery, never learned as plain values."""
    names = set(table.primary_key or [])
    for fk in table.foreign_keys:
        names.update(fk.columns)
    return names


def lookup_name(index: int) -> str:
    """The derived column of the table's foreign key number ``index`` to an original-data table."""
    return f"{LOOKUP}.{index}"


def lookup_references(table: Table, config: GeneratorConfig) -> list[tuple[int, ForeignKey]]:
    """Plain foreign keys of a table to original-data tables, with their index."""
    return [
        (i, fk)
        for i, fk in enumerate(table.foreign_keys)
        if not fk.is_context and config.table(fk.referenced_table).original_data
    ]


def lookup_index(child: pa.Table, fk: ForeignKey, lookup: pa.Table, config: GeneratorConfig):
    """A reference to an original-data table as one column: the lookup row (0..L-1), L + k
    for the k-th distinct dangling tuple (an orphan), null for null; and the orphan tuples."""
    parent_cols = referenced_columns(fk, config)
    child_key = key_of(child, fk.columns)
    rows, null = match_rows(child_key, key_of(lookup, parent_cols))
    dangling = np.flatnonzero((rows < 0) & ~null)
    orphans = _orphans(child_key, dangling, parent_cols)
    if len(dangling):
        codes, _ = match_rows(child_key.take(pa.array(dangling)), _renamed(orphans, child_key))
        # beyond the MAX_ORPHANS most frequent dangling tuples: one of those kept
        codes = np.where(codes >= 0, codes, np.arange(len(codes)) % orphans.num_rows)
        rows[dangling] = lookup.num_rows + codes
    values = pa.array(rows, pa.int64(), mask=rows < 0)
    return values, orphans


def _renamed(table: pa.Table, like: pa.Table) -> pa.Table:
    return pa.table(dict(zip(like.column_names, table.columns, strict=True)))


def _orphans(child_key: pa.Table, dangling: np.ndarray, names: list[str]) -> pa.Table:
    """Distinct dangling tuples (at most MAX_ORPHANS, the most frequent), named like the
    referenced columns."""
    if not len(dangling):
        return pa.table({n: pa.array([], child_key.column(i).type) for i, n in enumerate(names)})
    picked = child_key.take(pa.array(dangling))
    grouped = picked.group_by(picked.column_names).aggregate([([], "count_all")])
    grouped = grouped.sort_by([("count_all", "descending")]).slice(0, MAX_ORPHANS)
    pairs = zip(names, child_key.column_names, strict=True)
    return pa.table({n: grouped.column(c) for n, c in pairs})


@dataclass
class Degrees:
    """Learned degree distribution of a plain foreign key, its null and orphan shares."""

    values: np.ndarray  # distinct degrees
    weights: np.ndarray  # number of parent rows with each degree
    null_share: float
    orphan_share: float = 0.0
    orphans: pa.Table | None = None  # distinct dangling training tuples

    @classmethod
    def fit(cls, child_keys, parent_keys, whole_keys=None) -> Degrees:
        """The degrees of ``child_keys`` into ``parent_keys``; with ``whole_keys`` (the parent
        before a holdout split) a reference to a held-out parent row is no orphan."""
        child_keys, parent_keys = as_key(child_keys), as_key(parent_keys)
        rows, null = match_rows(child_keys, parent_keys)
        degree = children_per_parent(rows, parent_keys.num_rows)
        values, weights = np.unique(degree, return_counts=True)
        n = len(rows)
        dangling = np.flatnonzero((rows < 0) & ~null)
        if whole_keys is not None and len(dangling):
            elsewhere, _ = match_rows(child_keys.take(pa.array(dangling)), as_key(whole_keys))
            dangling = dangling[elsewhere < 0]
        orphans = _orphans(child_keys, dangling, parent_keys.column_names)
        return cls(
            values.astype(np.int64),
            weights.astype(np.float64),
            float(np.mean(null)) if n else 0.0,
            len(dangling) / n if n else 0.0,
            orphans,
        )

    def draw(self, n_keys: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """Row numbers into ``n_keys`` parent keys for the referencing rows (-1: null, -2:
        orphan), each key used about as often as its drawn degree."""
        out = np.full(n, -1, np.int64)
        if n == 0:
            return out, 0
        orphans = round(n * self.orphan_share) if self.orphans is not None else 0
        orphans = orphans if self.orphans is not None and self.orphans.num_rows else 0
        wanted = min(round(n * (1 - self.null_share - self.orphan_share)), n - orphans)
        if n_keys and wanted > 0:
            degree = rng.choice(self.values, size=n_keys, p=self.weights / self.weights.sum())
            weights = degree + 1e-9
            counts = rng.multinomial(wanted, weights / weights.sum())
            out[:wanted] = np.repeat(np.arange(n_keys), counts)
        else:
            wanted = 0
        out[wanted : wanted + orphans] = -2
        return out[rng.permutation(n)], orphans

    def orphan_tuples(self, n: int, taken: pa.Table, rng: np.random.Generator) -> pa.Table:
        """``n`` dangling tuples drawn from training's, none of them a generated key."""
        rows, _ = match_rows(self.orphans, taken)
        free = np.flatnonzero(rows < 0)
        if not len(free):
            return pa.table({f.name: pa.nulls(n, f.type) for f in self.orphans.schema})
        pick = free[rng.integers(0, len(free), n)]
        return self.orphans.take(pa.array(pick, pa.int64()))

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray], dict[str, pa.Table]]:
        meta = {"null_share": self.null_share, "orphan_share": self.orphan_share}
        arrays = {f"{prefix}.values": self.values, f"{prefix}.weights": self.weights}
        tables = {f"{prefix}.orphans": self.orphans} if self.orphans is not None else {}
        return meta, arrays, tables

    @classmethod
    def from_state(
        cls, meta: dict, arrays: dict[str, np.ndarray], prefix: str, tables: dict | None = None
    ) -> Degrees:
        return cls(
            arrays[f"{prefix}.values"],
            arrays[f"{prefix}.weights"],
            meta["null_share"],
            meta.get("orphan_share", 0.0),
            (tables or {}).get(f"{prefix}.orphans"),
        )


def draw_within(
    fixed_rows: np.ndarray, groups: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each row, a referenced row of its group (``fixed_rows[i]`` is the group of row i,
    -1 for none), weighted; -1 where the group is empty. ``groups`` is the group of every
    referenced row."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    cum = np.r_[0.0, np.cumsum(weights[order])]
    out = np.full(len(fixed_rows), -1, np.int64)
    ok = fixed_rows >= 0
    lo = np.searchsorted(sorted_groups, fixed_rows[ok], side="left")
    hi = np.searchsorted(sorted_groups, fixed_rows[ok], side="right")
    has = hi > lo
    u = cum[lo[has]] + rng.random(int(has.sum())) * (cum[hi[has]] - cum[lo[has]])
    pos = np.clip(np.searchsorted(cum, u, side="right") - 1, lo[has], hi[has] - 1)
    idx = np.flatnonzero(ok)[has]
    out[idx] = order[pos]
    return out


def draw_matching(
    wanted: pa.Table, candidates: pa.Table, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each row of ``wanted``, a row of ``candidates`` with equal values (columns taken by
    position), drawn by ``weights``; -1 where no candidate is equal."""
    groups, _ = match_rows(candidates, candidates)
    rows, _ = match_rows(wanted, candidates)
    return draw_within(rows, groups, weights, rng)


def distinct_within(
    picks: np.ndarray, owner: np.ndarray, n_keys: int, rng: np.random.Generator
) -> np.ndarray:
    """Picks (rows into ``n_keys`` keys) made distinct within each owner: a repeated pick is
    drawn again, or set to -1 (null) when the owner has used every key."""
    picks = picks.copy()
    for _ in range(20):
        dup = _duplicates(picks, owner)
        if not dup.any():
            return picks
        picks[dup] = rng.integers(0, max(n_keys, 1), int(dup.sum()))
    for row in np.flatnonzero(_duplicates(picks, owner)):  # crowded owners: the first free key
        mine = (owner == owner[row]) & (picks >= 0)
        mine[row] = False
        used = set(picks[mine].tolist())
        free = next((k for k in range(n_keys) if k not in used), -1)
        picks[row] = free
    return picks


def _duplicates(picks: np.ndarray, owner: np.ndarray) -> np.ndarray:
    valid = picks >= 0
    pairs = np.stack([owner, picks], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    dup = np.ones(len(picks), bool)
    dup[first] = False
    return dup & valid


# -- fitting ----------------------------------------------------------------------------------


def prepare(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Training tables with every column in its model type (``columns.model_type``); a binary
    column that is not UTF-8 text is refused, naming the table and column."""
    from synthpipe.errors import ConfigError

    out = {}
    for name, arrow in tables.items():
        if all(model_type(f.type) == f.type for f in arrow.schema):
            out[name] = arrow  # nothing to convert: no copy
            continue
        arrays = []
        for field in arrow.schema:
            try:
                target = model_type(field.type)
                column = arrow.column(field.name)
                arrays.append(column if target == field.type else column.cast(target))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise ConfigError(
                    f"column '{name}.{field.name}' of type {field.type} cannot be learned "
                    f"({error}); binary columns are learned as text and must hold UTF-8: "
                    f"exclude it (excluded_columns) or mark it sensitive: drop"
                ) from error
        out[name] = pa.table(arrays, names=arrow.column_names)
    return out


def chain_lookups(table: Table, config: GeneratorConfig) -> list[tuple[int, ForeignKey]]:
    """References to original-data tables learned in the table's chain (as the lookup row):
    those whose columns belong to no other key of the table, except narrower references to
    original-data tables, which the chosen row fills (``(origin, time_hour) -> weather`` fills
    ``origin -> airports``)."""
    lookups = dict(lookup_references(table, config))
    out = []
    for i, fk in lookups.items():
        others = set(table.primary_key or [])
        for j, other in enumerate(table.foreign_keys):
            if j != i and not (j in lookups and set(other.columns) < set(fk.columns)):
                others.update(other.columns)
        if not others & set(fk.columns):
            out.append((i, fk))
    return out


def add_lookups(table: Table, arrow: pa.Table, config: GeneratorConfig, data, state, prefix, meta):
    """The table with one derived column per chained lookup reference (``lookup_index``); the
    orphan tuples go to the state."""
    meta.setdefault("lookups", {})
    for i, fk in chain_lookups(table, config):
        lookup = data.tables[fk.referenced_table]
        values, orphans = lookup_index(arrow, fk, lookup, config)
        state.tables[f"{prefix}.lookup{i}.orphans"] = orphans
        meta["lookups"][str(i)] = {
            "columns": list(fk.columns),
            "table": fk.referenced_table,
            "referenced": referenced_columns(fk, config),
            "rows": lookup.num_rows,
        }
        arrow = arrow.append_column(lookup_name(i), values)
    return arrow


def fit_references(table: Table, arrow: pa.Table, config: GeneratorConfig, data, state, prefix):
    """Degree distributions of the plain foreign keys filled after the chain (to generated
    tables, and to original-data tables whose columns overlap another key), in fill order."""
    chained = {i for i, _ in chain_lookups(table, config)}
    refs = {}
    for i, fk in enumerate(table.foreign_keys):
        if fk.is_context or i in chained:
            continue
        parent_cols = referenced_columns(fk, config)
        parent = key_of(data.tables[fk.referenced_table], parent_cols)
        whole = (data.whole or {}).get(fk.referenced_table)
        whole = key_of(whole, parent_cols) if whole is not None else None
        degrees = Degrees.fit(key_of(arrow, fk.columns), parent, whole)
        ref_meta, arrays, tables = degrees.to_state(f"{prefix}.ref{i}")
        state.arrays.update(arrays)
        state.tables.update(tables)
        refs[str(i)] = {
            "table": fk.referenced_table,
            "index": i,
            "columns": list(fk.columns),
            "referenced": parent_cols,
            **ref_meta,
        }
    # Wider keys first: a narrower one whose columns they fill is implied or drawn within.
    return dict(sorted(refs.items(), key=lambda kv: -len(kv[1]["columns"])))


def row_keys(arrow: pa.Table, columns: list[str], rows: np.ndarray | None) -> pa.Table | None:
    """The referenced columns of a table, in the row order its variables are in."""
    if not columns:
        return None
    keys = key_of(arrow, columns)
    return keys.take(pa.array(rows, pa.int64())) if rows is not None else keys


def context_meta(fk: ForeignKey, config: GeneratorConfig) -> dict:
    return {
        "columns": list(fk.columns),
        "parent": fk.referenced_table,
        "parent_key": referenced_columns(fk, config),
    }


def fit_context_orphans(table: Table, arrow: pa.Table, config, data, state, prefix, meta) -> None:
    """Shares of training rows whose context key is null or dangling (no row of the whole
    parent table), and the dangling tuples: such rows are not learned as children, so sampling
    relabels that share of generated children. Skipped when the context key is part of the
    primary key (relabelling could repeat a key)."""
    fk, context = table.context_key, meta.get("context")
    if fk is None or context is None or set(fk.columns) & set(table.primary_key or []):
        return
    whole = (data.whole or {}).get(fk.referenced_table, data.tables[fk.referenced_table])
    child = key_of(arrow, fk.columns)
    rows, null = match_rows(child, key_of(whole, context["parent_key"]))
    dangling = np.flatnonzero((rows < 0) & ~null)
    n = max(arrow.num_rows, 1)
    context["null_share"] = float(null.sum()) / n
    context["orphan_share"] = len(dangling) / n
    if len(dangling):
        state.tables[f"{prefix}.context_orphans"] = _orphans(child, dangling, fk.columns)
