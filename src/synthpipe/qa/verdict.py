"""A plain-language verdict from the headline numbers, for people who will not read the rest."""

from __future__ import annotations

GOOD, FAIR, POOR = "good", "fair", "poor"
_RANK = {GOOD: 0, FAIR: 1, POOR: 2}


def verdict(headline: dict) -> dict:
    """``{"level": good|fair|poor, "summary": one sentence, "findings": [sentences]}``."""
    findings = [
        f
        for f in (
            _fidelity(headline),
            _privacy(headline),
            _similarity(headline),
            _integrity(headline),
            _missing(headline),
        )
        if f
    ]
    level = max((lvl for lvl, _ in findings), key=_RANK.get, default=GOOD)
    return {"level": level, "summary": _SUMMARY[level], "findings": [text for _, text in findings]}


_SUMMARY = {
    GOOD: "Faithful and private: fit for development, testing and demos.",
    FAIR: "Usable with care: read the findings before relying on it.",
    POOR: "Not trustworthy yet: fix the findings below before using it.",
}


def _fidelity(h: dict):
    acc, ceiling = h.get("accuracy"), h.get("ceiling")
    if acc is None:
        return None
    gap = (ceiling or 1.0) - acc
    text = f"Accuracy {acc:.1%}" + (f" against a ceiling of {ceiling:.1%}" if ceiling else "")
    if gap <= 0.03:
        return GOOD, text + ": the statistics of the real data are kept closely."
    if gap <= 0.10:
        return FAIR, text + ": broadly faithful, with some distributions off (worst shown first)."
    return POOR, text + ": distributions or relationships differ markedly from the real data."


def _privacy(h: dict):
    share, copies, baseline = (
        h.get("dcr_share"),
        h.get("identical_match_share_train"),
        h.get("identical_match_share_holdout"),
    )
    if copies is not None and baseline is not None and copies > baseline + 0.01:
        return POOR, (
            f"{copies:.1%} of synthetic rows copy a training row, more than match "
            f"unseen holdout rows ({baseline:.1%}): the generator memorised rows."
        )
    if share is None:
        return FAIR, "Privacy not fully assessed: no holdout was given to compare against."
    if share <= 0.53:
        return GOOD, (
            f"DCR share {share:.1%}: synthetic rows are no closer to training rows "
            "than to unseen real rows, so no sign of memorisation."
        )
    if share <= 0.60:
        return FAIR, (
            f"DCR share {share:.1%}: synthetic rows lean towards training rows; "
            "consider stronger value protection or fewer epochs."
        )
    return POOR, (
        f"DCR share {share:.1%}: synthetic rows sit much closer to training rows "
        "than unseen rows do, a sign of memorisation."
    )


def _similarity(h: dict):
    auc = h.get("discriminator_auc")
    if auc is None:
        return None
    if auc <= 0.65:
        return (
            GOOD,
            f"Discriminator AUC {auc:.2f}: a classifier can hardly tell synthetic from real rows.",
        )
    if auc <= 0.85:
        return (
            FAIR,
            f"Discriminator AUC {auc:.2f}: a classifier tells synthetic from real rows at times.",
        )
    return (
        FAIR,
        f"Discriminator AUC {auc:.2f}: a classifier easily tells synthetic rows from real ones.",
    )


def _integrity(h: dict):
    broken = [
        name
        for name in ("referential_integrity", "pk_uniqueness")
        if h.get(name) is not None and h[name] < 1.0
    ]
    if not broken:
        return None
    return POOR, (
        "Keys are broken: "
        + ", ".join(f"{n.replace('_', ' ')} {h[n]:.1%}" for n in broken)
        + " (should be 100%)."
    )


def _missing(h: dict):
    count = h.get("columns_not_compared") or 0
    if not count:
        return None
    return FAIR, (
        f"{count} column(s) of the training data are missing from the synthetic or "
        "holdout data and were not compared (listed per table)."
    )
