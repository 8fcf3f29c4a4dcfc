"""excluded_columns of a real column, and table sizes checked when the file or flags are read:
0 rows give empty tables with their columns; negative rows and unknown tables are refused."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from daily_support import write_pipeline

import synthpipe
from synthpipe import engine
from synthpipe.cli import cli
from synthpipe.errors import ConfigError
from synthpipe.schema import GeneratorConfig, SampleSpec
from synthpipe.store import Status, Store


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args])


@pytest.fixture
def trained(home, tmp_path):
    return synthpipe.train(write_pipeline(tmp_path), name="shop")


def test_excluded_column_is_left_out_of_training_and_generated_data(home, tmp_path):
    pipeline = write_pipeline(tmp_path, customers={"excluded_columns": ["fnlwgt"]})
    generator = synthpipe.train(pipeline)
    assert generator.status is Status.DONE
    customers = GeneratorConfig.model_validate(generator.config).table("customers")
    assert "fnlwgt" not in customers.column_names and "age" in customers.column_names
    dataset = synthpipe.generate(generator.id, seed=1)
    columns = engine.read_dataset(Store(home), dataset.id, "customers").column_names
    assert "fnlwgt" not in columns and {"customer_id", "age", "country"} <= set(columns)


def test_excluded_column_that_does_not_exist_is_named(home, tmp_path):
    pipeline = write_pipeline(tmp_path, customers={"excluded_columns": ["fnlwgtt"]})
    expected = (
        "excluded_columns of table 'customers' names unknown column 'customers.fnlwgtt'; "
        "use one of: customer_id, age"
    )
    with pytest.raises(ConfigError, match=re.escape(expected)):
        synthpipe.train(pipeline)


def test_included_columns_keep_the_keys(home, tmp_path):
    pipeline = write_pipeline(tmp_path, customers={"included_columns": ["age"]})
    generator = synthpipe.train(pipeline)
    customers = GeneratorConfig.model_validate(generator.config).table("customers")
    assert customers.column_names == ["customer_id", "age", "country"]


def test_size_zero_gives_empty_tables_with_their_columns(home, trained):
    out = invoke("generate", "shop", "--size", "customers=0")
    assert out.exit_code == 0, out.output
    [dataset] = Store(home).datasets()
    assert dataset.status is Status.DONE
    rows = {t: info["rows"] for t, info in dataset.tables.items()}
    assert rows == {"countries": 4, "customers": 0, "orders": 0}
    folder = Store(home).dataset_dir(dataset.id)
    schema = pq.read_schema(folder / dataset.tables["customers"]["parts"][0])
    assert schema.names == ["customer_id", "age", "fnlwgt", "country"]
    assert pq.read_schema(folder / dataset.tables["orders"]["parts"][0]).names == [
        "order_id", "customer_id", "amount",
    ]  # fmt: skip


def test_child_size_zero_and_partitions_without_rows(home, trained):
    dataset = synthpipe.generate("shop", sizes={"customers": 1, "orders": 0}, partitions=3)
    assert dataset.status is Status.DONE
    assert {t: i["rows"] for t, i in dataset.tables.items()} == {
        "countries": 4, "customers": 1, "orders": 0,
    }  # fmt: skip
    assert len(dataset.tables["customers"]["parts"]) == 3
    # empty parts have the same schema as the others: the table reads as one
    assert engine.read_dataset(Store(home), dataset.id, "customers").num_rows == 1


def test_a_generator_that_yields_nothing_for_a_table_still_writes_it(tmp_path, trained, home):
    config = GeneratorConfig.model_validate(trained.config)
    rows = engine._write_parts(iter([]), config, SampleSpec(), tmp_path / "parts")
    assert rows == {"countries": 0, "customers": 0, "orders": 0}
    schema = pq.read_schema(tmp_path / "parts" / "customers" / "part-00000-00000.parquet")
    assert schema.names == ["customer_id", "age", "fnlwgt", "country"]


def test_unknown_table_in_size_flag_is_refused_before_any_record(home, trained):
    out = invoke("generate", "shop", "--size", "nosuch=5")
    assert out.exit_code == 1
    assert "sizes names unknown table 'nosuch'" in str(out.exception)
    assert "tables of generator 'shop': customers, orders" in str(out.exception)
    assert Store(home).datasets() == []


def test_size_of_an_original_data_table_is_refused(home, trained):
    with pytest.raises(ConfigError, match="'countries', which is original data copied verbatim"):
        synthpipe.generate("shop", sizes={"countries": 3})
    assert Store(home).datasets() == []


def test_negative_size_flag_is_refused_naming_the_table(home, trained):
    out = invoke("generate", "shop", "--size", "customers=-3")
    assert out.exit_code == 2
    assert "rows of table 'customers' must be a whole number, 0 or more" in out.output
    with pytest.raises(ConfigError, match=r"table 'customers' has -3 rows; give 0 or more rows"):
        synthpipe.generate("shop", sizes={"customers": -3})
    assert Store(home).datasets() == []


def test_negative_size_in_the_pipeline_file_fails_loading(tmp_path):
    path = write_pipeline(tmp_path, generation={"sizes": {"customers": -3}})
    with pytest.raises(ConfigError, match=r"generation.sizes: .*table 'customers' has -3 rows"):
        synthpipe.load_pipeline(path)


def listing_tables(path):
    doc = path.read_text().replace(
        "source:\n", "source:\n  tables: [customers, orders, countries]\n", 1
    )
    path.write_text(doc)
    return path


def test_unknown_table_in_file_sizes_fails_loading_when_the_file_lists_tables(tmp_path):
    path = listing_tables(write_pipeline(tmp_path, generation={"sizes": {"custmers": 5}}))
    with pytest.raises(ConfigError) as info:
        synthpipe.load_pipeline(path)
    assert info.value.problems == [
        "generation.sizes names unknown table 'custmers'; the pipeline's tables "
        "(source.tables): customers, orders"
    ]


def test_original_data_table_in_file_sizes_fails_loading(tmp_path):
    path = listing_tables(write_pipeline(tmp_path, generation={"sizes": {"countries": 5}}))
    with pytest.raises(ConfigError, match="'countries', which is original data copied verbatim"):
        synthpipe.load_pipeline(path)


def test_unknown_table_in_file_sizes_fails_before_training(home, tmp_path):
    path = write_pipeline(tmp_path, generation={"sizes": {"custmers": 5}})
    with pytest.raises(ConfigError, match=r"generation\.sizes names unknown table 'custmers'"):
        synthpipe.run(path)
    assert Store(home).generators() == []
