"""Mapping between Arrow types and synthpipe's logical column types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthpipe.schema import Column, LogicalType

if TYPE_CHECKING:
    import pyarrow as pa


def logical_type(dtype: pa.DataType) -> LogicalType:
    """The logical type of an Arrow type."""
    import pyarrow as pa

    checks = [
        (pa.types.is_boolean, LogicalType.BOOLEAN),
        (pa.types.is_integer, LogicalType.INTEGER),
        (pa.types.is_floating, LogicalType.FLOAT),
        (pa.types.is_decimal, LogicalType.DECIMAL),
        (pa.types.is_date, LogicalType.DATE),
        (pa.types.is_timestamp, LogicalType.DATETIME),
        (pa.types.is_dictionary, LogicalType.CATEGORICAL),
    ]
    for check, logical in checks:
        if check(dtype):
            return logical
    return LogicalType.STRING


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type synthpipe uses for a logical column type."""
    import pyarrow as pa

    if column.type is LogicalType.DECIMAL:
        return pa.decimal128(column.precision or 38, column.scale or 0)
    return {
        LogicalType.BOOLEAN: pa.bool_(),
        LogicalType.INTEGER: pa.int64(),
        LogicalType.FLOAT: pa.float64(),
        LogicalType.DATE: pa.date32(),
        LogicalType.DATETIME: pa.timestamp("us"),
    }.get(column.type, pa.string())


def columns_from_arrow(schema: pa.Schema, non_null: set[str] = frozenset()) -> list[Column]:
    """Columns of an Arrow schema; ``non_null`` names columns known to hold no nulls."""
    import pyarrow as pa

    columns = []
    for field in schema:
        dtype = field.type
        precision = dtype.precision if pa.types.is_decimal(dtype) else None
        scale = dtype.scale if pa.types.is_decimal(dtype) else None
        columns.append(
            Column(
                name=field.name,
                type=logical_type(dtype),
                nullable=field.nullable and field.name not in non_null,
                precision=precision,
                scale=scale,
            )
        )
    return columns
