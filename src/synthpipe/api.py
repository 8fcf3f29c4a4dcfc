"""The Python API: the CLI's verbs as functions, with async variants of train and generate.

Example::

    import synthpipe

    generator = synthpipe.train("pipeline.yaml")
    dataset = synthpipe.generate(generator.id, sizes={"plots": 50}, seed=7)
    synthpipe.deliver(dataset.id, "pipeline.yaml")

Every function takes ``home`` (the artifact store root, default ``$SYNTHPIPE_HOME`` or
``./.synthpipe``) and returns the stored record, a pydantic model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe import engine
from synthpipe.connectors.base import WriteMode
from synthpipe.errors import ConfigError, SynthpipeError
from synthpipe.pipeline import Connection, Delivery, Pipeline, Source, load_pipeline
from synthpipe.schema import GeneratorConfig, SampleSpec, Table
from synthpipe.store import DatasetRecord, GeneratorRecord, Status, Store

if TYPE_CHECKING:
    from synthpipe.progress import Progress

__all__ = [
    "agenerate",
    "atrain",
    "clone_generator",
    "connect",
    "delete_generator",
    "deliver",
    "export_generator",
    "generate",
    "get_dataset",
    "get_generator",
    "import_generator",
    "list_datasets",
    "list_generators",
    "load_pipeline",
    "report",
    "run",
    "validate",
]

PipelineLike = Pipeline | str | Path


def _pipeline(pipeline: PipelineLike) -> Pipeline:
    return pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)


def connect(connection: Connection | dict):
    """A connector for ``{"connector": kind, "options": {...}}``."""
    if isinstance(connection, dict):
        connection = Connection.model_validate(connection)
    return engine.connect(connection)


def train(
    pipeline: PipelineLike | None = None,
    *,
    source: Source | dict | None = None,
    tables: list[Table | dict] | None = None,
    generator: str | None = None,
    model_configuration: dict | None = None,
    name: str | None = None,
    holdout: float | None = None,
    home: str | Path | None = None,
    progress: Progress | None = None,
) -> GeneratorRecord:
    """Train a generator from a pipeline file, or from a source and table settings."""
    if pipeline is not None:
        p = _pipeline(pipeline)
        source_, section = p.source, p.generator
        overrides, kind = section.tables, section.generator
        settings, holdout = (
            section.model_configuration,
            section.holdout if holdout is None else holdout,
        )
        name = name or section.name or p.name
    elif source is not None:
        source_ = Source.model_validate(source) if isinstance(source, dict) else source
        overrides = [Table.model_validate(t) if isinstance(t, dict) else t for t in tables or []]
        kind, settings = generator or "fidelity", model_configuration or {}
        holdout = 0.1 if holdout is None else holdout
    else:
        raise ConfigError("train needs a pipeline file or a `source`")
    if pipeline is not None and generator:
        kind = generator
    with engine.connect(source_) as connector:
        resolved = engine.resolve_tables(connector, source_, overrides)
        config = GeneratorConfig(
            name=name or "generator", generator=kind, tables=resolved, model_configuration=settings
        )
        return engine.train(
            connector,
            source_,
            config,
            store=Store(home),
            holdout=holdout,
            progress=progress,
            name=name,
        )


def generate(
    generator: str,
    *,
    sizes: dict[str, int] | None = None,
    seed: int = 0,
    partitions: int = 1,
    name: str | None = None,
    home: str | Path | None = None,
    progress: Progress | None = None,
    **spec,
) -> DatasetRecord:
    """Generate a synthetic dataset from a trained generator (by id or name)."""
    sample = SampleSpec(sizes=sizes or {}, seed=seed, partitions=partitions, **spec)
    return engine.generate(Store(home), generator, sample, name=name, progress=progress)


async def atrain(*args, **kwargs) -> GeneratorRecord:
    """``train`` for asyncio applications: runs in a worker thread."""
    return await asyncio.to_thread(train, *args, **kwargs)


async def agenerate(*args, **kwargs) -> DatasetRecord:
    """``generate`` for asyncio applications: runs in a worker thread."""
    return await asyncio.to_thread(generate, *args, **kwargs)


def deliver(
    dataset: str,
    delivery: Delivery | dict | PipelineLike,
    *,
    home: str | Path | None = None,
    force: bool = False,
) -> dict[str, dict[str, int]]:
    """Write a dataset to the destinations of a Delivery (or of every delivery of a pipeline).

    A dataset whose validation failed is refused unless ``force`` (recorded on the dataset).
    """
    if isinstance(delivery, dict):
        deliveries = [Delivery.model_validate(delivery)]
    elif isinstance(delivery, Delivery):
        deliveries = [delivery]
    else:
        deliveries = _pipeline(delivery).delivery
    store = Store(home)
    record = store.dataset(dataset)
    return {
        d.destination.connector: _deliver_one(store, record, d, force or d.force)
        for d in deliveries
    }


def _deliver_one(
    store: Store, record: DatasetRecord, delivery: Delivery, force: bool
) -> dict[str, int]:
    if record.status is not Status.DONE:
        raise SynthpipeError(
            f"dataset '{record.name}' is {record.status}; only complete "
            "datasets (status DONE) can be delivered"
        )
    validation = record.validation or {}
    if validation.get("success") is False:
        if not force:
            raise SynthpipeError(
                f"dataset '{record.name}' failed validation; fix the generator "
                "or pass force=True (--force) to deliver it anyway"
            )
        record.forced_delivery.append(
            {"at": time.time(), "destination": delivery.destination.connector}
        )
        store.save(record)
    config = GeneratorConfig.model_validate(store.generator(record.generator_id).config)
    tables = []
    for table in config.generation_order():
        target = _delivered_table(table)
        tables.append((target, _batches(store, record, table.name)))
    with engine.connect(delivery.destination) as connector:
        return connector.write_tables(
            tables,
            delivery.location,
            WriteMode(delivery.mode),
            create_constraints=delivery.create_constraints,
        )


def _delivered_table(table: Table) -> Table:
    columns = [c for c in table.columns or [] if c.sensitive != "drop"]
    return table.model_copy(update={"columns": columns})


def _batches(store: Store, record: DatasetRecord, table: str):
    import pyarrow.parquet as pq

    folder = store.dataset_dir(record.id)
    for part in record.tables[table]["parts"]:
        yield from pq.ParquetFile(folder / part).iter_batches(batch_size=100_000)


def run(
    pipeline: PipelineLike, *, home: str | Path | None = None, progress: Progress | None = None
) -> dict:
    """Run a whole pipeline: train, generate, report, validate, then deliver everywhere.

    Delivery is skipped (and a SynthpipeError raised with the summary) when validation fails,
    unless the delivery is marked ``force``.
    """
    p = _pipeline(pipeline)
    store = Store(home)
    generator = train(p, home=home, progress=progress)
    dataset = engine.generate(
        store, generator.id, p.generation, name=f"{p.name}-synthetic", progress=progress
    )
    result = {"generator": generator.id, "dataset": dataset.id, "tables": dataset.tables}
    result["report"] = str(report(dataset.id, home=home))
    if p.validation.enabled:
        checked = validate(dataset.id, home=home, settings=p.validation)
        result["validation"] = checked.success
        if not checked.success and not all(d.force for d in p.delivery):
            raise SynthpipeError(
                f"dataset '{dataset.name}' failed validation; nothing delivered\n"
                + checked.summary()
            )
    result["delivered"] = {
        f"{i}:{d.destination.connector}": _deliver_one(store, store.dataset(dataset.id), d, d.force)
        for i, d in enumerate(p.delivery)
    }
    return result


def report(dataset: str, *, home: str | Path | None = None, seed: int = 0) -> Path:
    """Write the QA report of a dataset beside it; returns the HTML file's path.

    Compares the synthetic tables with the real training and holdout rows kept beside the
    generator; the metrics go to ``qa_metrics.json`` in the same folder.
    """
    from synthpipe import qa

    store = Store(home)
    record = store.dataset(dataset)
    generator = store.generator(record.generator_id)
    config = GeneratorConfig.model_validate(generator.config)
    train, holdout = (
        _reference(store, generator.id, "train"),
        _reference(store, generator.id, "holdout"),
    )
    if not train:
        raise SynthpipeError(
            f"generator '{generator.name}' has no real reference rows (imported generators "
            "carry none); report on a dataset of a generator trained in this store"
        )
    synthetic = {
        name: engine.read_dataset(store, record.id, name).to_pandas()
        for name in record.tables
        if name in train
    }
    timings = {**generator.timings, **record.timings}
    result = qa.evaluate(
        train, synthetic, holdout or None, config=config, seed=seed, timings=timings
    )
    html, _ = result.save(
        store.dataset_dir(record.id),
        title=f"{record.name} ({generator.generator})",
        generator_config=generator.config,
    )
    return html


def validate(dataset: str, **kwargs):
    """Validate a dataset (derived suites, relational checks, quality gates); see
    ``synthpipe.validate.validate_dataset`` for the options."""
    from synthpipe.validate import validate_dataset

    return validate_dataset(dataset, **kwargs)


def _reference(store: Store, gen_id: str, split: str) -> dict:
    import pyarrow.parquet as pq

    folder = store.generator_dir(gen_id) / "reference" / split
    if not folder.is_dir():
        return {}
    tables = {p.stem: pq.read_table(p).to_pandas() for p in sorted(folder.glob("*.parquet"))}
    return {name: df for name, df in tables.items() if len(df)}


def list_generators(home: str | Path | None = None) -> list[GeneratorRecord]:
    return Store(home).generators()


def get_generator(ref: str, home: str | Path | None = None) -> GeneratorRecord:
    return Store(home).generator(ref)


def list_datasets(home: str | Path | None = None) -> list[DatasetRecord]:
    return Store(home).datasets()


def get_dataset(ref: str, home: str | Path | None = None) -> DatasetRecord:
    return Store(home).dataset(ref)


def export_generator(ref: str, path: str | Path, home: str | Path | None = None) -> Path:
    """Write a trained generator to one file (no real data included)."""
    return Store(home).export_generator(ref, path)


def import_generator(
    path: str | Path, *, name: str | None = None, home: str | Path | None = None
) -> GeneratorRecord:
    return Store(home).import_generator(path, name=name)


def clone_generator(
    ref: str, *, name: str | None = None, home: str | Path | None = None
) -> GeneratorRecord:
    return Store(home).clone_generator(ref, name=name)


def delete_generator(ref: str, home: str | Path | None = None) -> GeneratorRecord:
    return Store(home).delete_generator(ref)
