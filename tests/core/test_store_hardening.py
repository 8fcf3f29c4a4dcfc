"""Hostile input to the store, archives and pipeline files is refused clearly (issue 13).

Each test builds the hostile table name, archive, record, model file or YAML in tmp_path and
checks the refusal, its message, and that nothing was written where it must not be.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from daily_support import write_pipeline

import synthpipe
from synthpipe import store as store_module
from synthpipe.errors import ArtifactError, ConfigError, ConnectorError
from synthpipe.names import UnsafeNameError
from synthpipe.store import Status, Store


@pytest.fixture
def trained(home, tmp_path):
    return synthpipe.train(write_pipeline(tmp_path), name="shop")


@pytest.fixture
def exported(trained, tmp_path) -> Path:
    return synthpipe.export_generator(trained.id, tmp_path / "shop.zip")


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def rewrite_zip(src: Path, dest: Path, change=None, extra: dict | None = None) -> Path:
    """A copy of an export; ``change(name, data)`` returns new data (None drops the member)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if change is not None:
                data = change(info.filename, data)
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dest


# -- 1. table names never become paths outside the store ----------------------------------------


def escaping_source(tmp_path: Path, table: str) -> Path:
    """A DuckDB source with a 40-row table named ``table``."""
    path = tmp_path / "source.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f'CREATE TABLE "{table}" AS SELECT range AS id, range % 7 AS v FROM range(40)')
    return path


@pytest.mark.parametrize("table", ["../../../escaped", "{tmp}/escaped-abs"])
def test_a_table_name_that_is_a_path_is_refused_before_training_writes_anything(
    home, tmp_path, table
):
    table = table.format(tmp=tmp_path)  # an absolute path inside this test's folder
    source = escaping_source(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        synthpipe.train(
            source={"connector": "duckdb", "options": {"path": str(source)}},
            tables=[{"name": table, "primary_key": "id"}],
            generator="independent",
        )
    message = str(info.value)
    assert repr(table) in message and "path separator" in message
    assert "rename the table at the source" in message
    assert Store(home).generators() == []  # no record, no reference rows, no model
    assert not any("escaped" in p for p in files_under(tmp_path) if "source" not in p)


def test_an_archive_whose_config_names_a_path_table_is_refused(home, exported, tmp_path):
    def rename(name: str, data: bytes) -> bytes:
        if name != "record.json":
            return data
        record = json.loads(data)
        record["config"]["tables"][1]["name"] = "../../../../escaped"
        return json.dumps(record).encode()

    hostile = rewrite_zip(exported, tmp_path / "hostile.zip", rename)
    before = files_under(home / "generators")
    with pytest.raises(ArtifactError, match=r"'../../../../escaped': it contains a path separator"):
        synthpipe.import_generator(hostile)
    assert files_under(home / "generators") == before


def test_a_stored_config_with_a_path_table_does_not_generate(home, trained):
    store = Store(home)
    path = store.generator_dir(trained.id) / "record.json"
    record = json.loads(path.read_text())
    record["config"]["tables"][1]["name"] = "../../escaped"
    path.write_text(json.dumps(record))
    with pytest.raises(UnsafeNameError, match=r"'../../escaped'"):
        synthpipe.generate(trained.id)
    assert not any("escaped" in p for p in files_under(home))


def test_meta_json_naming_an_absolute_model_file_is_not_opened(home, trained, tmp_path):
    outside = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"x": [1]}), outside)
    meta = Store(home).generator_dir(trained.id) / "model" / "meta.json"
    doc = json.loads(meta.read_text())
    first = next(iter(doc["tables"]))
    doc["tables"][first] = str(outside)
    meta.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=r"outside .*changed by hand or damaged"):
        Store(home).load_state(trained.id)


def test_dataset_parts_outside_the_dataset_folder_are_not_read(home, trained, tmp_path):
    dataset = synthpipe.generate(trained.id)
    outside = tmp_path / "secret.parquet"
    pq.write_table(pa.table({"secret": [1]}), outside)
    path = Store(home).dataset_dir(dataset.id) / "record.json"
    record = json.loads(path.read_text())
    record["tables"]["customers"]["parts"] = [str(outside)]
    path.write_text(json.dumps(record))
    from synthpipe.engine import read_dataset

    with pytest.raises(ArtifactError, match=r"outside"):
        read_dataset(Store(home), dataset.id, "customers")


# -- 2. archives: zip-slip, links, bombs ---------------------------------------------------------


def test_a_zip_slip_archive_is_refused_and_leaves_no_generator_behind(home, exported, tmp_path):
    hostile = rewrite_zip(exported, tmp_path / "slip.zip", extra={"../../evil.txt": b"x"})
    before = synthpipe.list_generators()
    with pytest.raises(ArtifactError, match=r"unsafe path '../../evil.txt'; not imported"):
        synthpipe.import_generator(hostile)
    assert [g.id for g in synthpipe.list_generators()] == [g.id for g in before]
    assert len(list((home / "generators").iterdir())) == len(before)  # no partial folder
    assert not (tmp_path / "evil.txt").exists() and not (home / "evil.txt").exists()


def test_an_archive_member_that_is_a_link_is_refused(home, exported, tmp_path):
    hostile = rewrite_zip(exported, tmp_path / "link.zip")
    with zipfile.ZipFile(hostile, "a") as zf:
        info = zipfile.ZipInfo("model/passwd")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArtifactError, match=r"symbolic link 'model/passwd'"):
        synthpipe.import_generator(hostile)
    assert len(list((home / "generators").iterdir())) == 1


def test_a_zip_bomb_member_is_refused_naming_the_limit(home, exported, tmp_path):
    bomb = rewrite_zip(exported, tmp_path / "bomb.zip", extra={"model/big.bin": bytes(40 << 20)})
    with pytest.raises(ArtifactError, match=r"'model/big.bin' unpacks to 41,943,040 bytes.*200"):
        synthpipe.import_generator(bomb)
    assert len(list((home / "generators").iterdir())) == 1


def test_an_archive_beyond_the_total_size_limit_is_refused(home, exported, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "IMPORT_MAX_BYTES", 1000)
    with pytest.raises(ArtifactError, match=r"more than the 1,000 an import may take"):
        synthpipe.import_generator(exported, home=tmp_path / "other")
    assert files_under(tmp_path / "other" / "generators") == []


def test_export_refuses_a_link_to_a_file_outside(home, trained, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for export")
    (Store(home).generator_dir(trained.id) / "model" / "stolen.txt").symlink_to(secret)
    with pytest.raises(ArtifactError, match=r"stolen.txt is a symbolic link"):
        synthpipe.export_generator(trained.id, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
    assert [p.name for p in tmp_path.glob(".out.zip*")] == []


def test_an_archive_without_record_json_is_refused_clearly(home, exported, tmp_path):
    hostile = rewrite_zip(
        exported, tmp_path / "norecord.zip", lambda n, d: None if n == "record.json" else d
    )
    with pytest.raises(ArtifactError, match=r"has no record.json; .*export the generator again"):
        synthpipe.import_generator(hostile)


def test_an_archive_with_a_corrupt_member_is_refused_and_leaves_nothing(home, exported, tmp_path):
    data = bytearray(exported.read_bytes())
    with zipfile.ZipFile(exported) as zf:
        info = zf.getinfo("model/arrays.npz")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 60):
        data[i] ^= 0xFF  # flip bytes inside the compressed data
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"damaged.zip is damaged .*not imported"):
        synthpipe.import_generator(damaged)
    assert len(list((home / "generators").iterdir())) == 1


# -- 3. damaged and future-version records -------------------------------------------------------


def test_a_damaged_record_is_skipped_by_listings_with_a_warning(home, trained, caplog):
    broken = Store(home).generator_dir("gen-broken")
    broken.mkdir(parents=True)
    (broken / "record.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="synthpipe.store"):
        assert [g.id for g in synthpipe.list_generators()] == [trained.id]
    assert "skipped gen-broken" in caplog.text
    store = Store(home)
    store.generators()
    assert "damaged" in store.skipped["gen-broken"]  # for UIs to name it
    assert synthpipe.generate("shop").status is Status.DONE  # others still generate
    with pytest.raises(ArtifactError, match=r"cannot read .*gen-broken.*damaged"):
        synthpipe.get_generator("gen-broken")


def test_a_future_version_record_is_refused_on_load_and_skipped_in_lists(home, trained):
    path = Store(home).generator_dir(trained.id) / "record.json"
    data = json.loads(path.read_text())
    data["format_version"] = store_module.FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    assert synthpipe.list_generators() == []
    with pytest.raises(ArtifactError, match=r"format version 2.*upgrade synthpipe"):
        synthpipe.get_generator(trained.id)


def test_a_record_with_wrong_fields_is_reported_as_damaged(home, trained):
    path = Store(home).generator_dir(trained.id) / "record.json"
    data = json.loads(path.read_text())
    data["status"] = "EXPLODED"
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"is damaged .*status"):
        synthpipe.get_generator(trained.id)


def test_import_refuses_a_future_version_record_inside_a_current_manifest(home, exported, tmp_path):
    def future(name: str, data: bytes) -> bytes:
        if name != "record.json":
            return data
        record = json.loads(data)
        record["format_version"] = 7
        return json.dumps(record).encode()

    hostile = rewrite_zip(exported, tmp_path / "future.zip", future)
    with pytest.raises(ArtifactError, match=r"record.json.*format version 7.*upgrade synthpipe"):
        synthpipe.import_generator(hostile)
    assert len(list((home / "generators").iterdir())) == 1


def test_an_import_that_passes_every_check_still_generates(home, exported, tmp_path):
    imported = synthpipe.import_generator(exported, home=tmp_path / "other")
    assert imported.status is Status.DONE and imported.pid is None
    assert synthpipe.generate(imported.id, home=tmp_path / "other").status is Status.DONE
    assert not list((tmp_path / "other" / "generators").glob(".import-*"))


# -- 5. bounded YAML, sizes, abandoned jobs ------------------------------------------------------


def test_a_billion_laughs_pipeline_is_refused_naming_the_line(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    body = "\n".join("  " + line for line in lines)
    path = tmp_path / "lol.yaml"
    path.write_text(
        "name: lol\nsource: {connector: files, options: {path: data}}\n"
        f"generator:\n  model_configuration:\n  {body.replace(chr(10), chr(10) + '  ')}\n"
    )
    with pytest.raises(ConfigError) as info:
        synthpipe.load_pipeline(path)
    message = str(info.value)
    assert str(path) in message and "line 11: alias *a5" in message
    assert "more than 100,000 values" in message


def test_a_self_referencing_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("name: x\nsource: {connector: files}\ndescription: &d [*d]\n")
    with pytest.raises(ConfigError, match=r"line 3: alias \*d .*refers to itself"):
        synthpipe.load_pipeline(path)


def test_a_few_aliases_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "name: x\nsource: &s {connector: files, options: {path: data}}\n"
        "delivery:\n  - destination: *s\n  - destination: *s\n"
    )
    pipeline = synthpipe.load_pipeline(path)
    assert [d.destination.connector for d in pipeline.delivery] == ["files", "files"]


def test_sizes_beyond_the_maximum_are_refused_naming_the_table(tmp_path, home):
    path = write_pipeline(tmp_path, generation={"sizes": {"customers": 1.0e12}})
    assert "1000000000000.0" in path.read_text()
    with pytest.raises(
        ConfigError,
        match=r"table 'customers' asks for 1000000000000 rows.*"
        r"1,000,000,000 rows",
    ):
        synthpipe.load_pipeline(path)


def test_sizes_beyond_the_maximum_are_refused_by_generate(trained):
    with pytest.raises(ConfigError, match=r"table 'customers' asks for 1000000000000 rows"):
        synthpipe.generate(trained.id, sizes={"customers": 10**12})


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_in_progress_record_whose_process_is_gone_is_failed_abandoned(home, trained):
    store = Store(home)
    record = store.generator(trained.id).model_copy(
        update={"id": "gen-abandoned", "status": Status.IN_PROGRESS, "finished_at": None}
    )
    record.pid, record.host = _dead_pid(), socket.gethostname()
    store.save(record)
    [listed] = [g for g in synthpipe.list_generators() if g.id == "gen-abandoned"]
    assert listed.status is Status.FAILED
    assert listed.error == f"abandoned (process {record.pid} is gone)"
    on_disk = json.loads((store.generator_dir("gen-abandoned") / "record.json").read_text())
    assert on_disk["status"] == "FAILED"


def test_an_in_progress_record_of_a_live_process_stays_in_progress(home, trained):
    store = Store(home)
    record = store.generator(trained.id).model_copy(
        update={"id": "gen-running", "status": Status.IN_PROGRESS}
    )
    record.pid, record.host = os.getpid(), socket.gethostname()
    store.save(record)
    assert store.generator("gen-running").status is Status.IN_PROGRESS
    other = record.model_copy(update={"id": "gen-elsewhere", "host": "another-host"})
    other.pid = _dead_pid()
    store.save(other)  # a process on another host cannot be checked from here
    assert store.generator("gen-elsewhere").status is Status.IN_PROGRESS


def test_a_running_job_records_its_process(home, trained):
    assert trained.pid == os.getpid() and trained.host == socket.gethostname()


# -- 6. damaged files give clear errors ----------------------------------------------------------


def _model(home, trained) -> Path:
    return Store(home).generator_dir(trained.id) / "model"


def test_tampered_meta_json_names_the_file(home, trained):
    (_model(home, trained) / "meta.json").write_text('{"meta": 1}')
    with pytest.raises(ArtifactError, match=r"meta.json is damaged .*train generator"):
        synthpipe.generate(trained.id)


def test_a_truncated_npz_names_the_file(home, trained):
    npz = _model(home, trained) / "arrays.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(ArtifactError, match=r"arrays.npz is damaged .*train generator"):
        synthpipe.generate(trained.id)


def test_a_corrupt_model_parquet_names_the_file(home, trained):
    tables = sorted((_model(home, trained) / "tables").glob("*.parquet"))
    assert tables
    tables[0].write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(ArtifactError, match=rf"{tables[0].name} is damaged .*train generator"):
        synthpipe.generate(trained.id)


def test_a_corrupt_source_parquet_names_the_table(home, tmp_path):
    pipeline = write_pipeline(tmp_path)
    (tmp_path / "data" / "orders.parquet").write_bytes(b"PAR1 garbage PAR1")
    with pytest.raises(ConnectorError, match=r"connector 'files'.*repair or replace"):
        synthpipe.train(pipeline)


def test_a_csv_type_error_names_the_table(home, tmp_path):
    data = tmp_path / "csv"
    data.mkdir()
    rows = "\n".join(f"{i},{i % 5}" for i in range(1, 300_000))
    (data / "items.csv").write_text(f"id,v\n{rows}\n300000,not-a-number\n")
    with pytest.raises(ConnectorError) as info:
        synthpipe.train(
            source={"connector": "files", "options": {"path": str(data)}},
            tables=[{"name": "items", "primary_key": "id"}],
            generator="independent",
        )
    assert "cannot read table 'items'" in str(info.value)
    assert "not-a-number" in str(info.value)
    [record] = Store(os.environ["SYNTHPIPE_HOME"]).generators()
    assert record.status is Status.FAILED


def test_the_cli_reports_a_damaged_model_as_an_error_not_a_bug(home, trained, capsys):
    from synthpipe.cli import main

    (_model(home, trained) / "meta.json").write_text("not json")
    with pytest.raises(SystemExit) as info:
        main(["generate", trained.id])
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert err.startswith("error: ") and "meta.json is damaged" in err
    assert "unexpected" not in err
