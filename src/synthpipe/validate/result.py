"""What a validation run found: per table and check, plus the quality gates.

Every check, whether GX evaluated it or synthpipe did (relational checks), becomes one entry of
the same shape: table, column, expectation, kwargs, success, observed value, unexpected count
and examples, and a one-line message naming table, column and expectation. ``to_dict`` is the
JSON summary (``validation.json``), ``record_summary`` the compact copy kept on the dataset's
record, ``summary`` the one-screen text the CLI prints, ``write_html`` the readable report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from synthpipe.validate import checks as c
from synthpipe.validate.checks import Check

SUMMARY_LINES = 20  # failures shown by summary(); the rest are counted


def jsonable(value):
    """``value`` with numpy/pandas scalars, dates and decimals as JSON types; NaN as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    if hasattr(value, "tolist"):  # numpy array
        return jsonable(value.tolist())
    return None if _is_missing(value) else str(value)


def _is_missing(value) -> bool:
    try:
        return bool(value != value)  # pandas NA/NaT
    except (TypeError, ValueError):
        return False


def entry(check: Check, raw: dict) -> dict:
    """The reported result of one check."""
    found = {
        **check.to_dict(),
        "engine": "synthpipe" if check.batch == "dataset" else "great_expectations",
        "success": bool(raw.get("success")),
        "observed_value": raw.get("observed_value"),
        "unexpected_count": raw.get("unexpected_count"),
        "element_count": raw.get("element_count"),
        "unexpected_examples": raw.get("unexpected_examples") or [],
        "details": raw.get("details"),
        "exception": raw.get("exception"),
        "where": raw.get("where"),
    }
    found = jsonable(found)
    found["message"] = message(found)
    return found


def message(e: dict) -> str:
    """One line naming table, column and expectation, and what was wrong."""
    label = f"{e['table']}.{e['column']}" if e.get("column") else e["table"]
    head = f"{label}: {e['expectation']}"
    if e["success"]:
        return f"{head} passed"
    where = f" [{e['where']}]" if e.get("where") else ""
    return f"{head} failed: {_detail(e)}{where}"


def _examples(e: dict) -> str:
    distinct = dict.fromkeys(json.dumps(v, default=str) for v in e.get("unexpected_examples", []))
    shown = list(distinct)[:5]
    return f", e.g. {', '.join(shown)}" if shown else ""


def _detail(e: dict) -> str:
    kwargs, observed, kind = e.get("kwargs") or {}, e.get("observed_value"), e["expectation"]
    if e.get("exception"):
        return f"could not be evaluated: {e['exception']}"
    if kind == c.COLUMN_SET:
        return _column_set(kwargs.get("column_set") or [], observed or [])
    if kind == c.ARROW_TYPE:
        return f"expected type {kwargs.get('type_')}, found {observed}"
    if kind == c.ROW_COUNT:
        return f"expected {kwargs.get('value'):,} rows, found {observed:,}"
    if kind == c.NO_ORPHANS:
        target = f"{kwargs['referenced_table']}.{','.join(kwargs['referenced_columns'])}"
        return f"{e['unexpected_count']:,} orphaned row(s) match no row of {target}{_examples(e)}"
    if kind == c.UNIQUE_ACROSS_PARTITIONS:
        return (
            f"{e['unexpected_count']:,} key value(s) occur in more than one partition{_examples(e)}"
        )
    if kind == c.CHILDREN_PER_PARENT:
        return (
            f"{e['unexpected_count']:,} {kwargs['referenced_table']} row(s) have a number of "
            f"children outside [{kwargs['min_value']}, {kwargs['max_value']}] "
            f"(observed {observed}){_examples(e)}"
        )
    if e.get("unexpected_count") is not None:
        total = e.get("element_count")
        of = f" of {total:,}" if total is not None else ""
        return f"{e['unexpected_count']:,}{of} value(s) unexpected{_hint(e)}{_examples(e)}"
    return f"observed {json.dumps(observed, default=str)}"


def _hint(e: dict) -> str:
    kwargs, kind = e.get("kwargs") or {}, e["expectation"]
    if kind == c.BETWEEN:
        return f" (allowed {kwargs.get('min_value')} to {kwargs.get('max_value')})"
    if kind == c.IN_SET:
        return " (not in the training value set)"
    if kind == c.NOT_NULL:
        return " (null)"
    if kind in (c.UNIQUE, c.COMPOUND_UNIQUE):
        return " (duplicated keys)"
    return ""


def _column_set(expected: list[str], observed: list[str]) -> str:
    missing = [col for col in expected if col not in observed]
    extra = [col for col in observed if col not in expected]
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected column(s) {', '.join(extra)}")
    return "; ".join(parts) or f"columns {observed}"


@dataclass
class ValidationResult:
    """The outcome of validating one dataset."""

    dataset: str
    dataset_name: str
    generator: str
    # Per table, one entry per check (see ``entry``).
    tables: dict[str, list[dict]] = field(default_factory=dict)
    gates: list[dict] = field(default_factory=list)
    validated_at: float = 0.0
    duration_s: float = 0.0
    gx_version: str | None = None
    settings: dict = field(default_factory=dict)
    # Why nothing was checked (validation disabled in the pipeline), else None.
    skipped: str | None = None

    @property
    def success(self) -> bool:
        """True when every check and every gate passed."""
        checks = all(e["success"] for found in self.tables.values() for e in found)
        return checks and all(g["success"] for g in self.gates)

    def failures(self) -> list[str]:
        """The message of every failed check and gate."""
        found = [e["message"] for es in self.tables.values() for e in es if not e["success"]]
        return found + [g["message"] for g in self.gates if not g["success"]]

    def counts(self) -> dict:
        entries = [e for es in self.tables.values() for e in es]
        failed = sum(not e["success"] for e in entries)
        return {"evaluated": len(entries), "successful": len(entries) - failed, "failed": failed}

    def table_success(self) -> dict[str, bool]:
        return {t: all(e["success"] for e in es) for t, es in self.tables.items()}

    def to_dict(self) -> dict:
        """The full JSON summary: every check of every table, the gates and the settings."""
        return {
            "success": self.success,
            "dataset": self.dataset,
            "dataset_name": self.dataset_name,
            "generator": self.generator,
            "validated_at": self.validated_at,
            "duration_s": round(self.duration_s, 3),
            "gx_version": self.gx_version,
            "skipped": self.skipped,
            "statistics": self.counts(),
            "tables": {
                t: {"success": all(e["success"] for e in es), "results": es}
                for t, es in self.tables.items()
            },
            "gates": self.gates,
            "failures": self.failures(),
            "settings": self.settings,
        }

    def record_summary(self) -> dict:
        """The compact copy stored on ``DatasetRecord.validation`` (delivery reads ``success``)."""
        return {
            "success": self.success,
            "validated_at": self.validated_at,
            "skipped": self.skipped,
            "statistics": self.counts(),
            "tables": self.table_success(),
            "gates": {g["gate"]: g["success"] for g in self.gates},
            "failures": self.failures()[:SUMMARY_LINES],
            "report": {"json": "validation.json", "html": "validation.html"},
        }

    def summary(self) -> str:
        """One screen of text: the verdict, then what failed."""
        counts = self.counts()
        name = f"dataset {self.dataset_name} ({self.dataset})"
        if self.skipped:
            return f"{name}: validation skipped ({self.skipped})"
        if self.success:
            return (
                f"{name} passed validation: {counts['evaluated']} checks on "
                f"{len(self.tables)} tables, {len(self.gates)} gates"
            )
        failures = self.failures()
        gates_failed = sum(not g["success"] for g in self.gates)
        lines = [
            f"{name} FAILED validation: {counts['failed']} of {counts['evaluated']} checks "
            f"and {gates_failed} of {len(self.gates)} gates failed"
        ]
        lines += [f"  - {m}" for m in failures[:SUMMARY_LINES]]
        if len(failures) > SUMMARY_LINES:
            lines.append(f"  ... and {len(failures) - SUMMARY_LINES} more (see validation.json)")
        return "\n".join(lines)

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def html_section(self) -> str:
        """The report as one ``<section>``, for embedding in another page (the QA report)."""
        from synthpipe.validate.html import section

        return section(self.to_dict())

    def write_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page of the report to ``path``."""
        from synthpipe.validate.html import page

        path = Path(path)
        path.write_text(page(self.to_dict()), encoding="utf-8")
        return path
