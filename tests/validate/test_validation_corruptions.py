"""Every corruption of a generated dataset is caught, named by table, column and expectation.

Each test generates a fresh dataset with the independent baseline, corrupts one parquet part in
one way, validates it and reads the failure message.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest


def set_value(table: pa.Table, column: str, row: int, value) -> pa.Table:
    """``table`` with one cell replaced, keeping the column's type."""
    index = table.schema.get_field_index(column)
    values = table.column(column).to_pylist()
    values[row] = value
    return table.set_column(index, table.field(index), pa.array(values, table.field(index).type))


@pytest.fixture
def only_failure(failed):
    """The message of the first failed entry for a table, expectation and column."""

    def find(result, table, expectation, column=None) -> str:
        assert not result.success
        entries = failed(result, table, expectation, column)
        assert entries, result.summary()
        return entries[0]["message"]

    return find


def test_a_clean_dataset_passes(generate, validate):
    assert validate(generate("shop")).success


def test_null_in_a_non_null_column_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "customers", lambda t: set_value(t, "segment", 3, None))
    message = only_failure(
        validate(ds), "customers", "expect_column_values_to_not_be_null", "segment"
    )
    assert message.startswith("customers.segment: expect_column_values_to_not_be_null failed")
    assert "1 of" in message


def test_duplicate_primary_key_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: set_value(t, "order_id", 1, t.column("order_id")[0].as_py()))
    message = only_failure(validate(ds), "orders", "expect_column_values_to_be_unique", "order_id")
    assert "orders.order_id" in message and "duplicated" in message


def test_duplicate_compound_key_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")

    def duplicate_key(t):
        t = set_value(t, "order_id", 1, t.column("order_id")[0].as_py())
        return set_value(t, "line_no", 1, t.column("line_no")[0].as_py())

    corrupt(ds, "order_lines", duplicate_key)
    message = only_failure(validate(ds), "order_lines", "expect_compound_columns_to_be_unique")
    assert message.startswith("order_lines.order_id,line_no: expect_compound_columns_to_be_unique")


def test_orphaned_foreign_key_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: set_value(t, "customer_id", 0, 999_999))
    message = only_failure(
        validate(ds), "orders", "expect_foreign_keys_to_have_no_orphans", "customer_id"
    )
    assert "orders.customer_id" in message and "1 orphaned row" in message
    assert "customers.customer_id" in message and "999999" in message


def test_orphaned_key_into_an_original_data_table_is_caught(
    generate, corrupt, validate, only_failure
):
    ds = generate("shop")
    corrupt(ds, "order_lines", lambda t: set_value(t, "product_id", 0, "P99"))
    message = only_failure(
        validate(ds), "order_lines", "expect_foreign_keys_to_have_no_orphans", "product_id"
    )
    assert "products.product_id" in message and '"P99"' in message


def test_unseen_category_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: set_value(t, "status", 2, "lost"))
    message = only_failure(validate(ds), "orders", "expect_column_values_to_be_in_set", "status")
    assert "orders.status" in message and '"lost"' in message


def test_out_of_range_number_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "customers", lambda t: set_value(t, "score", 0, 1e6))
    message = only_failure(validate(ds), "customers", "expect_column_values_to_be_between", "score")
    assert "customers.score" in message and "1000000.0" in message


def test_out_of_range_datetime_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: set_value(t, "ordered_at", 0, datetime(2099, 1, 1)))
    message = only_failure(
        validate(ds), "orders", "expect_column_values_to_be_between", "ordered_at"
    )
    assert "orders.ordered_at" in message and "2099" in message


def test_out_of_range_date_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("demo")
    corrupt(ds, "surveys", lambda t: set_value(t, "survey_date", 0, datetime(1900, 1, 1).date()))
    message = only_failure(
        validate(ds), "surveys", "expect_column_values_to_be_between", "survey_date"
    )
    assert "surveys.survey_date" in message and "1900" in message


def test_wrong_row_count_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("demo", sizes={"plots": 12})
    corrupt(ds, "species", lambda t: t.slice(0, t.num_rows - 1))
    message = only_failure(validate(ds), "species", "expect_table_row_count_to_equal")
    assert message == (
        "species: expect_table_row_count_to_equal failed: expected 54 rows, found 53"
    )


def test_missing_column_is_caught(generate, corrupt, validate, only_failure, failed):
    ds = generate("shop")
    corrupt(ds, "customers", lambda t: t.drop_columns(["score"]))
    message = only_failure(validate(ds), "customers", "expect_table_columns_to_match_set")
    assert "missing column(s) score" in message
    assert failed(validate(ds), "customers", "expect_column_arrow_type_to_be", "score")


def test_extra_column_is_caught(generate, corrupt, validate, only_failure, failed):
    ds = generate("shop", partitions=2)
    corrupt(ds, "orders", lambda t: t.append_column("leak", pa.array(["x"] * t.num_rows)))
    result = validate(ds)
    message = only_failure(result, "orders", "expect_table_columns_to_match_set")
    assert message.startswith("orders: expect_table_columns_to_match_set failed")
    assert "unexpected column(s) leak" in message
    assert result.failures() == [message]  # the other part and the relational checks still run


def test_wrong_type_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop")
    corrupt(ds, "customers", lambda t: t.set_column(3, "score", pc.cast(t["score"], pa.string())))
    message = only_failure(validate(ds), "customers", "expect_column_arrow_type_to_be", "score")
    assert message.startswith(
        "customers.score: expect_column_arrow_type_to_be failed: expected type double, found string"
    )


def test_same_key_in_two_partitions_is_caught(generate, corrupt, validate, only_failure):
    ds = generate("shop", partitions=2)
    first = None

    def remember(t):
        nonlocal first
        first = t.column("customer_id")[0].as_py()
        return t

    corrupt(ds, "customers", remember, part=0)
    corrupt(ds, "customers", lambda t: set_value(t, "customer_id", 0, first), part=1)
    message = only_failure(
        validate(ds), "customers", "expect_keys_to_be_unique_across_partitions", "customer_id"
    )
    assert "1 key value(s) occur in more than one partition" in message


def test_children_per_parent_outside_training_bounds_is_caught(
    generate, corrupt, validate, only_failure
):
    ds = generate("demo")
    corrupt(
        ds,
        "surveys",
        lambda t: t.set_column(1, "plot_id", pa.array([t["plot_id"][0].as_py()] * t.num_rows)),
    )
    message = only_failure(
        validate(ds), "surveys", "expect_children_per_parent_to_be_between", "plot_id"
    )
    assert "plots row(s) have a number of children outside" in message
