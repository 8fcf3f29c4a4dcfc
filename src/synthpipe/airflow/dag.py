"""DAGs built from pipeline files: the nightly refresh of a synthetic dataset.

``pipeline_dag(path)`` reads one pipeline file and returns a DAG::

    train -> create_dataset -> generate_partition (mapped, one task per partition)
          -> commit_dataset -> validate -> deliver_<destination> (one task per delivery)
                            -> report (the QA report; before validate when quality gates
                                       are set, since they read its metrics)
          -> retention (last, when the file has a `retention` block: old datasets deleted)

Schedule, retries, owner and tags come from the file's ``schedule`` section; the number of
partitions from ``schedule.partitions`` (or ``generation.partitions``). Building a DAG reads
only the YAML file: no data, no connections and no heavy imports, so parsing stays fast.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from synthpipe.pipeline import Pipeline

log = logging.getLogger(__name__)

# Scheduled DAGs need a start; runs are not caught up, so any past date will do.
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


def pipeline_dag(
    path: str | Path,
    *,
    dag_id: str | None = None,
    home: str | None = None,
    reuse_generator: bool = False,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG that trains, generates (partitioned), validates and delivers one pipeline file.

    ``dag_id`` defaults to the pipeline's name; ``home`` to the workers' SYNTHPIPE_HOME;
    ``reuse_generator`` skips training when a trained generator of that name exists; other
    keyword arguments go to ``airflow.sdk.DAG`` and win over the file's schedule section.
    """
    from airflow.sdk import DAG, Param

    from synthpipe.pipeline import load_pipeline

    path = Path(path).resolve()
    pipeline = load_pipeline(path)
    schedule = pipeline.schedule
    settings = {
        "dag_id": dag_id or pipeline.name,
        "schedule": schedule.cron,
        "start_date": DEFAULT_START,
        "catchup": False,
        "max_active_runs": 1,  # two refreshes overwriting the same tables would race
        "description": pipeline.description,
        "doc_md": f"Synthetic data refresh built from `{path}`.",
        "tags": list(dict.fromkeys(["synthpipe", *schedule.tags])),
        "default_args": {"owner": schedule.owner, "retries": schedule.retries},
        "params": {
            "seed": Param(pipeline.generation.seed, type="integer", description="Generation seed")
        },
        **dag_kwargs,
    }
    with DAG(**settings) as dag:
        _tasks(dag, pipeline, str(path), home, reuse_generator)
    return dag


def _partitions(pipeline: Pipeline) -> int:
    if "partitions" in pipeline.schedule.model_fields_set:
        return pipeline.schedule.partitions
    return pipeline.generation.partitions


def _tasks(dag: DAG, pipeline: Pipeline, path: str, home: str | None, reuse: bool) -> None:
    from synthpipe.airflow.operators import (
        SynthpipeCommitDatasetOperator,
        SynthpipeCreateDatasetOperator,
        SynthpipeGeneratePartitionOperator,
        SynthpipeReportOperator,
        SynthpipeTrainOperator,
        SynthpipeValidateOperator,
    )

    train = SynthpipeTrainOperator(task_id="train", pipeline=path, reuse=reuse, home=home)
    partitions = _partitions(pipeline)
    create = SynthpipeCreateDatasetOperator(
        task_id="create_dataset",
        generator=train.output,
        pipeline=path,
        seed="{{ params.seed }}",
        partitions=partitions,
        name=f"{pipeline.name}-{{{{ run_id }}}}",
        home=home,
    )
    generate = SynthpipeGeneratePartitionOperator.partial(
        task_id="generate_partition", dataset=create.output, home=home
    ).expand(partition=list(range(partitions)))
    commit = SynthpipeCommitDatasetOperator(
        task_id="commit_dataset", dataset=create.output, home=home
    )
    generate >> commit
    report = SynthpipeReportOperator(task_id="report", dataset=commit.output, home=home)
    last = commit
    if pipeline.validation.enabled:
        last = SynthpipeValidateOperator(
            task_id="validate", dataset=commit.output, pipeline=path, home=home
        )
        if any(v is not None for v in pipeline.validation.gates.model_dump().values()):
            report >> last
    delivers = []
    for task_id, index in _delivery_ids(pipeline):
        alias = f"synthpipe/{dag.dag_id}/{task_id}"
        delivers.append(_deliver_task(pipeline, path, home, task_id, index, commit, alias))
        last >> delivers[-1]
    if pipeline.retention is not None:
        (delivers or [last]) >> _retention_task(path, home, commit)


def _retention_task(path: str, home: str | None, commit):
    """The last task, when the file has a `retention` block: delete old datasets (never the
    one this run produced, nor one being generated or delivered). It runs only when every
    delivery succeeded."""
    from airflow.sdk import task

    @task(task_id="retention")
    def retention(committed: dict, pipeline: str, home: str | None) -> dict:
        from synthpipe import api
        from synthpipe.airflow.config import synthpipe_home
        from synthpipe.airflow.operators.base import ref

        deleted = api.apply_retention(
            pipeline, home=synthpipe_home(home), protect={ref(committed, "dataset")}
        )
        log.info("retention deleted datasets %s, generators %s", *deleted.values())
        return deleted

    return retention(commit.output, path, home)


def _delivery_ids(pipeline: Pipeline) -> list[tuple[str, int]]:
    """Task ids ``deliver_<connector>``, numbered where a connector kind repeats."""
    kinds = [d.destination.connector for d in pipeline.delivery]
    return [
        (f"deliver_{kind}" if kinds.count(kind) == 1 else f"deliver_{kind}_{i}", i)
        for i, kind in enumerate(kinds)
    ]


def _deliver_task(pipeline: Pipeline, path: str, home, task_id: str, index: int, commit, alias):
    from synthpipe.airflow.operators import SynthpipeDeliverOperator, delivery_outlets

    outlets = delivery_outlets(pipeline.delivery[index], _table_names(pipeline), alias)
    return SynthpipeDeliverOperator(
        task_id=task_id,
        dataset=commit.output,
        pipeline=path,
        delivery=index,
        outlets=outlets,
        home=home,
    )


def _table_names(pipeline: Pipeline) -> list[str]:
    """Tables known from the file alone; tables discovered at run time go through the alias."""
    named = [*(pipeline.source.tables or []), *(t.name for t in pipeline.generator.tables)]
    return list(dict.fromkeys(named))


def pipeline_dags(folder: str | Path, **kwargs: Any) -> dict[str, DAG]:
    """One DAG per ``*.yaml``/``*.yml`` pipeline file in ``folder``, by dag id.

    A file that does not load is logged and skipped, so one broken file never hides the
    other pipelines' DAGs.
    """
    from synthpipe.errors import SynthpipeError

    dags = {}
    for path in sorted([*Path(folder).glob("*.yaml"), *Path(folder).glob("*.yml")]):
        try:
            dag = pipeline_dag(path, **kwargs)
        except SynthpipeError as exc:
            log.error("synthpipe: pipeline file %s skipped: %s", path, exc)
            continue
        dags[dag.dag_id] = dag
    return dags
