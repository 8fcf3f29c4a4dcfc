"""Choosing a codec for each column from its configured type, encoding and values.

An explicit encoding wins; AUTO follows the logical type. A string column is categorical when
its frequent values cover most rows, free text when its values are sentences, and otherwise
a structured string (IDs, codes, emails) generated character by character.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.fidelity.categorical import RARE_MIN_COUNT, CategoricalCodec
from synthpipe.generators.fidelity.characters import CharacterColumn
from synthpipe.generators.fidelity.columns import CategoryColumn, ColumnCodec, NumberColumn
from synthpipe.generators.fidelity.datetimes import DateTimeColumn
from synthpipe.generators.fidelity.geo import LatLongColumn
from synthpipe.generators.fidelity.text import TextColumn
from synthpipe.schema import Column, EncodingType, LogicalType, ModelConfiguration

CODECS: dict[str, type] = {
    c.kind: c
    for c in (
        NumberColumn,
        CategoryColumn,
        DateTimeColumn,
        LatLongColumn,
        CharacterColumn,
        TextColumn,
    )
}
# A string column is categorical when categories seen RARE_MIN_COUNT times cover this share.
CATEGORICAL_COVERAGE = 0.8
# ... or when it has at most this many distinct values, each seen twice on average;
SMALL_DISTINCT = 100
# ... and free text when its values have at least this many words on average.
TEXT_WORDS = 4.0

_NUMERIC = (LogicalType.INTEGER, LogicalType.FLOAT, LogicalType.DECIMAL)
_TEMPORAL = (LogicalType.DATE, LogicalType.DATETIME)


def choose_codec(
    name: str, array: pa.Array, column: Column | None, settings: ModelConfiguration
) -> ColumnCodec:
    """Fit the codec that suits a column."""
    protect = settings.value_protection
    kind = codec_kind(array, column)
    if kind == "category":
        method = settings.rare_category_replacement_method
        return CategoryColumn(name, CategoricalCodec.fit(array, protect, method))
    if kind == "number":
        scale = column.scale if column is not None else None
        return NumberColumn.fit(name, array, protect, scale=scale)
    return CODECS[kind].fit(name, array, protect)


def codec_kind(array: pa.Array, column: Column | None) -> str:
    """The codec kind for a column: number, category, datetime, lat_long, characters or text."""
    dtype = array.type
    logical = column.type if column is not None else None
    encoding = column.encoding if column is not None else EncodingType.AUTO
    explicit = _by_encoding(encoding, dtype)
    if explicit is not None:
        return explicit
    if logical is LogicalType.LAT_LONG:
        return "lat_long"
    if pa.types.is_time(dtype) or pa.types.is_duration(dtype):  # clock times, elapsed times
        return "number"
    if logical is LogicalType.TEXT and _is_string(dtype):
        return "text"
    if (
        pa.types.is_boolean(dtype)
        or pa.types.is_dictionary(dtype)
        or logical in (LogicalType.CATEGORICAL, LogicalType.BOOLEAN)
    ):
        return "category"
    if pa.types.is_temporal(dtype) and (logical in _TEMPORAL or logical is None):
        return "datetime"
    if _is_number(dtype):
        return "number"
    if _is_string(dtype):
        return _string_kind(array)
    return "category"


def _by_encoding(encoding: EncodingType, dtype: pa.DataType) -> str | None:
    numeric = _is_number(dtype)
    temporal = pa.types.is_temporal(dtype)
    string = _is_string(dtype)
    choices = {
        EncodingType.TABULAR_CATEGORICAL: "category",
        EncodingType.TABULAR_NUMERIC_DISCRETE: "category",
        EncodingType.TABULAR_NUMERIC_AUTO: "number" if numeric else None,
        EncodingType.TABULAR_NUMERIC_BINNED: "number" if numeric else None,
        EncodingType.TABULAR_NUMERIC_DIGIT: "number" if numeric else None,
        EncodingType.TABULAR_DATETIME: "datetime" if temporal else None,
        EncodingType.TABULAR_DATETIME_RELATIVE: "datetime" if temporal else None,
        EncodingType.TABULAR_CHARACTER: "characters" if string else None,
        EncodingType.TABULAR_LAT_LONG: "lat_long",
        EncodingType.LANGUAGE_TEXT: "text" if string else None,
    }
    return choices.get(encoding)


def _string_kind(array: pa.Array) -> str:
    values = array.drop_null()
    if len(values) == 0:
        return "category"
    counts = pc.value_counts(values).field("counts").to_numpy()
    if counts[counts >= RARE_MIN_COUNT].sum() >= CATEGORICAL_COVERAGE * len(values):
        return "category"
    if len(counts) <= min(SMALL_DISTINCT, len(values) // 2):  # few values, each repeated
        return "category"
    sample = values.slice(0, 2000)
    words = pc.count_substring_regex(sample, r"\S+").to_numpy(zero_copy_only=False)
    return "text" if float(np.mean(words)) >= TEXT_WORDS else "characters"


def _is_string(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def _is_number(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_time(dtype)
        or pa.types.is_duration(dtype)
    )
