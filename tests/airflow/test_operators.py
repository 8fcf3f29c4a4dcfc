"""The operators, executed directly with a task context (no scheduler): train, generate in
partitions, deliver, and the on_kill cancellation."""

from __future__ import annotations

import json

import pytest
from airflow_support import write_pipeline

from synthpipe import engine
from synthpipe.airflow.operators import (
    SynthpipeCommitDatasetOperator,
    SynthpipeCreateDatasetOperator,
    SynthpipeGenerateOperator,
    SynthpipeGeneratePartitionOperator,
    SynthpipeTrainOperator,
)
from synthpipe.errors import CanceledError, NotFoundError
from synthpipe.store import Status, Store


def generator_id(home) -> str:
    return Store(home).generators()[0].id


def cancel_at_first_step(operator) -> None:
    """Make the kill signal arrive while the operator works: its first progress report calls
    on_kill, as Airflow's SIGTERM handler would."""
    operator._log_step = lambda progress, step: operator.on_kill()


def test_train_returns_a_small_json_result(tmp_path, context):
    pipeline = write_pipeline(tmp_path, "small")
    op = SynthpipeTrainOperator(task_id="train", pipeline=str(pipeline), home=str(tmp_path / "h"))
    result = op.execute(context)
    assert result["name"] == "small"
    assert result["reused"] is False
    assert result["training_rows"]["plots"] > 0
    assert len(json.dumps(result)) < 1024
    assert Store(tmp_path / "h").generator(result["generator"]).status is Status.DONE


def test_train_reuses_the_newest_trained_generator_when_asked(trained_home, tmp_path, context):
    pipeline = write_pipeline(tmp_path, "demo")
    op = SynthpipeTrainOperator(
        task_id="train", pipeline=str(pipeline), reuse=True, home=str(trained_home)
    )
    result = op.execute(context)
    assert result == {**result, "generator": generator_id(trained_home), "reused": True}
    assert len(Store(trained_home).generators()) == 1


def test_on_kill_cancels_training_and_marks_the_generator_canceled(tmp_path, context):
    pipeline = write_pipeline(tmp_path, "killed")
    op = SynthpipeTrainOperator(task_id="train", pipeline=str(pipeline), home=str(tmp_path / "h"))
    cancel_at_first_step(op)
    with pytest.raises(CanceledError):
        op.execute(context)
    [record] = Store(tmp_path / "h").generators()  # by name only DONE ones resolve
    assert (record.name, record.status) == ("killed", Status.CANCELED)


def test_generate_accepts_the_train_result_and_a_templated_seed(trained_home, context):
    op = SynthpipeGenerateOperator(
        task_id="generate",
        generator={"generator": generator_id(trained_home), "name": "demo"},
        sizes={"plots": 5},
        seed="7",
        home=str(trained_home),
    )
    result = op.execute(context)
    assert result["tables"]["plots"] == 5
    assert Store(trained_home).dataset(result["dataset"]).spec["seed"] == 7


def _partitioned(home, context, order: list[int]) -> str:
    create = SynthpipeCreateDatasetOperator(
        task_id="create", generator=generator_id(home), sizes={"plots": 9}, seed=3,
        partitions=3, home=str(home),
    )  # fmt: skip
    created = create.execute(context)
    for i in order:
        SynthpipeGeneratePartitionOperator(
            task_id="part", dataset=created, partition=i, home=str(home)
        ).execute(context)
    commit = SynthpipeCommitDatasetOperator(task_id="commit", dataset=created, home=str(home))
    return commit.execute(context)["dataset"]


def test_partitions_give_the_same_dataset_in_any_order(trained_home, context):
    in_order = _partitioned(trained_home, context, [0, 1, 2])
    shuffled = _partitioned(trained_home, context, [2, 0, 1])
    store = Store(trained_home)
    for table in ("plots", "surveys", "species"):
        assert engine.read_dataset(store, in_order, table).equals(
            engine.read_dataset(store, shuffled, table)
        )


def test_commit_refuses_a_dataset_with_a_missing_partition(trained_home, context):
    created = SynthpipeCreateDatasetOperator(
        task_id="create", generator=generator_id(trained_home), partitions=2,
        home=str(trained_home),
    ).execute(context)  # fmt: skip
    SynthpipeGeneratePartitionOperator(
        task_id="part", dataset=created, partition=0, home=str(trained_home)
    ).execute(context)
    commit = SynthpipeCommitDatasetOperator(task_id="c", dataset=created, home=str(trained_home))
    with pytest.raises(NotFoundError, match=r"lacks partition\(s\) \[1\]"):
        commit.execute(context)


def test_on_kill_cancels_partition_generation(trained_home, context):
    created = SynthpipeCreateDatasetOperator(
        task_id="create", generator=generator_id(trained_home), home=str(trained_home)
    ).execute(context)
    op = SynthpipeGeneratePartitionOperator(
        task_id="part", dataset=created, partition=0, home=str(trained_home)
    )
    cancel_at_first_step(op)
    with pytest.raises(CanceledError):
        op.execute(context)
    folder = Store(trained_home).dataset_dir(created["dataset"]) / "tables"
    assert not list(folder.glob("*/part-00000-*.parquet"))


def test_template_fields_render_paths_sizes_seeds_and_dates(trained_home, tmp_path):
    from airflow.sdk import DAG

    with DAG("templated", schedule=None):
        op = SynthpipeCreateDatasetOperator(
            task_id="create",
            generator="{{ params.generator }}",
            pipeline="{{ params.folder }}/p.yaml",
            sizes={"plots": "{{ params.rows }}"},
            seed="{{ params.seed }}",
            name="refresh-{{ ds }}",
        )
    op.render_template_fields(
        {"ds": "2024-05-01", "params": {"generator": "g1", "folder": "/pipes", "rows": 12,
                                        "seed": 99}}
    )  # fmt: skip
    assert (op.generator, op.pipeline, op.sizes, op.seed, op.name) == (
        "g1", "/pipes/p.yaml", {"plots": "12"}, "99", "refresh-2024-05-01"
    )  # fmt: skip
