"""A plain-language verdict from the headline numbers, for people who will not read the rest.

Each learned table is judged on three parts (fidelity, privacy, similarity) from its estimates
and their 95% intervals (see ``intervals``). A part is worse than ``good`` only when credibly
so: ``fair`` when the whole interval lies beyond the good bound, ``poor`` beyond the fair bound.
A part is ``inconclusive`` when the table has fewer than ``MIN_ROWS`` rows to judge it by, or
when its interval reaches both the good and the poor band, so that the data cannot tell a good
result from a poor one; the finding then says what is missing ("not enough holdout rows to
judge privacy: 2") instead of passing a verdict on noise. The dataset's verdict on a part comes
from the tables that could be judged on it (``inconclusive`` only when none could), and the
overall level is the worst part: good < inconclusive < fair < poor.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthpipe.qa.intervals import combine_mean, number_text, share_text

GOOD, INCONCLUSIVE, FAIR, POOR = "good", "inconclusive", "fair", "poor"
_RANK = {GOOD: 0, INCONCLUSIVE: 1, FAIR: 2, POOR: 3}
PARTS = ("fidelity", "privacy", "similarity")

# Fewest rows (sequences for a child table) a part is judged on: real and synthetic rows for
# fidelity, holdout rows for privacy, rows of each side for similarity. Below about 30 the
# normal approximations behind the intervals, and the bootstrap, are not to be trusted.
MIN_ROWS = 30
# Verdict bands: good up to the first bound, fair up to the second, poor above.
ACCURACY_GAP = (0.03, 0.10)  # ceiling - accuracy
DCR_SHARE = (0.53, 0.60)
AUC = (0.65, 0.85)  # above the second bound is still only fair: similarity never fails alone
# Memorised rows: synthetic rows match training rows more often than holdout rows do, by more
# than this with 95% confidence (the lower end of the difference's interval).
COPY_MARGIN = 0.01

_SUMMARY = {
    GOOD: "Faithful and private: fit for development, testing and demos.",
    INCONCLUSIVE: "Not fully judged: too little real data for some findings; nothing wrong "
    "was found in what could be judged.",
    FAIR: "Usable with care: read the findings before relying on it.",
    POOR: "Not trustworthy yet: fix the findings below before using it.",
}


@dataclass
class Finding:
    """One part's judgement of one table (or of the dataset)."""

    level: str
    text: str


def band(point: float, interval: list[float] | None, bounds: tuple[float, float]) -> str:
    """The verdict band of an estimate whose larger values are worse, read with its interval.

    A band worse than good needs evidence: fair when the whole interval lies above the good
    bound, poor when it lies above the fair bound. Inconclusive when the interval reaches both
    the good and the poor band (the data cannot tell a good result from a poor one). Without
    an interval, the band of the estimate.
    """
    good, fair = bounds
    low = point if interval is None else interval[0]
    if interval is not None and low <= good and interval[1] > fair:
        return INCONCLUSIVE
    return GOOD if low <= good else FAIR if low <= fair else POOR


def judge_table(result: dict) -> dict[str, Finding | None]:
    """Fidelity, privacy and similarity findings of one table's metrics (None: not measured)."""
    if "accuracy" not in result:
        return dict.fromkeys(PARTS)
    return {
        "fidelity": _fidelity_table(result),
        "privacy": _privacy_table(result),
        "similarity": _similarity_table(result),
    }


def verdict(headline: dict, tables: dict[str, dict[str, Finding | None]] | None = None) -> dict:
    """``{"level", "summary", "findings": [sentences], "parts": {part: level}}``.

    ``tables`` holds ``judge_table`` of every table; the headline's numbers (computed over the
    tables judged on each part) word the dataset's fidelity finding.
    """
    tables = tables or {}
    parts = {
        "fidelity": _fidelity(headline, tables),
        "privacy": _worst_part("privacy", tables),
        "similarity": _worst_part("similarity", tables),
    }
    findings = [f for f in parts.values() if f is not None]
    findings += [f for f in (_integrity(headline), _missing(headline)) if f]
    level = max((f.level for f in findings), key=_RANK.get, default=GOOD)
    return {
        "level": level,
        "summary": _SUMMARY[level],
        "findings": [f.text for f in findings] + _notes(tables),
        "parts": {name: f.level if f else None for name, f in parts.items()},
    }


def judged(finding: Finding | None) -> bool:
    """Whether a part could be judged (measured, and not inconclusive)."""
    return finding is not None and finding.level != INCONCLUSIVE


# -- fidelity ---------------------------------------------------------------------------------


def _fidelity_table(result: dict) -> Finding | None:
    acc = result["accuracy"]
    if acc.get("overall") is None:
        return None
    real, synthetic = _rows(result)
    if min(real, synthetic) < MIN_ROWS:
        return Finding(
            INCONCLUSIVE,
            f"not enough rows to judge accuracy: {real:,} real and {synthetic:,} synthetic "
            f"(at least {MIN_ROWS} of each needed)",
        )
    return _accuracy_finding(
        acc["overall"], acc["ceiling"]["overall"], acc.get("overall_interval"), acc.get("noise_gap")
    )


def _fidelity(headline: dict, tables: dict) -> Finding | None:
    found = {n: t.get("fidelity") for n, t in tables.items() if t.get("fidelity")}
    if not found:
        return _headline_accuracy(headline)
    if not any(judged(f) for f in found.values()):
        return _inconclusive("fidelity", found)
    return _headline_accuracy(headline)


def _headline_accuracy(headline: dict) -> Finding | None:
    acc = headline.get("accuracy")
    if acc is None:
        return None
    return _accuracy_finding(
        acc,
        headline.get("ceiling"),
        headline.get("accuracy_interval"),
        headline.get("accuracy_noise_gap"),
    )


def _accuracy_finding(acc: float, ceiling: float | None, interval, noise: float | None) -> Finding:
    """Judged on ceiling - accuracy beyond the noise gap (what a perfect generator falls short
    by at these sizes)."""
    ceiling, noise = ceiling or 1.0, noise or 0.0
    gap = ceiling - acc - noise
    gap_interval = (
        None if interval is None else [gap - (interval[1] - acc), gap + (acc - interval[0])]
    )
    level = band(gap, gap_interval, ACCURACY_GAP)
    text = f"Accuracy {share_text(acc, interval)} against a ceiling of {ceiling:.1%}"
    if noise >= 0.005:
        text += f" (a perfect generator falls {noise:.1%} short at this size)"
    if level != POOR and noise > ACCURACY_GAP[1] - ACCURACY_GAP[0]:
        # The correction for sampling noise is larger than a band: only a credibly poor
        # result can be told apart.
        return Finding(
            INCONCLUSIVE,
            f"not enough rows to judge accuracy: at this size a perfect generator falls "
            f"{noise:.1%} short of the ceiling, more than the fair band is wide "
            f"({ACCURACY_GAP[1] - ACCURACY_GAP[0]:.0%}); accuracy {share_text(acc, interval)}",
        )
    if level == INCONCLUSIVE:
        return Finding(
            level,
            f"not enough rows to judge accuracy: {text} is too uncertain to tell good from "
            f"poor ({_spans(ACCURACY_GAP, 'ceiling - accuracy')})",
        )
    return Finding(
        level,
        text
        + {
            GOOD: ": the statistics of the real data are kept closely.",
            FAIR: ": broadly faithful, with some distributions off (worst shown first).",
            POOR: ": distributions or relationships differ markedly from the real data.",
        }[level],
    )


def headline_accuracy_interval(results: list[dict]) -> list[float] | None:
    """Interval of the mean overall accuracy of independent tables."""
    return combine_mean(
        [r["accuracy"]["overall"] for r in results],
        [r["accuracy"].get("overall_interval") for r in results],
    )


# -- privacy ----------------------------------------------------------------------------------


def _privacy_table(result: dict) -> Finding | None:
    p = result.get("privacy")
    if not p:
        return None
    holdout = result.get("rows", {}).get("holdout") or 0
    if holdout < MIN_ROWS:
        why = " (no holdout was given)" if not holdout else f" (at least {MIN_ROWS} needed)"
        return Finding(INCONCLUSIVE, f"not enough holdout rows to judge privacy: {holdout:,}{why}")
    copies = _copies(p)
    if copies is not None:
        return copies
    share = p.get("dcr_share")
    if share is None:
        reason = (p.get("notes") or {}).get("dcr_share", "no distances could be measured")
        return Finding(INCONCLUSIVE, f"privacy not judged: {reason}")
    interval = p.get("dcr_share_interval")
    level = band(share, interval, DCR_SHARE)
    text = f"DCR share {share_text(share, interval)}"
    return Finding(
        level,
        {
            GOOD: text + ": synthetic rows are no closer to training rows than to unseen real "
            "rows, so no sign of memorisation.",
            FAIR: text + ": synthetic rows lean towards training rows; consider stronger value "
            "protection or fewer epochs.",
            POOR: text + ": synthetic rows sit much closer to training rows than unseen rows "
            "do, a sign of memorisation.",
            INCONCLUSIVE: f"not enough holdout rows to judge privacy: {holdout:,} ({text} is "
            f"too uncertain: {_spans(DCR_SHARE, 'the DCR share')})",
        }[level],
    )


def _copies(p: dict) -> Finding | None:
    """POOR when synthetic rows equal training rows credibly more often than holdout rows do."""
    interval = p.get("train_match_excess_interval")
    if interval is None or interval[0] <= COPY_MARGIN:
        return None
    syn = share_text(p["train_match_share_synthetic"], p["train_match_share_synthetic_interval"])
    hol = share_text(p["train_match_share_holdout"], p["train_match_share_holdout_interval"])
    return Finding(
        POOR,
        f"{syn} of synthetic rows copy a training row, against {hol} of unseen holdout rows: "
        "the generator memorised rows.",
    )


# -- similarity -------------------------------------------------------------------------------


def _similarity_table(result: dict) -> Finding | None:
    s = result.get("similarity") or {}
    auc = s.get("discriminator_auc")
    if auc is None:
        return None
    rows = s.get("discriminator_rows") or 0
    if rows < MIN_ROWS:
        return Finding(
            INCONCLUSIVE,
            f"not enough rows to judge similarity: {rows:,} of each side "
            f"(at least {MIN_ROWS} needed)",
        )
    interval = s.get("discriminator_auc_interval")
    level = band(auc, interval, AUC)
    text = f"Discriminator AUC {number_text(auc, interval)}"
    if level == INCONCLUSIVE:
        return Finding(
            level,
            f"not enough rows to judge similarity: {text} is too uncertain "
            f"(the interval reaches both below {AUC[0]} and above {AUC[1]})",
        )
    if level == POOR:
        return Finding(FAIR, text + ": a classifier easily tells synthetic rows from real ones.")
    if level == FAIR:
        return Finding(FAIR, text + ": a classifier tells synthetic from real rows at times.")
    return Finding(GOOD, text + ": a classifier can hardly tell synthetic from real rows.")


# -- dataset ----------------------------------------------------------------------------------


def _worst_part(part: str, tables: dict) -> Finding | None:
    """The worst judged table's finding, named when there are several tables."""
    found = {n: t.get(part) for n, t in tables.items() if t.get(part)}
    if not found:
        return None
    judged_ = {n: f for n, f in found.items() if judged(f)}
    if not judged_:
        return _inconclusive(part, found)
    name, worst = max(judged_.items(), key=lambda item: _RANK[item[1].level])
    return Finding(worst.level, _named(name, worst.text, len(found)))


def _inconclusive(part: str, found: dict[str, Finding]) -> Finding:
    texts = [_named(n, f.text, len(found)) for n, f in found.items()]
    return Finding(INCONCLUSIVE, _sentence("; ".join(texts)))


def _notes(tables: dict) -> list[str]:
    """Tables left out of a part that other tables were judged on (they do not set the level)."""
    notes = []
    for part in PARTS:
        found = {n: t.get(part) for n, t in tables.items() if t.get(part)}
        if any(judged(f) for f in found.values()):
            notes += [_sentence(f"Table {n}: {f.text}") for n, f in found.items() if not judged(f)]
    return notes


def _named(name: str, text: str, tables: int) -> str:
    return _sentence(f"Table {name}: {text}" if tables > 1 else text)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _integrity(h: dict):
    broken = [
        name
        for name in ("referential_integrity", "pk_uniqueness")
        if h.get(name) is not None and h[name] < 1.0
    ]
    if not broken:
        return None
    return Finding(
        POOR,
        "Keys are broken: "
        + ", ".join(f"{n.replace('_', ' ')} {h[n]:.1%}" for n in broken)
        + " (should be 100%).",
    )


def _missing(h: dict):
    count = h.get("columns_not_compared") or 0
    if not count:
        return None
    return Finding(
        FAIR,
        f"{count} column(s) of the training data are missing from the synthetic or "
        "holdout data and were not compared (listed per table).",
    )


def _rows(result: dict) -> tuple[int, int]:
    rows = result.get("rows", {})
    if rows.get("sequences"):
        return rows["sequences"]["real"], rows["sequences"]["synthetic"]
    return (rows.get("train") or 0) + (rows.get("holdout") or 0), rows.get("synthetic") or 0


def _spans(bounds: tuple[float, float], what: str) -> str:
    return f"its interval puts {what} both at or below {bounds[0]:.0%} and above {bounds[1]:.0%}"
