"""Every rule a generator config can break is reported together, before any data is read."""

from __future__ import annotations

import pytest
import yaml

import synthpipe
from synthpipe.connectors.files import FilesConnector
from synthpipe.errors import ConfigError
from synthpipe.schema import Column, GeneratorConfig, LogicalType, Table, validate_config


def _col(name, type_=LogicalType.INTEGER):
    return Column(name=name, type=type_)


def _config(*tables, **kw):
    return GeneratorConfig(tables=list(tables), **kw)


def test_valid_relational_config_has_no_problems():
    config = _config(
        Table(name="users", columns=[_col("id"), _col("age")], primary_key="id", rows=100),
        Table(
            name="orders",
            columns=[_col("id"), _col("user_id")],
            primary_key="id",
            foreign_keys=[{"column": "user_id", "referenced_table": "users", "is_context": True}],
            rows=300,
        ),
    )
    assert validate_config(config) == []


def test_unknown_column_is_named_with_the_fix():
    config = _config(Table(name="t", columns=[_col("a")], primary_key="nope", rows=50))
    [problem] = validate_config(config)
    assert "t.nope" in problem and "use one of: a" in problem


def test_foreign_key_to_table_without_primary_key():
    config = _config(
        Table(name="p", columns=[_col("id")], rows=50),
        Table(
            name="c",
            columns=[_col("pid")],
            rows=50,
            foreign_keys=[{"column": "pid", "referenced_table": "p", "is_context": True}],
        ),
    )
    assert any(
        "no primary key" in p and "set primary_key on table 'p'" in p
        for p in validate_config(config)
    )


def test_key_type_mismatch():
    config = _config(
        Table(name="p", columns=[_col("id")], primary_key="id", rows=50),
        Table(
            name="c",
            columns=[_col("pid", LogicalType.DATE)],
            rows=50,
            foreign_keys=[{"column": "pid", "referenced_table": "p", "is_context": True}],
        ),
    )
    assert any("c.pid is date but p.id is integer" in p for p in validate_config(config))


def test_two_context_keys_cycle_and_two_roots_are_all_reported():
    config = _config(
        Table(
            name="a",
            columns=[_col("id"), _col("b_id")],
            primary_key="id",
            rows=50,
            foreign_keys=[{"column": "b_id", "referenced_table": "b", "is_context": True}],
        ),
        Table(
            name="b",
            columns=[_col("id"), _col("a_id"), _col("x_id")],
            primary_key="id",
            rows=50,
            foreign_keys=[
                {"column": "a_id", "referenced_table": "a", "is_context": True},
                {"column": "x_id", "referenced_table": "x", "is_context": True},
            ],
        ),
        Table(name="x", columns=[_col("id")], primary_key="id", rows=50),
        Table(name="y", columns=[_col("id")], primary_key="id", rows=50),
    )
    problems = validate_config(config)
    assert any("table 'b' has 2 context foreign keys" in p for p in problems)
    assert any("cycle" in p and "a" in p and "b" in p for p in problems)
    assert any("2 root tables (x, y)" in p for p in problems)


def test_original_data_table_needs_an_inbound_key_and_does_not_count_as_root():
    config = _config(
        Table(name="t", columns=[_col("id")], primary_key="id", rows=50),
        Table(
            name="lookup", columns=[_col("code")], primary_key="code", original_data=True, rows=3
        ),
    )
    assert validate_config(config) == [
        "original-data table 'lookup' is not referenced by any foreign key; "
        "add a foreign key to it or drop original_data"
    ]


def test_duplicate_names_and_too_small_tables():
    config = _config(
        Table(name="t", columns=[_col("a"), _col("a")], rows=3),
        Table(name="t", columns=[_col("b")], rows=50),
    )
    problems = validate_config(config)
    assert any("table 't' is defined twice" in p for p in problems)
    assert any("column 't.a' is defined twice" in p for p in problems)
    assert any("3 rows, fewer than the 10" in p for p in problems)


def test_unknown_table_in_a_foreign_key():
    config = _config(
        Table(
            name="t",
            columns=[_col("id"), _col("u")],
            primary_key="id",
            rows=50,
            foreign_keys=[{"column": "u", "referenced_table": "users"}],
        )
    )
    assert any("unknown table 'users'" in p for p in validate_config(config))


def test_pipeline_with_every_error_fails_before_reading_data(tmp_path, home, monkeypatch):
    """All problems of a pipeline file are listed together and no table is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"id": [1, 2], "b_id": [1, 2], "note": ["x", "y"]}), data / "a.parquet")
    pq.write_table(
        pa.table({"id": [1, 2], "a_id": [1, 2], "day": pa.array([1, 2], pa.date32())}),
        data / "b.parquet",
    )
    pq.write_table(pa.table({"id": list(range(20))}), data / "c.parquet")
    pq.write_table(pa.table({"code": ["x"]}), data / "lookup.parquet")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "broken",
                "source": {"connector": "files", "options": {"path": str(data)}},
                "generator": {
                    "tables": [
                        {
                            "name": "a",
                            "primary_key": "id",
                            "excluded_columns": ["ghost"],
                            "foreign_keys": [
                                {"column": "b_id", "referenced_table": "b", "is_context": True}
                            ],
                        },
                        {
                            "name": "b",
                            "primary_key": "id",
                            "foreign_keys": [
                                {"column": "a_id", "referenced_table": "a", "is_context": True},
                                {"column": "day", "referenced_table": "c", "is_context": True},
                            ],
                        },
                        {"name": "c", "primary_key": "id"},
                        {"name": "lookup", "original_data": True},
                    ]
                },
            }
        )
    )

    def no_reading(*args, **kwargs):
        raise AssertionError("data was read before the config was validated")

    monkeypatch.setattr(FilesConnector, "read", no_reading)
    with pytest.raises(ConfigError) as info:
        synthpipe.train(pipeline)
    problems = info.value.problems
    assert any("a.ghost" in p for p in problems)  # unknown column
    assert any("'b' has 2 context foreign keys" in p for p in problems)
    assert any("cycle" in p for p in problems)
    assert any("b.day is date but c.id is integer" in p for p in problems)
    assert any("'lookup' is not referenced" in p for p in problems)
    assert any("table 'a' has 2 rows" in p for p in problems)  # too small
    assert len(problems) >= 6


def test_pipeline_file_schema_errors_name_the_setting(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsource: {connector: files}\ngeneration: {seed: -1, sizs: {}}\n")
    with pytest.raises(ConfigError) as info:
        synthpipe.load_pipeline(path)
    text = str(info.value)
    assert "generation.sizs" in text and "Extra inputs are not permitted" in text
