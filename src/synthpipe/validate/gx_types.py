"""A Great Expectations expectation for the exact Arrow type of a column.

GX's ``expect_column_type_to_be`` compares pandas dtype names, which cannot spell many Arrow
types (``decimal128(10, 2)``, dictionaries); this subclass compares the Arrow type of an
``ArrowDtype`` column with the name Arrow gives it, e.g. ``int64``, ``timestamp[us]`` or
``decimal128(10, 2)``. Importing this module imports GX and registers the expectation as
``expect_column_arrow_type_to_be``.
"""

from __future__ import annotations

import great_expectations.expectations as gxe


class ExpectColumnArrowTypeToBe(gxe.ExpectColumnTypeToBe):
    """Expect a column to have exactly this Arrow type (validated on ArrowDtype frames)."""

    def _validate_pandas(self, actual_column_type, expected_type):
        observed = str(getattr(actual_column_type, "pyarrow_dtype", actual_column_type))
        return {"success": observed == expected_type, "result": {"observed_value": observed}}
