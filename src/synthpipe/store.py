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
    datasets/<id>/.delivering-<token>  one per delivery in progress (retention skips it)

Nothing stored can execute code when loaded, and every record carries a format version that is
checked on load.

Hostile input is refused, not trusted (docs/architecture.md, "Artifacts"): a record that cannot
be read is skipped by listings, a model file naming a path outside its folder is not opened, an
import is unpacked into a temporary folder (bounded in size, no links, no paths leaving it) and
renamed into place only when complete, and a job whose process is gone is recorded FAILED.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import stat
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthpipe.errors import ArtifactError, NotFoundError
from synthpipe.names import problem

if TYPE_CHECKING:
    from synthpipe.generators.base import FittedState

FORMAT_VERSION = 1
EXPORT_MANIFEST = "synthpipe-generator.json"
# A dataset folder holds one such marker file per delivery in progress; retention and
# `datasets delete` leave the dataset alone meanwhile. A marker older than DELIVERY_STALE_S
# was left by a killed process and no longer counts.
DELIVERING_PREFIX = ".delivering-"
DELIVERY_STALE_S = 24 * 3600
# Limits of an imported archive: the bytes it may unpack to in all, and how much smaller than
# its content a member over IMPORT_RATIO_FLOOR bytes may be (a "zip bomb" is thousands of
# times smaller; models of synthpipe compress far less).
IMPORT_MAX_BYTES = 4 * 1024**3
IMPORT_MAX_RATIO = 200
IMPORT_RATIO_FLOOR = 1024**2

log = logging.getLogger("synthpipe.store")


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
    # The process running the job (while IN_PROGRESS): a record whose process is gone from this
    # host is recorded FAILED ("abandoned") when it is next read.
    pid: int | None = None
    host: str | None = None


class GeneratorRecord(Record):
    generator: str
    config: dict
    source: dict | None = None
    # Training rows per table.
    training_rows: dict[str, int] = Field(default_factory=dict)
    # Per-table column statistics of the training data (for validation suites).
    statistics: dict[str, Any] = Field(default_factory=dict)
    # Key problems found in the source data and what was done (generator.source_checks).
    source_findings: list[dict] = Field(default_factory=list)


class DatasetRecord(Record):
    generator_id: str
    spec: dict
    # Per table: rows and part files (relative to the dataset folder).
    tables: dict[str, dict] = Field(default_factory=dict)
    validation: dict | None = None
    forced_delivery: list[dict] = Field(default_factory=list)


_RUNNING = (Status.NEW, Status.QUEUED, Status.IN_PROGRESS)


def _listing(records: list[Record]) -> str:
    return ", ".join(f"{r.id} ({r.status.value})" for r in records)


def default_home() -> Path:
    return Path(os.environ.get("SYNTHPIPE_HOME", ".synthpipe"))


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"


def inside(folder: Path, relative: str, what: str) -> Path:
    """``folder / relative`` when it stays inside ``folder`` (no absolute path, no ``..``, no
    link leading out); else ArtifactError naming ``what``."""
    path = (folder / relative).resolve() if isinstance(relative, str) else None
    if path is None or not path.is_relative_to(folder.resolve()):
        raise ArtifactError(
            f"{what} names the path {relative!r}, outside {folder}; the artifact was changed by "
            "hand or damaged: delete it and train, generate or import it again"
        )
    return path


def _check_version(data: Any, where: Path | str) -> None:
    """Refuse a record (or export manifest) of another format version, saying which side is
    newer."""
    version = data.get("format_version") if isinstance(data, dict) else None
    if version == FORMAT_VERSION:
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        fix = "upgrade synthpipe to the release that wrote it"
    else:
        fix = "use the synthpipe release that wrote it"
    raise ArtifactError(
        f"{where} has format version {version}, this synthpipe reads version "
        f"{FORMAT_VERSION}; {fix}"
    )


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(map(str, error['loc'])) or '(top level)'}: {error['msg']}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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
        # Why each record a listing skipped was unreadable, by folder name (for UIs to show).
        self.skipped: dict[str, str] = {}

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
        _check_version(data, path)
        try:
            record = cls.model_validate(data)
        except ValidationError as exc:
            raise ArtifactError(
                f"{path} is damaged ({exc.error_count()} problem(s), first: "
                f"{_first(exc)}); delete it and train or generate again"
            ) from None
        return self._abandoned(record)

    def _abandoned(self, record: Record) -> Record:
        """An IN_PROGRESS record whose process is gone from this host, saved as FAILED."""
        if (
            record.status is Status.IN_PROGRESS
            and record.pid is not None
            and record.host == socket.gethostname()
            and not _alive(record.pid)
        ):
            record.status, record.finished_at = Status.FAILED, time.time()
            record.error = f"abandoned (process {record.pid} is gone)"
            try:
                self.save(record)
            except OSError as exc:  # a read-only store still lists the record as FAILED
                log.warning("could not record %s as abandoned: %s", record.id, exc)
        return record

    def _all(self, kind: str, cls: type[Record]) -> list[Record]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        records = []
        for p in folder.iterdir():
            if p.name.startswith(".") or not (p / "record.json").is_file():
                continue  # ".trash-*": being deleted; ".import-*": being imported
            try:
                records.append(self._load(p / "record.json", cls))
            except ArtifactError as exc:
                if p.exists():  # else deleted by another process meanwhile
                    log.warning("skipped %s: %s", p.name, exc)
                    self.skipped[p.name] = str(exc)
        return sorted(records, key=lambda r: r.created_at)

    def generators(self) -> list[GeneratorRecord]:
        return self._all("generators", GeneratorRecord)

    def datasets(self) -> list[DatasetRecord]:
        return self._all("datasets", DatasetRecord)

    def _find(self, ref: str, records: list[Record], what: str) -> Record:
        """The record with id ``ref``, else the newest DONE record named ``ref``.

        A name can repeat (a user may give every run the same name): it resolves to the newest
        complete record of that name, never to a failed, canceled or unfinished one.
        """
        if isinstance(ref, Record):
            return ref
        by_id = [r for r in records if r.id == ref]
        if by_id:
            return by_id[0]
        named = [r for r in records if r.name == ref]
        if not named:
            known = ", ".join(sorted({r.name for r in records})) or "none yet"
            raise NotFoundError(
                f"no {what} with id or name '{ref}' in {self.root} "
                f"(known: {known}); see `synthpipe {what}s list`"
            )
        done = [r for r in named if r.status is Status.DONE]
        if done:
            return done[-1]  # records are sorted by creation: the newest complete one
        verb = "train" if what == "generator" else "generate"
        raise NotFoundError(
            f"{what} name '{ref}' has no complete (DONE) {what}, only "
            f"{_listing(named)}; {verb} it again, or pass an id to inspect one of these"
        )

    def matching(self, ref: str, what: str) -> list[Record]:
        """Every record with id or name ``ref`` (any status), oldest first."""
        records = self.generators() if what == "generator" else self.datasets()
        by_id = [r for r in records if r.id == ref]
        return by_id or [r for r in records if r.name == ref]

    def generator(self, ref: str) -> GeneratorRecord:
        return self._by_id(ref, "generators", GeneratorRecord) or self._find(
            ref, self.generators(), "generator"
        )

    def dataset(self, ref: str) -> DatasetRecord:
        return self._by_id(ref, "datasets", DatasetRecord) or self._find(
            ref, self.datasets(), "dataset"
        )

    def _by_id(self, ref: str, kind: str, cls: type[Record]) -> Record | None:
        """The record whose id is ``ref``, read directly: a damaged one raises its own error
        (listings skip it). None when no folder has that id."""
        if not isinstance(ref, str) or problem(ref) is not None:
            return None
        path = self.root / kind / ref / "record.json"
        return self._load(path, cls) if path.is_file() else None

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
        fix = f"train generator '{gen_id}' again, or import it again from its export"
        try:
            doc = json.loads((model / "meta.json").read_text())
            meta, files = doc["meta"], doc["tables"]
            if not isinstance(meta, dict) or not isinstance(files, dict):
                raise TypeError("'meta' and 'tables' must be JSON objects")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{model / 'meta.json'} is damaged ({exc}); {fix}") from None
        try:
            with np.load(model / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"{model / 'arrays.npz'} is damaged ({exc}); {fix}") from None
        tables = {}
        for name, file in files.items():
            path = inside(model / "tables", file, f"{model / 'meta.json'} (table {name!r})")
            try:
                tables[name] = pq.read_table(path)
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise ArtifactError(f"{path} is damaged ({exc}); {fix}") from None
        return FittedState(meta=meta, arrays=arrays, tables=tables)

    # -- lifecycle ----------------------------------------------------------------------------
    def _remove(self, folder: Path) -> None:
        """Delete an artifact folder: renamed away first, so no half-deleted artifact is seen."""
        trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(3)}")
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _unique(self, ref: str, what: str) -> Record:
        found = self.matching(ref, what)
        if not found:
            self._find(ref, [], what)  # raises the usual "no ... with id or name" error
        if len(found) > 1:
            raise NotFoundError(
                f"{what} name '{ref}' matches {len(found)} {what}s: {_listing(found)}; "
                "pass the id(s) of the one(s) to delete"
            )
        return found[0]

    def delete_generator(self, ref: str, *, force: bool = False) -> GeneratorRecord:
        """Delete one generator (by id, or by a name only it has) with its model and reference
        rows. Refused while it trains, or while datasets of it remain, unless ``force``."""
        return self.delete_generators([ref], force=force)[0]

    def delete_generators(self, refs: list[str], *, force: bool = False) -> list[GeneratorRecord]:
        records = list({r.id: r for r in (self._unique(ref, "generator") for ref in refs)}.values())
        if not force:
            problems = []
            for record in records:
                if record.status in (Status.QUEUED, Status.IN_PROGRESS):
                    problems.append(f"generator '{record.name}' ({record.id}) is {record.status}")
                users = [d.id for d in self.datasets() if d.generator_id == record.id]
                if users:
                    problems.append(
                        f"generator '{record.name}' ({record.id}) has {len(users)} dataset(s) "
                        f"({', '.join(users)}) that need it to be reported, validated or "
                        "delivered; delete them first"
                    )
            if problems:
                raise ArtifactError("; ".join(problems) + "; or pass force (--force)")
        for record in records:
            self._remove(self.generator_dir(record.id))
        return records

    def delete_dataset(self, ref: str, *, force: bool = False) -> DatasetRecord:
        """Delete one dataset (by id, or by a name only it has) and its parts."""
        return self.delete_datasets([ref], force=force)[0]

    def delete_datasets(self, refs: list[str], *, force: bool = False) -> list[DatasetRecord]:
        """Delete datasets by id or name; every ref is checked before anything is deleted.

        Refused, unless ``force``, for a dataset being generated or being delivered.
        """
        records = list({r.id: r for r in (self._unique(ref, "dataset") for ref in refs)}.values())
        if not force:
            problems = [p for r in records if (p := self._busy(r))]
            if problems:
                raise ArtifactError(
                    "; ".join(problems) + "; wait for it to finish, or pass force (--force) "
                    "if that process is gone"
                )
        for record in records:
            self._remove(self.dataset_dir(record.id))
        return records

    def _busy(self, record: DatasetRecord) -> str | None:
        """Why a dataset must not be deleted now (being generated or delivered), or None."""
        if record.status in (Status.QUEUED, Status.IN_PROGRESS):
            return f"dataset '{record.name}' ({record.id}) is being generated ({record.status})"
        delivering = self.deliveries(record.id)
        if delivering:
            where = ", ".join(sorted({d.get("destination", "?") for d in delivering}))
            return f"dataset '{record.name}' ({record.id}) is being delivered to {where}"
        return None

    # -- deliveries in progress ---------------------------------------------------------------
    @contextmanager
    def delivering(self, ds_id: str, destination: str):
        """Mark a dataset as being delivered while the block runs (one marker per delivery)."""
        marker = self.dataset_dir(ds_id) / f"{DELIVERING_PREFIX}{secrets.token_hex(4)}"
        write_json_atomic(
            marker,
            {"destination": destination, "pid": os.getpid(), "since": time.time()},
        )
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)

    def deliveries(self, ds_id: str) -> list[dict]:
        """Deliveries of a dataset in progress; markers older than DELIVERY_STALE_S are ignored
        (left by a process that was killed)."""
        found = []
        for marker in self.dataset_dir(ds_id).glob(f"{DELIVERING_PREFIX}*"):
            try:
                data = json.loads(marker.read_text())
            except (OSError, ValueError):
                continue
            if time.time() - data.get("since", 0) < DELIVERY_STALE_S:
                found.append(data)
        return found

    # -- retention ----------------------------------------------------------------------------
    def apply_retention(
        self,
        generator_name: str,
        *,
        keep_last: int | None = None,
        max_age: float | None = None,
        keep_generators: int | None = None,
        protect: set[str] | frozenset[str] = frozenset(),
        now: float | None = None,
    ) -> dict[str, list[str]]:
        """Delete old datasets (and optionally generators) of the generators named
        ``generator_name``; returns the ids deleted.

        Datasets: the ``keep_last`` newest DONE ones are kept, DONE ones older than
        ``max_age`` seconds are deleted, failed and canceled ones (they hold no data) are
        deleted. Generators, when ``keep_generators`` is set: beyond the newest
        ``keep_generators`` DONE ones, and failed or canceled ones, once no dataset uses them.
        Never deleted: ids in ``protect``, anything queued or in progress, datasets being
        delivered.
        """
        now = time.time() if now is None else now
        generators = [g for g in self.generators() if g.name == generator_name]
        ids = {g.id for g in generators}
        datasets = [d for d in self.datasets() if d.generator_id in ids]
        doomed = [
            d
            for d in self._expired(datasets, keep_last, max_age, now)
            if d.id not in protect and not self._busy(d)
        ]
        for d in doomed:
            self._remove(self.dataset_dir(d.id))
        deleted = {"datasets": [d.id for d in doomed], "generators": []}
        if keep_generators is not None:
            used = {d.generator_id for d in datasets if d not in doomed} | set(protect)
            for g in self._expired(generators, keep_generators, None, now):
                if g.id not in used and g.status not in _RUNNING:
                    self._remove(self.generator_dir(g.id))
                    deleted["generators"].append(g.id)
        return deleted

    @staticmethod
    def _expired(records: list[Record], keep_last: int | None, max_age: float | None, now):
        """Records a retention rule lets go: not DONE (failed, canceled, unfinished: callers
        skip the unfinished), beyond the ``keep_last`` newest DONE, or older than ``max_age``."""
        done = [r for r in records if r.status is Status.DONE]
        kept = {r.id for r in done[::-1][:keep_last]} if keep_last is not None else None
        expired = []
        for r in records:
            too_old = max_age is not None and now - r.created_at > max_age
            beyond = kept is not None and r.id not in kept
            if r.status is not Status.DONE or too_old or beyond:
                expired.append(r)
        return expired

    def export_generator(self, ref: str, path: str | Path) -> Path:
        """Write a generator (record and model, no real data) to one zip file.

        Refused when the generator's folder holds a symbolic link: synthpipe writes none, and
        following one would put a file from elsewhere into the export."""
        record = self.generator(ref)
        if record.status is not Status.DONE:
            raise ArtifactError(
                f"generator '{record.name}' is {record.status}; only trained "
                "generators (status DONE) can be exported"
            )
        folder, path = self.generator_dir(record.id), Path(path)
        files = _export_files(folder)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(
                    EXPORT_MANIFEST,
                    json.dumps(
                        {"format_version": FORMAT_VERSION, "id": record.id, "name": record.name}
                    ),
                )
                for rel in files:
                    zf.write(folder / rel, rel)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def import_generator(self, path: str | Path, name: str | None = None) -> GeneratorRecord:
        """Add a generator from an export file under a new id.

        Everything is checked before the generator appears: the manifest's and the record's
        format versions, the table names of its config, each member (no absolute path, no
        ``..``, no link) and the unpacked size (IMPORT_MAX_BYTES in all, members at most
        IMPORT_MAX_RATIO times their compressed size). It is unpacked into a hidden temporary
        folder and renamed into place, so a refused archive leaves nothing behind."""
        path = Path(path)
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"{path} is not a synthpipe generator export: {exc}") from exc
        with zf:
            manifest = self._export_manifest(zf, path)
            record = _archived_record(zf, path)
            members = _checked_members(zf, path)
            record.id = new_id("gen")
            record.name = name or manifest.get("name") or record.name
            target = self.generator_dir(record.id)
            tmp = target.with_name(f".import-{record.id}")
            try:
                _unpack(zf, members, tmp, path)
                write_json_atomic(tmp / "record.json", record.model_dump(mode="json"))
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ArtifactError(
                    f"{path} is damaged ({exc}); not imported: export the generator again"
                ) from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return record

    def _export_manifest(self, zf: zipfile.ZipFile, path: Path) -> dict:
        try:
            manifest = json.loads(zf.read(EXPORT_MANIFEST))
        except KeyError as exc:
            raise ArtifactError(
                f"{path} has no {EXPORT_MANIFEST}; it is not a synthpipe generator export"
            ) from exc
        except (ValueError, zipfile.BadZipFile) as exc:
            raise ArtifactError(
                f"{path}: {EXPORT_MANIFEST} is damaged ({exc}); export the generator again"
            ) from None
        _check_version(manifest, f"{path} ({EXPORT_MANIFEST})")
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


# -- export and import helpers ------------------------------------------------------------------


def _export_files(folder: Path) -> list[str]:
    """Relative paths of the files an export holds (no real rows); refuses symbolic links."""
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        rel = here.relative_to(folder)
        if rel == Path():
            dirnames[:] = [d for d in dirnames if d != "reference"]  # real rows stay here
        for entry in [*dirnames, *filenames]:
            if (here / entry).is_symlink():
                raise ArtifactError(
                    f"{here / entry} is a symbolic link; synthpipe never writes links into a "
                    "generator's folder, so it was changed by hand: remove the link (or train "
                    "the generator again) before exporting"
                )
        files += [str(rel / f) for f in filenames]
    return sorted(files)


def _archived_record(zf: zipfile.ZipFile, path: Path) -> GeneratorRecord:
    """The generator record inside an export, checked: version, fields, table names."""
    from synthpipe.schema import GeneratorConfig

    try:
        data = json.loads(zf.read("record.json"))
    except KeyError:
        raise ArtifactError(
            f"{path} has no record.json; it is not a complete generator export: export the "
            "generator again"
        ) from None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(
            f"{path}: record.json is damaged ({exc}); export the generator again"
        ) from None
    _check_version(data, f"{path} (record.json)")
    try:
        record = GeneratorRecord.model_validate(data)
        config = GeneratorConfig.model_validate(record.config)
    except ValidationError as exc:
        raise ArtifactError(
            f"{path}: record.json is damaged ({_first(exc)}); export the generator again"
        ) from None
    bad = [(t.name, why) for t in config.tables if (why := problem(t.name)) is not None]
    if bad:
        names = "; ".join(f"table {n!r}: {why}" for n, why in bad)
        raise ArtifactError(
            f"{path} names tables that cannot be file names ({names}); not imported: rename "
            "the table(s) where the generator was trained, train and export it again"
        )
    record.pid = record.host = None
    return record


def _checked_members(zf: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    """The members to unpack; refuses unsafe names, links and sizes beyond the limits."""
    members, total = [], 0
    for info in zf.infolist():
        name = info.filename
        if name in (EXPORT_MANIFEST, "record.json") or info.is_dir():
            continue
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise ArtifactError(f"{path} contains an unsafe path {name!r}; not imported")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArtifactError(f"{path} contains a symbolic link {name!r}; not imported")
        if info.file_size > IMPORT_RATIO_FLOOR and (
            info.file_size > IMPORT_MAX_RATIO * max(info.compress_size, 1)
        ):
            raise ArtifactError(
                f"{path} member {name!r} unpacks to {info.file_size:,} bytes from "
                f"{info.compress_size:,}, more than {IMPORT_MAX_RATIO} times smaller; a "
                "synthpipe export never is: not imported"
            )
        total += info.file_size
        members.append(info)
    if total > IMPORT_MAX_BYTES:
        raise ArtifactError(
            f"{path} unpacks to {total:,} bytes, more than the {IMPORT_MAX_BYTES:,} an import "
            "may take; not imported"
        )
    return members


def _unpack(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], folder: Path, path: Path):
    """Write ``members`` under ``folder``, counting the bytes actually unpacked (a member's
    declared size may lie)."""
    written = 0
    for info in members:
        dest = folder / info.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(1024**2):
                written += len(chunk)
                if written > IMPORT_MAX_BYTES:
                    raise ArtifactError(
                        f"{path} unpacks to more than the {IMPORT_MAX_BYTES:,} bytes an import "
                        "may take; not imported"
                    )
                out.write(chunk)
