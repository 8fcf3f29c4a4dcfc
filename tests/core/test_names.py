"""Names resolve to the newest DONE record; default dataset names are unique."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from daily_support import write_pipeline

import synthpipe
from synthpipe.cli import cli
from synthpipe.errors import CanceledError, NotFoundError
from synthpipe.progress import Progress
from synthpipe.store import DatasetRecord, Status, Store


@pytest.fixture
def trained(home, tmp_path):
    return synthpipe.train(write_pipeline(tmp_path), name="shop")


def _failed_dataset(home, generator_id: str, name: str) -> DatasetRecord:
    """A newer dataset of that name whose generation failed (as a crash leaves it)."""
    record = DatasetRecord(
        id=f"ds-failed-{time.time_ns()}",
        name=name,
        generator_id=generator_id,
        spec={},
        status=Status.FAILED,
        error="RuntimeError: boom",
        created_at=time.time() + 1,
    )
    Store(home).save(record)
    return record


def test_a_name_resolves_to_the_newest_done_dataset_not_a_newer_failed_one(home, trained):
    good = synthpipe.generate("shop", name="ok", seed=1)
    failed = _failed_dataset(home, trained.id, "ok")
    assert synthpipe.get_dataset("ok").id == good.id
    assert synthpipe.get_dataset(failed.id).status is Status.FAILED  # an id finds any record
    html = synthpipe.report("ok")  # crashed on the failed record's missing metrics before
    assert html.parent.name == good.id


def test_a_name_with_only_failed_records_names_them(home, trained):
    failed = _failed_dataset(home, trained.id, "broken")
    with pytest.raises(NotFoundError) as info:
        synthpipe.get_dataset("broken")
    message = str(info.value)
    assert f"dataset name 'broken' has no complete (DONE) dataset, only {failed.id} (FAILED)" in (
        message
    )
    assert "generate it again, or pass an id" in message


def test_generator_name_skips_a_newer_canceled_training(home, trained, tmp_path):
    progress = Progress()
    progress.listeners.append(lambda p, step: p.cancel() if step.name.startswith("train") else 0)
    with pytest.raises(CanceledError):
        synthpipe.train(write_pipeline(tmp_path), name="shop", progress=progress)
    assert [g.status for g in synthpipe.list_generators()] == [Status.DONE, Status.CANCELED]
    dataset = synthpipe.generate("shop", sizes={"customers": 3})
    assert dataset.generator_id == trained.id


def test_default_dataset_names_are_unique_and_name_the_generator(home, trained):
    first = synthpipe.generate("shop", seed=1)
    second = synthpipe.generate("shop", seed=2)
    assert first.name != second.name
    for dataset in (first, second):
        assert dataset.name.startswith("shop-")
        assert dataset.name == f"shop-{dataset.id.removeprefix('ds-')}"
    assert synthpipe.get_dataset(first.name).id == first.id


def test_run_names_its_dataset_uniquely(home, tmp_path):
    path = write_pipeline(tmp_path)
    out = CliRunner().invoke(cli, ["--json", "-q", "run", str(path)])
    again = CliRunner().invoke(cli, ["--json", "-q", "run", str(path)])
    names = {json.loads(o.output)["name"] for o in (out, again)}
    assert len(names) == 2 and all(n.startswith("shop-") for n in names)


def test_a_repeated_user_given_name_resolves_to_the_newest_done(home, trained):
    synthpipe.generate("shop", name="nightly", seed=1)
    newer = synthpipe.generate("shop", name="nightly", seed=2)
    assert synthpipe.get_dataset("nightly").id == newer.id


def test_report_on_a_failed_dataset_by_id_says_so(home, trained):
    from synthpipe.errors import ArtifactError

    failed = _failed_dataset(home, trained.id, "ok")
    with pytest.raises(ArtifactError, match=r"is FAILED; only complete datasets \(status DONE\)"):
        synthpipe.report(failed.id)
