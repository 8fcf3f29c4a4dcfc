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


def model_type(dtype: pa.DataType) -> pa.DataType:
    """The Arrow type a column is modelled in: string views and binary as strings, dictionary
    arrays as their values; generated values are cast back to the source's type at the end."""
    if pa.types.is_dictionary(dtype):
        return model_type(dtype.value_type)
    if (
        pa.types.is_string_view(dtype)
        or pa.types.is_binary(dtype)
        or pa.types.is_binary_view(dtype)
        or pa.types.is_fixed_size_binary(dtype)
    ):
        return pa.string()
    if pa.types.is_large_binary(dtype):
        return pa.large_string()
    return dtype


def model_array(column: pa.Array) -> pa.Array:
    """A column in its model type (``model_type``); binary that is not UTF-8 raises
    ``pa.ArrowInvalid``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    target = model_type(column.type)
    return column if target == column.type else column.cast(target)


def temporal_ints(column: pa.Array) -> pa.Array:
    """The stored integers of a temporal array (days for date32, ticks otherwise)."""
    narrow = pa.types.is_date32(column.type) or pa.types.is_time32(column.type)
    return column.cast(pa.int32() if narrow else pa.int64())


def to_float(column: pa.Array) -> np.ndarray:
    """A numeric, decimal or temporal Arrow array as float64, NaN for nulls."""
    if pa.types.is_temporal(column.type):
        column = temporal_ints(column)
    elif pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type):
        column = column.cast(pa.float64())
    return column.to_numpy(zero_copy_only=False).astype(np.float64)


def from_float(values: np.ndarray, dtype: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    """Float64 values (NaN for null, unless ``null`` gives the null rows) as an Arrow array of
    ``dtype``; integers are kept inside the type's range."""
    if null is None:
        null = np.isnan(values)
    mask = null if null.any() else None
    if pa.types.is_integer(dtype) or pa.types.is_temporal(dtype):
        rounded = np.round(np.where(null | ~np.isfinite(values), 0, values))
        if pa.types.is_unsigned_integer(dtype):
            top = float(np.iinfo(dtype.to_pandas_dtype()).max)
            ints = np.clip(rounded, 0, top).astype(np.uint64)
            return pa.array(ints, pa.uint64(), mask=mask).cast(dtype, safe=False)
        ints = np.clip(rounded, -(2.0**63), 2.0**63 - 1024).astype(np.int64)
        if pa.types.is_date32(dtype) or pa.types.is_time32(dtype):
            return pa.array(ints.astype(np.int32), pa.int32(), mask=mask).cast(dtype)
        return pa.array(ints, pa.int64(), mask=mask).cast(dtype, safe=False)
    return pa.array(np.where(null, 0.0, values), pa.float64(), mask=mask).cast(dtype, safe=False)


# Special float values kept as states of their own, distinct from null and from each other.
SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _special_masks(column: pa.Array, values: np.ndarray) -> dict[str, np.ndarray]:
    null = column.is_null().to_numpy(zero_copy_only=False)
    return {
        "nan": np.isnan(values) & ~null,
        "inf": np.isposinf(values),
        "-inf": np.isneginf(values),
    }


@dataclass
class NumberColumn(ColumnCodec):
    """Integers, floats and decimals: one binned variable; NaN, +inf and -inf of float
    columns are states of their own (after the codec's bins and null state)."""

    kind: ClassVar[str] = "number"
    name: str
    codec: NumericCodec
    specials: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls, name: str, column: pa.Array, protect: bool, scale: int | None = None
    ) -> NumberColumn:
        step = 10.0**-scale if scale is not None and pa.types.is_decimal(column.type) else None
        values = to_float(column)
        specials: tuple[str, ...] = ()
        if pa.types.is_floating(column.type):
            masks = _special_masks(column, values)
            least = RARE_SPECIAL if protect else 1
            specials = tuple(k for k, m in masks.items() if m.sum() >= least)
            kept = np.ones(len(values), bool)
            for special in specials:
                kept &= ~masks[special]
            values = _without(values, masks, ())[kept]
        return cls(name, NumericCodec.fit(values, protect, step=step), specials)

    def variables(self) -> list[VariableSpec]:
        coarse = self.codec.coarse
        if self.specials:
            top = int(coarse.max(initial=-1)) + 1
            coarse = np.r_[coarse, np.arange(top, top + len(self.specials))].astype(np.int32)
        return [VariableSpec("", self.codec.states + len(self.specials), coarse)]

    def encode(self, column: pa.Array, rng: np.random.Generator) -> list[np.ndarray]:
        values = to_float(column)
        if not self.specials:
            return [self.codec.encode(_finite(values))]
        masks = _special_masks(column, values)
        codes = self.codec.encode(_without(values, masks, self.specials))
        for i, special in enumerate(self.specials):
            codes[masks[special]] = self.codec.states + i
        return [codes]

    def decode(self, codes, rng, dtype):
        codes = codes[0]
        values = self.codec.decode(np.minimum(codes, self.codec.states - 1), rng)
        null = np.isnan(values) & (codes < self.codec.states)
        for i, special in enumerate(self.specials):
            values[codes == self.codec.states + i] = SPECIALS[special]
        return from_float(values, dtype, null)

    def to_state(self, prefix):
        meta, arrays = self.codec.to_state(prefix)
        return {**meta, "specials": list(self.specials)}, arrays, {}

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> NumberColumn:
        specials = tuple(meta.get("specials", ()))
        return cls(name, NumericCodec.from_state(meta, arrays, prefix), specials)


# With value protection, a special float value (NaN, +inf, -inf) seen fewer times than this is
# not a state of its own: NaN counts as null, infinities as the most extreme finite values.
RARE_SPECIAL = 5


def _finite(values: np.ndarray) -> np.ndarray:
    """Infinities (of columns that kept none as states) moved to the finite extremes."""
    inf = np.isinf(values)
    if not inf.any():
        return values
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 0.0)
    return np.where(np.isposinf(values), high, np.where(np.isneginf(values), low, values))


def _without(values: np.ndarray, masks: dict[str, np.ndarray], specials) -> np.ndarray:
    """Values for the bins: kept specials out of the way (as null), the others made finite."""
    out = _finite(values)
    for special in specials:
        out = np.where(masks[special], np.nan, out)
    return out


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
        return self.codec.decode(codes[0], dtype, rng)

    def to_state(self, prefix):
        return self.codec.to_state(prefix)

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> CategoryColumn:
        return cls(name, CategoricalCodec.from_state(meta, arrays, tables, prefix))
