"""Keys of the source: FK cycles and FKs to non-key columns are refused before training;
duplicate primary keys and orphan rows are handled as generator.source_checks says."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import synthpipe
from synthpipe.errors import ConfigError
from synthpipe.store import Status, Store

CUSTOMERS = 60
PRODUCTS = 10


def write_source(folder: Path, *, duplicates: int = 0, orphans: int = 0) -> Path:
    """customers (60 rows, ``duplicates`` of them repeating customer 1's id), their orders
    (200) and products (a lookup); the last ``orphans`` orders name products that do not
    exist."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = list(range(1, CUSTOMERS + 1 - duplicates)) + [1] * duplicates
    pq.write_table(
        pa.table({"customer_id": ids, "age": [20 + (i * 7) % 50 for i in range(CUSTOMERS)]}),
        folder / "customers.parquet",
    )
    pq.write_table(
        pa.table({"product_id": list(range(1, PRODUCTS + 1)), "label": list("abcdefghij")}),
        folder / "products.parquet",
    )
    products = [1 + i % PRODUCTS for i in range(200)]
    products[len(products) - orphans :] = [10_000 + i for i in range(orphans)]
    pq.write_table(
        pa.table(
            {
                "order_id": list(range(1, 201)),
                "customer_id": [1 + i % (CUSTOMERS - duplicates) for i in range(200)],
                "product_id": products,
                "amount": [float(i % 90) for i in range(200)],
            }
        ),
        folder / "orders.parquet",
    )
    return folder


def write_pipeline(folder: Path, checks: dict | None = None, *, fk: dict | None = None, **kw):
    """customers -> orders (context) -> products (original data, a plain foreign key)."""
    data = write_source(folder / "data", **kw)
    generator = {
        "generator": "independent",
        "tables": [
            {"name": "customers", "primary_key": "customer_id"},
            {
                "name": "orders",
                "primary_key": "order_id",
                "foreign_keys": [
                    {"column": "customer_id", "referenced_table": "customers", "is_context": True},
                    fk or {"column": "product_id", "referenced_table": "products"},
                ],
            },
            {"name": "products", "primary_key": "product_id", "original_data": True},
        ],
    }
    if checks is not None:
        generator["source_checks"] = checks
    doc = {
        "name": "keys",
        "source": {"connector": "files", "options": {"path": str(data)}},
        "generator": generator,
        "validation": {"enabled": False},
    }
    path = folder / "keys.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- refused before training --------------------------------------------------------------------


def test_a_plain_foreign_key_cycle_is_refused_naming_the_cycle(home, tmp_path):
    path = write_pipeline(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["generator"]["tables"][0]["foreign_keys"] = [
        {"column": "age", "referenced_table": "orders"}
    ]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        synthpipe.train(path)
    message = str(info.value)
    assert "foreign keys form a cycle: customers -> orders -> customers" in message
    assert "drop one of these foreign keys" in message
    assert Store(home).generators() == []  # refused before a record was written


def test_a_table_referencing_itself_is_not_a_cycle():
    from synthpipe.schema import GeneratorConfig, validate_config

    config = GeneratorConfig.model_validate(
        {
            "tables": [
                {
                    "name": "staff",
                    "primary_key": "id",
                    "foreign_keys": [{"column": "boss", "referenced_table": "staff"}],
                }
            ]
        }
    )
    assert not [p for p in validate_config(config) if "cycle" in p]


def test_a_foreign_key_to_a_column_that_is_not_the_key_is_refused_before_training(home, tmp_path):
    fk = {"column": "product_id", "referenced_table": "products", "referenced_column": "label"}
    with pytest.raises(ConfigError) as info:
        synthpipe.train(write_pipeline(tmp_path, fk=fk))
    message = str(info.value)
    assert "references products(label), which is not the primary key of 'products'" in message
    assert "set primary_key of 'products'" in message
    assert Store(home).generators() == []


# -- duplicate primary keys ---------------------------------------------------------------------


def test_duplicate_keys_are_refused_by_default_with_count_and_example(home, tmp_path):
    with pytest.raises(ConfigError) as info:
        synthpipe.train(write_pipeline(tmp_path, duplicates=3))
    message = str(info.value)
    assert "table 'customers' has 3 row(s) of 60 repeating a primary key (customer_id)" in message
    assert "{'customer_id': 1}" in message and "duplicate_keys to drop" in message
    [record] = Store(home).generators()
    assert record.status is Status.FAILED
    assert not (Store(home).generator_dir(record.id) / "reference").exists()


def test_duplicate_keys_drop_keeps_the_first_row_of_each_key(home, tmp_path):
    record = synthpipe.train(write_pipeline(tmp_path, {"duplicate_keys": "drop"}, duplicates=3))
    assert record.status is Status.DONE
    [finding] = record.source_findings
    assert finding["check"] == "duplicate_keys" and finding["action"] == "dropped"
    assert finding["rows"] == 3
    kept = record.statistics  # statistics describe the checked source
    assert kept["customers"]["customer_id"]["distinct"] == CUSTOMERS - 3
    train_rows = pq.read_table(
        Store(home).generator_dir(record.id) / "reference" / "train" / "customers.parquet"
    )
    ids = train_rows["customer_id"].to_pylist()
    assert len(ids) == len(set(ids))


def test_duplicate_keys_keep_trains_on_every_row(home, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="synthpipe.source_checks"):
        record = synthpipe.train(write_pipeline(tmp_path, {"duplicate_keys": "keep"}, duplicates=3))
    assert record.status is Status.DONE
    assert [f["action"] for f in record.source_findings] == ["kept"]
    train, holdout = (
        pq.read_table(Store(home).generator_dir(record.id) / "reference" / s / "customers.parquet")
        for s in ("train", "holdout")
    )
    assert train.num_rows + holdout.num_rows == CUSTOMERS
    assert "repeating a primary key" in caplog.text


# -- orphans -------------------------------------------------------------------------------------


def test_orphans_are_kept_by_default_and_their_share_recorded(home, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="synthpipe.source_checks"):
        record = synthpipe.train(write_pipeline(tmp_path, orphans=75))
    [finding] = record.source_findings
    assert finding["check"] == "orphans" and finding["action"] == "kept"
    assert (finding["rows"], finding["of"]) == (75, 200)
    assert finding["foreign_key"] == "orders(product_id) -> products(product_id)"
    assert "75 orphan row(s) of 200 (37.5%)" in caplog.text
    assert record.statistics["orders"]["order_id"]["distinct"] == 200


def test_orphans_drop_removes_them_before_training(home, tmp_path):
    record = synthpipe.train(write_pipeline(tmp_path, {"orphans": "drop"}, orphans=75))
    assert record.status is Status.DONE
    assert [f["action"] for f in record.source_findings] == ["dropped"]
    assert record.statistics["orders"]["order_id"]["distinct"] == 125
    orders = pq.read_table(
        Store(home).generator_dir(record.id) / "reference" / "train" / "orders.parquet"
    )
    assert max(orders["product_id"].to_pylist()) <= PRODUCTS


def test_orphans_refuse_fails_training_with_count_and_example(home, tmp_path):
    with pytest.raises(ConfigError) as info:
        synthpipe.train(write_pipeline(tmp_path, {"orphans": "refuse"}, orphans=5))
    message = str(info.value)
    assert "table 'orders' has 5 orphan row(s) of 200 (2.5%)" in message
    assert "{'product_id': 10000}" in message
    assert "source_checks.orphans to keep or drop" in message


def test_clean_data_has_no_findings(home, tmp_path):
    record = synthpipe.train(write_pipeline(tmp_path, {"orphans": "refuse"}))
    assert record.status is Status.DONE and record.source_findings == []


def test_an_unknown_source_checks_value_is_refused_at_load(tmp_path):
    with pytest.raises(ConfigError, match=r"generator.source_checks.orphans"):
        synthpipe.load_pipeline(write_pipeline(tmp_path, {"orphans": "ignore"}))
