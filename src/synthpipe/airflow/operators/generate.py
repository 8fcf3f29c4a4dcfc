"""Generation operators: a whole dataset in one task, or partitioned over mapped tasks.

Partitioned generation is three steps: ``SynthpipeCreateDatasetOperator(partitions=n)``
registers the dataset, ``SynthpipeGeneratePartitionOperator.partial(dataset=create.output)
.expand(partition=range(n))`` generates the partitions in parallel, on as many workers as the
executor has, and
``SynthpipeCommitDatasetOperator`` checks all are there and writes the manifest. Partition
``i`` of a seeded dataset always holds the same rows, so the order in which partitions run (or
are retried) does not change the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthpipe.airflow.operators.base import SynthpipeOperator, load, ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from synthpipe.schema import SampleSpec
    from synthpipe.store import DatasetRecord, Store


class _SpecOperator(SynthpipeOperator):
    """Shared settings of the operators that start a dataset.

    :param generator: generator id or name, or the upstream train task's result (templated).
    :param pipeline: pipeline file whose ``generation`` section gives the defaults (templated).
    :param sizes: rows per table, e.g. ``{"plots": 100}`` (templated).
    :param seed: generation seed (templated; a template renders to text, read as an integer).
    :param partitions: number of partitions (templated).
    :param name: dataset name (templated); default ``<generator name>-<date>-<id suffix>``.
    """

    template_fields = ("generator", "pipeline", "sizes", "seed", "partitions", "name", "home")

    def __init__(
        self,
        *,
        generator: Any,
        pipeline: str | None = None,
        sizes: dict[str, int] | None = None,
        seed: int | str | None = None,
        partitions: int | str | None = None,
        name: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.pipeline = pipeline
        self.sizes = sizes
        self.seed = seed
        self.partitions = partitions
        self.name = name

    def spec(self) -> SampleSpec:
        """The pipeline's generation settings with this task's arguments on top."""
        from synthpipe.schema import SampleSpec

        pipeline = load(self.pipeline)
        base = pipeline.generation.model_dump() if pipeline else {}
        given = {"sizes": self.sizes, "seed": self.seed, "partitions": self.partitions}
        updates = {k: v for k, v in given.items() if v not in (None, "")}
        if "sizes" in updates:
            updates["sizes"] = {t: int(n) for t, n in updates["sizes"].items()}
        return SampleSpec.model_validate({**base, **updates})


class SynthpipeGenerateOperator(_SpecOperator):
    """Generate a whole synthetic dataset in this task (partitions one after another).

    Returns ``{"dataset": id, "name", "tables": {table: rows}, "uri"}``.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import engine

        store = self.store()
        record = engine.generate(
            store,
            ref(self.generator, "generator"),
            self.spec(),
            name=self.name or None,
            progress=self.progress(),
        )
        return dataset_result(store, record)


class SynthpipeCreateDatasetOperator(_SpecOperator):
    """Register a dataset whose partitions mapped tasks generate.

    Returns ``{"dataset": id, "name", "partitions": n}``; map the partition task over
    ``range(n)`` with the same ``n``.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import engine

        spec = self.spec()
        record = engine.create_dataset(
            self.store(), ref(self.generator, "generator"), spec, name=self.name or None
        )
        self.log.info("dataset %s (%s): %d partition(s)", record.name, record.id, spec.partitions)
        return {"dataset": record.id, "name": record.name, "partitions": spec.partitions}


class SynthpipeGeneratePartitionOperator(SynthpipeOperator):
    """Generate one partition of a created dataset; safe to retry, independent of the others.

    :param dataset: dataset id, or the create task's result (templated).
    :param partition: the partition number (usually mapped).

    Returns ``{"dataset": id, "partition": i, "rows": {table: rows}}``.
    """

    template_fields = ("dataset", "partition", "home")

    def __init__(self, *, dataset: Any, partition: int | str = 0, **kwargs):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.partition = partition

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import engine

        dataset, partition = ref(self.dataset, "dataset"), int(self.partition)
        rows = engine.generate_partition(self.store(), dataset, partition, progress=self.progress())
        self.log.info("partition %d of %s: %s", partition, dataset, rows)
        return {"dataset": dataset, "partition": partition, "rows": rows}


class SynthpipeCommitDatasetOperator(SynthpipeOperator):
    """Check every partition of a dataset is present and write its manifest: it is complete.

    :param dataset: dataset id, or the create task's result (templated).

    Returns ``{"dataset": id, "name", "tables": {table: rows}, "uri"}``.
    """

    template_fields = ("dataset", "home")

    def __init__(self, *, dataset: Any, **kwargs):
        super().__init__(**kwargs)
        self.dataset = dataset

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import engine

        store = self.store()
        record = engine.commit_dataset(store, ref(self.dataset, "dataset"))
        return dataset_result(store, record)


def dataset_result(store: Store, record: DatasetRecord) -> dict[str, Any]:
    """The small JSON XCom of a finished dataset."""
    return {
        "dataset": record.id,
        "name": record.name,
        "tables": {name: info["rows"] for name, info in record.tables.items()},
        "uri": store.dataset_dir(record.id).resolve().as_uri(),
    }
