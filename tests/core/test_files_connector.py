"""The local-files connector: a folder of parquet/CSV files is a dataset."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthpipe.connectors.base import WriteMode
from synthpipe.connectors.files import FilesConnector
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.schema import Table


@pytest.fixture
def folder(tmp_path):
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", None, "c"]}), tmp_path / "t.parquet")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("x,y\n1,2.5\n3,4.5\n")
    parts = tmp_path / "big"
    parts.mkdir()
    for i in range(2):
        pq.write_table(pa.table({"v": [i]}), parts / f"part-{i:05d}.parquet")
    return tmp_path


def test_locations_and_tables(folder):
    conn = FilesConnector(path=folder)
    assert conn.locations() == ["", "sub"]
    assert conn.tables() == ["big", "t"]
    assert conn.tables("sub") == ["c"]


def test_schema_reads_types_and_row_counts_from_metadata(folder):
    [t] = FilesConnector(path=folder).schema(tables=["t"])
    assert t.rows == 3
    assert [(c.name, c.type.value) for c in t.columns] == [("id", "integer"), ("name", "string")]
    [c] = FilesConnector(path=folder).schema("sub")
    assert [col.type.value for col in c.columns] == ["integer", "float"]


def test_read_is_chunked_and_reads_folders_of_parts(folder):
    conn = FilesConnector(path=folder)
    batches = list(conn.read("t", batch_size=2))
    assert [b.num_rows for b in batches] == [2, 1]
    assert sum(b.num_rows for b in conn.read("big")) == 2


def test_missing_table_names_what_is_there(folder):
    with pytest.raises(NotFoundError, match=r"tables here: big, t"):
        list(FilesConnector(path=folder).read("nope"))


def _table(name="out"):
    return Table(name=name)


def _batches(values):
    return [pa.record_batch({"id": pa.array(values, pa.int64())})]


def test_fail_mode_refuses_existing_target_and_keeps_it(folder):
    conn = FilesConnector(path=folder)
    with pytest.raises(TargetExistsError, match=r"t\.parquet"):
        conn.write(_table("t"), _batches([9]), mode=WriteMode.FAIL)
    assert pq.read_table(folder / "t.parquet").num_rows == 3


def test_overwrite_replaces_and_append_adds(folder):
    conn = FilesConnector(path=folder)
    conn.write(_table(), _batches([1, 2]), mode="overwrite")
    conn.write(_table(), _batches([3]), mode="overwrite")
    assert pq.read_table(folder / "out.parquet")["id"].to_pylist() == [3]
    conn.write(_table(), _batches([4, 5]), mode="append")
    assert pq.read_table(folder / "out.parquet")["id"].to_pylist() == [3, 4, 5]


def test_append_with_other_types_is_refused_before_writing(folder):
    conn = FilesConnector(path=folder)
    bad = [pa.record_batch({"id": pa.array(["x"]), "name": pa.array(["y"])})]
    with pytest.raises(ConnectorError, match="column 'id' is string, existing is int64"):
        conn.write(_table("t"), bad, mode="append")
    assert pq.read_table(folder / "t.parquet").num_rows == 3


def test_failed_write_leaves_the_old_file_and_no_temporary_files(folder):
    conn = FilesConnector(path=folder)

    def broken():
        yield pa.record_batch({"id": pa.array([1], pa.int64()), "name": pa.array(["n"])})
        raise RuntimeError("connection dropped")

    with pytest.raises(RuntimeError):
        conn.write(_table("t"), broken(), mode="overwrite")
    assert pq.read_table(folder / "t.parquet").num_rows == 3
    assert sorted(p.name for p in folder.iterdir()) == ["big", "sub", "t.parquet"]


def test_write_tables_in_fail_mode_checks_every_target_first(folder):
    conn = FilesConnector(path=folder)
    with pytest.raises(TargetExistsError) as info:
        conn.write_tables(
            [(_table("new"), _batches([1])), (_table("t"), _batches([1]))], mode="fail"
        )
    assert info.value.targets == ["t"]
    assert not (folder / "new.parquet").exists()


def test_csv_format_writes_csv(folder):
    conn = FilesConnector(path=folder / "csv", format="csv")
    conn.write(_table(), _batches([1, 2]), mode="overwrite")
    assert (folder / "csv" / "out.csv").read_text().splitlines() == ['"id"', "1", "2"]
