"""The artifact store: status, export/import/clone, and state that cannot execute code."""

from __future__ import annotations

import json
import zipfile

import pyarrow.parquet as pq
import pytest

import synthpipe
from synthpipe.errors import ArtifactError, NotFoundError
from synthpipe.store import Status, Store


@pytest.fixture
def trained(home, demo_pipeline):
    return synthpipe.train(demo_pipeline, generator="independent")


def _rows(dataset_id: str, home) -> dict:
    store = Store(home)
    record = store.dataset(dataset_id)
    return {
        t: pq.read_table(store.dataset_dir(record.id) / info["parts"][0]).to_pylist()
        for t, info in record.tables.items()
    }


def test_trained_generator_is_done_with_progress_steps(trained):
    assert trained.status is Status.DONE
    names = [s["name"] for s in trained.progress]
    assert "load surveys" in names and "train surveys" in names
    assert all(s["status"] == "DONE" for s in trained.progress)
    assert trained.training_rows["surveys"] > 0


def test_export_import_into_empty_home_generates_identical_rows(trained, home, tmp_path):
    original = synthpipe.generate(trained.id, seed=5)
    exported = synthpipe.export_generator(trained.id, tmp_path / "gen.zip")
    with zipfile.ZipFile(exported) as zf:
        assert not any(n.startswith("reference/") for n in zf.namelist())  # no real rows
    other_home = tmp_path / "elsewhere"
    imported = synthpipe.import_generator(exported, home=other_home)
    again = synthpipe.generate(imported.id, seed=5, home=other_home)
    assert _rows(original.id, home) == _rows(again.id, other_home)


def test_clone_has_a_new_id_and_the_same_model(trained, home):
    clone = synthpipe.clone_generator(trained.id, name="copy")
    assert clone.id != trained.id and clone.name == "copy"
    a = synthpipe.generate(trained.id, seed=1)
    b = synthpipe.generate("copy", seed=1)
    assert _rows(a.id, home) == _rows(b.id, home)


def test_record_of_another_format_version_is_refused(trained, home):
    path = Store(home).generator_dir(trained.id) / "record.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="format version 99"):
        Store(home).generator(trained.id)


def test_state_of_another_generator_version_is_refused(trained, home):
    model = Store(home).generator_dir(trained.id) / "model" / "meta.json"
    doc = json.loads(model.read_text())
    doc["meta"]["version"] = 0
    model.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="train it again"):
        synthpipe.generate(trained.id)


def test_fitted_arrays_load_without_pickle(trained, home):
    import numpy as np

    with np.load(
        Store(home).generator_dir(trained.id) / "model" / "arrays.npz", allow_pickle=False
    ) as npz:
        assert all(npz[k].dtype.kind != "O" for k in npz.files)


def test_import_rejects_a_file_that_is_not_an_export(tmp_path, home):
    bogus = tmp_path / "x.zip"
    with zipfile.ZipFile(bogus, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ArtifactError, match="not a synthpipe generator export"):
        synthpipe.import_generator(bogus)


def test_unknown_generator_names_the_list_command(home):
    with pytest.raises(NotFoundError, match="synthpipe generators list"):
        synthpipe.generate("missing")


def test_delete_removes_the_generator(trained, home):
    synthpipe.delete_generator(trained.id)
    assert synthpipe.list_generators() == []
