"""What the "Synthetic data" page shows: generators and datasets with status, sizes, metrics.

Plain dicts built from the store's records and the report files beside them
(``qa_metrics.json`` and ``qa_report.html``, see docs/qa.md; ``validation.html``), so the page
and its JSON API show the same thing. Nothing heavy is imported: no pyarrow, no QA code.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from synthpipe.store import DatasetRecord, GeneratorRecord, Store

QA_JSON = "qa_metrics.json"
QA_HTML = "qa_report.html"
VALIDATION_HTML = "validation.html"
# Headline QA numbers shown on the page, in this order.
HEADLINE = ("accuracy", "dcr_share", "discriminator_auc", "verdict")


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it is gone)."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def headline(folder: Path) -> dict[str, Any]:
    """The QA headline numbers stored in ``folder``, or {} when there is no readable report."""
    try:
        metrics = json.loads((folder / QA_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = metrics.get("headline") if isinstance(metrics, dict) else None
    return {k: found.get(k) for k in HEADLINE} if isinstance(found, dict) else {}


def generator_summary(store: Store, record: GeneratorRecord, datasets: int) -> dict[str, Any]:
    """One generator as the page lists it; ``datasets`` counts those generated from it."""
    folder = store.generator_dir(record.id)
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.generator,
        "status": record.status.value,
        "error": record.error,
        "created_at": record.created_at,
        "training_rows": record.training_rows,
        "bytes": folder_size(folder),
        "datasets": datasets,
    }


def dataset_summary(store: Store, record: DatasetRecord, names: dict[str, str]) -> dict[str, Any]:
    """One dataset as the page lists it; ``names`` maps generator ids to names."""
    folder = store.dataset_dir(record.id)
    validation = record.validation or {}
    return {
        "id": record.id,
        "name": record.name,
        "generator_id": record.generator_id,
        "generator": names.get(record.generator_id, record.generator_id),
        "status": record.status.value,
        "error": record.error,
        "created_at": record.created_at,
        "rows": {t: info.get("rows") for t, info in record.tables.items()},
        "bytes": folder_size(folder),
        "validation": validation.get("success") if record.validation else None,
        "forced_deliveries": len(record.forced_delivery),
        "qa": headline(folder),
        "qa_report": (folder / QA_HTML).is_file(),
    }


def summary(store: Store) -> dict[str, Any]:
    """Every generator and dataset of the store, newest first."""
    generators, datasets = store.generators(), store.datasets()
    names = {g.id: g.name for g in generators}
    counts = Counter(d.generator_id for d in datasets)
    return {
        "home": str(store.root),
        "generators": [generator_summary(store, g, counts[g.id]) for g in reversed(generators)],
        "datasets": [dataset_summary(store, d, names) for d in reversed(datasets)],
    }
