"""Validate a stored synthetic dataset: derived suites, relational checks and quality gates.

``validate_dataset`` derives the checks from the dataset's generator, runs the GX suites table
by table in an ephemeral context, the relational checks in DuckDB, and the gates on the QA
metrics; then (``persist``) writes ``validation.json`` and ``validation.html`` into the dataset
folder and keeps a summary on the dataset's record, which delivery reads: a dataset whose
validation failed is refused unless the delivery is forced.
"""

from __future__ import annotations

import time
from pathlib import Path

from synthpipe.errors import ArtifactError
from synthpipe.pipeline import Validation
from synthpipe.progress import Progress, ensure
from synthpipe.store import DatasetRecord, Status, Store, inside
from synthpipe.validate import relational
from synthpipe.validate.checks import Check
from synthpipe.validate.gates import check_gates, stored_metrics
from synthpipe.validate.result import ValidationResult, entry
from synthpipe.validate.suites import derive_suites

# Rows GX validates at once: tables above it are validated chunk by chunk, bounding memory.
# Aggregate expectations a user adds (a mean, a row count) then hold per chunk.
CHUNK_ROWS = 4_000_000
JSON_NAME, HTML_NAME = "validation.json", "validation.html"


def validate_dataset(
    dataset_ref: str,
    *,
    home: str | Path | None = None,
    settings: Validation | None = None,
    qa_metrics: dict | None = None,
    persist: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> ValidationResult:
    """Validate a generated dataset (by id or name) and return what was found.

    ``settings`` is the pipeline's ``validation`` block (derived checks to disable, extra GX
    expectations, quality gates); ``qa_metrics`` the QA JSON for the gates, by default the
    ``qa_metrics.json`` in the dataset folder. With ``persist`` the result is stored on the
    dataset (delivery then refuses a failed dataset unless forced) and written as
    validation.json and validation.html beside its parts. ``progress`` gets one step per table,
    counting its checks as they run.
    """
    store = Store(home)
    record = store.dataset(dataset_ref)
    if record.status is not Status.DONE:
        raise ArtifactError(
            f"dataset '{record.name}' is {record.status}; only complete datasets "
            "(status DONE) can be validated: generate and commit all its partitions first"
        )
    settings = settings or Validation()
    started = time.time()
    result = ValidationResult(record.id, record.name, record.generator_id, validated_at=started)
    result.settings = settings.model_dump(mode="json")
    if not settings.enabled:
        result.skipped = "disabled by the pipeline's validation.enabled: false"
        return result
    progress = ensure(progress)
    with progress.guard():
        _run(store, record, settings, result, chunk_rows, progress)
    if qa_metrics is None and any(v is not None for v in settings.gates.model_dump().values()):
        qa_metrics = stored_metrics(store.dataset_dir(record.id))
    result.gates = check_gates(settings.gates, qa_metrics)
    result.duration_s = time.time() - started
    if persist:
        _persist(store, record.id, result)
    return result


def _run(
    store: Store,
    record: DatasetRecord,
    settings: Validation,
    result: ValidationResult,
    chunk_rows: int,
    progress: Progress,
) -> None:
    from synthpipe.validate.gx_runner import GXRunner

    generator = store.generator(record.generator_id)
    reference = store.generator_dir(generator.id) / "reference" / "train"
    suites = derive_suites(generator, record.spec, settings, reference=reference)
    runner = GXRunner()
    runner.prepare(suites)  # bad user expectations stop here, before any data is read
    result.gx_version = runner.version
    folder = store.dataset_dir(record.id)
    parts = {
        t: [inside(folder, p, f"dataset '{record.name}' record") for p in info["parts"]]
        for t, info in record.tables.items()
    }
    con = relational.connect()
    try:
        for table, checks in suites.items():
            progress.step(f"validate {table}", total=len(checks), unit="checks")
            result.tables[table] = _table(runner, con, table, checks, parts, chunk_rows, progress)
        progress.done()
    finally:
        con.close()


def _table(
    runner, con, table: str, checks: list[Check], parts: dict, chunk_rows: int, progress: Progress
) -> list:
    from synthpipe.validate.gx_runner import validate_table

    if not parts.get(table):
        missing = {"success": False, "exception": f"the dataset has no parts of table '{table}'"}
        return [entry(check, missing) for check in checks]
    raws = validate_table(runner, table, parts[table], chunk_rows, progress)
    for check in checks:
        if check.batch == "dataset":
            raws[check] = relational.evaluate(check, parts, con)
            progress.advance()
    return [entry(check, raws.get(check, _not_evaluated())) for check in checks]


def _not_evaluated() -> dict:
    return {"success": False, "exception": "not evaluated: the table has no readable rows"}


def _persist(store: Store, dataset_id: str, result: ValidationResult) -> None:
    folder = store.dataset_dir(dataset_id)
    result.write_json(folder / JSON_NAME)
    result.write_html(folder / HTML_NAME)
    record = store.dataset(dataset_id)  # re-read: keep what others saved meanwhile
    record.validation = result.record_summary()
    store.save(record)
