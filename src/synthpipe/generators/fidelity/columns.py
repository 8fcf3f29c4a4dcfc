"""Column codecs: how one column becomes model variables and comes back as an Arrow array.

Every codec turns a training column into one or more discrete variables (states plus their
coarse grouping) and turns sampled states back into values of the column's Arrow type. The
kinds are numbers, categories, dates and datetimes (``datetimes``), lat/long pairs (``geo``),
structured strings (``characters``) and free text (``text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.categorical import CategoricalCodec
from synthpipe.generators.fidelity.numeric import NumericCodec


@dataclass
class VariableSpec:
    """A variable a column contributes to the table's chain: its suffix, states and coarse map."""

    suffix: str
    states: int
    coarse: np.ndarray


class ColumnCodec:
    """Base of the column codecs; ``kind`` names the codec in the stored state."""

    kind: ClassVar[str] = ""
    name: str

    def variables(self) -> list[VariableSpec]:
        raise NotImplementedError(f"codec '{self.kind}' does not implement variables")

    def encode(self, column: pa.Array, rng: np.random.Generator) -> list[np.ndarray]:
        raise NotImplementedError(f"codec '{self.kind}' does not implement encode")

    def decode(
        self, codes: list[np.ndarray], rng: np.random.Generator, dtype: pa.DataType
    ) -> pa.Array:
        raise NotImplementedError(f"codec '{self.kind}' does not implement decode")

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray], dict[str, pa.Table]]:
        raise NotImplementedError(f"codec '{self.kind}' does not implement to_state")


def temporal_ints(column: pa.Array) -> pa.Array:
    """The stored integers of a temporal array (days for date32, ticks otherwise)."""
    return column.cast(pa.int32() if pa.types.is_date32(column.type) else pa.int64())


def to_float(column: pa.Array) -> np.ndarray:
    """A numeric, decimal or temporal Arrow array as float64, NaN for nulls."""
    if pa.types.is_temporal(column.type):
        column = temporal_ints(column)
    elif pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type):
        column = column.cast(pa.float64())
    return column.to_numpy(zero_copy_only=False).astype(np.float64)


def from_float(values: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """Float64 values (NaN for null) as an Arrow array of ``dtype``."""
    null = np.isnan(values)
    mask = null if null.any() else None
    if pa.types.is_integer(dtype) or pa.types.is_temporal(dtype):
        ints = np.where(null, 0, np.round(values)).astype(np.int64)
        if pa.types.is_date32(dtype):
            return pa.array(ints.astype(np.int32), pa.int32(), mask=mask).cast(dtype)
        return pa.array(ints, pa.int64(), mask=mask).cast(dtype, safe=False)
    return pa.array(np.where(null, 0.0, values), pa.float64(), mask=mask).cast(dtype, safe=False)


@dataclass
class NumberColumn(ColumnCodec):
    """Integers, floats and decimals: one binned variable."""

    kind: ClassVar[str] = "number"
    name: str
    codec: NumericCodec

    @classmethod
    def fit(
        cls, name: str, column: pa.Array, protect: bool, scale: int | None = None
    ) -> NumberColumn:
        step = 10.0**-scale if scale is not None and pa.types.is_decimal(column.type) else None
        return cls(name, NumericCodec.fit(to_float(column), protect, step=step))

    def variables(self) -> list[VariableSpec]:
        return [VariableSpec("", self.codec.states, self.codec.coarse)]

    def encode(self, column: pa.Array, rng: np.random.Generator) -> list[np.ndarray]:
        return [self.codec.encode(to_float(column))]

    def decode(self, codes, rng, dtype):
        return from_float(self.codec.decode(codes[0], rng), dtype)

    def to_state(self, prefix):
        meta, arrays = self.codec.to_state(prefix)
        return meta, arrays, {}

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> NumberColumn:
        return cls(name, NumericCodec.from_state(meta, arrays, prefix))


@dataclass
class CategoryColumn(ColumnCodec):
    """Categories, booleans and foreign keys to lookup tables: one categorical variable."""

    kind: ClassVar[str] = "category"
    name: str
    codec: CategoricalCodec

    def variables(self) -> list[VariableSpec]:
        return [VariableSpec("", self.codec.states, self.codec.coarse)]

    def encode(self, column, rng):
        return [self.codec.encode(column, rng)]

    def decode(self, codes, rng, dtype):
        return self.codec.decode(codes[0], dtype)

    def to_state(self, prefix):
        return self.codec.to_state(prefix)

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> CategoryColumn:
        return cls(name, CategoricalCodec.from_state(meta, arrays, tables, prefix))
