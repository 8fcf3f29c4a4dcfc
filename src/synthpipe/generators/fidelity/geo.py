"""Latitude/longitude pairs: two numeric variables generated one given the other.

A pair is stored as a string ``"lat, lon"`` (any separator of commas and spaces) or as a
struct of two floats. Latitude and longitude become two binned variables, so the chain
learns where points cluster and how that depends on other columns; values are drawn inside
the bins at the source's number of decimals and written back in the source's format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.fidelity.columns import ColumnCodec, VariableSpec
from synthpipe.generators.fidelity.numeric import NumericCodec

_PAIR = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([,; ]\s*)([-+]?\d+(?:\.\d+)?)\s*$")


@dataclass
class LatLongColumn(ColumnCodec):
    """A lat/long column as a latitude and a longitude variable."""

    kind: ClassVar[str] = "lat_long"
    name: str
    lat: NumericCodec
    lon: NumericCodec
    separator: str
    decimals: int

    @classmethod
    def fit(cls, name: str, column: pa.Array, protect: bool) -> LatLongColumn:
        lat, lon = split_pairs(column)
        separator = ", "
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            first = next((v for v in column.drop_null().to_pylist() if _PAIR.match(v)), None)
            separator = _PAIR.match(first).group(2) if first else ", "
        decimals = _decimals(column)
        step = 10.0**-decimals
        return cls(
            name,
            NumericCodec.fit(lat, protect, step=step),
            NumericCodec.fit(lon, protect, step=step),
            separator,
            decimals,
        )

    def variables(self) -> list[VariableSpec]:
        return [
            VariableSpec("lat", self.lat.states, self.lat.coarse),
            VariableSpec("lon", self.lon.states, self.lon.coarse),
        ]

    def encode(self, column, rng):
        lat, lon = split_pairs(column)
        return [self.lat.encode(lat), self.lon.encode(lon)]

    def decode(self, codes, rng, dtype):
        lat, lon = self.lat.decode(codes[0], rng), self.lon.decode(codes[1], rng)
        null = np.isnan(lat) | np.isnan(lon)
        if pa.types.is_struct(dtype):
            fields = [
                pa.array(np.where(null, 0.0, v), mask=null).cast(f.type)
                for v, f in zip((lat, lon), dtype, strict=False)
            ]
            return pa.StructArray.from_arrays(fields, fields=list(dtype), mask=pa.array(null))
        text = [
            None if n else f"{a:.{self.decimals}f}{self.separator}{b:.{self.decimals}f}"
            for a, b, n in zip(lat.tolist(), lon.tolist(), null.tolist(), strict=True)
        ]
        return pa.array(text, pa.string()).cast(dtype)

    def to_state(self, prefix):
        meta_lat, arrays = self.lat.to_state(f"{prefix}.lat")
        meta_lon, more = self.lon.to_state(f"{prefix}.lon")
        meta = {
            "lat": meta_lat,
            "lon": meta_lon,
            "separator": self.separator,
            "decimals": self.decimals,
        }
        return meta, {**arrays, **more}, {}

    @classmethod
    def from_state(cls, name, meta, arrays, tables, prefix) -> LatLongColumn:
        return cls(
            name,
            NumericCodec.from_state(meta["lat"], arrays, f"{prefix}.lat"),
            NumericCodec.from_state(meta["lon"], arrays, f"{prefix}.lon"),
            meta["separator"],
            meta["decimals"],
        )


def split_pairs(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes (NaN where null or unreadable) of a lat/long column."""
    if pa.types.is_struct(column.type):
        parts = [pc.struct_field(column, i).cast(pa.float64()) for i in range(2)]
        null = column.is_null().to_numpy(zero_copy_only=False)
        lat, lon = (p.to_numpy(zero_copy_only=False).astype(np.float64) for p in parts)
        return np.where(null, np.nan, lat), np.where(null, np.nan, lon)
    lat = np.full(len(column), np.nan)
    lon = np.full(len(column), np.nan)
    for i, value in enumerate(column.to_pylist()):
        match = _PAIR.match(value) if value else None
        if match:
            lat[i], lon[i] = float(match.group(1)), float(match.group(3))
    return lat, lon


def _decimals(column: pa.Array) -> int:
    """Decimals of the source's values (the most any value in a sample shows)."""
    if pa.types.is_struct(column.type):
        return 6
    sample = [v for v in column.drop_null().slice(0, 1000).to_pylist() if _PAIR.match(v)]
    digits = [
        len(part.split(".")[1])
        for v in sample
        for part in (_PAIR.match(v).group(1), _PAIR.match(v).group(3))
        if "." in part
    ]
    return max(digits, default=0)
