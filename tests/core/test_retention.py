"""Deleting datasets and generators, and the pipeline's retention policy (run and refresh DAG)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from daily_support import write_pipeline

import synthpipe
from synthpipe.cli import cli
from synthpipe.errors import ArtifactError, ConfigError, NotFoundError
from synthpipe.store import Status, Store


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args])


@pytest.fixture
def pipeline(tmp_path):
    return write_pipeline(tmp_path)


@pytest.fixture
def trained(home, pipeline):
    return synthpipe.train(pipeline, name="shop")


def ids(home) -> list[str]:
    return [d.id for d in Store(home).datasets()]


def age(home, record_id: str, days: float, kind: str = "datasets") -> None:
    """Make a record look ``days`` old."""
    path = home / kind / record_id / "record.json"
    doc = json.loads(path.read_text())
    doc["created_at"] -= days * 86400
    path.write_text(json.dumps(doc))


# -- datasets delete --------------------------------------------------------------------------


def test_datasets_delete_by_id_and_name(home, trained):
    a = synthpipe.generate("shop", seed=1)
    b = synthpipe.generate("shop", seed=2, name="keep-me-not")
    c = synthpipe.generate("shop", seed=3)
    out = invoke("datasets", "delete", a.id, "keep-me-not")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        f"deleted dataset {a.name} ({a.id})",
        f"deleted dataset keep-me-not ({b.id})",
    ]
    assert ids(home) == [c.id]
    assert not Store(home).dataset_dir(a.id).exists()
    assert [p.name for p in (home / "datasets").iterdir()] == [c.id]  # no trash left


def test_datasets_delete_checks_every_ref_before_deleting(home, trained):
    a = synthpipe.generate("shop", seed=1)
    out = invoke("datasets", "delete", a.id, "nosuch")
    assert out.exit_code == 1 and isinstance(out.exception, NotFoundError)
    assert ids(home) == [a.id]


def test_a_repeated_name_is_not_deleted_wholesale(home, trained):
    a = synthpipe.generate("shop", seed=1, name="twice")
    b = synthpipe.generate("shop", seed=2, name="twice")
    with pytest.raises(NotFoundError, match=f"matches 2 datasets: {a.id} .DONE., {b.id}"):
        synthpipe.delete_datasets(["twice"])
    assert synthpipe.delete_dataset(b.id).id == b.id
    assert ids(home) == [a.id]


def test_a_dataset_being_delivered_is_not_deleted_unless_forced(home, trained):
    a = synthpipe.generate("shop", seed=1)
    store = Store(home)
    with store.delivering(a.id, "postgres"):
        with pytest.raises(ArtifactError, match=r"being delivered to postgres.*--force"):
            synthpipe.delete_datasets([a.id])
        assert ids(home) == [a.id]
        out = invoke("datasets", "delete", a.id, "--force")
        assert out.exit_code == 0, out.output
    assert ids(home) == []


def test_delivery_marks_the_dataset_while_it_writes(home, trained, tmp_path):
    from synthpipe.connectors.files import FilesConnector

    dataset = synthpipe.generate("shop", seed=1)
    seen = []
    original = FilesConnector.write_tables

    def spy(self, *args, **kwargs):
        seen.append(Store(home).deliveries(dataset.id))
        return original(self, *args, **kwargs)

    FilesConnector.write_tables = spy
    try:
        delivery = {"destination": {"connector": "files", "options": {"path": str(tmp_path / "o")}}}
        synthpipe.deliver(dataset.id, delivery)
    finally:
        FilesConnector.write_tables = original
    assert [d["destination"] for d in seen[0]] == ["files"]
    assert Store(home).deliveries(dataset.id) == []  # the marker is gone afterwards


def test_a_dataset_being_generated_is_not_deleted(home, trained):
    from synthpipe import engine
    from synthpipe.schema import SampleSpec

    record = engine.create_dataset(Store(home), "shop", SampleSpec())
    with pytest.raises(ArtifactError, match=r"is being generated \(QUEUED\)"):
        synthpipe.delete_datasets([record.id])


# -- generators delete ------------------------------------------------------------------------


def test_generators_delete_refuses_while_datasets_use_it(home, trained):
    dataset = synthpipe.generate("shop", seed=1)
    out = invoke("generators", "delete", trained.id)
    assert out.exit_code == 1
    assert f"has 1 dataset(s) ({dataset.id})" in str(out.exception)
    out = invoke("datasets", "delete", dataset.id)
    out = invoke("generators", "delete", trained.id)
    assert out.exit_code == 0, out.output
    assert synthpipe.list_generators() == []


def test_generators_delete_several_and_force(home, pipeline, trained):
    other = synthpipe.train(pipeline, name="other")
    synthpipe.generate("other", seed=1)
    out = invoke("generators", "delete", "shop", other.id, "--force")
    assert out.exit_code == 0, out.output
    assert synthpipe.list_generators() == []


# -- the retention policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "retention, problem",
    [
        ({"keep_last": 0}, "retention.keep_last: Input should be greater than or equal to 1"),
        ({"max_age": "30x"}, "'30x' is not an age; write a number and a unit s, m, h, d or w"),
        ({"keep": 3}, "retention.keep: Extra inputs are not permitted"),
    ],
)
def test_retention_settings_are_validated(tmp_path, retention, problem):
    path = write_pipeline(tmp_path, retention=retention)
    with pytest.raises(ConfigError) as info:
        synthpipe.load_pipeline(path)
    assert problem in str(info.value)


def test_retention_is_in_the_pipeline_json_schema():
    from synthpipe.pipeline import json_schema

    schema = json_schema()
    assert "retention" in schema["properties"]
    assert set(schema["$defs"]["Retention"]["properties"]) == {
        "keep_last", "max_age", "keep_generators",
    }  # fmt: skip


def test_max_age_units():
    from synthpipe.pipeline import Retention

    assert Retention(max_age="30d").max_age_seconds == 30 * 86400
    assert Retention(max_age="12h").max_age_seconds == 12 * 3600
    assert Retention(max_age="2w").max_age_seconds == 14 * 86400
    assert Retention().max_age_seconds is None


def test_run_keeps_the_last_datasets(home, tmp_path):
    out = tmp_path / "out"
    delivery = [{"destination": {"connector": "files", "options": {"path": str(out)}}}]
    path = write_pipeline(tmp_path, retention={"keep_last": 2}, delivery=delivery)
    results = [synthpipe.run(path) for _ in range(3)]
    assert ids(home) == [r["dataset"] for r in results[1:]]
    assert results[2]["retention"] == {"datasets": [results[0]["dataset"]], "generators": []}
    assert results[0]["retention"] == {"datasets": [], "generators": []}


def test_run_deletes_datasets_older_than_max_age_but_never_its_own(home, tmp_path):
    path = write_pipeline(tmp_path, retention={"max_age": "1d"})
    first = synthpipe.run(path)
    age(home, first["dataset"], days=2)
    second = synthpipe.run(path)
    assert second["retention"]["datasets"] == [first["dataset"]]
    assert ids(home) == [second["dataset"]]
    tiny = write_pipeline(tmp_path, retention={"max_age": "0.001s"})
    third = synthpipe.run(tiny)  # its own dataset is older than that too when retention runs
    assert ids(home) == [third["dataset"]]


def test_retention_keeps_datasets_being_delivered_or_generated_and_drops_failed(home, trained):
    from synthpipe import engine
    from synthpipe.schema import SampleSpec

    store = Store(home)
    delivering = synthpipe.generate("shop", seed=1)
    queued = engine.create_dataset(store, "shop", SampleSpec())
    failed = synthpipe.generate("shop", seed=2)
    failed.status = Status.FAILED
    store.save(failed)
    newest = synthpipe.generate("shop", seed=3)
    with store.delivering(delivering.id, "duckdb"):
        deleted = store.apply_retention("shop", keep_last=1, protect={newest.id})
    assert deleted == {"datasets": [failed.id], "generators": []}
    assert ids(home) == [delivering.id, queued.id, newest.id]


def test_retention_only_touches_the_pipelines_generators(home, pipeline, trained):
    mine = synthpipe.generate("shop", seed=1)
    other_generator = synthpipe.train(pipeline, name="other")
    theirs = synthpipe.generate(other_generator.id, seed=1)
    age(home, mine.id, days=10)
    age(home, theirs.id, days=10)
    assert Store(home).apply_retention("shop", max_age=86400)["datasets"] == [mine.id]
    assert ids(home) == [theirs.id]


def test_keep_generators_deletes_old_unused_generators(home, tmp_path):
    path = write_pipeline(tmp_path, retention={"keep_last": 1, "keep_generators": 1})
    first = synthpipe.run(path)
    time.sleep(0.01)
    second = synthpipe.run(path)
    assert second["retention"] == {
        "datasets": [first["dataset"]],
        "generators": [first["generator"]],
    }
    assert [g.id for g in synthpipe.list_generators()] == [second["generator"]]


def test_failed_run_applies_no_retention(home, tmp_path):
    impossible = {
        "expectations": {
            "customers": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 1}}]
        }
    }
    good = synthpipe.run(write_pipeline(tmp_path, retention={"keep_last": 1}))
    failing = write_pipeline(tmp_path, retention={"keep_last": 1}, validation=impossible)
    with pytest.raises(synthpipe.SynthpipeError, match="failed validation"):
        synthpipe.run(failing)
    assert good["dataset"] in ids(home) and len(ids(home)) == 2


# -- the refresh DAG --------------------------------------------------------------------------


def test_refresh_dag_ends_with_a_retention_task_that_protects_its_dataset(home, tmp_path):
    pytest.importorskip("airflow")
    from synthpipe.airflow import pipeline_dag

    out = tmp_path / "out"
    delivery = [
        {"destination": {"connector": "files", "options": {"path": str(out / "a")}}},
        {"destination": {"connector": "duckdb", "options": {"path": str(out / "b.duckdb")}}},
    ]
    path = write_pipeline(tmp_path, retention={"max_age": "0.001s"}, delivery=delivery)
    dag = pipeline_dag(path, home=str(home))
    task = dag.get_task("retention")
    # last: after every delivery (and the commit, whose result names the dataset to keep)
    assert task.upstream_task_ids == {"commit_dataset", "deliver_files", "deliver_duckdb"}
    assert task.downstream_task_ids == set()

    generator = synthpipe.train(path)
    old = synthpipe.generate(generator.id, seed=1)
    committed = synthpipe.generate(generator.id, seed=2)
    deleted = task.python_callable({"dataset": committed.id}, str(path), str(home))
    assert deleted == {"datasets": [old.id], "generators": []}
    assert ids(home) == [committed.id]


def test_refresh_dag_without_retention_has_no_cleanup_task(tmp_path):
    pytest.importorskip("airflow")
    from synthpipe.airflow import pipeline_dag

    assert "retention" not in pipeline_dag(write_pipeline(tmp_path)).task_ids
