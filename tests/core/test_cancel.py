"""Ctrl-C cancels: the record says CANCELED and nothing half-written or real stays behind.

KeyboardInterrupt raised from a progress listener stands in for the signal (Python raises it
wherever the main thread is when SIGINT arrives); one test sends a real SIGINT to
`synthpipe generate` in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from daily_support import write_pipeline

import synthpipe
from synthpipe.progress import Progress
from synthpipe.store import Status, Store


def interrupt_at(prefix: str, exc: type[BaseException] = KeyboardInterrupt) -> Progress:
    """A Progress that raises ``exc`` when a step named ``prefix...`` starts."""

    def listener(_progress, step):
        if step.name.startswith(prefix) and step.finished_at is None:
            raise exc("interrupted by the test")

    return Progress([listener])


@pytest.fixture
def pipeline(tmp_path):
    return write_pipeline(tmp_path)


@pytest.fixture
def trained(home, pipeline):
    return synthpipe.train(pipeline, name="shop")


def leftovers(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "record.json")


def test_ctrl_c_during_generate_records_canceled_and_leaves_no_parts(home, trained):
    # orders are generated after customers: customers' part is already in the temp folder
    with pytest.raises(KeyboardInterrupt):
        synthpipe.generate("shop", progress=interrupt_at("generate orders"))
    [dataset] = Store(home).datasets()
    assert dataset.status is Status.CANCELED
    assert "Ctrl-C" in dataset.error
    assert leftovers(Store(home).dataset_dir(dataset.id)) == []


def test_ctrl_c_during_train_records_canceled_and_keeps_no_real_rows(home, pipeline):
    with pytest.raises(KeyboardInterrupt):
        synthpipe.train(pipeline, progress=interrupt_at("train"))
    [generator] = Store(home).generators()
    assert generator.status is Status.CANCELED
    folder = Store(home).generator_dir(generator.id)
    assert not (folder / "reference").exists()
    assert leftovers(folder) == []


def test_failed_training_keeps_no_real_rows_either(home, pipeline):
    with pytest.raises(RuntimeError):
        synthpipe.train(pipeline, progress=interrupt_at("train", RuntimeError))
    [generator] = Store(home).generators()
    assert generator.status is Status.FAILED
    assert leftovers(Store(home).generator_dir(generator.id)) == []


def test_a_partition_task_interrupted_leaves_no_temp_folder(home, trained):
    from synthpipe import engine
    from synthpipe.schema import SampleSpec

    store = Store(home)
    record = engine.create_dataset(store, "shop", SampleSpec(partitions=2))
    with pytest.raises(KeyboardInterrupt):
        engine.generate_partition(store, record.id, 1, progress=interrupt_at("generate orders"))
    assert list(store.dataset_dir(record.id).glob(".partition-*")) == []


def _status(home, kind: str) -> list[dict]:
    folder = home / kind
    if not folder.is_dir():
        return []
    docs = []
    for path in folder.glob("*/record.json"):
        with contextlib.suppress(OSError, ValueError):  # being rewritten
            docs.append(json.loads(path.read_text()))
    return docs


def test_sigint_to_synthpipe_generate_cancels_it(home, trained):
    env = {**os.environ, "SYNTHPIPE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthpipe.cli", "generate", "shop", "--size", "customers=3000000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        running = [d for d in _status(home, "datasets") if d["status"] == "IN_PROGRESS"]
        if running and list(home.glob("datasets/*/.partition-*.tmp/*/*.parquet")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "generation ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().endswith("canceled (Ctrl-C)")
    [dataset] = Store(home).datasets()
    assert dataset.status is Status.CANCELED, err
    assert leftovers(Store(home).dataset_dir(dataset.id)) == []
