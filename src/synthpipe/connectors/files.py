"""Local files: a folder of parquet or CSV files is a dataset, each file stem a table.

A table may also be a folder of parquet parts (``orders/part-00000.parquet``), as synthpipe
writes large tables. Table names and locations pass the name policy (``synthpipe.names``)
before any path is built from them.

A destination folder (``path`` joined with the location) holds, next to the tables:

- ``_manifest.json``: the commit record: each table synthpipe delivered with its file, row
  count and the dataset ids it holds, plus ``state`` (``committed``, or ``swapping`` while the
  new files are being moved into place) and the ``delivery`` token.
- ``_sp_<token>/``: a delivery's staging folder, removed when the delivery ends.
- ``.synthpipe.lock``: locked (``flock``) while a delivery runs, removed after it.

A delivery (``write_tables``) takes the lock, waiting at most ``lock_timeout``, so two
deliveries to one folder run one after the other. Under it, it first finishes or removes what a
killed delivery left (see ``_recover``), then writes every new file into its staging folder
(fsynced), publishes the manifest in state ``swapping`` naming the staging folder, moves each
file into place with ``os.replace`` (a hard link of the staged file, so the staged set stays
whole), publishes the manifest in state ``committed`` and removes the staging folder. Every
manifest is written to the staging folder and renamed over the old one.

What is guaranteed:

- per file: a reader of ``<table>.parquet`` sees the old file or the new one, never part of one;
- per delivery, to readers that follow the manifest (this connector's ``read`` does): the set
  is old or new. While the manifest says ``swapping``, the tables of that delivery are read from
  its staging folder, which holds the whole new set; a reader that reads the manifest before and
  after reading its tables and finds the same ``delivery`` and ``state`` read one delivery's set;
- a delivery killed before publishing the ``swapping`` manifest leaves the old set; one killed
  after it is completed by the next delivery (or read as the new set meanwhile). Either way the
  next delivery leaves no staging folder or temporary file behind.

A reader listing the folder without the manifest may see, during a swap or after a kill within
one, some new and some old files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from synthpipe.connectors.appending import already_delivered, shift_keys
from synthpipe.connectors.base import (
    DEFAULT_LOCK_TIMEOUT,
    Batches,
    Connector,
    ConnectorConfig,
    LockTimeoutError,
    WriteMode,
)
from synthpipe.errors import ConnectorError, NotFoundError, TargetExistsError
from synthpipe.hookspecs import hookimpl
from synthpipe.names import (
    RESERVED_PREFIXES,
    UnsafeNameError,
    check_location,
    check_table_name,
    problem,
)
from synthpipe.schema import Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

SUFFIXES = {".parquet": "parquet", ".csv": "csv"}
MANIFEST = "_manifest.json"
MANIFEST_VERSION = 1
STAGE_PREFIX = "_sp_"
LOCK_FILE = ".synthpipe.lock"
# Temporary files of synthpipe versions that wrote next to the target (`.t.parquet.x1y2`).
_OLD_TEMP = re.compile(r"^\.[^/]+\.(parquet|csv)\.\w+$")


class FilesConfig(ConnectorConfig):
    # Folder holding the tables; locations are sub-folders of it. `@demo/NAME` names a dataset
    # shipped inside the package (`@demo/ratdat`), on the command line as in pipeline files.
    path: Path
    # Format of files this connector writes.
    format: Literal["parquet", "csv"] = "parquet"
    # Seconds a delivery waits for another delivery to the same folder to finish before it
    # fails naming the one holding the lock, with nothing changed.
    lock_timeout: float = Field(default=DEFAULT_LOCK_TIMEOUT, gt=0)

    @field_validator("path", mode="before")
    @classmethod
    def _embedded(cls, value):
        from synthpipe.pipeline import DEMO_PREFIX, demo_path

        if isinstance(value, str) and value.startswith(DEMO_PREFIX):
            return demo_path(value[len(DEMO_PREFIX) :])
        return value


class FilesConnector(Connector):
    """A folder of parquet/CSV files (or folders of parquet parts) as tables."""

    kind = "files"
    Config = FilesConfig

    def _folder(self, location: str | None) -> Path:
        check_location(location, f"the files connector at {self.config.path}")
        return self.config.path / location if location else self.config.path

    def _find(self, table: str, location: str | None) -> Path | None:
        _check_readable(table)
        folder = self._folder(location)
        staged = _staged(folder)
        found = _locate(staged, table) if staged is not None else None
        return found or _locate(folder, table)

    def _require(self, table: str, location: str | None) -> Path:
        path = self._find(table, location)
        if path is None:
            raise NotFoundError(
                f"table '{table}' not found in {self._folder(location)}; "
                f"expected {table}.parquet, {table}.csv or a folder {table}/ "
                f"of parquet parts (tables here: {', '.join(self.tables(location))})"
            )
        return path

    def locations(self, prefix: str = "") -> list[str]:
        root = self.config.path
        if not root.is_dir():
            raise NotFoundError(f"folder {root} does not exist; set `path` to a folder of tables")
        folders = [q for q in root.rglob("*") if q.is_dir() and not _own(q.relative_to(root))]
        found = [
            "" if p == root else str(p.relative_to(root))
            for p in [root, *sorted(folders)]
            if self._holds_tables(p)
        ]
        return [loc for loc in found if loc.startswith(prefix)]

    def _holds_tables(self, folder: Path) -> bool:
        if _is_parts_folder(folder):
            return False  # a table stored as parts, not a location
        return any(
            (p.is_file() and p.suffix in SUFFIXES) or (p.is_dir() and _is_parts_folder(p))
            for p in folder.iterdir()
            if not p.name.startswith(RESERVED_PREFIXES)
        )

    def tables(self, location: str | None = None) -> list[str]:
        folder = self._folder(location)
        if not folder.is_dir():
            raise NotFoundError(f"folder {folder} does not exist; check `path` and the location")
        names = {p.stem for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES}
        names |= {p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet"))}
        staged = _staged(folder)
        if staged is not None:
            names |= {p.stem for p in staged.iterdir() if p.suffix in SUFFIXES}
        return sorted(n for n in names if not n.startswith(RESERVED_PREFIXES))

    def _dataset(self, path: Path):
        import pyarrow.dataset as ds

        fmt = "csv" if path.suffix == ".csv" else "parquet"
        return ds.dataset(path, format=fmt)

    def _open(self, table: str, location: str | None):
        """The table's file and dataset; looked up again once when a delivery just removed
        the staged file it found."""
        try:
            path = self._require(table, location)
            return path, self._dataset(path)
        except FileNotFoundError:
            path = self._require(table, location)
            return path, self._dataset(path)

    def schema(self, location: str | None = None, tables: list[str] | None = None) -> list[Table]:
        from synthpipe.types import columns_from_arrow

        result = []
        for name in tables or self.tables(location):
            path, dataset = self._open(name, location)
            rows = dataset.count_rows() if path.suffix != ".csv" else None
            result.append(Table(name=name, columns=columns_from_arrow(dataset.schema), rows=rows))
        return result

    def read(
        self,
        table: str,
        location: str | None = None,
        *,
        columns: list[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator:
        for attempt in (1, 2):
            _, dataset = self._open(table, location)
            missing = [c for c in columns or [] if c not in dataset.schema.names]
            if missing:
                raise ConnectorError(
                    f"table '{table}' has no column(s) {', '.join(missing)}; "
                    f"columns: {', '.join(dataset.schema.names)}"
                )
            batches = dataset.to_batches(columns=columns, batch_size=batch_size)
            try:
                first = next(batches, None)  # opens the file, held open until the end
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue  # a delivery committed and removed the staged file just found
            break
        if first is not None:
            yield first
        yield from batches

    def exists(self, table: str, location: str | None = None) -> bool:
        return self._find(table, location) is not None

    def write(
        self,
        table: Table,
        data: Batches,
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
    ) -> int:
        """Write one table (a delivery of one table, see ``write_tables``); rows written."""
        mode = WriteMode(mode)
        if mode is WriteMode.FAIL:
            existing = self._find(check_table_name(table.name), location)
            if existing is not None:
                raise TargetExistsError([str(existing)])
        return self.write_tables([(table, data)], location, mode)[table.name]

    def write_tables(
        self,
        tables: list[tuple[Table, Batches]],
        location: str | None = None,
        mode: WriteMode = WriteMode.FAIL,
        *,
        create_constraints: bool = False,
        dataset_id: str | None = None,
    ) -> dict[str, int]:
        """Deliver several tables as one commit of the manifest (see the module docstring).

        Every name is checked, and ``fail`` refuses when any target exists, before any file is
        written; ``append`` checks each table's columns and types as its first batch arrives,
        before anything is moved into place. An append rewrites the table with
        the old rows first; a table with an integer primary key gets the new keys (and the
        foreign keys of the delivery referencing them) moved past the old ones, and an existing
        lookup table (``original_data``) is left as it is. Appending a ``dataset_id`` the
        manifest records for a table skips that table, so a retried append changes nothing.
        ``create_constraints`` has no meaning for files. Returns the new rows per table.
        """
        mode = WriteMode(mode)
        folder = self._folder(location)
        names = [check_table_name(t.name, f"the files destination {folder}") for t, _ in tables]
        if len(set(names)) != len(names):
            raise ConnectorError(f"a delivery to {folder} names a table twice: {names}")
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder, self.config.lock_timeout):
            manifest = _recover(folder)
            return self._deliver(folder, tables, mode, dataset_id, manifest)

    def _deliver(self, folder, tables, mode, dataset_id, manifest) -> dict[str, int]:
        entries = manifest.get("tables", {})
        existing = {t.name: p for t, _ in tables if (p := _locate(folder, t.name)) is not None}
        if mode is WriteMode.FAIL and existing:
            raise TargetExistsError([t.name for t, _ in tables if t.name in existing])
        done = already_delivered(tables, entries, existing, mode, dataset_id)
        todo = [(t, d) for t, d in tables if t.name not in done]
        if not todo:
            return done
        if mode is WriteMode.APPEND:
            todo = shift_keys(todo, set(existing), self._largest(existing))
        stage = folder / f"{STAGE_PREFIX}{secrets.token_hex(6)}"
        stage.mkdir()
        try:
            written = {t.name: self._stage_table(stage, t, d, existing, mode) for t, d in todo}
            files = {name: f"{name}.{self.config.format}" for name in written}
            swapping = {
                "state": "swapping",
                "staging": stage.name,
                "swap": files,
                "tables": _entries(entries, written, files, existing, mode, dataset_id),
            }
            _publish(folder, stage, swapping)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        _finish(folder, stage, swapping)
        rows = {**done, **{name: new for name, (new, _) in written.items()}}
        return {t.name: rows[t.name] for t, _ in tables}

    def _largest(self, existing: dict[str, Path]):
        def largest(table: str, column: str) -> int | None:
            import pyarrow.compute as pc

            dataset = self._dataset(existing[table])
            if column not in dataset.schema.names:
                return None  # the append check names the missing column
            return pc.max(dataset.to_table(columns=[column])[column]).as_py()

        return largest

    def _stage_table(self, stage, table, data, existing, mode) -> tuple[int, int]:
        """Write one table into the staging folder: (new rows, rows in the file)."""
        counted = _Counted(data)
        old = existing.get(table.name) if mode is WriteMode.APPEND else None
        batches = counted if old is None else _appended(table, self._dataset(old), counted)
        path = stage / f"{table.name}.{self.config.format}"
        total = _write_file(path, batches, self.config.format, _arrow_schema(table))
        return counted.rows, total


def _check_readable(table: str) -> None:
    """Refuse a table name that is not one file name (reserved names may be read)."""
    why = problem(table, reserved=False)
    if why is not None:
        raise UnsafeNameError(f"table name {table!r} cannot be used: {why}; name a table listed")


def _own(relative: Path) -> bool:
    """Whether a path below the root is synthpipe's own (staging, lock, hidden)."""
    return any(part.startswith(RESERVED_PREFIXES) for part in relative.parts)


def _locate(folder: Path, table: str) -> Path | None:
    for suffix in SUFFIXES:
        if (folder / f"{table}{suffix}").is_file():
            return folder / f"{table}{suffix}"
    if (folder / table).is_dir() and any((folder / table).glob("*.parquet")):
        return folder / table
    return None


def _is_parts_folder(folder: Path) -> bool:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix == ".parquet"]
    return bool(files) and all(p.name.startswith("part-") for p in files)


# -- the manifest --------------------------------------------------------------------------
def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConnectorError(
            f"{path} is damaged ({exc}); delete it (the tables stay) and deliver again"
        ) from None
    if not isinstance(content, dict) or content.get("version") != MANIFEST_VERSION:
        raise ConnectorError(
            f"{path} is not a synthpipe manifest of version {MANIFEST_VERSION}; "
            "delete it (the tables stay) or upgrade synthpipe"
        )
    return content


def _staged(folder: Path) -> Path | None:
    """The staging folder of a delivery whose manifest says ``swapping``, if it is there.

    Reading is lenient: a source folder may hold another tool's ``_manifest.json``.
    """
    try:
        manifest = _read_manifest(folder)
    except ConnectorError:
        return None
    stage = manifest.get("staging") if manifest.get("state") == "swapping" else None
    if (
        not isinstance(stage, str)
        or not stage.startswith(STAGE_PREFIX)
        or problem(stage, reserved=False)
    ):
        return None
    return folder / stage if (folder / stage).is_dir() else None


def _publish(folder: Path, stage: Path, content: dict) -> None:
    """Write the manifest in the staging folder, fsynced, and rename it over the current one."""
    content = {
        "version": MANIFEST_VERSION,
        "delivery": stage.name[len(STAGE_PREFIX) :],
        "written_at": datetime.now(UTC).isoformat(),
        **content,
    }
    path = stage / MANIFEST
    path.write_text(json.dumps(content, indent=1, sort_keys=True))
    _fsync(path)
    os.replace(path, folder / MANIFEST)
    _fsync(folder)


def _entries(entries, written, files, existing, mode, dataset_id) -> dict:
    """The manifest's tables after this delivery: the delivered ones with their datasets."""
    result = dict(entries)
    for name, (new, total) in written.items():
        kept = name in existing and mode is WriteMode.APPEND
        datasets = dict(entries.get(name, {}).get("datasets", {})) if kept else {}
        if dataset_id:
            datasets[dataset_id] = new
        result[name] = {"file": files[name], "rows": total, "datasets": datasets}
    return result


# -- swapping and recovery -----------------------------------------------------------------
def _finish(folder: Path, stage: Path, manifest: dict) -> None:
    """Move a staged set into place, commit the manifest, remove the staging folder.

    Idempotent: the next delivery runs it again for a delivery killed midway.
    """
    for name, file in manifest.get("swap", {}).items():
        staged = stage / file
        if staged.is_file():
            link = stage / f"{file}.link"
            link.unlink(missing_ok=True)
            try:
                os.link(staged, link)  # the staged file stays for readers of the staged set
            except OSError:
                shutil.copy2(staged, link)  # a file system without hard links
            os.replace(link, folder / file)
        for other in (folder / f"{name}{s}" for s in SUFFIXES):
            if other.name != file and other.is_file():
                other.unlink()  # the table changed format
        if (folder / name).is_dir() and _is_parts_folder(folder / name):
            shutil.rmtree(folder / name)  # replaced a folder of parts
    _fsync(folder)
    committed = {k: v for k, v in manifest.items() if k not in ("staging", "swap")}
    _publish(folder, stage, {**committed, "state": "committed"})
    shutil.rmtree(stage, ignore_errors=True)


def _recover(folder: Path) -> dict:
    """Under the lock: finish a delivery killed after publishing ``swapping``, then remove
    every staging folder and old temporary file (no delivery owns them). The manifest."""
    manifest = _read_manifest(folder)
    if manifest.get("state") == "swapping":
        stage = _staged(folder)
        if stage is None:
            log.warning("%s: the staging folder of an interrupted delivery is gone", folder)
            manifest = {**manifest, "state": "committed"}
        else:
            log.info("%s: completing the delivery %s", folder, manifest.get("delivery"))
            _finish(folder, stage, manifest)
            manifest = _read_manifest(folder)
    for path in folder.iterdir():
        if path.name.startswith(STAGE_PREFIX) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(STAGE_PREFIX) or _OLD_TEMP.match(path.name):
            path.unlink(missing_ok=True)
    return manifest


@contextlib.contextmanager
def _locked(folder: Path, timeout: float) -> Iterator[None]:
    """Hold ``<folder>/.synthpipe.lock`` (flock), waiting at most ``timeout`` seconds.

    The file is removed before the lock is released; a waiter that then gets the lock of the
    removed file notices (the path no longer names its file) and tries again.
    """
    import fcntl

    path = folder / LOCK_FILE
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise _lock_timeout(folder, path, timeout) from None
            time.sleep(0.05)
            continue
        if _names_file(path, fd):
            break
        os.close(fd)  # locked a lock file its holder had just removed
    try:
        os.ftruncate(fd, 0)
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%H:%M:%S}"
        os.write(fd, holder.encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def _names_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _lock_timeout(folder: Path, path: Path, timeout: float) -> LockTimeoutError:
    try:
        holder = path.read_text().strip() or "holder unknown"
    except OSError:
        holder = "holder unknown"
    return LockTimeoutError(
        f"another delivery to {folder} holds {path.name} ({holder}) and did not finish within "
        f"lock_timeout={timeout:g}s; nothing was written. Retry when it has finished, or raise "
        "the destination's `lock_timeout`"
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- writing one file ----------------------------------------------------------------------
class _Counted:
    """Batches passed through, counting rows (the new rows of an append)."""

    def __init__(self, data: Batches):
        self.data, self.rows = data, 0

    def __iter__(self):
        for batch in self.data:
            self.rows += batch.num_rows
            yield batch


def _arrow_schema(table: Table) -> pa.Schema:
    """The schema a table's file gets when no batch arrives (a table of zero rows)."""
    import pyarrow as pa

    from synthpipe.types import arrow_type

    return pa.schema([pa.field(c.name, arrow_type(c), c.nullable) for c in table.columns or []])


def _appended(table: Table, old, new: Batches):
    import itertools

    batches = iter(new)
    first = next(batches, None)
    if first is not None:
        _check_append(table.name, old.schema, first.schema)
    rest = itertools.chain([first] if first is not None else [], batches)
    return itertools.chain(
        old.to_batches(), (b.select(old.schema.names).cast(old.schema) for b in rest)
    )


def _check_append(table: str, old, new) -> None:
    problems = []
    for field in new:
        if field.name not in old.names:
            problems.append(f"column '{field.name}' is not in the existing table")
        elif not old.field(field.name).type.equals(field.type):
            problems.append(
                f"column '{field.name}' is {field.type}, existing is {old.field(field.name).type}"
            )
    missing = [name for name in old.names if name not in new.names]
    if missing:
        problems.append(f"existing column(s) {', '.join(missing)} missing from the new rows")
    if problems:
        raise ConnectorError(
            f"cannot append to '{table}': "
            + "; ".join(problems)
            + "; use mode 'overwrite' to replace the table"
        )


def _write_file(path: Path, data: Batches, fmt: str, schema: pa.Schema) -> int:
    """Write batches to one file, fsynced; with no batch, a valid file of ``schema`` and no
    rows (parquet with its schema, CSV with its header). Returns the rows written."""
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    def open_writer(schema):
        if fmt == "parquet":
            return pq.ParquetWriter(path, schema, compression="zstd")
        return csv.CSVWriter(path, schema)

    rows, writer = 0, None
    try:
        for batch in data:
            writer = writer or open_writer(batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        writer = writer or open_writer(schema)
    finally:
        if writer is not None:
            writer.close()
    _fsync(path)
    return rows


@hookimpl
def register_connectors(register):
    register(FilesConnector)
