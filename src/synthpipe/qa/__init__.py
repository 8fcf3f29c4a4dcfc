"""Quality assurance of synthetic data: fidelity and privacy metrics and the HTML report.

``evaluate(train, synthetic, holdout)`` returns a ``QAResult`` whose ``metrics`` (JSON, schema
in docs/qa.md) feed validation gates and Airflow XComs, and whose ``write_html`` writes one
self-contained report. ``summarize(metrics)`` puts the verdict and the three headline figures,
with their 95% intervals, on one line. numpy, pandas and scikit-learn load on first use, not on
import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthpipe.qa.evaluation import evaluate
    from synthpipe.qa.result import SCHEMA_VERSION, QAResult, load_metrics
    from synthpipe.qa.summary import summarize

_EXPORTS = {
    "evaluate": "synthpipe.qa.evaluation",
    "QAResult": "synthpipe.qa.result",
    "SCHEMA_VERSION": "synthpipe.qa.result",
    "load_metrics": "synthpipe.qa.result",
    "summarize": "synthpipe.qa.summary",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'synthpipe.qa' has no attribute {name!r}")


__all__ = ["SCHEMA_VERSION", "QAResult", "evaluate", "load_metrics", "summarize"]
