"""The engine: the verbs train and generate, between connectors, generators and the store.

Training resolves the tables (the source's catalog merged with the user's settings), checks
every rule before reading any data, reads the tables, keeps a holdout for QA, fits the
generator and stores its state. Generation samples partitions into parquet parts and writes
the dataset's manifest last.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from synthpipe import plugins, source_checks
from synthpipe.errors import (
    ArtifactError,
    CanceledError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    SynthpipeError,
)
from synthpipe.names import check_table_name
from synthpipe.progress import Progress
from synthpipe.schema import GeneratorConfig, SampleSpec, Table, validate_config
from synthpipe.store import DatasetRecord, GeneratorRecord, Status, Store, inside, new_id

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.connectors.base import Connector
    from synthpipe.pipeline import Connection, Source

REFERENCE_ROOT_ROWS = 100_000  # real root rows (with their children) kept for QA


def connect(connection: Connection) -> Connector:
    """A connector for a pipeline's connection block."""
    from pydantic import ValidationError

    cls = plugins.connector_class(connection.connector)
    try:
        return cls(**connection.options)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(
            problems, source=f"options of connector '{connection.connector}'"
        ) from None


# -- resolving tables ---------------------------------------------------------------------------


def resolve_tables(connector: Connector, source: Source, overrides: list[Table]) -> list[Table]:
    """The source's catalog merged with the user's table settings (theirs win)."""
    by_name = {t.name: t for t in overrides}
    names = source.tables or None
    with _bad_source("the tables", connector, source.location):
        available = connector.tables(source.location)
    missing = [n for n in [*(names or []), *by_name] if n not in available]
    if missing:
        raise ConfigError(
            [
                f"table '{n}' not found at the source; tables there: "
                f"{', '.join(available) or 'none'}"
                for n in dict.fromkeys(missing)
            ]
        )
    with _bad_source("the tables' columns", connector, source.location):
        discovered = connector.schema(source.location, names)
    return [_merge(table, by_name.get(table.name)) for table in discovered]


@contextmanager
def _bad_source(what: str, connector: Connector, location: str | None):
    """A damaged file or a value of the wrong type at the source is bad input, not a bug:
    raise ConnectorError naming what was read, where, and the fix."""
    import pyarrow as pa

    try:
        yield
    except (SynthpipeError, KeyboardInterrupt, MemoryError):
        raise
    except (OSError, ValueError, pa.ArrowException) as exc:
        at = f", location {location!r}" if location else ""
        raise ConnectorError(
            f"cannot read {what} from the source (connector '{connector.kind}'{at}): "
            f"{type(exc).__name__}: {exc}; repair or replace that data, or leave the table "
            "out (list the other tables in source.tables)"
        ) from exc


def _merge(found: Table, user: Table | None) -> Table:
    if user is None:
        return found
    merged = found.model_copy(update={k: getattr(user, k) for k in user.model_fields_set})
    if merged.columns is None:
        merged.columns = found.columns
    return merged


def effective_table(table: Table) -> Table:
    """Apply column overrides, included/excluded columns; keys are always kept."""
    if table.columns is None:
        return table
    keys = set(table.primary_key or []) | {c for fk in table.foreign_keys for c in fk.columns}
    columns = []
    for column in table.columns:
        if (
            table.included_columns is not None
            and column.name not in table.included_columns
            and column.name not in keys
        ):
            continue
        if column.name in table.excluded_columns and column.name not in keys:
            continue
        override = table.column_overrides.get(column.name)
        if override is not None:
            column = column.model_copy(update=override.model_dump(exclude_unset=True))
        columns.append(column)
    kept = {c.name for c in columns}
    # The selection is applied: the result lists only what is kept, so it validates as is.
    return table.model_copy(
        update={
            "columns": columns,
            "included_columns": None,
            "excluded_columns": [],
            "column_overrides": {k: v for k, v in table.column_overrides.items() if k in kept},
        }
    )


def learned_config(config: GeneratorConfig) -> GeneratorConfig:
    """The config a generator sees: sensitive columns removed (they are never learned)."""
    tables = []
    for table in config.tables:
        columns = [c for c in table.columns or [] if c.sensitive is None]
        tables.append(table.model_copy(update={"columns": columns}))
    return config.model_copy(update={"tables": tables})


def check(config: GeneratorConfig, source: str | None = None) -> GeneratorConfig:
    """Raise ConfigError listing every problem of a config; return the effective config (column
    selection and overrides applied) when valid.

    Column names in included/excluded columns and overrides are checked against the columns as
    found at the source, the other rules against the effective tables.
    """
    effective = config.model_copy(update={"tables": [effective_table(t) for t in config.tables]})
    problems = list(dict.fromkeys([*validate_config(config), *validate_config(effective)]))
    config = effective
    if problems:
        raise ConfigError(problems, source=source)
    return config


# -- reading ------------------------------------------------------------------------------------


def read_tables(
    connector: Connector, config: GeneratorConfig, location: str | None, progress: Progress
) -> dict[str, pa.Table]:
    import pyarrow as pa

    data = {}
    for table in config.generation_order():
        progress.step(f"load {table.name}", total=table.rows, unit="rows")
        batches = []
        with _bad_source(f"table '{table.name}'", connector, location):
            for batch in connector.read(table.name, location, columns=table.column_names):
                batches.append(batch)
                progress.advance(batch.num_rows)
            data[table.name] = (
                pa.Table.from_batches(batches) if batches else _empty(connector, table, location)
            )
    progress.done()
    return data


def _empty(connector: Connector, table: Table, location: str | None) -> pa.Table:
    import pyarrow as pa

    from synthpipe.types import arrow_type

    return pa.schema([(c.name, arrow_type(c)) for c in table.columns]).empty_table()


def select_rows(
    data: dict[str, pa.Table], config: GeneratorConfig, keep_root: dict[str, object]
) -> dict[str, pa.Table]:
    """Keep the chosen root rows (by a boolean mask per root) and the descendants of kept rows."""
    import pyarrow as pa

    out: dict[str, pa.Table] = {}
    for table in config.generation_order():
        arrow = data[table.name]
        fk = table.context_key
        if table.original_data:
            out[table.name] = arrow
        elif fk is None:
            out[table.name] = arrow.filter(pa.array(keep_root[table.name]))
        else:
            from synthpipe.generators.fidelity.relational import match_rows

            parent = config.table(fk.referenced_table)
            parent_key = fk.referenced_columns or parent.primary_key
            kept = out[parent.name].select(parent_key)  # whole key tuples (composite keys)
            rows, _ = match_rows(arrow.select(fk.columns), kept)
            out[table.name] = arrow.filter(pa.array(rows >= 0))
    return out


def _root_masks(data, config: GeneratorConfig, rng, share: float, cap: int | None):
    import numpy as np

    train, holdout = {}, {}
    for table in config.root_tables():
        n = data[table.name].num_rows
        order = rng.permutation(n)
        n_hold = round(n * share) if n * share >= 1 else 0
        hold = np.zeros(n, bool)
        hold[order[:n_hold]] = True
        use = ~hold
        if cap is not None and use.sum() > cap:
            chosen = rng.choice(np.flatnonzero(use), size=cap, replace=False)
            use = np.zeros(n, bool)
            use[chosen] = True
        train[table.name], holdout[table.name] = use, hold
    return train, holdout


def split(data: dict[str, pa.Table], config: GeneratorConfig, share: float, seed: int):
    """Training and holdout tables: root rows split at random, children follow their parent."""
    import numpy as np

    rng = np.random.default_rng(seed)
    root = config.root_tables()[0] if config.root_tables() else None
    cap = config.settings(root).max_sample_size if root else None
    train_mask, hold_mask = _root_masks(data, config, rng, share, cap)
    return select_rows(data, config, train_mask), select_rows(data, config, hold_mask)


# -- statistics ---------------------------------------------------------------------------------


def column_statistics(arrow: pa.Table) -> dict:
    """Per column: nulls (and NaNs), min/max, distinct count and (for few) the values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stats = {}
    for name in arrow.column_names:
        column = arrow.column(name)
        entry = {"null_count": column.null_count, "type": str(column.type)}
        if pa.types.is_floating(column.type):
            entry["nan_count"] = pc.sum(pc.is_nan(column)).as_py() or 0
        try:
            mm = pc.min_max(column)
            entry["min"], entry["max"] = mm["min"].as_py(), mm["max"].as_py()
        except Exception:  # types without an order (e.g. nested)
            pass
        distinct = pc.unique(column.drop_null())
        entry["distinct"] = len(distinct)
        if len(distinct) <= 100:
            entry["values"] = sorted(v for v in distinct.to_pylist())
        stats[name] = entry
    return stats


# -- train --------------------------------------------------------------------------------------


@contextmanager
def _job(store: Store, record, progress: Progress, cleanup=None):
    """Run a job on a record: IN_PROGRESS, then DONE, FAILED or CANCELED with the error.

    Ctrl-C (KeyboardInterrupt) cancels like ``progress.cancel()``. On any end but DONE,
    ``cleanup()`` removes what the job wrote, so nothing half-written stays behind.
    """

    last_saved = 0.0

    def persist(_progress, step):
        # Status files are rewritten at most twice a second, and whenever a step ends.
        nonlocal last_saved
        now = time.time()
        if now - last_saved > 0.5 or step.finished_at:
            last_saved = now
            record.progress = progress.as_list()
            store.save(record)

    progress.listeners.append(persist)
    record.status, record.started_at = Status.IN_PROGRESS, time.time()
    record.pid, record.host = os.getpid(), socket.gethostname()
    store.save(record)
    try:
        yield record
    except CanceledError as exc:
        _cleanup(cleanup)
        _finish(store, record, progress, Status.CANCELED, str(exc))
        raise
    except KeyboardInterrupt:
        _cleanup(cleanup)
        _finish(store, record, progress, Status.CANCELED, "canceled by an interrupt (Ctrl-C)")
        raise
    except BaseException as exc:
        _cleanup(cleanup)
        _finish(store, record, progress, Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    else:
        _finish(store, record, progress, Status.DONE, None)
    finally:
        progress.listeners.remove(persist)


def _cleanup(cleanup) -> None:
    """Run a job's cleanup; a second Ctrl-C meanwhile must not leave it half done."""
    if cleanup is None:
        return
    try:
        cleanup()
    except KeyboardInterrupt:
        cleanup()


def _finish(store: Store, record, progress: Progress, status: Status, error: str | None) -> None:
    progress.done("DONE" if status is Status.DONE else status.value)
    record.status, record.error, record.finished_at = status, error, time.time()
    record.progress = progress.as_list()
    store.save(record)


def train(
    connector: Connector,
    source: Source,
    config: GeneratorConfig,
    *,
    store: Store,
    holdout: float = 0.1,
    progress: Progress | None = None,
    name: str | None = None,
) -> GeneratorRecord:
    """Train a generator on the source's tables and store it; returns its record."""
    progress = progress or Progress()
    config = check(config, source=f"generator '{config.name}'")
    generator = plugins.generator_class(config.generator)()
    record = GeneratorRecord(
        id=new_id("gen"),
        name=name or config.name,
        generator=config.generator,
        config=config.model_dump(mode="json", by_alias=True),
        source={"connector": source.connector, "location": source.location},
    )
    with _job(store, record, progress, cleanup=lambda: _discard_training(store, record.id)):
        timer = time.perf_counter()
        data = read_tables(connector, config, source.location, progress)
        data, record.source_findings = source_checks.apply(config, data)
        record.timings["load"] = time.perf_counter() - timer
        train_data, holdout_data = split(
            data, config, holdout, config.model_configuration.seed or 0
        )
        _check_trainable(config, train_data)
        _save_reference(store, record.id, config, train_data, holdout_data)
        record.training_rows = {n: t.num_rows for n, t in train_data.items()}
        record.statistics = {n: column_statistics(t) for n, t in data.items()}
        timer = time.perf_counter()
        from synthpipe.generators.base import TrainingData

        learned = learned_config(config)
        tables = {t.name: train_data[t.name].select(t.column_names) for t in learned.tables}
        state = generator.fit(TrainingData(config=learned, tables=tables, whole=data), progress)
        record.timings["train"] = time.perf_counter() - timer
        store.save_state(record.id, state)
    return record


def _discard_training(store: Store, gen_id: str) -> None:
    """What a failed or canceled training wrote: real reference rows and (partial) models."""
    import shutil

    folder = store.generator_dir(gen_id)
    for name in ("reference", "model.tmp", "model"):
        shutil.rmtree(folder / name, ignore_errors=True)


def _check_trainable(config: GeneratorConfig, data: dict[str, pa.Table]) -> None:
    from synthpipe.schema import MIN_TRAINING_ROWS

    small = [
        f"table '{t.name}' has {data[t.name].num_rows} training rows after the holdout "
        f"split, fewer than {MIN_TRAINING_ROWS}; lower `holdout` or add data"
        for t in config.learned_tables()
        if data[t.name].num_rows < MIN_TRAINING_ROWS
    ]
    if small:
        raise ConfigError(small)


def _save_reference(store: Store, gen_id: str, config: GeneratorConfig, train, holdout) -> None:
    """Keep (capped) real training and holdout rows beside the generator for QA reports."""
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    for split_name, data in (("train", train), ("holdout", holdout)):
        masks = {}
        for t in config.root_tables():
            n = data[t.name].num_rows
            keep = np.zeros(n, bool)
            keep[rng.permutation(n)[:REFERENCE_ROOT_ROWS]] = True
            masks[t.name] = keep
        capped = select_rows(data, config, masks)
        folder = store.generator_dir(gen_id) / "reference" / split_name
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in capped.items():
            if not config.table(name).original_data:
                path = folder / f"{check_table_name(name, 'the reference rows')}.parquet"
                pq.write_table(table, path, compression="zstd")


# -- generate -----------------------------------------------------------------------------------


def generate(
    store: Store,
    generator_ref: str,
    spec: SampleSpec | None = None,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    sizes_from: str = "sizes",
) -> DatasetRecord:
    """Generate every partition of a dataset from a trained generator and commit it.

    A failed or canceled (also Ctrl-C) generation keeps its record, without any parts."""
    spec = spec or SampleSpec()
    record = create_dataset(store, generator_ref, spec, name=name, sizes_from=sizes_from)
    progress = progress or Progress()
    with _job(store, record, progress, cleanup=lambda: _discard_parts(store, record.id)):
        timer = time.perf_counter()
        for partition in range(spec.partitions):
            generate_partition(store, record.id, partition, progress=progress, _record=record)
        commit_dataset(store, record.id, _record=record)
        record.timings["generate"] = time.perf_counter() - timer
    return record


def _discard_parts(store: Store, ds_id: str) -> None:
    """What a failed or canceled generation wrote: parts and temporary partition folders."""
    import shutil

    folder = store.dataset_dir(ds_id)
    shutil.rmtree(folder / "tables", ignore_errors=True)
    for tmp in folder.glob(".partition-*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def create_dataset(
    store: Store,
    generator_ref: str,
    spec: SampleSpec,
    *,
    name: str | None = None,
    sizes_from: str = "sizes",
) -> DatasetRecord:
    """Register a new dataset (status QUEUED) whose partitions are generated separately.

    ``name`` defaults to ``<generator name>-<date>-<id suffix>``, unique like the id.
    ``sizes_from`` names where the spec's sizes came from, for error messages.
    """
    from synthpipe.schema import check_sizes

    generator = store.generator(generator_ref)
    if generator.status is not Status.DONE:
        raise ArtifactError(
            f"generator '{generator.name}' is {generator.status}, not DONE; "
            "train it (again) before generating"
        )
    config = GeneratorConfig.model_validate(generator.config)
    for table in config.tables:  # a record edited by hand or imported by an older release
        check_table_name(table.name, f"generator '{generator.name}'")
    problems = check_sizes(spec.sizes, config, sizes_from)
    if problems:
        raise ConfigError(problems)
    ds_id = new_id("ds")
    record = DatasetRecord(
        id=ds_id,
        name=name or f"{generator.name}-{ds_id.removeprefix('ds-')}",
        generator_id=generator.id,
        status=Status.QUEUED,
        spec=spec.model_dump(mode="json"),
    )
    store.save(record)
    return record


def generate_partition(
    store: Store,
    dataset_ref: str,
    partition: int,
    *,
    progress: Progress | None = None,
    _record=None,
) -> dict[str, int]:
    """Generate one partition's parquet parts; safe to retry, independent of other partitions."""
    import shutil

    record = _record or store.dataset(dataset_ref)
    spec = SampleSpec.model_validate({**record.spec, "partition": partition})
    progress = progress or Progress()
    generator_record = store.generator(record.generator_id)
    state = store.load_state(generator_record.id)
    generator = plugins.generator_class(generator_record.generator)()
    if state.meta.get("version") != generator.version:
        raise ArtifactError(
            f"generator '{generator_record.name}' was fitted with state version "
            f"{state.meta.get('version')} of '{generator.kind}', this release "
            f"reads version {generator.version}; train it again"
        )
    config = GeneratorConfig.model_validate(generator_record.config)
    for table in config.tables:  # a record edited by hand or imported by an older release
        check_table_name(table.name, f"generator '{generator_record.name}'")
    folder = store.dataset_dir(record.id)
    tmp = folder / f".partition-{partition:05d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        rows = _write_parts(generator.sample(state, spec, progress), config, spec, tmp)
        for table in tmp.iterdir():
            dest = folder / "tables" / table.name
            dest.mkdir(parents=True, exist_ok=True)
            for old in dest.glob(f"part-{partition:05d}-*.parquet"):
                old.unlink()
            for part in table.iterdir():
                part.replace(dest / part.name)
    finally:  # also on cancel or Ctrl-C: no half-written partition stays behind
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _write_parts(batches, config: GeneratorConfig, spec: SampleSpec, folder) -> dict[str, int]:
    import pyarrow.parquet as pq

    from synthpipe.sensitive import add_fake_columns

    writers, rows, counts = {}, {}, {}
    try:
        for table_name, batch in batches:
            table = config.table(table_name)
            n = counts.get(table_name, 0)
            batch = add_fake_columns(
                batch, table, seed=spec.seed, partition=spec.partition, batch_no=n
            )
            if table_name not in writers:
                check_table_name(table_name, "a generated part")
                path = folder / table_name / f"part-{spec.partition:05d}-00000.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                writers[table_name] = pq.ParquetWriter(path, batch.schema, compression="zstd")
            writers[table_name].write_batch(batch)
            counts[table_name] = n + 1
            rows[table_name] = rows.get(table_name, 0) + batch.num_rows
        for table in config.generation_order():
            if table.name in writers or (table.original_data and spec.partition != 0):
                continue
            # No rows for this table in this partition (size 0, or no parents): an empty part
            # keeps the table, with its columns, in the dataset.
            batch = add_fake_columns(
                _empty_batch(table), table, seed=spec.seed, partition=spec.partition, batch_no=0
            )
            path = folder / table.name / f"part-{spec.partition:05d}-00000.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            writers[table.name] = pq.ParquetWriter(path, batch.schema, compression="zstd")
            writers[table.name].write_batch(batch)
            rows[table.name] = 0
    finally:
        for writer in writers.values():
            writer.close()
    return rows


def _empty_batch(table: Table) -> pa.RecordBatch:
    """No rows, with the columns a generator outputs for ``table`` (sensitive ones added later)."""
    import pyarrow as pa

    from synthpipe.types import arrow_type

    fields = [(c.name, arrow_type(c)) for c in table.columns or [] if c.sensitive is None]
    return pa.RecordBatch.from_pylist([], schema=pa.schema(fields))


def commit_dataset(store: Store, dataset_ref: str, *, _record=None) -> DatasetRecord:
    """Check every partition is present and write the manifest (last): the dataset is complete."""
    import pyarrow.parquet as pq

    from synthpipe.store import write_json_atomic

    record = _record or store.dataset(dataset_ref)
    partitions = record.spec.get("partitions", 1)
    folder = store.dataset_dir(record.id)
    config = GeneratorConfig.model_validate(store.generator(record.generator_id).config)
    tables = {}
    for table in config.generation_order():
        check_table_name(table.name, f"dataset '{record.name}'")
        parts = sorted((folder / "tables" / table.name).glob("part-*.parquet"))
        present = {int(p.name.split("-")[1]) for p in parts}
        missing = sorted(
            set(range(partitions))
            - present
            - ({*range(1, partitions)} if table.original_data else set())
        )
        if missing:
            raise NotFoundError(
                f"dataset '{record.name}' table '{table.name}' lacks partition(s) "
                f"{missing}; generate them before committing"
            )
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
        tables[table.name] = {"rows": rows, "parts": [str(p.relative_to(folder)) for p in parts]}
    record.tables = tables
    if _record is None:
        record.status, record.finished_at = Status.DONE, time.time()
    store.save(record)
    write_json_atomic(
        folder / "manifest.json",
        {
            "dataset": record.id,
            "name": record.name,
            "generator": record.generator_id,
            "tables": tables,
            "order": [t.name for t in config.generation_order()],
        },
    )
    return record


def read_dataset(store: Store, dataset_ref: str, table: str) -> pa.Table:
    """One table of a generated dataset as an Arrow table."""
    import pyarrow.parquet as pq

    record = store.dataset(dataset_ref)
    if table not in record.tables:
        raise NotFoundError(
            f"dataset '{record.name}' has no table '{table}'; tables: {', '.join(record.tables)}"
        )
    folder = store.dataset_dir(record.id)
    import pyarrow as pa

    where = f"dataset '{record.name}' record (table {table!r})"
    parts = [inside(folder, p, where) for p in record.tables[table]["parts"]]
    return pa.concat_tables([pq.read_table(p) for p in parts])
