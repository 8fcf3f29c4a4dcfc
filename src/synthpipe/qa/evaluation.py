"""``evaluate``: compare synthetic data with its training and holdout data, table by table.

Each learned table gets fidelity (accuracy against its analytic ceiling), privacy (DCR share,
identical matches, distances), similarity (discriminator AUC) and relational checks; the
dataset headline takes the mean accuracy over tables and the worst value of every other metric,
so that one weak table is never hidden by good ones. Every headline number has a 95% interval;
a table too small to judge on a part (see ``verdict``) is left out of that part's headline
numbers when other tables could be judged, and named in the findings.
"""

from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from synthpipe.qa import logic, relational, verdict, views
from synthpipe.qa.fidelity import accuracy_uncertainty, fidelity
from synthpipe.qa.intervals import CONFIDENCE
from synthpipe.qa.privacy import privacy
from synthpipe.qa.result import SCHEMA_VERSION, QAResult
from synthpipe.qa.similarity import similarity
from synthpipe.qa.tables import TableData, resolve_tables

if TYPE_CHECKING:
    import pandas as pd

    from synthpipe.progress import Progress
    from synthpipe.schema import GeneratorConfig

    Frames = pd.DataFrame | dict[str, pd.DataFrame]

MAX_ROWS = 100_000


class Clock:
    """Seconds spent per step, summed over tables."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def timed(self, name: str, function, *args):
        """``function(*args)`` on one thread, its seconds added to step ``name``."""
        # OpenMP thread counts are per calling thread, so the limit is set in the worker.
        with self.step(name), threadpool_limits(1):
            return function(*args)


def evaluate(
    train: Frames,
    synthetic: Frames,
    holdout: Frames | None = None,
    *,
    config: GeneratorConfig | None = None,
    seed: int = 0,
    max_rows: int | None = MAX_ROWS,
    timings: dict | None = None,
    progress: Progress | None = None,
) -> QAResult:
    """Measure how faithful and how private ``synthetic`` is; see docs/qa.md for every metric.

    Each of ``train``, ``synthetic`` and ``holdout`` is one DataFrame (a single table) or a
    dict of DataFrames by table name, structured by ``config`` (keys, context keys, sequence
    order; original-data tables are only checked for integrity). Accuracy uses at most
    ``max_rows`` rows (or sequences) per dataset. ``timings`` (e.g. training seconds) are shown
    in the report. The same inputs and ``seed`` always give the same metrics (intervals
    included). ``progress`` (a ``synthpipe.progress.Progress``) gets one step with two parts
    per table, and a cancel stops the evaluation between parts.
    """
    clock, started = Clock(), time.perf_counter()
    tables = resolve_tables(train, synthetic, holdout, config)
    by_name = {t.name: t for t in tables}
    results, details = {}, {}
    if progress is not None:
        progress.step("QA report: evaluate tables", total=2 * len(tables))
    for table in tables:
        rng = np.random.default_rng([seed, zlib.crc32(table.name.encode())])
        results[table.name], details[table.name] = _table(
            table, by_name, rng, max_rows, clock, progress
        )
        _advance(progress, 2 - ("accuracy" in results[table.name]))
    if progress is not None:
        progress.done()
    clock.seconds["total"] = time.perf_counter() - started
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "headline": _headline(results),
        "tables": results,
        "timings": {**(timings or {}), "qa": dict(clock.seconds)},
    }
    return QAResult(metrics, details)


def _table(table: TableData, by_name: dict[str, TableData], rng, max_rows, clock, progress):
    rows = {
        "train": len(table.train),
        "synthetic": _len(table.synthetic),
        "holdout": _len(table.holdout) if table.holdout is not None else None,
    }
    result: dict = {"rows": rows, "original_data": table.original_data}
    if table.synthetic is not None and table.missing_columns:
        result["columns_not_compared"] = table.missing_columns
    if table.synthetic is None:
        return result | {"skipped": "no synthetic data for this table"}, {}
    with clock.step("relational"):
        result["relational"], relational_details = _relational(table, by_name)
    if table.original_data:
        return result | {"skipped": "original data: copied verbatim, not learned"}, {}
    if not table.value_columns or len(table.synthetic) == 0:
        return result | {"skipped": "no value columns or no synthetic rows to compare"}, {}
    # The fourth stream is new: the first three draw as before, so the metrics did not move.
    fid_rng, privacy_rng, similarity_rng, interval_rng = rng.spawn(4)
    with clock.step("prepare"):
        real, syn = _views(table, by_name, fid_rng, max_rows)
    with clock.step("accuracy"):
        fid = fidelity(real, syn, fid_rng)
    _advance(progress)
    values = {c: fid.kinds[c] for c in table.value_columns}
    association = fid.association[: len(values), : len(values)]
    frames = [
        table.train[list(values)],
        table.synthetic[list(values)],
        _subset(table.holdout, values),
    ]
    # Distances (BLAS) and the classifier (OpenMP) release the GIL: run them side by side,
    # each on one thread, which also keeps them fast on a machine busy with other work. The
    # accuracy bootstrap follows the classifier, which ends well before the distances.
    with ThreadPoolExecutor(2) as pool:
        privacy_job = pool.submit(
            clock.timed, "privacy", privacy, *frames, values, association, privacy_rng
        )
        similarity_job = pool.submit(
            clock.timed,
            "similarity",
            similarity,
            table.train,
            table.synthetic,
            values,
            similarity_rng,
        )
        interval_job = pool.submit(
            clock.timed, "intervals", accuracy_uncertainty, fid, interval_rng
        )
        result["privacy"], dcr = privacy_job.result()
        result["similarity"] = similarity_job.result()
        fid.metrics |= interval_job.result()
    result["accuracy"] = fid.metrics
    if real.lengths is not None:
        rows["sequences"] = {"real": len(real.lengths), "synthetic": len(syn.lengths)}
    return result, fid.details | {"dcr": dcr, **relational_details}


def _advance(progress, parts: int = 1) -> None:
    if progress is not None:
        progress.advance(parts)


def _views(table: TableData, by_name, rng, max_rows):
    """The real (training + holdout) and synthetic views of a table."""
    fk = table.context_key
    parent = by_name.get(fk.referenced_table) if fk else None
    if fk is None:
        made = [
            views.flat_view(table, f, rng, max_rows) if f is not None else None
            for f in (table.train, table.holdout, table.synthetic)
        ]
    else:
        sequential = views.is_sequential(table, [table.train, table.holdout])
        frames = [
            (table.train, _parent_frame(parent, "train")),
            (table.holdout, _parent_frame(parent, "holdout")),
            (table.synthetic, _parent_frame(parent, "synthetic")),
        ]
        made = [
            views.sequence_view(table, f, parent, p, rng, max_rows, sequential)
            if f is not None
            else None
            for f, p in frames
        ]
    return views.combine(made[0], made[1]), made[2]


def _parent_frame(parent: TableData | None, role: str):
    if parent is None:
        return None
    frame = getattr(parent, role)
    # An original-data parent is copied verbatim: its synthetic rows are its training rows.
    return parent.train if frame is None and parent.original_data else frame


def _relational(table: TableData, by_name: dict[str, TableData]) -> tuple[dict, dict]:
    """Key checks on the synthetic data, and children-per-parent for a child table."""
    out: dict = {
        "pk_uniqueness": None,
        "referential_integrity": None,
        "referential_integrity_by_key": {},
        "children_per_parent_accuracy": None,
        "children_per_parent_ceiling": None,
    }
    if table.primary_key:
        out["pk_uniqueness"] = relational.pk_uniqueness(table.synthetic, table.primary_key)
    for fk in table.foreign_keys:
        parent = by_name.get(fk.referenced_table)
        target = _parent_frame(parent, "synthetic")
        if target is None:
            continue
        refs = list(fk.referenced_columns or parent.primary_key)
        name = f"{','.join(fk.columns)} → {fk.referenced_table}.{','.join(refs)}"
        out["referential_integrity_by_key"][name] = relational.referential_integrity(
            table.synthetic, fk.columns, target, refs
        )
    shares = [v for v in out["referential_integrity_by_key"].values() if v is not None]
    out["referential_integrity"] = min(shares) if shares else None
    # rules the real rows hold (>= 99.9%) and their share in the synthetic rows
    out["relationships"] = logic.relationships(table, by_name)
    children = _children(table, by_name)
    if children:
        out["children_per_parent_accuracy"] = children["accuracy"]
        out["children_per_parent_ceiling"] = children["ceiling"]
    return out, {"children_per_parent": children} if children else {}


def _children(table: TableData, by_name) -> dict | None:
    fk = table.context_key
    parent = by_name.get(fk.referenced_table) if fk else None
    if parent is None or _parent_frame(parent, "synthetic") is None:
        return None
    refs = list(fk.referenced_columns or parent.primary_key)

    def counts(role: str) -> np.ndarray | None:
        child, parent_frame = getattr(table, role), _parent_frame(parent, role)
        if child is None or parent_frame is None:
            return None
        return relational.children_per_parent(child, fk.columns, parent_frame, refs)

    real = [c for c in (counts("train"), counts("holdout")) if c is not None]
    syn = counts("synthetic")
    if not real or syn is None or not len(np.concatenate(real)):
        return None
    return relational.children_accuracy(np.concatenate(real), syn)


def _headline(results: dict[str, dict]) -> dict:
    """Dataset-level numbers: mean accuracy over learned tables, the worst of everything else.

    Each part's numbers come from the tables that part could be judged on (all tables when
    none could), so a table of two holdout rows does not set the dataset's DCR share.
    """
    judgements = {name: verdict.judge_table(r) for name, r in results.items()}

    def judged_tables(part: str) -> list[dict]:
        found = [results[n] for n, j in judgements.items() if j[part] is not None]
        return [results[n] for n, j in judgements.items() if verdict.judged(j[part])] or found

    def values(section: str, key: str) -> list[float]:
        return [
            r[section][key]
            for r in results.values()
            if r.get(section) and r[section].get(key) is not None
        ]

    learned = [r for r in judged_tables("fidelity") if r["accuracy"]["overall"] is not None]
    private, similar = judged_tables("privacy"), judged_tables("similarity")
    headline = {
        "accuracy": _mean([r["accuracy"]["overall"] for r in learned]),
        "accuracy_interval": verdict.headline_accuracy_interval(learned) if learned else None,
        "ceiling": _mean(
            [
                r["accuracy"]["ceiling"]["overall"]
                for r in learned
                if r["accuracy"]["ceiling"]["overall"] is not None
            ]
        ),
        "ceiling_method": "analytic",
        "accuracy_noise_gap": _mean(
            [
                r["accuracy"]["noise_gap"]
                for r in learned
                if r["accuracy"].get("noise_gap") is not None
            ]
        ),
        "confidence": CONFIDENCE,
    }
    for section, key, tables in (
        ("privacy", "dcr_share", private),
        ("privacy", "identical_match_share_train", private),
        ("privacy", "identical_match_share_holdout", private),
        ("similarity", "discriminator_auc", similar),
    ):
        headline |= _worst(tables, section, key, [key])
    # The worst excess of copies over the holdout's matches, with the shares behind it.
    shares = ["train_match_excess", "train_match_share_synthetic", "train_match_share_holdout"]
    headline |= _worst(private, "privacy", "train_match_excess", shares)
    headline |= {
        "referential_integrity": min(values("relational", "referential_integrity"), default=None),
        "pk_uniqueness": min(values("relational", "pk_uniqueness"), default=None),
        "children_per_parent_accuracy": min(
            values("relational", "children_per_parent_accuracy"), default=None
        ),
        "columns_not_compared": sum(
            len(r.get("columns_not_compared", [])) for r in results.values()
        ),
    }
    for name, judgement in judgements.items():
        if "accuracy" in results[name]:
            results[name]["verdict"] = {p: f.level if f else None for p, f in judgement.items()}
    headline["verdict"] = verdict.verdict(headline, judgements)
    return headline


def _worst(tables: list[dict], section: str, key: str, keys: list[str]) -> dict:
    """``keys`` and their intervals from the table with the highest ``key``."""
    found = [r[section] for r in tables if (r.get(section) or {}).get(key) is not None]
    chosen = max(found, key=lambda s: s[key]) if found else {}
    return {k: chosen.get(k) for key_ in keys for k in (key_, f"{key_}_interval")}


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def _subset(frame: pd.DataFrame | None, columns) -> pd.DataFrame | None:
    return None if frame is None else frame[list(columns)]


def _len(frame) -> int | None:
    return None if frame is None else len(frame)
