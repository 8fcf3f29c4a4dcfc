"""Primary keys in the source's format, unique across independently generated partitions.

Row ``j`` of partition ``i`` of ``N`` gets the global index ``j * N + i``. The indices of all
partitions are disjoint without any partition knowing another's size, so child tables (whose
sizes are only known once generated) still get globally unique keys, and partition ``i`` can be
computed alone. A ``KeyFormat`` learned from the training keys turns an index into a key that
looks like the source's: integers from the source's minimum, ``ORD-000123``-style codes with
their prefix, padding and suffix, or UUIDs.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

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

    def to_meta(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict) -> KeyFormat:
        return cls(**meta)


def learn_key_format(values) -> KeyFormat:
    """The format of a key column, from its training values (a numpy array or Arrow array)."""
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


def format_keys(fmt: KeyFormat, indices: np.ndarray, rng: np.random.Generator | None = None):
    """Keys for global row indices: an int64 array, or a list of strings."""
    indices = np.asarray(indices, dtype=np.int64)
    if fmt.kind == "int":
        return indices + fmt.offset
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
