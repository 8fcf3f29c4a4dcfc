"""Quality gates: a pipeline's thresholds on the QA report's headline metrics.

The QA JSON (``synthpipe.qa``, schema in docs/qa.md) has a ``headline`` with the dataset-level
``accuracy`` (mean over learned tables), ``dcr_share`` and ``discriminator_auc`` (the worst
table). A gate that is set fails when its metric misses the threshold, and also when the metric
is absent: a scheduled refresh must not pass a gate it could not evaluate.
"""

from __future__ import annotations

import json
from pathlib import Path

from synthpipe.pipeline import Gates

QA_JSON = "qa_metrics.json"  # what synthpipe.qa writes into a dataset folder
# gate setting -> (headline metric, passes when the metric is ... the threshold)
GATES = {
    "min_accuracy": ("accuracy", ">="),
    "max_dcr_share": ("dcr_share", "<="),
    "max_discriminator_auc": ("discriminator_auc", "<="),
}


def headline(metrics: dict | None) -> dict:
    """The headline metrics of a QA metrics dict ({} when there are none)."""
    if not metrics:
        return {}
    found = metrics.get("headline", metrics)
    return found if isinstance(found, dict) else {}


def stored_metrics(dataset_dir: Path) -> dict | None:
    """The QA metrics saved in a dataset's folder, or None when no report was made."""
    path = dataset_dir / QA_JSON
    if not path.is_file():
        return None
    try:
        from synthpipe.qa import load_metrics
    except ImportError:  # the QA module checks the schema version; without it, read plainly
        return json.loads(path.read_text(encoding="utf-8"))
    return load_metrics(path)


def check_gates(gates: Gates, metrics: dict | None) -> list[dict]:
    """One result per gate that is set: the metric, threshold, observed value and verdict."""
    found = headline(metrics)
    results = []
    for setting, (metric, op) in GATES.items():
        threshold = getattr(gates, setting)
        if threshold is None:
            continue
        observed = found.get(metric)
        if observed is None:
            success, message = False, _missing(setting, metric, metrics)
        else:
            success = observed >= threshold if op == ">=" else observed <= threshold
            verdict = "meets" if success else "misses"
            message = f"gate {setting}: {metric} {observed:.4g} {verdict} {op} {threshold:g}"
        results.append(
            {
                "gate": setting,
                "metric": metric,
                "threshold": threshold,
                "observed_value": observed,
                "success": success,
                "message": message,
            }
        )
    return results


def _missing(setting: str, metric: str, metrics: dict | None) -> str:
    if not metrics:
        return (
            f"gate {setting}: no QA metrics to check it against; make the QA report of this "
            "dataset first (it writes qa_metrics.json into the dataset folder) or pass qa_metrics"
        )
    return f"gate {setting}: the QA metrics have no headline '{metric}' to check"
