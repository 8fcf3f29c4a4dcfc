"""Logic the real data always holds: rules between columns and between a child and its parent.

A *rule* says how one column (the dependent side) follows from others (the determining side):

- ``dependency``: a functional dependency, B is determined by A (a learned A -> B mapping);
- ``identity``: an arithmetic identity, ``a = b + c``, ``a = b - c`` or ``a = b * c``;
- ``datetime``: datetime parts and a datetime, ``T = datetime(year, month, day, hour)`` when the
  part columns fully describe ``T``, else ``hour = hour(T)`` per part column;
- ``copy``: a child column is a copy of its parent row's column;
- ``order``: ``end >= start`` within a row, or a child value after (or before) its parent's;
  generated as the determining value plus a non-negative offset that the chain learns.

Rules are found by ``logic_detect`` at fit time (on all real rows, held by at least 99.9% of
them) and applied here when generating: the dependent side is computed from the determining
side. ``measure`` gives the share of rows that hold a rule, for real and synthetic data alike.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.fidelity.columns import from_float, to_float

# A rule is kept when it holds on at least this share of the real rows it applies to.
HOLD = 0.999
# Prefix of the derived columns holding the offset of an order rule's dependent column.
OFFSET = "__offset__"
# Microseconds per stored tick of each temporal unit.
_US = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}
PARTS = ("year", "month", "day", "hour", "minute", "second")
_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply}
# Rules whose dependent is computed only where it is not null: a missing value (a delay of a
# diverted flight) stays missing, the model decides how often.
COMPUTED = ("identity", "datetime")


@dataclass
class Rule:
    """One relationship: how ``column`` follows from ``inputs`` (see the module docstring)."""

    kind: str
    column: str
    inputs: list[str]
    share: float
    # identity: "+", "-", "*"; datetime: "compose" or "extract"
    op: str = ""
    # identity: decimals of the result; datetime: names of the parts, aligned with inputs
    decimals: int = 0
    parts: list[str] = field(default_factory=list)
    # identity "//", "%": the constant divisor; "clock": the smallest value (the difference of
    # two HHMM times is taken modulo a day into [constant, constant + 1440))
    constant: float = 0.0
    # datetime: the time zone the parts are in, when it is not the datetime's own
    zone: str = ""
    # identity, datetime: the dependent is missing wherever an input is (a cancelled flight
    # has no delay), and ``filled``: present wherever the inputs are (no other missing values)
    nulls: bool = False
    filled: bool = False
    # copy and order rules between a child and its parent: the parent table, the child's
    # foreign key columns and the parent's referenced columns
    parent: str | None = None
    fk: list[str] = field(default_factory=list)
    parent_key: list[str] = field(default_factory=list)
    # order: dependent = input + sign * offset * scale (microseconds for dates and times);
    # factors turn stored values into that scale
    sign: int = 1
    scale: float = 1.0
    factors: list[float] = field(default_factory=list)
    # dependency: the learned mapping, a table with columns "key" and "value"
    mapping: pa.Table | None = None

    @property
    def offset(self) -> str:
        return f"{OFFSET}.{self.column}"

    def describe(self) -> str:
        """The rule as one line, e.g. ``dep_delay = dep_time - sched_dep_time``."""
        source = f"{self.parent}." if self.parent else ""
        if self.column.startswith("__first__."):  # a derived column: the sequence's start
            column = f"first {self.column.split('.', 1)[1]} row"
            return f"{column} {'>=' if self.sign > 0 else '<='} {self.inputs[0]}"
        if self.kind == "dependency" and len(self.inputs) > 1:
            return f"{self.column} is determined by ({', '.join(self.inputs)})"
        if self.kind == "dependency":
            return f"{self.column} is determined by {self.inputs[0]}"
        zone = f" in {self.zone}" if self.zone else ""
        if self.kind == "identity" and self.op in ("//", "%"):
            return f"{self.column} = {self.inputs[0]} {self.op} {self.constant:g}"
        if self.kind == "identity" and self.op == "*+":
            return f"{self.column} = {self.inputs[0]} * {self.constant:g} + {self.inputs[1]}"
        if self.kind == "identity" and self.op == "clock":
            return f"{self.column} = minutes from {self.inputs[1]} to {self.inputs[0]} (HHMM times)"
        if self.kind == "identity" and self.op == "clock+":
            return f"{self.column} = {self.inputs[0]} + {self.inputs[1]} minutes (HHMM times)"
        if self.kind == "identity":
            return f"{self.column} = {self.inputs[0]} {self.op} {self.inputs[1]}"
        if self.kind == "datetime" and self.op == "compose":
            parts = ", ".join(f"{p}={c}" for p, c in zip(self.parts, self.inputs, strict=True))
            return f"{self.column} = datetime({parts}){zone}"
        if self.kind == "datetime":
            return f"{self.column} = {self.parts[0]}({self.inputs[0]}){zone}"
        if self.kind == "copy":
            return f"{self.column} = {source}{self.inputs[0]} (parent row)"
        relation = ">=" if self.sign > 0 else "<="
        return f"{self.column} {relation} {source}{self.inputs[0]}"

    def to_meta(self) -> dict:
        """JSON-safe description (the mapping is stored apart, as a table)."""
        meta = {
            "kind": self.kind,
            "column": self.column,
            "inputs": self.inputs,
            "share": self.share,
            "description": self.describe(),
        }
        extra = {
            "op": self.op,
            "decimals": self.decimals,
            "constant": self.constant,
            "zone": self.zone,
            "nulls": self.nulls,
            "filled": self.filled,
            "parts": self.parts,
            "parent": self.parent,
            "fk": self.fk,
            "parent_key": self.parent_key,
            "sign": self.sign,
            "scale": self.scale,
            "factors": self.factors,
        }
        return meta | {k: v for k, v in extra.items() if v}

    @classmethod
    def from_meta(cls, meta: dict, mapping: pa.Table | None = None) -> Rule:
        fields = {k: v for k, v in meta.items() if k != "description"}
        return cls(**fields, mapping=mapping)


@dataclass
class Link:
    """A child's rows in its parent: the parent row of each child row (-1 if none)."""

    row: np.ndarray
    columns: dict[str, pa.Array]


# -- values -------------------------------------------------------------------------------------


def plain(array: pa.Array) -> pa.Array:
    """An array comparable by Arrow kernels: dictionaries decoded, view types as large ones."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())
    elif pa.types.is_binary_view(array.type):
        array = array.cast(pa.large_binary())
    return array


def family(dtype: pa.DataType) -> str | None:
    """How a column's values compare: "time" (dates, timestamps), "clock" (times of day),
    "num" (integers, floats, decimals), or None (no arithmetic or order)."""
    if pa.types.is_dictionary(dtype):
        return None
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        return "time"
    if pa.types.is_time(dtype):
        return "clock"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "num"
    return None


def factor(dtype: pa.DataType) -> float:
    """Microseconds per stored tick of a temporal type; 1 for numbers."""
    if pa.types.is_date32(dtype):
        return 86400e6
    if pa.types.is_date64(dtype):
        return 1e3
    if pa.types.is_timestamp(dtype) or pa.types.is_time(dtype):
        return _US[dtype.unit]
    return 1.0


def scaled(array: pa.Array, ticks: float | None = None) -> np.ndarray:
    """Float64 values (temporal ones in microseconds), NaN for null and non-finite values."""
    array = plain(array)
    values = to_float(array) * (factor(array.type) if ticks is None else ticks)
    return np.where(np.isfinite(values), values, np.nan)


def same(actual: pa.Array, expected: pa.Array) -> np.ndarray:
    """Row-wise equality, a null equal to a null; values that cannot be compared are unequal."""
    actual, expected = plain(actual), plain(expected)
    try:
        if actual.type != expected.type:
            expected = expected.cast(actual.type)
        equal = pc.equal(actual, expected).fill_null(False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return np.zeros(len(actual), bool)
    both_null = pc.and_(pc.is_null(actual), pc.is_null(expected))
    return pc.or_(equal, both_null).to_numpy(zero_copy_only=False)


def parent_rows(child: list[pa.Array], parent: list[pa.Array]) -> np.ndarray:
    """The parent row of each child row by its (possibly composite) key; -1 when none."""
    names = [f"k{i}" for i in range(len(child))]
    left = {n: plain(c) for n, c in zip(names, child, strict=True)}
    right = {n: plain(p) for n, p in zip(names, parent, strict=True)}
    for n in names:
        if left[n].type != right[n].type:
            left[n] = left[n].cast(right[n].type, safe=False)
    n_child = len(child[0])
    left_table = pa.table({**left, "__child": pa.array(np.arange(n_child))})
    right_table = pa.table({**right, "__parent": pa.array(np.arange(len(parent[0])))})
    joined = left_table.join(right_table, names, join_type="inner", use_threads=False)
    rows = np.full(n_child, -1, np.int64)
    rows[joined["__child"].to_numpy()] = joined["__parent"].to_numpy()
    return rows


def _taken(array: pa.Array, rows: np.ndarray) -> pa.Array:
    """``array[rows]`` with null where ``rows`` is -1."""
    index = pa.array(np.where(rows < 0, 0, rows), pa.int64(), mask=rows < 0)
    return plain(array).take(index)


# -- what a rule says ---------------------------------------------------------------------------


def expected(
    rule: Rule, columns: dict[str, pa.Array], links: dict[str, Link]
) -> tuple[pa.Array | np.ndarray, np.ndarray]:
    """The dependent values the rule implies and the rows it applies to.

    Values are an Arrow array (dependency, copy, datetime extract) or float64 in the rule's
    scale (identity, datetime compose in microseconds). Order rules have no single value.
    """
    if rule.kind == "dependency" and "key" not in rule.mapping.column_names:
        names = [f"key{i}" for i in range(len(rule.inputs))]
        rows = parent_rows(
            [columns[c] for c in rule.inputs], [rule.mapping.column(k) for k in names]
        )
        return _taken(rule.mapping.column("value"), rows), rows >= 0
    if rule.kind == "dependency":
        keys = plain(columns[rule.inputs[0]])
        mapping_keys = plain(rule.mapping.column("key").combine_chunks())
        if keys.type != mapping_keys.type:
            keys = keys.cast(mapping_keys.type, safe=False)
        index = pc.index_in(keys, value_set=mapping_keys, skip_nulls=False)
        values = rule.mapping.column("value").combine_chunks().take(index)
        return values, index.is_valid().to_numpy(zero_copy_only=False)
    if rule.kind == "identity":
        result = np.round(identity(rule, [scaled(columns[c], 1.0) for c in rule.inputs]), 9)
        result = np.round(result, rule.decimals)
        return result, ~np.isnan(result)
    if rule.kind == "datetime" and rule.op == "compose":
        return compose({p: columns[c] for p, c in zip(rule.parts, rule.inputs, strict=True)})
    if rule.kind == "datetime":
        return extract(columns[rule.inputs[0]], rule.parts[0], rule.zone)
    if rule.kind == "copy":
        link = links[rule.parent]
        values = _taken(link.columns[rule.inputs[0]], link.row)
        return values, link.row >= 0
    raise ValueError(f"rule kind '{rule.kind}' has no expected value")


def identity(rule: Rule, inputs: list[np.ndarray]) -> np.ndarray:
    """The value an identity gives from its inputs' float values."""
    if rule.op == "//":
        return np.floor(inputs[0] / rule.constant)
    if rule.op == "%":
        return np.mod(inputs[0], rule.constant)
    if rule.op == "*+":
        return inputs[0] * rule.constant + inputs[1]
    if rule.op == "clock":
        late, early = (np.floor(v / 100) * 60 + np.mod(v, 100) for v in inputs)
        return np.mod(late - early - rule.constant, 1440) + rule.constant
    if rule.op == "clock+":  # an HHMM time from an earlier one and the minutes between
        early = np.floor(inputs[0] / 100) * 60 + np.mod(inputs[0], 100)
        minutes = np.mod(early + inputs[1], 1440)
        return np.floor(minutes / 60) * 100 + np.mod(minutes, 60)
    return _OPS[rule.op](inputs[0], inputs[1])


def zoned(column: pa.Array, zone: str) -> pa.Array:
    """Datetimes as seen in ``zone`` (naive ones taken as UTC); unchanged without a zone."""
    column = plain(column)
    if not zone or not pa.types.is_timestamp(column.type):
        return column
    return column.cast(pa.timestamp(column.type.unit, tz=zone))


def extract(column: pa.Array, part: str, zone: str = "") -> tuple[pa.Array, np.ndarray]:
    """One part (year .. second) of dates or datetimes, local time for zoned ones (in
    ``zone`` when given)."""
    values = getattr(pc, part)(zoned(column, zone))
    return values, values.is_valid().to_numpy(zero_copy_only=False)


def compose(parts: dict[str, pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock microseconds of the datetime the parts describe (missing parts are 0, days
    past the month's end are clamped to its last day); rows with a null part do not apply."""
    values = {p: scaled(a, 1.0) for p, a in parts.items()}
    n = len(next(iter(values.values())))
    ok = np.all([~np.isnan(v) for v in values.values()], axis=0)
    get = {p: np.where(ok, values.get(p, np.zeros(n)), 0).astype(np.int64) for p in PARTS}
    get["month"] = np.clip(get["month"], 1, 12)
    ok &= (get["year"] > -9000) & (get["year"] < 9000)
    year = np.where(ok, get["year"], 1970)
    months = (year - 1970) * 12 + get["month"] - 1
    start = months.astype("datetime64[M]").astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[M]").astype("datetime64[D]") - start).astype(int)
    day = np.clip(get["day"], 1, length) - 1
    days = (start.astype(np.int64) + day).astype(np.float64)
    seconds = get["hour"] * 3600 + get["minute"] * 60 + get["second"]
    return np.where(ok, days * 86400e6 + seconds * 1e6, np.nan), ok


def to_temporal(us: np.ndarray, dtype: pa.DataType, zone: str = "") -> pa.Array:
    """Wall-clock microseconds (in ``zone``, else the type's own zone) as ``dtype``."""
    zone = zone or (dtype.tz if pa.types.is_timestamp(dtype) else None) or ""
    if pa.types.is_timestamp(dtype) and zone not in ("", "UTC", "+00:00"):
        mask = np.isnan(us)
        naive = pa.array(np.where(mask, 0, us).astype(np.int64), pa.timestamp("us"), mask=mask)
        local = pc.assume_timezone(naive, zone, ambiguous="earliest", nonexistent="earliest")
        if dtype.tz is None:  # a naive column holds UTC instants
            local = local.cast(pa.timestamp("us", tz="UTC"))
        return local.cast(dtype, safe=False)
    return from_float(us / factor(dtype), dtype)


def measure(rule: Rule, columns: dict[str, pa.Array], links: dict[str, Link]) -> float | None:
    """Share of the rows a rule applies to that hold it; None when it applies to none."""
    held, applies = holds(rule, columns, links)
    return float(held[applies].mean()) if applies.any() else None


def holds(
    rule: Rule, columns: dict[str, pa.Array], links: dict[str, Link]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the rule holds, and whether it applies."""
    actual = columns[rule.column]
    if rule.kind == "order":
        dependent = scaled(actual, rule.factors[0])
        source = (
            links[rule.parent].columns[rule.inputs[0]] if rule.parent else columns[rule.inputs[0]]
        )
        if rule.parent:
            source = _taken(source, links[rule.parent].row)
        base = scaled(source, rule.factors[1])
        applies = ~np.isnan(dependent) & ~np.isnan(base)
        return np.nan_to_num((dependent - base) * rule.sign) >= 0, applies
    values, applies = expected(rule, columns, links)
    if rule.kind in COMPUTED:
        applies = applies & _valid(actual)
    if isinstance(values, np.ndarray):
        if rule.kind == "datetime":
            local = extract_wall(actual, rule.zone)
            return np.abs(local - values) < 0.5, applies & ~np.isnan(local)
        got = scaled(actual, 1.0)
        tolerance = 1e-9 * np.maximum(1.0, np.abs(values)) + 0.5 * 10.0 ** -(rule.decimals + 3)
        return np.abs(got - values) <= tolerance, applies
    return same(actual, values), applies


def _valid(array: pa.Array) -> np.ndarray:
    return plain(array).is_valid().to_numpy(zero_copy_only=False)


def extract_wall(column: pa.Array, zone: str = "") -> np.ndarray:
    """Wall-clock microseconds of dates or datetimes (local time for zoned ones, in ``zone``
    when given)."""
    column = zoned(column, zone)
    if pa.types.is_timestamp(column.type) and column.type.tz not in (None, "UTC", "+00:00"):
        column = pc.local_timestamp(column)
    return scaled(column)


# -- applying rules when generating -------------------------------------------------------------


def apply(
    rule: Rule,
    values: dict[str, pa.Array],
    types: dict[str, pa.DataType],
    links: dict[str, Link],
) -> None:
    """Replace the dependent column of ``values`` by what the rule implies, where it applies."""
    current = values.get(rule.column)
    if current is None:
        return
    dtype = types.get(rule.column, current.type)
    if rule.kind == "order":
        values[rule.column] = _ordered(rule, values, links, current, dtype)
        return
    implied, applies = expected(rule, values, links)
    if rule.kind in COMPUTED and rule.nulls:
        missing = pa.array(~applies)
        current = pc.if_else(missing, pa.nulls(len(current), plain(current).type), plain(current))
    if rule.kind in COMPUTED and not rule.filled:
        applies = applies & _valid(current)
    if isinstance(implied, np.ndarray):
        if rule.kind == "datetime":
            implied = to_temporal(implied, dtype, rule.zone)
        else:
            implied = from_float(implied, dtype)
    implied = plain(implied)
    current = plain(current)
    try:
        implied = implied.cast(current.type, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return  # a value the column's type cannot hold: keep the generated one
    values[rule.column] = pc.if_else(pa.array(applies), implied, current)


def rematch_lookup(
    copies: list[Rule], values: dict[str, pa.Array], lookup: dict, rng: np.random.Generator
) -> None:
    """Choose again the lookup row of each child row that copies columns from it: among the
    rows whose copied columns equal the child's own (learned with the rest of the row), first
    keeping the reference's leading columns, then not; uniform among equals. The chain draws
    a lookup of many rows (weather per hour) through coarse groups, while the copied columns
    (the hour) are learned with every other column. Rows without an equal lookup row, and
    dangling references (real orphans), keep the chain's draw."""
    from synthpipe.generators.fidelity.relational import draw_matching, match_rows

    copies = [r for r in copies if r.fk == copies[0].fk] if copies else []
    if not copies:
        return
    fk, key = copies[0].fk, copies[0].parent_key
    child = {r.column: r.inputs[0] for r in copies if r.column not in fk}
    if not child or not all(c in values for c in [*fk, *child]):
        return
    if not all(c in lookup for c in [*key, *child.values()]):
        return
    rows, _ = match_rows(pa.table({c: values[c] for c in fk}),
                         pa.table({c: lookup[c] for c in key}))  # fmt: skip
    open_rows = np.flatnonzero(rows >= 0)  # references to real rows only
    chosen = np.full(len(rows), -1, np.int64)
    for kept in (fk[:-1], []):
        todo = open_rows[chosen[open_rows] < 0]
        if not len(todo):
            break
        take = pa.array(todo)
        mine = pa.table({f"c{i}": values[c].take(take) for i, c in enumerate([*child, *kept])})
        theirs_cols = [*child.values(), *[key[fk.index(c)] for c in kept]]
        theirs = pa.table({f"c{i}": lookup[c] for i, c in enumerate(theirs_cols)})
        picks = draw_matching(mine, theirs, np.ones(theirs.num_rows), rng)
        chosen[todo[picks >= 0]] = picks[picks >= 0]
    found = np.flatnonzero(chosen >= 0)
    for column, parent_column in zip(fk, key, strict=True):
        new = plain(lookup[parent_column]).take(pa.array(chosen[found]))
        values[column] = _replaced(values[column], found, new)


def redraw_unseen(rule: Rule, values: dict[str, pa.Array], rng: np.random.Generator) -> None:
    """For a dependency on several columns, rows whose input tuple the real data never had get
    their last input redrawn among the real tuples sharing the other inputs (as often as the
    real data has each), so the dependent can be looked up: a route, not a random pair of
    airports. Rows whose other inputs never occurred keep their values."""
    from synthpipe.generators.fidelity.relational import draw_matching, match_rows

    names = [f"key{i}" for i in range(len(rule.inputs))]
    mapping = rule.mapping
    inputs = [values[c] for c in rule.inputs]
    rows, null = match_rows(pa.table(dict(zip(names, inputs, strict=True))), mapping.select(names))
    unseen = np.flatnonzero((rows < 0) & ~null)
    if not len(unseen):
        return
    picked = pa.array(unseen)
    wanted = pa.table({n: a.take(picked) for n, a in zip(names[:-1], inputs[:-1], strict=True)})
    weights = mapping.column("rows").to_numpy().astype(np.float64)
    picks = draw_matching(wanted, mapping.select(names[:-1]), weights, rng)
    found = picks >= 0
    drawn = plain(mapping.column(names[-1]).combine_chunks()).take(pa.array(picks[found]))
    values[rule.inputs[-1]] = _replaced(inputs[-1], unseen[found], drawn)


def _replaced(array: pa.Array, rows: np.ndarray, new: pa.Array) -> pa.Array:
    """``array`` with the values at ``rows`` replaced by ``new`` (cast to its type)."""
    array = plain(array)
    if not len(rows):
        return array
    if new.type != array.type:
        new = new.cast(array.type, safe=False)
    index = np.arange(len(array))
    index[rows] = len(array) + np.arange(len(rows))
    return pa.concat_arrays([array, new]).take(pa.array(index))


def _ordered(rule: Rule, values, links, current: pa.Array, dtype: pa.DataType) -> pa.Array:
    """dependent = base + sign * offset, the offset learned by the chain (never negative)."""
    offset = values.get(rule.offset)
    if offset is None:
        return current
    source = links[rule.parent].columns[rule.inputs[0]] if rule.parent else values[rule.inputs[0]]
    if rule.parent:
        source = _taken(source, links[rule.parent].row)
    base = scaled(source, rule.factors[1])
    step = np.maximum(scaled(offset, 1.0), 0.0) * rule.scale
    result = (base + rule.sign * step) / rule.factors[0]
    applies = ~np.isnan(result)
    if not applies.any():
        return current
    implied = plain(from_float(np.where(applies, result, 0.0), dtype))
    current = plain(current)
    return pc.if_else(pa.array(applies), implied.cast(current.type, safe=False), current)


class RuleSet:
    """The rules of one table, applied in order to every generated batch."""

    def __init__(
        self,
        rules: list[Rule],
        parents: dict[str, tuple[list[str], dict]],
        lookups: frozenset[str] = frozenset(),
    ):
        self.rules = rules
        # per parent table: its referenced key columns and generated columns (concatenated)
        self.parents = parents
        # parents that are original-data lookups: their rows may be chosen again to match the
        # child's own values of the columns it copies from them
        self.lookups = lookups

    @classmethod
    def from_state(cls, meta: dict | None, state, prefix: str, parent_columns) -> RuleSet:
        """The rules stored for a table; ``parent_columns(name)`` gives a generated parent's
        columns (all its batches of this partition)."""
        if not meta:
            return cls([], {})
        rules = []
        for i, rule_meta in enumerate(meta["rules"]):
            mapping = state.tables.get(f"{prefix}.logic{i}")
            rules.append(Rule.from_meta(rule_meta, mapping))
        parents = {}
        for rule in rules:
            if rule.parent and rule.parent not in parents:
                parents[rule.parent] = parent_columns(rule.parent)
        tables = state.meta.get("tables", {})
        lookups = frozenset(p for p in parents if tables.get(p, {}).get("original"))
        return cls(rules, parents, lookups)

    def apply(
        self,
        values: dict[str, pa.Array],
        types: dict[str, pa.DataType],
        rng: np.random.Generator | None = None,
    ) -> None:
        """Compute every rule's dependent column of a generated batch, in place."""
        if rng is not None:
            for parent in sorted(self.lookups):
                copies = [r for r in self.rules if r.kind == "copy" and r.parent == parent]
                # on an error the chain's draw stands; the copies below make it consistent
                with contextlib.suppress(pa.ArrowException, ValueError, TypeError):
                    rematch_lookup(copies, values, self.parents[parent], rng)
        links: dict[str, Link] = {}
        for rule in self.rules:
            if rule.parent and rule.parent not in links:
                links[rule.parent] = self._link(rule, values)
            if rule.parent and links[rule.parent] is None:
                continue
            try:
                if rng is not None and self._redrawable(rule):
                    redraw_unseen(rule, values, rng)
                apply(rule, values, types, links)
            except (pa.ArrowException, ValueError, TypeError, OverflowError):
                continue  # values the rule cannot be computed for keep the model's draw

    def _redrawable(self, rule: Rule) -> bool:
        """A dependency on several columns whose last input no other rule uses."""
        if rule.kind != "dependency" or len(rule.inputs) < 2 or rule.mapping is None:
            return False
        if "rows" not in rule.mapping.column_names:
            return False
        last = rule.inputs[-1]
        return not any(
            other is not rule and (last == other.column or last in other.inputs)
            for other in self.rules
        )

    def _link(self, rule: Rule, values: dict[str, pa.Array]) -> Link | None:
        columns = self.parents.get(rule.parent) or {}
        if not columns or not all(c in values for c in rule.fk):
            return None
        if not all(k in columns for k in rule.parent_key):
            return None
        try:
            rows = parent_rows([values[c] for c in rule.fk], [columns[k] for k in rule.parent_key])
        except (pa.ArrowException, ValueError, TypeError):
            return None
        return Link(rows, columns)


def kept_columns(meta: dict) -> dict[str, set[str]]:
    """Per table: the generated columns that children's rules read (their keys and inputs)."""
    kept: dict[str, set[str]] = {}
    for table_meta in meta.get("tables", {}).values():
        for rule in (table_meta.get("logic") or {}).get("rules", []):
            if rule.get("parent"):
                kept.setdefault(rule["parent"], set()).update(
                    [*rule["parent_key"], *rule["inputs"]]
                )
    return kept


def relationships(meta: dict) -> dict[str, list[dict]]:
    """Per table: the relationships a fitted state keeps, with the share of real rows holding
    them (for ``generators show``)."""
    out = {}
    for name, table_meta in meta.get("tables", {}).items():
        rules = (table_meta.get("logic") or {}).get("rules", [])
        if rules:
            out[name] = [
                {"rule": r["description"], "kind": r["kind"], "real_share": r["share"]}
                for r in rules
            ]
    return out


def stored_relationships(model_dir) -> dict[str, list[dict]]:
    """``relationships`` of a stored fitted state, read from its ``meta.json`` alone; empty
    when the generator has no fitted model (yet)."""
    import json
    from pathlib import Path

    path = Path(model_dir) / "meta.json"
    if not path.is_file():
        return {}
    return relationships(json.loads(path.read_text()).get("meta", {}))
