"""The shared SQL base on its own: quoting, staging names, type mapping, append rules."""

from __future__ import annotations

import pytest

from synthpipe.connectors.appending import appendable
from synthpipe.connectors.sql import Dialect, scrub
from synthpipe.errors import ConnectorError
from synthpipe.schema import Column
from synthpipe.schema import LogicalType as T


def test_quotes_are_doubled_inside_quoted_identifiers():
    assert Dialect().quote('a"; drop table x; --') == '"a""; drop table x; --"'
    assert Dialect().qualify("s", "t") == '"s"."t"'


def test_an_identifier_with_a_nul_character_is_refused():
    with pytest.raises(ConnectorError, match="NUL"):
        Dialect().quote("a\x00b")


def test_staging_names_fit_the_identifier_limit_in_bytes():
    name = Dialect().stage_name("ü" * 80, "abc123")
    assert name.startswith("_sp_abc123_") and len(name.encode()) <= 63


def test_long_names_sharing_a_beginning_stage_apart():
    d = Dialect()
    assert d.stage_name("x" * 70 + "a", "t") != d.stage_name("x" * 70 + "b", "t")


def test_decimals_take_precision_and_scale_or_a_wide_default():
    d = Dialect()
    assert d.column_type(Column(name="a", type=T.DECIMAL, precision=9, scale=2)) == "NUMERIC(9, 2)"
    assert d.column_type(Column(name="a", type=T.DECIMAL)) == "NUMERIC(38, 10)"


@pytest.mark.parametrize(
    ("catalog", "logical"),
    [
        ("INTEGER", T.INTEGER),
        ("bigint", T.INTEGER),
        ("numeric(5,2)", T.DECIMAL),
        ("double precision", T.FLOAT),
        ("boolean", T.BOOLEAN),
        ("date", T.DATE),
        ("timestamp with time zone", T.DATETIME),
        ("enum('a')", T.CATEGORICAL),
        ("uuid", T.STRING),
    ],
)
def test_catalog_types_map_to_logical_types(catalog, logical):
    assert Dialect().logical_type(catalog) is logical


@pytest.mark.parametrize(
    ("given", "target", "ok"),
    [
        (T.INTEGER, T.FLOAT, True),
        (T.FLOAT, T.INTEGER, False),
        (T.DATE, T.DATETIME, True),
        (T.CATEGORICAL, T.STRING, True),
        (T.INTEGER, T.STRING, False),
        (T.BOOLEAN, T.INTEGER, False),
    ],
)
def test_append_accepts_only_widening_types(given, target, ok):
    assert appendable(given, target) is ok


def test_scrub_replaces_every_secret():
    assert scrub("pw=hunter2 again hunter2", ["hunter2", None]) == "pw=*** again ***"
