"""Hardening of the files destination (issue 13): names never become paths, a delivery of
several tables is all-or-nothing for readers that follow the manifest (also across kill -9),
two deliveries to one folder run one after the other, zero-row tables are readable files, and
appends are idempotent per dataset with keys moved past the existing ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthpipe.connectors.files import FilesConnector
from synthpipe.connectors.sql import LockTimeoutError
from synthpipe.names import UnsafeNameError
from synthpipe.schema import Column, ForeignKey, LogicalType, Table

INTEGER, STRING = LogicalType.INTEGER, LogicalType.STRING
PLOTS = Table(
    name="plots",
    primary_key=["id"],
    columns=[Column(name="id", type=INTEGER), Column(name="tag", type=STRING)],
)
SURVEYS = Table(
    name="surveys",
    primary_key=["id"],
    foreign_keys=[ForeignKey(column="plot_id", referenced_table="plots")],
    columns=[
        Column(name="id", type=INTEGER),
        Column(name="plot_id", type=INTEGER),
        Column(name="tag", type=STRING),
    ],
)
SPECIES = PLOTS.model_copy(update={"name": "species", "original_data": True})


def plots(tag: str, ids=(1, 2)) -> list[pa.RecordBatch]:
    return [pa.record_batch({"id": pa.array(ids, pa.int64()), "tag": [tag] * len(ids)})]


def surveys(tag: str, ids=(1, 2, 3), plot_ids=(1, 2, 2)) -> list[pa.RecordBatch]:
    return [
        pa.record_batch(
            {
                "id": pa.array(ids, pa.int64()),
                "plot_id": pa.array(plot_ids, pa.int64()),
                "tag": [tag] * len(ids),
            }
        )
    ]


def delivery(tag: str):
    return [(PLOTS, plots(tag)), (SURVEYS, surveys(tag))]


def tags(conn: FilesConnector) -> dict[str, set[str]]:
    """The tags each table holds, read through the connector (which follows the manifest)."""
    return {
        name: {row["tag"] for b in conn.read(name) for row in b.to_pylist()}
        for name in ("plots", "surveys")
    }


def file_tags(folder: Path) -> dict[str, set[str]]:
    """The tags each table's file holds, read without the manifest."""
    return {
        name: set(pq.read_table(folder / f"{name}.parquet")["tag"].to_pylist())
        for name in ("plots", "surveys")
    }


# -- 1. names are checked before any path is built ----------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "ABSOLUTE",  # an absolute path inside the test's folder
        "../escaped",
        "a/b",
        "..",
        "_sp_stage",
        "_synthpipe_log",
        ".hidden",
        "_manifest.json",
    ],
)
def test_a_table_name_that_is_a_path_or_reserved_is_refused_before_writing(tmp_path, name):
    name = str(tmp_path / "abs_escape") if name == "ABSOLUTE" else name
    conn = FilesConnector(path=tmp_path / "dest")
    with pytest.raises(UnsafeNameError, match=rf"table name '{re.escape(name)}'.*rename the table"):
        conn.write_tables([(Table(name=name), plots("x"))], mode="overwrite")
    assert list(tmp_path.rglob("*")) == []  # nothing written, not even the folder made


def test_a_location_that_leaves_the_folder_is_refused(tmp_path):
    conn = FilesConnector(path=tmp_path / "dest")
    for location in ("../outside", "/abs", "a/../../b"):
        with pytest.raises(UnsafeNameError, match=f"location '{location}'"):
            conn.write_tables(delivery("x"), location, mode="overwrite")
    assert list(tmp_path.rglob("*")) == []


# -- 2. all-or-nothing across kill -9, and no leftovers after the next delivery ----------------
KILLED_DELIVERY = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from test_files_hardening import PLOTS, SURVEYS, plots, surveys
    from synthpipe.connectors.files import FilesConnector

    dest, marker, phase = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[4]

    def sleeping_after_the_first_table():
        marker.write_text("the first table is written")
        time.sleep(600)
        yield from surveys("new")

    if phase == "swap":  # stop right after the first file was moved into place
        real = os.replace
        def replace(src, dst):
            real(src, dst)
            if str(dst).endswith("plots.parquet"):
                marker.write_text("one file swapped")
                time.sleep(600)
        os.replace = replace
        tables = [(PLOTS, plots("new")), (SURVEYS, surveys("new"))]
    else:
        tables = [(PLOTS, plots("new")), (SURVEYS, sleeping_after_the_first_table())]
    FilesConnector(path=dest).write_tables(tables, mode="overwrite")
    """
)


def kill_mid_delivery(tmp_path: Path, dest: Path, phase: str) -> None:
    """Run a delivery of 'new' in a subprocess and kill -9 it at ``phase``."""
    script, marker = tmp_path / "killed_delivery.py", tmp_path / "marker"
    script.write_text(KILLED_DELIVERY)
    here = str(Path(__file__).parent)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(dest), str(marker), here, phase],
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(6000):  # waits for the marker, not a timing assertion
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert marker.exists(), proc.stderr.read().decode() if proc.poll() is not None else ""
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
        proc.stderr.close()


def test_a_delivery_killed_while_writing_leaves_the_old_set_and_the_next_cleans_up(tmp_path):
    dest = tmp_path / "dest"
    conn = FilesConnector(path=dest)
    conn.write_tables(delivery("old"), mode="overwrite")
    kill_mid_delivery(tmp_path, dest, "write")
    assert file_tags(dest) == {"plots": {"old"}, "surveys": {"old"}}
    assert tags(conn) == {"plots": {"old"}, "surveys": {"old"}}
    assert any(p.name.startswith("_sp_") for p in dest.iterdir())  # the killed staging
    assert conn.locations() == [""] and conn.tables() == ["plots", "surveys"]

    conn.write_tables(delivery("next"), mode="overwrite")
    assert sorted(p.name for p in dest.iterdir()) == [
        "_manifest.json",
        "plots.parquet",
        "surveys.parquet",
    ]
    assert tags(conn) == {"plots": {"next"}, "surveys": {"next"}}


def test_a_delivery_killed_while_swapping_reads_as_new_and_is_completed_by_the_next(tmp_path):
    dest = tmp_path / "dest"
    conn = FilesConnector(path=dest)
    conn.write_tables(delivery("old"), mode="overwrite")
    kill_mid_delivery(tmp_path, dest, "swap")
    manifest = json.loads((dest / "_manifest.json").read_text())
    assert manifest["state"] == "swapping"
    assert file_tags(dest) == {"plots": {"new"}, "surveys": {"old"}}  # files alone: mixed
    assert tags(conn) == {"plots": {"new"}, "surveys": {"new"}}  # the manifest's reader: new

    other = Table(name="other", columns=[Column(name="tag", type=STRING)])
    conn.write_tables([(other, [pa.record_batch({"tag": ["o"]})])], mode="overwrite")
    assert file_tags(dest) == {"plots": {"new"}, "surveys": {"new"}}
    assert json.loads((dest / "_manifest.json").read_text())["state"] == "committed"
    assert sorted(p.name for p in dest.iterdir()) == [
        "_manifest.json",
        "other.parquet",
        "plots.parquet",
        "surveys.parquet",
    ]


def test_the_next_delivery_removes_temporary_files_an_older_version_left(tmp_path):
    conn = FilesConnector(path=tmp_path)
    (tmp_path / ".surveys.parquet.k3j_x9q1").write_bytes(b"PAR1 half")
    conn.write_tables(delivery("new"), mode="overwrite")
    assert not (tmp_path / ".surveys.parquet.k3j_x9q1").exists()


# -- 2b. two deliveries to one folder run one after the other ------------------------------
def test_a_delivery_waits_for_one_in_progress_and_gives_up_after_lock_timeout(tmp_path):
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def held_open():
        started.set()
        release.wait()
        yield from surveys("first")

    def first():
        try:
            conn = FilesConnector(path=tmp_path)
            conn.write_tables([(PLOTS, plots("first")), (SURVEYS, held_open())], mode="overwrite")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    started.wait()
    try:
        second = FilesConnector(path=tmp_path, lock_timeout=0.3)
        with pytest.raises(LockTimeoutError, match=rf"pid {os.getpid()}.*lock_timeout=0.3s"):
            second.write_tables(delivery("second"), mode="overwrite")
    finally:
        release.set()
        thread.join()
    assert errors == []
    assert tags(FilesConnector(path=tmp_path)) == {"plots": {"first"}, "surveys": {"first"}}
    assert not (tmp_path / ".synthpipe.lock").exists()


def test_concurrent_deliveries_to_one_folder_never_overlap_and_end_whole(tmp_path):
    active = tmp_path / "active"  # outside the destination: who is writing now
    dest = tmp_path / "dest"
    errors: list[BaseException] = []

    def guarded(tag: str):
        fd = os.open(active, os.O_CREAT | os.O_EXCL)  # fails if another delivery is writing
        os.close(fd)
        time.sleep(0.02)  # widen the window another delivery would need to overlap
        yield from plots(tag)

    def releasing(tag: str):
        yield from surveys(tag)
        active.unlink()

    def deliver(writer: str):
        try:
            conn = FilesConnector(path=dest)
            for round_ in range(4):
                tag = f"{writer}{round_}"
                conn.write_tables(
                    [(PLOTS, guarded(tag)), (SURVEYS, releasing(tag))], mode="overwrite"
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(w,)) for w in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    read = tags(FilesConnector(path=dest))
    assert read["plots"] == read["surveys"] and len(read["plots"]) == 1
    assert sorted(p.name for p in dest.iterdir()) == [
        "_manifest.json",
        "plots.parquet",
        "surveys.parquet",
    ]


def test_a_reader_that_follows_the_manifest_never_sees_two_deliveries_mixed(tmp_path):
    """The reader protocol of docs/connectors.md: read the manifest's delivery and state,
    the tables, and the manifest again; a read is kept only when both agree."""
    FilesConnector(path=tmp_path).write_tables(delivery("r0"), mode="overwrite")
    errors: list[BaseException] = []
    done = threading.Event()

    def deliveries():
        try:
            conn = FilesConnector(path=tmp_path)
            for i in range(1, 16):
                conn.write_tables(delivery(f"r{i}"), mode="overwrite")
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def commit() -> tuple[str, str]:
        manifest = json.loads((tmp_path / "_manifest.json").read_text())
        return manifest["delivery"], manifest["state"]

    reader, kept = FilesConnector(path=tmp_path), []
    thread = threading.Thread(target=deliveries)
    thread.start()
    while True:
        finished = done.is_set()
        before = commit()
        read = tags(reader)
        if commit() == before:
            kept.append(read)
        if finished:
            break
    thread.join()
    assert errors == []
    assert kept[-1] == {"plots": {"r15"}, "surveys": {"r15"}}
    assert all(r["plots"] == r["surveys"] and len(r["plots"]) == 1 for r in kept)


# -- 3. a table of zero rows is a readable file ---------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_table_of_zero_rows_is_written_with_its_columns(tmp_path, fmt):
    conn = FilesConnector(path=tmp_path, format=fmt)
    assert conn.write_tables([(SURVEYS, iter([]))], mode="overwrite") == {"surveys": 0}
    path = tmp_path / f"surveys.{fmt}"
    if fmt == "parquet":
        written = pq.read_table(path)
        assert written.schema.names == ["id", "plot_id", "tag"]
        assert [str(t) for t in written.schema.types] == ["int64", "int64", "string"]
        assert written.num_rows == 0
    else:
        assert path.read_text() == '"id","plot_id","tag"\n'
    [table] = conn.schema(tables=["surveys"])
    assert [c.name for c in table.columns] == ["id", "plot_id", "tag"]
    assert sum(b.num_rows for b in conn.read("surveys")) == 0


# -- 4. appends: idempotent per dataset, keys moved past the old ones, lookups once -----------
def test_appending_the_same_dataset_again_changes_nothing(tmp_path):
    conn = FilesConnector(path=tmp_path)
    first = conn.write_tables(delivery("a"), mode="append", dataset_id="ds-a")
    retried = conn.write_tables(delivery("a"), mode="append", dataset_id="ds-a")
    assert first == retried == {"plots": 2, "surveys": 3}
    assert pq.read_table(tmp_path / "surveys.parquet").num_rows == 3
    assert pq.read_table(tmp_path / "plots.parquet").num_rows == 2
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert manifest["tables"]["surveys"]["datasets"] == {"ds-a": 3}


def test_a_second_dataset_gets_its_keys_and_foreign_keys_moved_past_the_existing(tmp_path):
    conn = FilesConnector(path=tmp_path)
    lookup = [pa.record_batch({"id": pa.array([1, 2], pa.int64()), "tag": ["s1", "s2"]})]
    conn.write_tables([(SPECIES, lookup), *delivery("a")], mode="append", dataset_id="ds-a")
    written = conn.write_tables(
        [(SPECIES, lookup), *delivery("b")], mode="append", dataset_id="ds-b"
    )
    assert written == {"species": 0, "plots": 2, "surveys": 3}
    assert pq.read_table(tmp_path / "species.parquet")["id"].to_pylist() == [1, 2]
    assert pq.read_table(tmp_path / "plots.parquet")["id"].to_pylist() == [1, 2, 3, 4]
    rows = pq.read_table(tmp_path / "surveys.parquet").to_pylist()
    assert [(r["id"], r["plot_id"], r["tag"]) for r in rows] == [
        (1, 1, "a"),
        (2, 2, "a"),
        (3, 2, "a"),
        (4, 3, "b"),
        (5, 4, "b"),
        (6, 4, "b"),
    ]
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert manifest["tables"]["plots"]["datasets"] == {"ds-a": 2, "ds-b": 2}
