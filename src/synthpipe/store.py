"""The artifact store: generators and synthetic datasets under one root folder.

Layout under ``SYNTHPIPE_HOME`` (default ``./.synthpipe``)::

    generators/<id>/record.json        id, name, config, status, progress, timings, errors
    generators/<id>/model/meta.json    fitted state: JSON metadata ...
    generators/<id>/model/arrays.npz   ... numpy arrays (loaded with allow_pickle=False) ...
    generators/<id>/model/tables/*.parquet  ... and Arrow tables
    generators/<id>/reference/<split>/<table>.parquet  real rows kept for QA (never exported)
    datasets/<id>/record.json          id, name, generator, spec, status, tables and row counts
    datasets/<id>/tables/<table>/part-00000.parquet
    datasets/<id>/manifest.json        written last: the dataset is complete

Nothing stored can execute code when loaded, and every record carries a format version that is
checked on load.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
import zipfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from synthpipe.errors import ArtifactError, NotFoundError

if TYPE_CHECKING:
    from synthpipe.generators.base import FittedState

FORMAT_VERSION = 1
EXPORT_MANIFEST = "synthpipe-generator.json"


class Status(StrEnum):
    NEW = "NEW"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class Record(BaseModel):
    """What is known about one generator or dataset, stored as ``record.json``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    status: Status = Status.NEW
    format_version: int = FORMAT_VERSION
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    # Steps of the job (load, analyze, train/generate per table) with their progress.
    progress: list[dict] = Field(default_factory=list)
    # Seconds per phase, e.g. {"load": 0.4, "train": 3.1}.
    timings: dict[str, float] = Field(default_factory=dict)


class GeneratorRecord(Record):
    generator: str
    config: dict
    source: dict | None = None
    # Training rows per table.
    training_rows: dict[str, int] = Field(default_factory=dict)
    # Per-table column statistics of the training data (for validation suites).
    statistics: dict[str, Any] = Field(default_factory=dict)


class DatasetRecord(Record):
    generator_id: str
    spec: dict
    # Per table: rows and part files (relative to the dataset folder).
    tables: dict[str, dict] = Field(default_factory=dict)
    validation: dict | None = None
    forced_delivery: list[dict] = Field(default_factory=list)


def default_home() -> Path:
    return Path(os.environ.get("SYNTHPIPE_HOME", ".synthpipe"))


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temp file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, default=str)
    os.replace(tmp, path)


class Store:
    """Generators and datasets under ``root``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_home()

    # -- paths --------------------------------------------------------------------------------
    def generator_dir(self, gen_id: str) -> Path:
        return self.root / "generators" / gen_id

    def dataset_dir(self, ds_id: str) -> Path:
        return self.root / "datasets" / ds_id

    # -- records ------------------------------------------------------------------------------
    def save(self, record: Record) -> None:
        folder = (
            self.generator_dir(record.id)
            if isinstance(record, GeneratorRecord)
            else self.dataset_dir(record.id)
        )
        write_json_atomic(folder / "record.json", record.model_dump(mode="json"))

    def _load(self, path: Path, cls: type[Record]) -> Record:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(
                f"cannot read {path}: {exc}; the artifact is damaged, "
                "delete it and train or generate again"
            ) from exc
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"{path} has format version {version}, this synthpipe reads "
                f"version {FORMAT_VERSION}; use the synthpipe release that wrote it"
            )
        return cls.model_validate(data)

    def _all(self, kind: str, cls: type[Record]) -> list[Record]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        records = [
            self._load(p / "record.json", cls)
            for p in folder.iterdir()
            if (p / "record.json").is_file()
        ]
        return sorted(records, key=lambda r: r.created_at)

    def generators(self) -> list[GeneratorRecord]:
        return self._all("generators", GeneratorRecord)

    def datasets(self) -> list[DatasetRecord]:
        return self._all("datasets", DatasetRecord)

    def _find(self, ref: str, records: list[Record], what: str) -> Record:
        if isinstance(ref, Record):
            return ref
        by_id = [r for r in records if r.id == ref]
        by_name = [r for r in records if r.name == ref]
        found = by_id or by_name
        if not found:
            known = ", ".join(sorted({r.name for r in records})) or "none yet"
            raise NotFoundError(
                f"no {what} with id or name '{ref}' in {self.root} "
                f"(known: {known}); see `synthpipe {what}s list`"
            )
        return found[-1]  # the newest of that name

    def generator(self, ref: str) -> GeneratorRecord:
        return self._find(ref, self.generators(), "generator")

    def dataset(self, ref: str) -> DatasetRecord:
        return self._find(ref, self.datasets(), "dataset")

    # -- fitted state -------------------------------------------------------------------------
    def save_state(self, gen_id: str, state: FittedState) -> None:
        """Store a fitted state: JSON, an .npz of plain arrays and parquet tables."""
        import numpy as np
        import pyarrow.parquet as pq

        model = self.generator_dir(gen_id) / "model"
        tmp = model.with_name("model.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "tables").mkdir(parents=True)
        for name, array in state.arrays.items():
            if array.dtype.kind == "O":
                raise ArtifactError(
                    f"fitted array '{name}' has object dtype, which cannot be "
                    "stored safely; convert it to a numeric or unicode array"
                )
        np.savez(tmp / "arrays.npz", **state.arrays)
        names = {}
        for i, (name, table) in enumerate(state.tables.items()):
            names[name] = f"t{i:05d}.parquet"
            pq.write_table(table, tmp / "tables" / names[name], compression="zstd")
        (tmp / "meta.json").write_text(json.dumps({"meta": state.meta, "tables": names}))
        shutil.rmtree(model, ignore_errors=True)
        os.replace(tmp, model)

    def load_state(self, gen_id: str) -> FittedState:
        import numpy as np
        import pyarrow.parquet as pq

        from synthpipe.generators.base import FittedState

        model = self.generator_dir(gen_id) / "model"
        if not (model / "meta.json").is_file():
            raise ArtifactError(
                f"generator '{gen_id}' has no fitted model; train it first (`synthpipe train`)"
            )
        doc = json.loads((model / "meta.json").read_text())
        with np.load(model / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        tables = {
            name: pq.read_table(model / "tables" / file) for name, file in doc["tables"].items()
        }
        return FittedState(meta=doc["meta"], arrays=arrays, tables=tables)

    # -- lifecycle ----------------------------------------------------------------------------
    def delete_generator(self, ref: str) -> GeneratorRecord:
        record = self.generator(ref)
        shutil.rmtree(self.generator_dir(record.id))
        return record

    def delete_dataset(self, ref: str) -> DatasetRecord:
        record = self.dataset(ref)
        shutil.rmtree(self.dataset_dir(record.id))
        return record

    def export_generator(self, ref: str, path: str | Path) -> Path:
        """Write a generator (record and model, no real data) to one zip file."""
        record = self.generator(ref)
        if record.status is not Status.DONE:
            raise ArtifactError(
                f"generator '{record.name}' is {record.status}; only trained "
                "generators (status DONE) can be exported"
            )
        folder, path = self.generator_dir(record.id), Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(
                EXPORT_MANIFEST,
                json.dumps(
                    {"format_version": FORMAT_VERSION, "id": record.id, "name": record.name}
                ),
            )
            for file in sorted(folder.rglob("*")):
                rel = file.relative_to(folder)
                if file.is_file() and rel.parts[0] != "reference":
                    zf.write(file, str(rel))
        os.replace(tmp, path)
        return path

    def import_generator(self, path: str | Path, name: str | None = None) -> GeneratorRecord:
        """Add a generator from an export file under a new id."""
        path = Path(path)
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"{path} is not a synthpipe generator export: {exc}") from exc
        with zf:
            manifest = self._export_manifest(zf, path)
            record = GeneratorRecord.model_validate_json(zf.read("record.json"))
            record.id = new_id("gen")
            record.name = name or manifest["name"]
            target = self.generator_dir(record.id)
            for member in zf.namelist():
                if member == EXPORT_MANIFEST:
                    continue
                dest = (target / member).resolve()
                if not dest.is_relative_to(target.resolve()):
                    raise ArtifactError(f"{path} contains an unsafe path '{member}'; not imported")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(member))
        self.save(record)
        return record

    def _export_manifest(self, zf: zipfile.ZipFile, path: Path) -> dict:
        try:
            manifest = json.loads(zf.read(EXPORT_MANIFEST))
        except KeyError as exc:
            raise ArtifactError(
                f"{path} has no {EXPORT_MANIFEST}; it is not a synthpipe generator export"
            ) from exc
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{path} has format version {manifest.get('format_version')}, "
                f"this synthpipe reads {FORMAT_VERSION}"
            )
        return manifest

    def clone_generator(self, ref: str, name: str | None = None) -> GeneratorRecord:
        """Copy a generator (config, model and reference data) under a new id."""
        record = self.generator(ref)
        clone = record.model_copy(deep=True)
        clone.id, clone.name, clone.created_at = (
            new_id("gen"),
            name or f"{record.name}-copy",
            time.time(),
        )
        shutil.copytree(self.generator_dir(record.id), self.generator_dir(clone.id))
        self.save(clone)
        return clone
