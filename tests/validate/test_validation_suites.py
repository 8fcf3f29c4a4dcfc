"""Deriving suites from a generator's training schema and statistics (no data is read)."""

from __future__ import annotations

import pytest

from synthpipe.errors import ConfigError
from synthpipe.pipeline import Validation
from synthpipe.schema import RARE_TOKEN
from synthpipe.store import Store
from synthpipe.validate import derive_suites


@pytest.fixture
def shop(store_home):
    return Store(store_home).generator("shop")


@pytest.fixture
def demo(store_home):
    return Store(store_home).generator("demo")


def reference(store_home, generator):
    return Store(store_home).generator_dir(generator.id) / "reference" / "train"


def find(suite, expectation, column=None):
    return [k for k in suite if k.type == expectation and (column is None or k.column == column)]


def test_column_set_is_the_output_columns_without_dropped_ones(shop):
    suite = derive_suites(shop, {})["customers"]
    (columns,) = find(suite, "expect_table_columns_to_match_set")
    expected = ["customer_id", "segment", "signup", "score", "active", "balance", "ratio", "email"]
    assert columns.kwargs["column_set"] == expected
    assert columns.batch == "schema"


def test_column_types_are_the_exact_training_arrow_types(shop):
    suite = derive_suites(shop, {})["orders"]
    types = {k.column: k.kwargs["type_"] for k in find(suite, "expect_column_arrow_type_to_be")}
    assert types == {
        "order_id": "string",
        "customer_id": "int64",
        "status": "string",
        "amount": "decimal128(10, 2)",
        "ordered_at": "timestamp[us]",
    }


def test_not_null_is_derived_only_where_training_had_no_nulls(shop):
    suite = derive_suites(shop, {})["customers"]
    not_null = {k.column for k in find(suite, "expect_column_values_to_not_be_null")}
    assert "segment" in not_null
    assert "score" not in not_null  # training had nulls


def test_floats_are_not_null_only_where_training_had_no_nan_either(store_home, shop):
    suite = derive_suites(shop, {}, reference=reference(store_home, shop))["customers"]
    not_null = {k.column for k in find(suite, "expect_column_values_to_not_be_null")}
    assert "balance" in not_null
    assert "ratio" not in not_null  # NaN in training: pandas would count it as missing


def test_float_not_null_is_derived_when_statistics_count_no_nan(shop):
    assert shop.statistics["customers"]["balance"]["nan_count"] == 0
    suite = derive_suites(shop, {})["customers"]
    assert "balance" in {k.column for k in find(suite, "expect_column_values_to_not_be_null")}


def test_single_primary_key_gets_the_unique_expectation(shop):
    suite = derive_suites(shop, {})["orders"]
    assert [k.column for k in find(suite, "expect_column_values_to_be_unique")] == ["order_id"]


def test_compound_primary_key_gets_the_compound_expectation(shop):
    suite = derive_suites(shop, {})["order_lines"]
    (compound,) = find(suite, "expect_compound_columns_to_be_unique")
    assert compound.kwargs["column_list"] == ["order_id", "line_no"]
    assert not find(suite, "expect_column_values_to_be_unique")


def test_category_value_sets_allow_the_rare_token_under_constant_protection(shop):
    suite = derive_suites(shop, {})["customers"]
    (segment,) = find(suite, "expect_column_values_to_be_in_set", "segment")
    assert set(segment.kwargs["value_set"]) == {
        "retail",
        "business",
        "public",
        "student",
        "vip",
        RARE_TOKEN,
    }


def test_original_data_value_sets_have_no_rare_token(shop):
    suite = derive_suites(shop, {})["products"]
    (name,) = find(suite, "expect_column_values_to_be_in_set", "name")
    assert RARE_TOKEN not in name.kwargs["value_set"]


def test_numeric_and_datetime_ranges_are_the_training_bounds(shop):
    stats = shop.statistics["customers"]
    suite = derive_suites(shop, {})["customers"]
    (score,) = find(suite, "expect_column_values_to_be_between", "score")
    (signup,) = find(suite, "expect_column_values_to_be_between", "signup")
    assert (score.kwargs["min_value"], score.kwargs["max_value"]) == (
        stats["score"]["min"],
        stats["score"]["max"],
    )
    assert signup.kwargs["min_value"] == f"{stats['signup']['min']} 00:00:00"


def test_keys_get_no_ranges_or_value_sets(shop):
    suite = derive_suites(shop, {})["order_lines"]
    checked = {
        k.column
        for k in suite
        if k.type in ("expect_column_values_to_be_between", "expect_column_values_to_be_in_set")
    }
    assert checked == {"quantity"}


def test_fake_columns_are_only_checked_for_presence_and_type(shop):
    suite = derive_suites(shop, {})["customers"]
    assert [k.type for k in suite if k.column == "email"] == ["expect_column_arrow_type_to_be"]


def test_root_row_count_defaults_to_training_rows(shop):
    (count,) = find(derive_suites(shop, {})["customers"], "expect_table_row_count_to_equal")
    assert count.kwargs["value"] == shop.training_rows["customers"]
    assert count.batch == "dataset"


def test_root_row_count_is_the_requested_size(demo):
    (count,) = find(
        derive_suites(demo, {"sizes": {"plots": 7}})["plots"], "expect_table_row_count_to_equal"
    )
    assert count.kwargs["value"] == 7


def test_original_data_row_count_is_its_training_rows(demo):
    (count,) = find(derive_suites(demo, {})["species"], "expect_table_row_count_to_equal")
    assert count.kwargs["value"] == demo.training_rows["species"] == 54


def test_child_tables_are_bounded_per_parent_not_counted(store_home, demo):
    suite = derive_suites(demo, {}, reference=reference(store_home, demo))["surveys"]
    assert not find(suite, "expect_table_row_count_to_equal")
    (bounds,) = find(suite, "expect_children_per_parent_to_be_between")
    assert 0 <= bounds.kwargs["min_value"] <= bounds.kwargs["max_value"]
    assert bounds.kwargs["referenced_table"] == "plots"


def test_children_bounds_are_dropped_when_the_child_size_is_requested(store_home, demo):
    spec = {"sizes": {"surveys": 100}}
    suite = derive_suites(demo, spec, reference=reference(store_home, demo))["surveys"]
    assert not find(suite, "expect_children_per_parent_to_be_between")
    assert find(suite, "expect_table_row_count_to_equal")[0].kwargs["value"] == 100


def test_every_foreign_key_gets_an_orphan_check(shop):
    suite = derive_suites(shop, {})["order_lines"]
    orphans = find(suite, "expect_foreign_keys_to_have_no_orphans")
    assert {k.kwargs["referenced_table"] for k in orphans} == {"orders", "products"}


def test_disable_by_column_and_expectation_drops_only_that_check(shop):
    settings = Validation(disable=["customers.segment.expect_column_values_to_be_in_set"])
    suite = derive_suites(shop, {}, settings)["customers"]
    assert not find(suite, "expect_column_values_to_be_in_set", "segment")
    assert find(suite, "expect_column_values_to_be_in_set", "active")


def test_disable_by_table_and_expectation_drops_it_on_every_column(shop):
    settings = Validation(disable=["customers.expect_column_values_to_not_be_null"])
    suite = derive_suites(shop, {}, settings)["customers"]
    assert not find(suite, "expect_column_values_to_not_be_null")
    assert find(derive_suites(shop, {}, settings)["orders"], "expect_column_values_to_not_be_null")


def test_disable_entry_matching_nothing_is_a_config_error(shop):
    with pytest.raises(ConfigError, match=r"customers\.segmnt"):
        derive_suites(shop, {}, Validation(disable=["customers.segmnt"]))


def test_user_expectations_are_added_to_their_table(shop):
    extra = {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "score"}}
    settings = Validation(expectations={"customers": [extra]})
    suite = derive_suites(shop, {}, settings)["customers"]
    (added,) = find(suite, "expect_column_mean_to_be_between")
    assert added.source == "user" and added.kwargs == {"column": "score"}


def test_user_expectations_for_an_unknown_table_are_a_config_error(shop):
    settings = Validation(expectations={"clients": [{"type": "expect_column_to_exist"}]})
    with pytest.raises(ConfigError, match="unknown table 'clients'"):
        derive_suites(shop, {}, settings)
