"""From a source's ``meta.synthpipe`` block to a synthetic table: find, import or train the
generator, then reuse or generate the dataset.

A generator reference is a name or id in the store, or a file: an exported generator (imported
on first use) or a pipeline file (trained on first use). Files are cached in the store under
``NAME@DIGEST`` of their content, so an edited file is imported or trained again and an
unchanged one never is. A dataset is reused when one of the same generator, sizes and seed is
complete, which is also what keeps keys consistent across the tables of one generator: every
source table naming the same generator, size and seed reads the same dataset.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe.errors import ConfigError, NotFoundError
from synthpipe.schema import GeneratorConfig, SampleSpec
from synthpipe.store import EXPORT_MANIFEST, DatasetRecord, GeneratorRecord, Status, Store

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.dbt.meta import SourceMeta

PIPELINE_SUFFIXES = (".yaml", ".yml")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def _find_file(ref: str, base_dirs: list[Path]) -> Path | None:
    path = Path(ref).expanduser()
    candidates = [path] if path.is_absolute() else [b / path for b in base_dirs]
    return next((c for c in candidates if c.is_file()), None)


def _cached(store: Store, name: str) -> GeneratorRecord | None:
    found = [g for g in store.generators() if g.name == name and g.status is Status.DONE]
    return found[-1] if found else None


def _from_export(store: Store, path: Path, where: str) -> GeneratorRecord:
    try:
        with zipfile.ZipFile(path) as zf:
            exported = json.loads(zf.read(EXPORT_MANIFEST)).get("name", path.stem)
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ConfigError(
            f"meta.synthpipe.generator '{path}' is neither a pipeline file (.yaml) nor a "
            "generator export (`synthpipe generators export`); point it at one of those",
            source=where,
        ) from None
    name = f"{exported}@{_digest(path)}"
    return _cached(store, name) or store.import_generator(path, name=name)


def _from_pipeline(store: Store, path: Path) -> GeneratorRecord:
    from synthpipe import api

    pipeline = api.load_pipeline(path)
    name = f"{pipeline.generator.name or pipeline.name}@{_digest(path)}"
    return _cached(store, name) or api.train(pipeline, name=name, home=store.root)


def resolve_generator(store: Store, ref: str, where: str, base_dirs: list[Path]) -> GeneratorRecord:
    """The trained generator ``ref`` names: in the store, or from an export or pipeline file."""
    path = _find_file(ref, base_dirs)
    if path is not None:
        record = (
            _from_pipeline(store, path)
            if path.suffix in PIPELINE_SUFFIXES
            else _from_export(store, path, where)
        )
    else:
        try:
            record = store.generator(ref)
        except NotFoundError:
            known = ", ".join(sorted({g.name for g in store.generators()})) or "none"
            raise ConfigError(
                f"meta.synthpipe.generator '{ref}' is neither a generator in the store at "
                f"{store.root} (known: {known}) nor a file; train it (`synthpipe train "
                "PIPELINE`), or set generator to an exported generator file or a pipeline file",
                source=where,
            ) from None
    if record.status is not Status.DONE:
        raise ConfigError(
            f"generator '{record.name}' is {record.status}, not DONE; train it again "
            "(`synthpipe train PIPELINE`) or name another generator in meta.synthpipe.generator",
            source=where,
        )
    return record


def resolve_sizes(generator: GeneratorRecord, meta: SourceMeta, where: str) -> dict[str, int]:
    """Rows per table for the sample spec: an integer size is the root table's row count."""
    config = GeneratorConfig.model_validate(generator.config)
    if meta.size is None:
        return {}
    if isinstance(meta.size, int):
        roots = config.root_tables()
        return {roots[0].name: meta.size} if roots else {}
    unknown = [t for t in meta.size if config.table(t) is None]
    if unknown:
        raise ConfigError(
            f"meta.synthpipe.size names table(s) {', '.join(unknown)} that generator "
            f"'{generator.name}' does not have; use its tables: "
            f"{', '.join(t.name for t in config.tables)}",
            source=where,
        )
    return dict(meta.size)


def find_or_generate(
    store: Store, generator: GeneratorRecord, sizes: dict[str, int], seed: int
) -> DatasetRecord:
    """A complete dataset of the generator with these sizes and seed, generated if none exists."""
    from synthpipe import engine

    for record in reversed(store.datasets()):
        spec = record.spec
        if (
            record.generator_id == generator.id
            and record.status is Status.DONE
            and spec.get("sizes") == sizes
            and spec.get("seed") == seed
        ):
            return record
    spec = SampleSpec(sizes=sizes, seed=seed)
    return engine.generate(store, generator.id, spec, name=f"dbt-{generator.name}-{seed}")


def read_table(store: Store, dataset: DatasetRecord, table: str, where: str) -> pa.Table:
    """One table of a dataset as Arrow; an unknown table names the dataset's tables."""
    from synthpipe import engine

    if table not in dataset.tables:
        generator = store.generator(dataset.generator_id).name
        raise ConfigError(
            f"generator '{generator}' has no table '{table}'; name the source table like one "
            f"of {', '.join(dataset.tables)} or set meta.synthpipe.table",
            source=where,
        )
    return engine.read_dataset(store, dataset.id, table)
