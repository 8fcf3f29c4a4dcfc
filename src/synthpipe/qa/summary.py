"""The QA verdict in one line, for terminals and logs (``make demo``, ``synthpipe run``).

``summarize(metrics)`` reads the metrics of ``evaluate`` (or a ``qa_metrics.json`` loaded with
``load_metrics``, or just its headline) and needs neither numpy nor pandas (the intervals are
joined by en dashes)::

    QA GOOD: accuracy 96.6% (95% CI 96.3-96.9%) vs ceiling 98.2% · DCR share 51.7% (95% CI
    50.3-53.1%) · discriminator AUC 0.54 (95% CI 0.53-0.55)
"""

from __future__ import annotations

from synthpipe.qa.intervals import number_text, share_text

MISSING = "n/a"


def summarize(metrics, *, findings: bool = False) -> str:
    """The verdict and the three headline figures with their 95% intervals, on one line.

    ``metrics``: a ``QAResult``, its ``metrics`` dict or their ``headline``. With
    ``findings``, the verdict's summary sentence and findings follow on their own lines.
    """
    metrics = getattr(metrics, "metrics", metrics)
    headline = metrics.get("headline", metrics) if isinstance(metrics, dict) else {}
    verdict = headline.get("verdict") or {}
    level = str(verdict.get("level") or "unknown").upper()
    line = f"QA {level}: " + " · ".join(_figures(headline))
    if not findings:
        return line
    lines = [line]
    if verdict.get("summary"):
        lines.append(f"  {verdict['summary']}")
    lines += [f"  - {text}" for text in verdict.get("findings", [])]
    return "\n".join(lines)


def _figures(h: dict) -> list[str]:
    acc, ceiling = h.get("accuracy"), h.get("ceiling")
    accuracy = MISSING if acc is None else share_text(acc, h.get("accuracy_interval"))
    if acc is not None and ceiling is not None:
        accuracy += f" vs ceiling {ceiling:.1%}"
    share = h.get("dcr_share")
    auc = h.get("discriminator_auc")
    return [
        f"accuracy {accuracy}",
        "DCR share "
        + (
            f"{MISSING} (needs a holdout)"
            if share is None
            else share_text(share, h.get("dcr_share_interval"))
        ),
        "discriminator AUC "
        + (MISSING if auc is None else number_text(auc, h.get("discriminator_auc_interval"))),
    ]
