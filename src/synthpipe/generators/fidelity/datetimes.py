"""Dates and datetimes with their calendar structure: week, weekday and time of day.

A date is split into the week it falls in (binned like any number) and its weekday (Monday 0
to Sunday 6, a variable of its own, so working days, weekends and how they depend on other
columns are learned); a datetime adds its time of day, binned and drawn at the source's
resolution (whole hours stay whole hours). Sampled parts are put together again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.columns import ColumnCodec, VariableSpec, temporal_ints
from synthpipe.generators.fidelity.numeric import NumericCodec

_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
# 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday.
_EPOCH_SHIFT = 3


def ticks_per_day(dtype: pa.DataType) -> int:
    """How many stored units make a day: 1 for dates, 86400 seconds' worth for timestamps."""
    if pa.types.is_timestamp(dtype):
        return 86_400 * _TICKS_PER_SECOND[dtype.unit]
    if pa.types.is_date64(dtype):
        return 86_400_000
    return 1


def to_ticks(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Int64 ticks of a temporal array and its null mask."""
    null = column.is_null().to_numpy(zero_copy_only=False)
    ticks = temporal_ints(column).fill_null(0).to_numpy(zero_copy_only=False)
    return ticks.astype(np.int64), null


def from_ticks(ticks: np.ndarray, null: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """An Arrow temporal array from int64 ticks and a null mask."""
    mask = null if null.any() else None
    if pa.types.is_date32(dtype):
        return pa.array(ticks.astype(np.int32), pa.int32(), mask=mask).cast(dtype)
    return pa.array(ticks, pa.int64(), mask=mask).cast(dtype)


def time_step(tod: np.ndarray, per_day: int) -> float:
    """The coarsest clock unit (hour, minute, second, ...) dividing every time of day."""
    units = [per_day // 24, per_day // 1440, per_day // 86_400]
    units += [u for u in (per_day // 86_400_000, per_day // 86_400_000_000) if u >= 1]
    sample = tod[:: max(1, len(tod) // 20_000)]
    for unit in units:
        if unit >= 1 and np.all(sample % unit == 0):
            return float(unit)
    return 1.0


@dataclass
class DateTimeColumn(ColumnCodec):
    """A date or datetime column as week, weekday and (for datetimes) time-of-day variables."""

    kind: ClassVar[str] = "datetime"
    name: str
    per_day: int
    week: NumericCodec
    weekday: NumericCodec
    time: NumericCodec | None
    # Training range in ticks: week x weekday recombination must never leave it.
    bounds: tuple[int, int] | None = None

    @classmethod
    def fit(cls, name: str, column: pa.Array, protect: bool) -> DateTimeColumn:
        per_day = ticks_per_day(column.type)
        ticks, null = to_ticks(column)
        week, weekday, tod = _split(ticks, per_day)
        week = np.where(null, np.nan, week)
        weekday, tod = _impute(weekday, null), _impute(tod, null)
        has_time = per_day > 1 and bool(np.any(tod[~null] != 0))
        return cls(
            name,
            per_day,
            NumericCodec.fit(week, protect, step=1.0),
            NumericCodec.fit(weekday, protect, step=1.0),
            NumericCodec.fit(tod, protect, step=time_step(tod[~null].astype(np.int64), per_day))
            if has_time
            else None,
            (int(ticks[~null].min()), int(ticks[~null].max())) if np.any(~null) else None,
        )

    def variables(self) -> list[VariableSpec]:
        out = [
            VariableSpec("week", self.week.states, self.week.coarse),
            VariableSpec("weekday", self.weekday.states, self.weekday.coarse),
        ]
        if self.time is not None:
            out.append(VariableSpec("time", self.time.states, self.time.coarse))
        return out

    def encode(self, column, rng):
        ticks, null = to_ticks(column)
        week, weekday, tod = _split(ticks, self.per_day)
        codes = [
            self.week.encode(np.where(null, np.nan, week)),
            self.weekday.encode(_impute(weekday, null, rng)),
        ]
        if self.time is not None:
            codes.append(self.time.encode(_impute(tod, null, rng)))
        return codes

    def decode(self, codes, rng, dtype):
        week = self.week.decode(codes[0], rng)
        null = np.isnan(week)
        weekday = np.nan_to_num(self.weekday.decode(codes[1], rng))
        days = np.where(null, 0, week * 7 + weekday - _EPOCH_SHIFT).astype(np.int64)
        ticks = days * self.per_day
        if self.time is not None:
            tod = np.nan_to_num(self.time.decode(codes[2], rng))
            ticks = ticks + np.clip(np.round(tod), 0, self.per_day - 1).astype(np.int64)
        if self.bounds is not None:
            ticks = np.clip(ticks, *self.bounds)
        return from_ticks(ticks, null, dtype)

    def to_state(self, prefix):
        meta = {
            "per_day": self.per_day,
            "has_time": self.time is not None,
            "bounds": list(self.bounds) if self.bounds else None,
        }
        arrays: dict[str, np.ndarray] = {}
        for part in ("week", "weekday", "time"):
            codec = getattr(self, part)
            if codec is not None:
                meta[part], more = codec.to_state(f"{prefix}.{part}")
                arrays.update(more)
        return meta, arrays, {}

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> DateTimeColumn:
        def part(p):
            return NumericCodec.from_state(meta[p], arrays, f"{prefix}.{p}")

        return cls(
            name,
            meta["per_day"],
            part("week"),
            part("weekday"),
            part("time") if meta["has_time"] else None,
            tuple(meta["bounds"]) if meta.get("bounds") else None,
        )


def _split(ticks: np.ndarray, per_day: int):
    days = np.floor_divide(ticks, per_day)
    tod = (ticks - days * per_day).astype(np.float64)
    shifted = days + _EPOCH_SHIFT
    return (
        np.floor_divide(shifted, 7).astype(np.float64),
        np.mod(shifted, 7).astype(np.float64),
        tod,
    )


def _impute(values: np.ndarray, null: np.ndarray, rng: np.random.Generator | None = None):
    """Fill the parts of null rows with parts of random non-null rows (they are not used)."""
    if not null.any() or null.all():
        return np.where(null, 0.0, values)
    rng = rng or np.random.default_rng(0)
    donors = values[~null]
    out = values.copy()
    out[null] = donors[rng.integers(0, len(donors), int(null.sum()))]
    return out
