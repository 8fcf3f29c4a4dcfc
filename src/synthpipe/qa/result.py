"""``QAResult``: the metrics as JSON (documented in docs/qa.md) and the HTML report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

# Bump when a key changes meaning or disappears; adding keys keeps the version.
SCHEMA_VERSION = 1
JSON_NAME = "qa_metrics.json"
HTML_NAME = "qa_report.html"


@dataclass
class QAResult:
    """What ``evaluate`` measured.

    ``metrics`` is JSON-safe (numbers, strings, lists, dicts, None) and small enough for an
    Airflow XCom or a validation gate; ``details`` holds what only the report draws
    (distributions, association matrices, distance histograms).
    """

    metrics: dict
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        self.metrics = json_safe(self.metrics)
        self.details = json_safe(self.details)

    @property
    def headline(self) -> dict:
        """The dataset-level numbers and the verdict."""
        return self.metrics["headline"]

    def write_json(self, path: str | Path) -> Path:
        """Write the metrics as JSON to ``path`` (a file, or a directory for qa_metrics.json)."""
        path = _target(path, JSON_NAME)
        path.write_text(
            json.dumps(self.metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return path

    def write_html(
        self, path: str | Path, *, title: str | None = None, generator_config: dict | None = None
    ) -> Path:
        """Write the self-contained HTML report to ``path`` (a file, or a directory)."""
        from synthpipe.qa.report import render

        path = _target(path, HTML_NAME)
        html = render(self.metrics, self.details, title=title, generator_config=generator_config)
        path.write_text(html, encoding="utf-8")
        return path

    def save(self, directory: str | Path, **html_options) -> tuple[Path, Path]:
        """Write qa_report.html and qa_metrics.json into ``directory`` (e.g. a dataset's)."""
        directory = Path(directory)
        return self.write_html(directory, **html_options), self.write_json(directory)


def load_metrics(path: str | Path) -> dict:
    """Metrics written by ``write_json``; refuses a schema version this code does not know."""
    from synthpipe.errors import ArtifactError

    path = _target(path, JSON_NAME) if Path(path).is_dir() else Path(path)
    metrics = json.loads(path.read_text(encoding="utf-8"))
    version = metrics.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"QA metrics {path} have schema_version {version!r}, this synthpipe "
            f"reads {SCHEMA_VERSION}; re-run the report with this version"
        )
    return metrics


def json_safe(value, digits: int = 6):
    """``value`` with numpy scalars as Python numbers, floats rounded, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, digits) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    return value


def _target(path: str | Path, name: str) -> Path:
    path = Path(path)
    if path.is_dir() or (not path.suffix and not path.exists()):
        path.mkdir(parents=True, exist_ok=True)
        path = path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
