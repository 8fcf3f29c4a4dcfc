"""The object-store contract, for S3 (moto's server) and GCS (gcp-storage-emulator).

Each test runs once per store (the ``store`` fixture) against a real HTTP server on loopback.
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

pytestmark = pytest.mark.services

PEOPLE = Table(
    name="people",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="name", type=LogicalType.STRING),
    ],
)


def people(n: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table({"id": ids, "name": [f"p{i}" for i in ids]})


def keys(store, location: str = "ds") -> list[str]:
    return sorted(k.split(f"/{location}/", 1)[1] for k in store._list(f"deliveries/{location}/"))


def manifest(store, location: str = "ds") -> dict:
    return json.loads(store._get_bytes(f"deliveries/{location}/_manifest.json"))


def read(store, table: str = "people", location: str = "ds") -> list[dict]:
    return pa.Table.from_batches(store.read(table, location)).to_pylist()


def failing_after(table: pa.Table, rows: int):
    yield from table.slice(0, rows).to_batches(max_chunksize=max(rows // 4, 1))
    raise RuntimeError("generator crashed midway")


def test_each_table_is_one_object_named_after_it_with_no_extension(store):
    store.write_tables(
        [
            (PEOPLE, people(3).to_batches()),
            (PEOPLE.model_copy(update={"name": "pets"}), people(2).to_batches()),
        ],
        "ds",
    )
    assert keys(store) == ["_manifest.json", "people", "pets"]


def test_objects_are_parquet_by_default(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    raw = store._get_bytes("deliveries/ds/people")
    assert pq.read_table(io.BytesIO(raw)).to_pylist() == people(3).to_pylist()


def test_csv_objects_when_the_format_is_csv(store):
    csv_store = type(store)(store.config.model_copy(update={"format": "csv"}))
    data = pa.table({"id": [1, 2, 3], "name": ["a", "", None]})
    csv_store.write(PEOPLE, data.to_batches(), "ds")
    raw = csv_store._get_bytes("deliveries/ds/people").decode()
    assert raw.splitlines()[0] == '"id","name"'
    assert read(csv_store) == data.to_pylist()


def test_a_large_table_becomes_a_folder_of_parts(store):
    parted = type(store)(store.config.model_copy(update={"partition_rows": 100}))
    assert parted.write(PEOPLE, people(250).to_batches(max_chunksize=70), "ds") == 250
    assert keys(parted) == [
        "_manifest.json",
        "people/part-00000.parquet",
        "people/part-00001.parquet",
        "people/part-00002.parquet",
    ]
    assert [r["id"] for r in read(parted)] == list(range(250))


def test_the_manifest_lists_tables_objects_rows_and_schemas(store):
    store.write(PEOPLE, people(4).to_batches(), "ds")
    content = manifest(store)
    assert content["format_version"] == 1 and content["format"] == "parquet"
    entry = content["tables"]["people"]
    assert (entry["objects"], entry["rows"]) == (["people"], 4)
    assert Table.model_validate(entry["table"]).primary_key == ["id"]


def test_the_manifest_is_written_last(store, monkeypatch):
    changes = []  # (primitive, key it changes), for what readers can see: copies and puts

    def spy(name, real, target):
        def call(*args):
            changes.append((name, args[target]))
            return real(*args)

        return call

    monkeypatch.setattr(store, "_copy", spy("_copy", store._copy, 1))
    monkeypatch.setattr(store, "_put_bytes", spy("_put_bytes", store._put_bytes, 0))
    store.write_tables(
        [
            (PEOPLE, people(3).to_batches()),
            (PEOPLE.model_copy(update={"name": "pets"}), people(2).to_batches()),
        ],
        "ds",
    )
    assert changes[-1] == ("_put_bytes", "deliveries/ds/_manifest.json")
    assert changes[:-1] == [("_copy", "deliveries/ds/people"), ("_copy", "deliveries/ds/pets")]


def test_fail_mode_refuses_when_any_key_exists_and_writes_nothing(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    before = keys(store)
    fresh = PEOPLE.model_copy(update={"name": "fresh"})
    with pytest.raises(TargetExistsError) as raised:
        store.write_tables(
            [(fresh, people(1).to_batches()), (PEOPLE, people(1).to_batches())], "ds", mode="fail"
        )
    assert raised.value.targets == [store.uri("deliveries/ds/people")]
    assert keys(store) == before


def test_overwrite_replaces_the_table_and_removes_its_stale_parts(store):
    parted = type(store)(store.config.model_copy(update={"partition_rows": 100}))
    parted.write(PEOPLE, people(250).to_batches(), "ds")
    parted.write(PEOPLE, people(5, start=1000).to_batches(), "ds", mode="overwrite")
    assert keys(parted) == ["_manifest.json", "people"]
    assert [r["id"] for r in read(parted)] == list(range(1000, 1005))


def test_a_failure_midway_keeps_the_old_objects_and_leaves_no_staged_ones(store):
    pets = PEOPLE.model_copy(update={"name": "pets"})
    store.write_tables([(PEOPLE, people(3).to_batches()), (pets, people(2).to_batches())], "ds")
    before = {k: store._get_bytes(f"deliveries/ds/{k}") for k in keys(store)}
    with pytest.raises(RuntimeError, match="midway"):
        store.write_tables(
            [(PEOPLE, people(500).to_batches()), (pets, failing_after(people(1000), 500))],
            "ds",
            mode="overwrite",
        )
    assert {k: store._get_bytes(f"deliveries/ds/{k}") for k in keys(store)} == before


def test_a_retry_after_a_failure_succeeds(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    with pytest.raises(RuntimeError):
        store.write(PEOPLE, failing_after(people(1000), 500), "ds", mode="overwrite")
    assert store.write(PEOPLE, people(1000).to_batches(), "ds", mode="overwrite") == 1000
    assert len(read(store)) == 1000
    assert keys(store) == ["_manifest.json", "people"]


def test_values_survive_a_round_trip(store):
    data = pa.table(
        {
            "id": [1, 2, None],
            "name": ["ü ✓", "", None],
            "at": pa.array([0, None, 86_400_000_000], pa.timestamp("us")),
        }
    )
    store.write(Table(name="t"), data.to_batches(), "ds")
    assert read(store, "t") == data.to_pylist()


def test_schema_comes_from_the_manifest_with_keys_and_rows(store):
    child = Table(
        name="child",
        columns=[Column(name="pid", type=LogicalType.INTEGER)],
        foreign_keys=[ForeignKey(column="pid", referenced_table="people")],
    )
    store.write_tables(
        [(PEOPLE, people(4).to_batches()), (child, pa.table({"pid": [1]}).to_batches())], "ds"
    )
    people_table, child_table = store.schema("ds", ["people", "child"])
    assert (people_table.primary_key, people_table.rows) == (["id"], 4)
    assert child_table.foreign_keys[0].referenced_table == "people"


def test_schema_without_a_manifest_is_read_from_the_objects(store):
    store.write(PEOPLE, people(4).to_batches(), "ds")
    store._delete(["deliveries/ds/_manifest.json"])
    (table,) = store.schema("ds")
    assert [(c.name, c.type) for c in table.columns] == [
        ("id", LogicalType.INTEGER),
        ("name", LogicalType.STRING),
    ]
    assert table.rows == 4


def test_tables_and_locations_are_listed(store):
    store.write(PEOPLE, people(1).to_batches(), "ds/2024")
    store.write(PEOPLE, people(1).to_batches(), "other")
    assert store.tables("ds/2024") == ["people"]
    assert store.locations() == ["ds/2024", "other"]
    assert store.locations("ds") == ["ds/2024"]


def test_reading_an_unknown_table_names_the_tables_there(store):
    store.write(PEOPLE, people(1).to_batches(), "ds")
    with pytest.raises(NotFoundError, match="tables there: people"):
        store.read("ghost", "ds")


def test_append_adds_the_new_rows_after_the_old_ones(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    store.write(PEOPLE, pa.table({"name": ["late"], "id": [99]}).to_batches(), "ds", mode="append")
    assert [r["id"] for r in read(store)] == [0, 1, 2, 99]
    assert manifest(store)["tables"]["people"]["rows"] == 4


def test_append_refuses_a_type_mismatch_before_writing(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    wrong = Table(name="people", columns=[Column(name="id", type=LogicalType.DATE)])
    with pytest.raises(ConnectorError, match=r"people\.id' is date"):
        store.write(wrong, people(1).to_batches(), "ds", mode="append")
    assert len(read(store)) == 3


def test_hostile_names_are_just_keys(store):
    name = 'a"; drop table x; --'
    table = Table(name=name, columns=[Column(name="select", type=LogicalType.STRING)])
    store.write(table, pa.table({"select": ["'); --"]}).to_batches(), "ds")
    assert read(store, name) == [{"select": "'); --"}]
