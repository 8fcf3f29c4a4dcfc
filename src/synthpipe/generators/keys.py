"""Primary keys in the source's format, unique across independently generated partitions.

Row ``j`` of partition ``i`` of ``N`` gets the global index ``j * N + i``. The indices of all
partitions are disjoint without any partition knowing another's size, so child tables (whose
sizes are only known once generated) still get globally unique keys, and partition ``i`` can be
computed alone. A ``KeyFormat`` learned from the training keys turns an index into a key that
looks like the source's: integers from the source's minimum, ``ORD-000123``-style codes with
their prefix, padding and suffix, UUIDs, or dates and times from the source's first value in
steps of its resolution.

Keys may span several columns. ``key_problems`` lists the key shapes a generator cannot keep
(before any training), and ``KeyPlan`` says how each column of a learned table's primary key
is produced: from the global index (a column unique on its own), numbered within its parent's
sequence, learned as a value (the other parts of a composite key), or taken from a foreign
key (context or plain), so that the key tuple stays unique and every reference is a real
parent key tuple.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.schema import GeneratorConfig, Table

_PATTERN = re.compile(r"^(\D*?)(\d+)(\D*)$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class KeyFormat:
    """How keys of one column look: ``int``, ``pattern`` (prefix + digits + suffix) or ``uuid``."""

    kind: str
    offset: int = 0
    prefix: str = ""
    suffix: str = ""
    width: int = 0
    step: int = 1  # integer keys: distance between consecutive keys (a temporal resolution)

    def to_meta(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict) -> KeyFormat:
        return cls(**meta)


def learn_key_format(values) -> KeyFormat:
    """The format of a key column, from its training values (a numpy array or Arrow array)."""
    temporal = _temporal_ticks(values)
    if temporal is not None:
        return temporal
    values = _plain(values)
    array = np.asarray(
        values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else values
    )
    array = array[~_isnull(array)]
    if array.dtype.kind in "iu":
        return KeyFormat("int", offset=int(array.min()) if array.size else 1)
    if array.dtype.kind == "f":
        return KeyFormat("int", offset=int(np.nanmin(array)) if array.size else 1)
    sample = [str(v) for v in array[:1000]]
    if sample and all(_UUID.match(v) for v in sample):
        return KeyFormat("uuid")
    return _learn_pattern(sample)


def _learn_pattern(sample: list[str]) -> KeyFormat:
    matches = [_PATTERN.match(v) for v in sample]
    if sample and all(matches):
        prefixes = {m.group(1) for m in matches}
        suffixes = {m.group(3) for m in matches}
        if len(prefixes) == 1 and len(suffixes) == 1:
            digits = [m.group(2) for m in matches]
            padded = any(d.startswith("0") and len(d) > 1 for d in digits)
            width = max(len(d) for d in digits) if padded else 0
            offset = min(int(d) for d in digits)
            return KeyFormat(
                "pattern", offset=offset, prefix=prefixes.pop(), suffix=suffixes.pop(), width=width
            )
    # Free-form keys: keep the typical length so the output still looks like the source's.
    width = int(np.median([len(v) for v in sample])) if sample else 8
    return KeyFormat("pattern", offset=0, prefix="K", width=max(width - 1, 1))


def _plain(values):
    """Dictionary and view arrays as plain arrays of their values."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if pa.types.is_string_view(values.type):
            values = values.cast(pa.string())
        if pa.types.is_decimal(values.type):
            values = values.cast(pa.float64())
    return values


def _temporal_ticks(values) -> KeyFormat | None:
    """Dates, times and timestamps: ``int`` keys over their ticks, in steps of the smallest
    distance between training values."""
    import pyarrow as pa

    values = _plain(values)
    if not isinstance(values, pa.Array) or not pa.types.is_temporal(values.type):
        return None
    narrow = pa.types.is_date32(values.type) or pa.types.is_time32(values.type)
    ticks = values.drop_null().cast(pa.int32() if narrow else pa.int64()).to_numpy()
    ticks = np.unique(ticks.astype(np.int64))
    if not len(ticks):
        return KeyFormat("int", offset=0)
    gaps = np.diff(ticks)
    return KeyFormat("int", offset=int(ticks[0]), step=int(gaps.min()) if len(gaps) else 1)


def key_array(keys, dtype: pa.DataType) -> pa.Array:
    """Keys from ``format_keys`` as an Arrow array of the column's type."""
    import pyarrow as pa

    if isinstance(keys, np.ndarray) and pa.types.is_temporal(dtype):
        narrow = pa.types.is_date32(dtype) or pa.types.is_time32(dtype)
        ints = pa.array(keys.astype(np.int32) if narrow else keys)
        return ints.cast(dtype)
    array = pa.array(keys)
    if pa.types.is_dictionary(dtype):
        return array.cast(dtype.value_type, safe=False).cast(dtype)
    return array.cast(dtype, safe=False)


def format_keys(fmt: KeyFormat, indices: np.ndarray, rng: np.random.Generator | None = None):
    """Keys for global row indices: an int64 array, or a list of strings."""
    indices = np.asarray(indices, dtype=np.int64)
    if fmt.kind == "int":
        return indices * fmt.step + fmt.offset
    if fmt.kind == "uuid":
        return _uuids(indices, rng)
    numbers = (indices + fmt.offset).astype(str)
    if fmt.width:
        numbers = np.char.zfill(numbers, fmt.width)
    return [f"{fmt.prefix}{n}{fmt.suffix}" for n in numbers.tolist()]


def _uuids(indices: np.ndarray, rng: np.random.Generator | None) -> list[str]:
    # Random version-4 UUIDs from the partition's seeded generator: deterministic per seed and
    # partition, and unique with overwhelming probability (122 random bits).
    rng = rng or np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(len(indices), 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = []
    for row in raw:
        h = row.tobytes().hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def partition_rows(total: int, partition: int, partitions: int) -> int:
    """Rows of a table of ``total`` rows that fall into ``partition`` of ``partitions``."""
    return total // partitions + (1 if partition < total % partitions else 0)


def global_indices(count: int, partition: int, partitions: int, start: int = 0) -> np.ndarray:
    """Global indices of the partition's rows ``start .. start + count``: ``j * N + i``."""
    local = np.arange(start, start + count, dtype=np.int64)
    return local * partitions + partition


def _isnull(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "f":
        return np.isnan(array)
    if array.dtype.kind == "O":
        return np.array([v is None or v != v for v in array], dtype=bool)
    return np.zeros(array.shape, dtype=bool)


@dataclass
class KeyPlan:
    """How the primary-key columns of one learned table are produced.

    ``formatted`` columns come from the global row index (unique on their own); ``numbered`` is
    numbered by its position within the parent's sequence (unique per parent); ``ordered`` is
    the sequence's order column, kept strictly increasing per parent; ``modelled`` columns are
    learned as values (the other parts of a composite key). The remaining key columns belong
    to foreign keys: ``one_child`` (the key is the context key: at most one child per parent)
    or ``distinct_reference`` (the index of the plain foreign key whose tuples never repeat
    within a parent).
    """

    formatted: list[str] = field(default_factory=list)
    numbered: str | None = None
    ordered: str | None = None
    modelled: list[str] = field(default_factory=list)
    one_child: bool = False
    distinct_reference: int | None = None

    def to_meta(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict | None) -> KeyPlan:
        return cls(**meta) if meta else cls()


def _covered(table: Table) -> set[str]:
    return {c for fk in table.foreign_keys for c in fk.columns}


def key_problems(config: GeneratorConfig) -> list[str]:
    """Key shapes of learned tables that cannot be generated faithfully; [] if none.

    Each problem names the table and columns and what to change.
    """
    problems = []
    for table in config.learned_tables():
        key = list(table.primary_key or [])
        if not key or [c for c in key if c not in _covered(table)]:
            continue
        context = table.context_key
        rest = set(key) - set(context.columns if context else [])
        where = f"primary key ({', '.join(key)}) of table '{table.name}'"
        if context is None:
            problems.append(
                f"{where} consists of plain foreign-key columns only; such keys cannot be kept "
                "unique across independently generated rows: make the foreign key the context "
                "key (is_context: true) or add a column of the table's own to the key"
            )
        elif not rest and set(key) != set(context.columns):
            problems.append(
                f"{where} is part of the context key ({', '.join(context.columns)}); make the "
                "primary key the whole context key or add a column of the table's own to it"
            )
        elif rest and _distinct_reference(table, key) is None:
            problems.append(
                f"{where}: beyond the context key its columns ({', '.join(sorted(rest))}) must "
                "be exactly the columns of one plain foreign key; add a column of the table's "
                "own to the key or declare that foreign key"
            )
    return problems


def _distinct_reference(table: Table, key: list[str]) -> int | None:
    """The plain foreign key that makes a key of foreign-key columns unique per parent."""
    context = table.context_key
    rest = set(key) - set(context.columns if context else [])
    for i, fk in enumerate(table.foreign_keys):
        if not fk.is_context and rest <= set(fk.columns) <= set(key):
            return i
    return None


def plan_keys(table: Table, arrow: pa.Table, order_column: str | None = None) -> KeyPlan:
    """The key plan of a learned table from its config and training rows (which columns are
    unique on their own). Assumes ``key_problems`` found nothing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    key = list(table.primary_key or [])
    if not key:
        return KeyPlan()
    covered = _covered(table)
    own = [c for c in key if c not in covered]
    context = table.context_key
    if not own:
        if context is not None and set(key) == set(context.columns):
            return KeyPlan(one_child=True)
        return KeyPlan(distinct_reference=_distinct_reference(table, key))
    if len(key) == 1:
        return KeyPlan(formatted=own)

    def distinct(name: str) -> int:
        return int(pc.count_distinct(arrow.column(name)).as_py())

    # The last own column (a member within its group: contestant of a season, line of an
    # order, hour of a station) makes the tuple unique; the ones before it are values.
    last = own[-1]
    modelled = [c for c in own if c != last]
    column = arrow.column(last)
    unique = column.null_count == 0 and distinct(last) == arrow.num_rows
    per_parent = context is not None and set(key) - {last} == set(context.columns)
    if unique or not per_parent:
        return KeyPlan(formatted=[last], modelled=modelled)
    if last == order_column:
        return KeyPlan(ordered=last, modelled=[last])
    if pa.types.is_integer(column.type):  # line numbers: 1..n within each parent
        return KeyPlan(numbered=last)
    return KeyPlan(formatted=[last])
