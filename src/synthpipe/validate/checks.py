"""One check of a table: a Great Expectations expectation or a relational check GX lacks.

A ``Check`` is plain data (JSON-safe ``kwargs``), so suites can be derived, listed, switched off
and stored without importing Great Expectations. ``batch`` says where it is evaluated:

- ``schema``: by GX on the schema of every parquet part (an empty frame with the part's exact
  Arrow types), for the column set and the column types;
- ``rows``: by GX on the rows, one chunk of parts at a time;
- ``dataset``: by synthpipe over all parts of the dataset at once, in DuckDB or from parquet
  metadata: row counts, orphaned foreign keys, keys repeated across partitions and
  children-per-parent bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Batch = Literal["schema", "rows", "dataset"]

# The exact Arrow type of a column (GX's own expect_column_type_to_be only knows pandas names).
ARROW_TYPE = "expect_column_arrow_type_to_be"
COLUMN_SET = "expect_table_columns_to_match_set"
ROW_COUNT = "expect_table_row_count_to_equal"
NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
# Relational checks, evaluated by synthpipe over all parts.
NO_ORPHANS = "expect_foreign_keys_to_have_no_orphans"
UNIQUE_ACROSS_PARTITIONS = "expect_keys_to_be_unique_across_partitions"
CHILDREN_PER_PARENT = "expect_children_per_parent_to_be_between"

RELATIONAL = {ROW_COUNT, NO_ORPHANS, UNIQUE_ACROSS_PARTITIONS, CHILDREN_PER_PARENT}


# eq=False: checks are told apart by identity (their kwargs are dicts, not hashable).
@dataclass(frozen=True, eq=False)
class Check:
    """One expectation of one table, derived from training or added by the user."""

    table: str
    type: str
    kwargs: dict = field(default_factory=dict)
    batch: Batch = "rows"
    source: Literal["derived", "user"] = "derived"

    @property
    def columns(self) -> list[str]:
        """The columns the check is about ([] for table-level checks)."""
        if "column" in self.kwargs:
            return [self.kwargs["column"]]
        return list(self.kwargs.get("column_list") or [])

    @property
    def column(self) -> str | None:
        """The columns as one label, e.g. ``order_id,line_no``; None for table-level checks."""
        return ",".join(self.columns) or None

    @property
    def name(self) -> str:
        """``table.column.expectation`` or ``table.expectation``: what ``disable`` matches."""
        parts = [self.table, self.column, self.type]
        return ".".join(p for p in parts if p)

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "column": self.column,
            "expectation": self.type,
            "kwargs": self.kwargs,
            "batch": self.batch,
            "source": self.source,
        }
