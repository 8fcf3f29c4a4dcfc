"""The object-store contract, for S3 (moto's server) and GCS (gcp-storage-emulator).

Each test runs once per store (the ``store`` fixture) against a real HTTP server on loopback.
What is in a bucket is listed with the store's own client (``raw``), not through pyarrow, so
nothing a delivery leaves behind is hidden.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from synthpipe_objectstore import ConcurrentDeliveryError

from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.names import UnsafeNameError
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
DELIVERY = re.compile(r"_sp_\d{8}T\d{6}-[0-9a-f]{8}")


def people(n: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table({"id": ids, "name": [f"p{i}" for i in ids]})


def raw(store, location: str = "ds") -> list[str]:
    """Every object under the location (relative keys), as the store's own client lists it."""
    prefix = f"deliveries/{location}/"
    if store.scheme == "s3":
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.config.bucket, Prefix=prefix
        )
        found = [o["Key"] for page in pages for o in page.get("Contents", [])]
    else:
        found = [blob.name for blob in store.bucket.list_blobs(prefix=prefix)]
    return sorted(k[len(prefix) :] for k in found)


def manifest(store, location: str = "ds") -> dict:
    return json.loads(store._get_bytes(f"deliveries/{location}/_manifest.json"))


def listed(store, location: str = "ds") -> list[str]:
    """The manifest and every object it lists: all a location should hold after a delivery."""
    tables = manifest(store, location)["tables"].values()
    return sorted(["_manifest.json", *(k for entry in tables for k in entry["objects"])])


def read(store, table: str = "people", location: str = "ds") -> list[dict]:
    return pa.Table.from_batches(store.read(table, location)).to_pylist()


def ids(store, table: str = "people", column: str = "id") -> list[int]:
    return sorted(r[column] for r in read(store, table))


def variant(store, **settings):
    """Another connector to the same bucket and prefix, with some settings changed."""
    return type(store)(store.config.model_copy(update=settings))


def failing_after(table: pa.Table, rows: int):
    yield from table.slice(0, rows).to_batches(max_chunksize=max(rows // 4, 1))
    raise RuntimeError("generator crashed midway")


# -- layout ---------------------------------------------------------------------------------


def test_each_table_is_parts_under_the_delivery_prefix_listed_by_the_manifest(store):
    store.write_tables(
        [
            (PEOPLE, people(3).to_batches()),
            (PEOPLE.model_copy(update={"name": "pets"}), people(2).to_batches()),
        ],
        "ds",
    )
    delivery = manifest(store)["delivery"]
    assert DELIVERY.fullmatch(delivery)
    assert raw(store) == [
        "_manifest.json",
        f"{delivery}/people/part-00000.parquet",
        f"{delivery}/pets/part-00000.parquet",
    ]
    assert raw(store) == listed(store)


def test_objects_are_parquet_by_default(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    (key,) = manifest(store)["tables"]["people"]["objects"]
    object_bytes = store._get_bytes(f"deliveries/ds/{key}")
    assert pq.read_table(io.BytesIO(object_bytes)).to_pylist() == people(3).to_pylist()


def test_csv_objects_when_the_format_is_csv(store):
    csv_store = variant(store, format="csv")
    data = pa.table({"id": [1, 2, 3], "name": ["a", "", None]})
    csv_store.write(PEOPLE, data.to_batches(), "ds")
    (key,) = manifest(csv_store)["tables"]["people"]["objects"]
    assert key.endswith("/people/part-00000.csv")
    assert csv_store._get_bytes(f"deliveries/ds/{key}").decode().splitlines()[0] == '"id","name"'
    assert read(csv_store) == data.to_pylist()


def test_a_large_table_is_written_as_several_parts(store):
    parted = variant(store, partition_rows=100)
    assert parted.write(PEOPLE, people(250).to_batches(max_chunksize=70), "ds") == 250
    delivery = manifest(parted)["delivery"]
    assert raw(parted) == [
        "_manifest.json",
        *(f"{delivery}/people/part-0000{i}.parquet" for i in range(3)),
    ]
    assert [r["id"] for r in read(parted)] == list(range(250))


def test_the_manifest_lists_tables_objects_rows_schemas_and_datasets(store):
    store.write_tables([(PEOPLE, people(4).to_batches())], "ds", dataset_id="ds-1")
    content = manifest(store)
    assert content["format_version"] == 2 and content["format"] == "parquet"
    entry = content["tables"]["people"]
    delivery = content["delivery"]
    assert entry["objects"] == [f"{delivery}/people/part-00000.parquet"]
    assert (entry["rows"], entry["datasets"]) == (4, {"ds-1": 4})
    assert Table.model_validate(entry["table"]).primary_key == ["id"]


class _Spy:
    """A file system that records each output stream it opens, around the real one."""

    def __init__(self, fs, events: list):
        self._fs, self._events = fs, events

    def open_output_stream(self, path, *args, **kwargs):
        self._events.append(("object", path))
        return self._fs.open_output_stream(path, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._fs, name)


def test_the_manifest_is_committed_last_when_every_object_it_lists_is_complete(store, monkeypatch):
    events = []
    real_write_if = store._write_if

    def write_if(key, data, version):
        present = set(store._list("deliveries/ds"))
        objects = [o for e in json.loads(data)["tables"].values() for o in e["objects"]]
        events.append(("manifest", key, all(f"deliveries/ds/{o}" in present for o in objects)))
        return real_write_if(key, data, version)

    monkeypatch.setattr(store, "_fs", _Spy(store.fs, events))
    monkeypatch.setattr(store, "_write_if", write_if)
    store.write_tables(
        [
            (PEOPLE, people(3).to_batches()),
            (PEOPLE.model_copy(update={"name": "pets"}), people(2).to_batches()),
        ],
        "ds",
    )
    assert events[-1] == ("manifest", "deliveries/ds/_manifest.json", True)
    assert [kind for kind, *_ in events] == ["object", "object", "manifest"]


# -- modes ----------------------------------------------------------------------------------


def test_fail_mode_refuses_when_any_table_exists_and_writes_nothing(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    before = raw(store)
    fresh = PEOPLE.model_copy(update={"name": "fresh"})
    with pytest.raises(TargetExistsError) as raised:
        store.write_tables(
            [(fresh, people(1).to_batches()), (PEOPLE, people(1).to_batches())], "ds", mode="fail"
        )
    assert raised.value.targets == [store.uri("deliveries/ds/people")]
    assert raw(store) == before


def test_overwrite_replaces_the_table_and_removes_the_old_delivery(store):
    parted = variant(store, partition_rows=100)
    parted.write(PEOPLE, people(250).to_batches(), "ds")
    parted.write(PEOPLE, people(5, start=1000).to_batches(), "ds", mode="overwrite")
    delivery = manifest(parted)["delivery"]
    assert raw(parted) == ["_manifest.json", f"{delivery}/people/part-00000.parquet"]
    assert [r["id"] for r in read(parted)] == list(range(1000, 1005))


def test_overwriting_one_table_keeps_the_others_of_an_earlier_delivery(store):
    pets = PEOPLE.model_copy(update={"name": "pets"})
    store.write_tables([(PEOPLE, people(3).to_batches()), (pets, people(2).to_batches())], "ds")
    store.write(PEOPLE, people(1, start=50).to_batches(), "ds", mode="overwrite")
    assert (ids(store), ids(store, "pets")) == ([50], [0, 1])
    assert raw(store) == listed(store)


def test_append_adds_the_new_rows_after_the_old_ones(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    store.write(PEOPLE, pa.table({"name": ["late"], "id": [99]}).to_batches(), "ds", mode="append")
    assert [r["id"] for r in read(store)] == [0, 1, 2, 99]
    assert manifest(store)["tables"]["people"]["rows"] == 4
    assert raw(store) == listed(store)


def test_append_refuses_a_type_mismatch_before_writing(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    before = raw(store)
    wrong = Table(name="people", columns=[Column(name="id", type=LogicalType.DATE)])
    with pytest.raises(ConnectorError, match=r"people\.id' is date"):
        store.write(wrong, people(1).to_batches(), "ds", mode="append")
    assert len(read(store)) == 3
    assert raw(store) == before


CITIES = Table(
    name="cities",
    original_data=True,
    primary_key=["city_id"],
    columns=[
        Column(name="city_id", type=LogicalType.INTEGER, nullable=False),
        Column(name="city", type=LogicalType.STRING),
    ],
)
RESIDENTS = Table(
    name="residents",
    primary_key=["id"],
    columns=[
        Column(name="id", type=LogicalType.INTEGER, nullable=False),
        Column(name="city_id", type=LogicalType.INTEGER),
    ],
    foreign_keys=[ForeignKey(column="city_id", referenced_table="cities")],
)
ORDERS = Table(
    name="orders",
    primary_key=["order_id"],
    columns=[
        Column(name="order_id", type=LogicalType.INTEGER, nullable=False),
        Column(name="resident_id", type=LogicalType.INTEGER),
    ],
    foreign_keys=[ForeignKey(column="resident_id", referenced_table="residents")],
)


def dataset() -> list[tuple[Table, list[pa.RecordBatch]]]:
    """Three tables as a generator delivers them: a lookup, its children, theirs."""
    return [
        (CITIES, pa.table({"city_id": [1, 2], "city": ["Oslo", "Lima"]}).to_batches()),
        (RESIDENTS, pa.table({"id": [0, 1, 2], "city_id": [1, 2, 2]}).to_batches()),
        (ORDERS, pa.table({"order_id": [10, 11], "resident_id": [0, 2]}).to_batches()),
    ]


def test_appending_the_same_dataset_again_changes_nothing(store):
    first = store.write_tables(dataset(), "ds", mode="append", dataset_id="d1")
    before = (raw(store), store._get_bytes("deliveries/ds/_manifest.json"))
    again = store.write_tables(dataset(), "ds", mode="append", dataset_id="d1")
    assert again == first == {"cities": 2, "residents": 3, "orders": 2}
    assert (raw(store), store._get_bytes("deliveries/ds/_manifest.json")) == before
    assert ids(store, "residents") == [0, 1, 2]


def test_appending_a_second_dataset_moves_integer_keys_and_their_references_past_the_old(store):
    store.write_tables(dataset(), "ds", mode="append", dataset_id="d1")
    rows = store.write_tables(dataset(), "ds", mode="append", dataset_id="d2")
    assert rows == {"cities": 0, "residents": 3, "orders": 2}
    assert ids(store, "cities", "city_id") == [1, 2]  # the lookup table is not duplicated
    assert ids(store, "residents") == [0, 1, 2, 3, 4, 5]
    assert ids(store, "orders", "order_id") == [10, 11, 12, 13]
    # each order still points at the resident of its own dataset
    pairs = sorted((r["order_id"], r["resident_id"]) for r in read(store, "orders"))
    assert pairs == [(10, 0), (11, 2), (12, 3), (13, 5)]
    cities = {r["id"]: r["city_id"] for r in read(store, "residents")}
    assert cities == {0: 1, 1: 2, 2: 2, 3: 1, 4: 2, 5: 2}
    datasets = manifest(store)["tables"]["residents"]["datasets"]
    assert datasets == {"d1": 3, "d2": 3}
    assert raw(store) == listed(store)


# -- faults ---------------------------------------------------------------------------------


def test_a_failure_midway_keeps_the_old_objects_and_leaves_no_staged_ones(store):
    pets = PEOPLE.model_copy(update={"name": "pets"})
    store.write_tables([(PEOPLE, people(3).to_batches()), (pets, people(2).to_batches())], "ds")
    before = {k: store._get_bytes(f"deliveries/ds/{k}") for k in raw(store)}
    with pytest.raises(RuntimeError, match="midway"):
        store.write_tables(
            [(PEOPLE, people(500).to_batches()), (pets, failing_after(people(1000), 500))],
            "ds",
            mode="overwrite",
        )
    assert {k: store._get_bytes(f"deliveries/ds/{k}") for k in raw(store)} == before
    assert (ids(store), ids(store, "pets")) == ([0, 1, 2], [0, 1])


def test_a_retry_after_a_failure_succeeds(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    with pytest.raises(RuntimeError):
        store.write(PEOPLE, failing_after(people(1000), 500), "ds", mode="overwrite")
    assert store.write(PEOPLE, people(1000).to_batches(), "ds", mode="overwrite") == 1000
    assert len(read(store)) == 1000
    assert raw(store) == listed(store)


def racing(other_delivery, first_rows: int = 2):
    """Batches of a delivery during which another delivery to the same place runs whole."""
    yield people(first_rows).to_batches()[0]  # a complete part (partition_rows=2) is written
    other_delivery()
    yield people(first_rows, start=first_rows).to_batches()[0]


@pytest.mark.parametrize("earlier", [False, True], ids=["first-delivery", "over-an-earlier"])
def test_two_deliveries_at_once_never_mix(store, earlier):
    if earlier:
        store.write(PEOPLE, people(3, start=500).to_batches(), "ds")
    slow = variant(store, partition_rows=2)
    other = variant(store)

    def commit_other():
        other.write(PEOPLE, people(5, start=100).to_batches(), "ds", mode="overwrite")

    with pytest.raises(ConcurrentDeliveryError, match="another delivery"):
        slow.write(PEOPLE, racing(commit_other), "ds", mode="overwrite")
    assert ids(store) == list(range(100, 105))
    assert raw(store) == listed(store)  # the loser's objects are gone, the winner's all there


def test_a_delivery_whose_objects_another_tidied_away_does_not_commit(store):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    slow = variant(store, partition_rows=2)
    other = variant(store, abandoned_after_s=0)  # takes the slow delivery's prefix as abandoned

    def commit_other():
        other.write(PEOPLE.model_copy(update={"name": "pets"}), people(1).to_batches(), "ds")

    with pytest.raises(ConcurrentDeliveryError, match="abandoned_after_s"):
        slow.write(PEOPLE, racing(commit_other), "ds", mode="overwrite")
    assert (ids(store), ids(store, "pets")) == ([0, 1, 2], [0])
    assert raw(store) == listed(store)


KILLED = """
import json, os, signal, sys
from importlib import import_module
import pyarrow as pa
from synthpipe.schema import Table

module, cls, settings, table = sys.argv[1:]
store = getattr(import_module(module), cls)(**json.loads(settings))

def batches():
    yield pa.table({"id": list(range(10)), "name": ["new"] * 10}).to_batches()[0]
    os.kill(os.getpid(), signal.SIGKILL)  # two parts of 5 rows are complete by now
    yield pa.table({"id": [10], "name": ["new"]}).to_batches()[0]

store.write(Table.model_validate_json(table), batches(), "ds", mode="overwrite")
"""


def test_a_delivery_killed_midway_leaves_the_old_tables_and_the_next_removes_its_leftovers(
    store,
):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    old_manifest = store._get_bytes("deliveries/ds/_manifest.json")
    settings = {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v
        for k, v in variant(store, partition_rows=5).config
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, type(store).__module__, type(store).__name__,
         json.dumps(settings), PEOPLE.model_dump_json()],
        capture_output=True, text=True,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert store._get_bytes("deliveries/ds/_manifest.json") == old_manifest
    assert ids(store) == [0, 1, 2] and store.tables("ds") == ["people"]
    leftovers = sorted(set(raw(store)) - set(listed(store)))
    assert [k.split("/", 1)[1] for k in leftovers] == [
        "people/part-00000.parquet",
        "people/part-00001.parquet",
    ]
    # a fresh leftover may be a delivery still running: kept until abandoned_after_s
    store.write(PEOPLE.model_copy(update={"name": "pets"}), people(1).to_batches(), "ds")
    assert set(leftovers) <= set(raw(store))
    variant(store, abandoned_after_s=0).write(
        PEOPLE, people(2).to_batches(), "ds", mode="overwrite"
    )
    assert raw(store) == listed(store)
    assert ids(store) == [0, 1]


# -- names and values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["_sp_x", "_manifest.json", "../up", "a/b", "..", "", " pad", "C:evil", "tab\tname"]
)
def test_a_table_name_that_is_not_a_plain_key_is_refused_before_anything_changes(store, name):
    store.write(PEOPLE, people(3).to_batches(), "ds")
    before = (raw(store), store._get_bytes("deliveries/ds/_manifest.json"))
    bad = PEOPLE.model_copy(update={"name": name})
    with pytest.raises(UnsafeNameError, match="cannot be used"):
        store.write_tables([(PEOPLE, people(1).to_batches()), (bad, people(1).to_batches())],
                           "ds", mode="overwrite")  # fmt: skip
    assert (raw(store), store._get_bytes("deliveries/ds/_manifest.json")) == before
    assert ids(store) == [0, 1, 2]


@pytest.mark.parametrize("name", ['a"; drop table x; --', "naïve ✓ 50% off?#&=+", "with spaces"])
def test_other_names_are_just_keys_inside_the_delivery_prefix(store, name):
    table = Table(name=name, columns=[Column(name="select", type=LogicalType.STRING)])
    store.write(table, pa.table({"select": ["'); --"]}).to_batches(), "ds")
    assert read(store, name) == [{"select": "'); --"}]
    (key,) = manifest(store)["tables"][name]["objects"]
    assert key == f"{manifest(store)['delivery']}/{name}/part-00000.parquet"
    assert raw(store) == listed(store) and store.tables("ds") == [name]


@pytest.mark.parametrize("given", ["no batches", "an empty batch"])
def test_a_table_without_rows_is_a_readable_parquet_with_its_schema(store, given):
    empty = pa.RecordBatch.from_pylist(
        [], schema=pa.schema({"id": pa.int64(), "name": pa.string()})
    )
    batches = [] if given == "no batches" else [empty]
    assert store.write(PEOPLE, iter(batches), "ds") == 0
    (key,) = manifest(store)["tables"]["people"]["objects"]
    parquet = pq.read_table(io.BytesIO(store._get_bytes(f"deliveries/ds/{key}")))
    assert parquet.num_rows == 0 and parquet.schema.names == ["id", "name"]
    assert pa.types.is_integer(parquet.schema.field("id").type)
    (batch,) = store.read("people", "ds")
    assert batch.num_rows == 0 and batch.schema.names == ["id", "name"]
    assert store.schema("ds")[0].rows == 0


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


# -- reading --------------------------------------------------------------------------------


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


def put_parquet(store, key: str, data: pa.Table) -> None:
    with store.fs.open_output_stream(f"{store.config.bucket}/{key}") as out:
        pq.write_table(data, out)


def test_plain_objects_without_a_manifest_are_read_as_tables(store):
    """Objects put there by something else than synthpipe: one per table, or a folder of
    parts; objects under a delivery prefix without a manifest are not tables."""
    put_parquet(store, "deliveries/ds/people", people(4))
    put_parquet(store, "deliveries/ds/pets/part-00000.parquet", people(2))
    put_parquet(store, "deliveries/ds/pets/part-00001.parquet", people(1, start=2))
    put_parquet(store, "deliveries/ds/_sp_20240101T000000-00000000/x/part-00000.parquet", people(1))
    assert store.tables("ds") == ["people", "pets"]
    people_table, pets_table = store.schema("ds")
    assert [(c.name, c.type) for c in people_table.columns] == [
        ("id", LogicalType.INTEGER),
        ("name", LogicalType.STRING),
    ]
    assert (people_table.rows, pets_table.rows) == (4, 3)
    assert ids(store, "pets") == [0, 1, 2]


def test_a_delivery_over_plain_objects_replaces_the_ones_of_its_tables(store):
    put_parquet(store, "deliveries/ds/people", people(4))
    put_parquet(store, "deliveries/ds/pets", people(2))
    store.write(PEOPLE, people(1, start=9).to_batches(), "ds", mode="overwrite")
    assert (ids(store), ids(store, "pets")) == ([9], [0, 1])
    assert raw(store) == listed(store) and "people" not in raw(store)


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


def test_a_location_in_the_first_layout_is_read_and_then_replaced_cleanly(store):
    """format_version 1: one object per table named after it, its staging under _sp_<token>/."""
    put_parquet(store, "deliveries/ds/people", people(3))
    put_parquet(store, "deliveries/ds/_sp_0a1b2c3d/people", people(3))  # a killed delivery's
    old = {"objects": ["people"], "rows": 3, "table": PEOPLE.model_dump(mode="json")}
    first = {"format_version": 1, "format": "parquet", "tables": {"people": old}}
    with store.fs.open_output_stream(f"{store.config.bucket}/deliveries/ds/_manifest.json") as out:
        out.write(json.dumps(first).encode())
    assert ids(store) == [0, 1, 2]
    variant(store, abandoned_after_s=0).write(PEOPLE, people(1, start=7).to_batches(), "ds",
                                              mode="overwrite")  # fmt: skip
    assert ids(store) == [7]
    assert raw(store) == listed(store)
