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
import inspect
import time
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe import engine
from synthpipe.connectors.base import WriteMode
from synthpipe.errors import ArtifactError, ConfigError, SynthpipeError
from synthpipe.pipeline import Connection, Delivery, Pipeline, Source, load_pipeline
from synthpipe.progress import ensure as ensure_progress
from synthpipe.schema import GeneratorConfig, SampleSpec, Table
from synthpipe.store import DatasetRecord, GeneratorRecord, Status, Store, inside

if TYPE_CHECKING:
    from synthpipe.progress import Progress

__all__ = [
    "agenerate",
    "apply_retention",
    "atrain",
    "clone_generator",
    "connect",
    "delete_dataset",
    "delete_datasets",
    "delete_generator",
    "delete_generators",
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
        if pipeline is not None:
            config.source_checks = p.generator.source_checks
        if pipeline is not None:  # the file's sizes name tables: check them before training
            from synthpipe.schema import check_sizes

            problems = check_sizes(p.generation.sizes, config, "generation.sizes")
            if problems:
                raise ConfigError(problems, source=f"pipeline '{p.name}'")
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
    """Generate a synthetic dataset from a trained generator (by id, or by name: the newest
    DONE generator of that name).

    ``sizes`` sets rows per learned table (0 gives an empty table); the dataset's ``name``
    defaults to ``<generator name>-<date>-<id suffix>``, unique like its id.
    """
    from pydantic import ValidationError

    try:
        sample = SampleSpec(sizes=sizes or {}, seed=seed, partitions=partitions, **spec)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(problems, source="generate") from None
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
    progress: Progress | None = None,
) -> dict[str, dict[str, int]]:
    """Write a dataset to the destinations of a Delivery (or of every delivery of a pipeline).

    A dataset whose validation failed is refused unless ``force`` (recorded on the dataset).
    ``progress`` gets one step per table and destination, counting the rows written.
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
        d.destination.connector: _deliver_one(store, record, d, force or d.force, progress)
        for d in deliveries
    }


def _deliver_one(
    store: Store,
    record: DatasetRecord,
    delivery: Delivery,
    force: bool,
    progress: Progress | None = None,
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
        tables.append((target, _batches(store, record, table.name, progress, delivery)))
    # Marked while it runs: retention and `datasets delete` leave the dataset alone meanwhile.
    with (
        store.delivering(record.id, delivery.destination.connector),
        engine.connect(delivery.destination) as connector,
        ensure_progress(progress).guard(),  # a step the failure interrupted ends FAILED
    ):
        options = {"create_constraints": delivery.create_constraints}
        if "dataset_id" in inspect.signature(connector.write_tables).parameters:
            options["dataset_id"] = record.id  # a retried append of it is then a no-op
        mode = WriteMode(delivery.mode)
        return connector.write_tables(tables, delivery.location, mode, **options)


def _delivered_table(table: Table) -> Table:
    columns = [c for c in table.columns or [] if c.sensitive != "drop"]
    return table.model_copy(update={"columns": columns})


def _batches(
    store: Store,
    record: DatasetRecord,
    table: str,
    progress: Progress | None = None,
    delivery: Delivery | None = None,
):
    """The table's rows in batches; counted on ``progress`` as the connector takes them."""
    import pyarrow.parquet as pq

    def read():
        folder = store.dataset_dir(record.id)
        for part in record.tables[table]["parts"]:
            path = inside(folder, part, f"dataset '{record.name}' record (table {table!r})")
            yield from pq.ParquetFile(path).iter_batches(batch_size=100_000)

    if progress is None:
        return read()
    to = f" to {delivery.destination.connector}" if delivery is not None else ""
    return progress.iterate(
        read(),
        f"deliver {table}{to}",
        total=record.tables[table].get("rows"),
        unit="rows",
        size=lambda batch: batch.num_rows,
    )


def run(
    pipeline: PipelineLike,
    *,
    home: str | Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> dict:
    """Run a whole pipeline: train, generate, report, validate, deliver everywhere, then apply
    the file's retention policy.

    When validation fails, only deliveries marked ``force`` in the file are made and a
    SynthpipeError is raised with the summary (its ``result`` attribute holds what was done),
    unless ``force``: then every delivery is made (recorded on the dataset) and the result
    returned with ``validation`` False. Retention runs only after a successful run.
    """
    p = _pipeline(pipeline)
    store = Store(home)
    generator = train(p, home=home, progress=progress)
    dataset = engine.generate(
        store, generator.id, p.generation, progress=progress, sizes_from="generation.sizes"
    )
    result = {
        "generator": generator.id,
        "dataset": dataset.id,
        "name": dataset.name,
        "tables": dataset.tables,
    }
    result["report"] = str(report(dataset.id, home=home, progress=progress))
    failed = None
    if p.validation.enabled:
        checked = validate(dataset.id, home=home, settings=p.validation, progress=progress)
        result["validation"] = checked.success
        failed = None if checked.success else checked
    deliveries = list(enumerate(p.delivery))
    if failed is not None and not force:
        deliveries = [(i, d) for i, d in deliveries if d.force]
    result["delivered"] = {
        f"{i}:{d.destination.connector}": _deliver_one(
            store, store.dataset(dataset.id), d, force or d.force, progress
        )
        for i, d in deliveries
    }
    if failed is not None and not force:
        done = (
            "delivered only where the file sets force: " + ", ".join(result["delivered"])
            if result["delivered"]
            else "nothing delivered"
        )
        error = SynthpipeError(
            f"dataset '{dataset.name}' ({dataset.id}) failed validation; {done}; fix the "
            "generator or validation settings, or pass force=True (--force) to accept it\n"
            + failed.summary()
        )
        error.result = result
        raise error
    if p.retention is not None:
        result["retention"] = apply_retention(p, home=home, protect={dataset.id, generator.id})
    return result


def apply_retention(
    pipeline: PipelineLike,
    *,
    home: str | Path | None = None,
    protect: set[str] | frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Delete the old datasets (and generators) a pipeline's ``retention`` block allows to
    delete; returns the ids deleted. ``protect``: ids never deleted (the run's own output).

    Applies to datasets of the generators named like the pipeline's generator; never deletes
    a dataset being generated or delivered. No ``retention`` block: nothing is deleted.
    """
    p = _pipeline(pipeline)
    policy = p.retention
    if policy is None:
        return {"datasets": [], "generators": []}
    return Store(home).apply_retention(
        p.generator.name or p.name,
        keep_last=policy.keep_last,
        max_age=policy.max_age_seconds,
        keep_generators=policy.keep_generators,
        protect=set(protect),
    )


def report(
    dataset: str,
    *,
    home: str | Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Write the QA report of a dataset beside it; returns the HTML file's path.

    Compares the synthetic tables with the real training and holdout rows kept beside the
    generator; the metrics go to ``qa_metrics.json`` in the same folder. ``progress`` gets the
    report's steps (reading the tables, evaluating, writing).
    """
    from synthpipe import qa

    progress = ensure_progress(progress)
    store = Store(home)
    record = store.dataset(dataset)
    if record.status is not Status.DONE:
        raise ArtifactError(
            f"dataset '{record.name}' ({record.id}) is {record.status}; only complete datasets "
            "(status DONE) have a QA report: generate it again"
        )
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
    names = [name for name in record.tables if name in train]
    with progress.guard():
        tables = progress.iterate(names, "QA read tables", total=len(names), unit="tables")
        synthetic = {
            name: engine.read_dataset(store, record.id, name).to_pandas() for name in tables
        }
        timings = {**generator.timings, **record.timings}
        progress.step("QA evaluate")
        result = qa.evaluate(
            train, synthetic, holdout or None, config=config, seed=seed, timings=timings
        )
        progress.step("QA write report")
        html, _ = result.save(
            store.dataset_dir(record.id),
            title=f"{record.name} ({generator.generator})",
            generator_config=generator.config,
        )
        progress.done()
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


def delete_generator(
    ref: str, home: str | Path | None = None, *, force: bool = False
) -> GeneratorRecord:
    """Delete a generator (by id, or by a name only one generator has), with its model and
    real reference rows. Refused while datasets of it remain, unless ``force``."""
    return Store(home).delete_generator(ref, force=force)


def delete_generators(
    refs: list[str], home: str | Path | None = None, *, force: bool = False
) -> list[GeneratorRecord]:
    """``delete_generator`` for several; every ref is checked before anything is deleted."""
    return Store(home).delete_generators(list(refs), force=force)


def delete_dataset(ref: str, home: str | Path | None = None, *, force: bool = False):
    """Delete a dataset (by id, or by a name only one dataset has) and its parts.

    Refused for a dataset being generated or delivered unless ``force``."""
    return Store(home).delete_dataset(ref, force=force)


def delete_datasets(
    refs: list[str], home: str | Path | None = None, *, force: bool = False
) -> list[DatasetRecord]:
    """``delete_dataset`` for several; every ref is checked before anything is deleted."""
    return Store(home).delete_datasets(list(refs), force=force)
