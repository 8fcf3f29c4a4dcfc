"""The HTML report: one self-contained file (inline CSS, JS and SVG) rendered with Jinja2.

It opens with the verdict and three headline cards (accuracy against its ceiling, DCR share,
discriminator AUC, each with its 95% interval and coloured by the verdict on its part), then
one section per table: columns worst first with their distributions,
the bivariate accuracy heatmap, association matrices side by side, sequences, privacy
distances and key checks; the generator config and timings close it. Long column lists are
collapsed and matrices limited to the worst columns, so 100+ columns stay readable.
"""

from __future__ import annotations

import json
from pathlib import Path

from synthpipe.qa import svg
from synthpipe.qa.intervals import EN_DASH

# Columns shown before "show more", and the most columns a matrix shows (the worst ones).
DASH = "\u2013"  # en dash for a missing number
VISIBLE_COLUMNS = 12
MATRIX_COLUMNS = 40
WORST_PAIRS = 10
DCR_COLOURS = {
    "synthetic → training": svg.SYNTHETIC,
    "synthetic → holdout": "#d97706",
    "holdout → training": svg.REAL,
}


def render(
    metrics: dict, details: dict, *, title: str | None = None, generator_config: dict | None = None
) -> str:
    """The report as an HTML string."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from synthpipe import __version__

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    env.filters["ci"] = ci
    headline = metrics["headline"]
    return env.get_template("report.html.j2").render(
        title=title or "Synthetic data quality report",
        metrics=metrics,
        headline=headline,
        cards=_cards(headline),
        tables=[
            _table(name, result, details.get(name, {}))
            for name, result in metrics["tables"].items()
        ],
        config_json=json.dumps(generator_config, indent=2, default=str)
        if generator_config
        else None,
        timings=_timings(metrics.get("timings", {})),
        version=__version__,
        metrics_json=json.dumps(headline, indent=2),
    )


def pct(value, digits: int = 1) -> str:
    """A share as a percentage, or a dash when it is missing."""
    return f"{value:.{digits}%}" if isinstance(value, int | float) else DASH


def num(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or a dash when it is missing."""
    return f"{value:.{digits}f}" if isinstance(value, int | float) else DASH


def ci(interval, kind: str = "pct") -> str:
    """``95% CI 50.3-53.1%`` or, for numbers, ``95% CI 0.520-0.560`` (en dashes); "" without."""
    if not interval:
        return ""
    if kind == "pct":
        return f"95% CI {interval[0] * 100:.1f}{EN_DASH}{interval[1] * 100:.1f}%"
    return f"95% CI {interval[0]:.3f}{EN_DASH}{interval[1]:.3f}"


def _cards(h: dict) -> list[dict]:
    acc, ceiling = h.get("accuracy"), h.get("ceiling")
    share, auc = h.get("dcr_share"), h.get("discriminator_auc")
    parts = (h.get("verdict") or {}).get("parts") or {}
    return [
        {
            "id": "accuracy",
            "label": "Accuracy",
            "value": pct(acc),
            "interval": ci(h.get("accuracy_interval")),
            "note": f"ceiling {pct(ceiling)} (what a same-sized real sample reaches)",
            "level": parts.get("fidelity") or "none",
            "bar": acc,
            "mark": ceiling,
        },
        {
            "id": "dcr-share",
            "label": "DCR share",
            "value": pct(share),
            "interval": ci(h.get("dcr_share_interval")),
            "note": "≈ 50% ideal: as close to unseen real rows as to training rows"
            if share is not None
            else "needs a holdout",
            "level": parts.get("privacy") or "none",
            "bar": share,
            "mark": 0.5,
        },
        {
            "id": "discriminator-auc",
            "label": "Discriminator AUC",
            "value": num(auc, 3),
            "interval": ci(h.get("discriminator_auc_interval"), "num"),
            "note": "0.5: a classifier cannot tell synthetic from real",
            "level": parts.get("similarity") or "none",
            "bar": None if auc is None else (auc - 0.5) * 2,
            "mark": None,
        },
    ]


def _table(name: str, result: dict, details: dict) -> dict:
    section = {
        "name": name,
        "result": result,
        "skipped": result.get("skipped"),
        "rows": result.get("rows", {}),
        "relational": result.get("relational") or {},
    }
    if "children_per_parent" in details:
        c = details["children_per_parent"]
        section["children_svg"] = svg.distribution(c["labels"], c["real"], c["synthetic"])
    if "accuracy" not in result:
        return section
    acc = result["accuracy"]
    section["families"] = [
        (label, acc.get(key), acc["ceiling"].get(key))
        for key, label in (
            ("univariate", "Univariate"),
            ("bivariate", "Bivariate"),
            ("trivariate", "Trivariate"),
            ("coherence", "Coherence"),
        )
        if acc.get(key) is not None
    ]
    columns = [
        dict(c, svg=svg.distribution(c["labels"], c["real"], c["synthetic"]))
        for c in details.get("columns", [])
    ]
    section["columns"] = columns[:VISIBLE_COLUMNS]
    section["more_columns"] = columns[VISIBLE_COLUMNS:]
    section["length"] = next((c for c in columns if c["kind"] == "sequence length"), None)
    section |= _matrices(acc, details, [c["column"] for c in columns])
    section["worst_pairs"] = sorted(
        acc.get("pairs", []), key=lambda p: p["accuracy"] - p["ceiling"]
    )[:WORST_PAIRS]
    section["coherence"] = _coherence_rows(acc.get("coherence_details", {}))
    section["privacy"] = result.get("privacy") or {}
    dcr = details.get("dcr") or {}
    if dcr.get("shares"):
        section["dcr_svg"] = svg.histogram(dcr["edges"], dcr["shares"], DCR_COLOURS)
    section["similarity"] = result.get("similarity") or {}
    return section


def _matrices(acc: dict, details: dict, worst_first: list[str]) -> dict:
    """Heatmaps of pair accuracy and of real, synthetic and difference association."""
    association = details.get("association") or {}
    names = association.get("columns", [])
    shown = [c for c in worst_first if c in names][:MATRIX_COLUMNS]
    if len(shown) < 2:
        return {}
    pos = {c: names.index(c) for c in shown}
    pair_acc = {}
    for p in acc.get("pairs", []):
        if p.get("kind") == "pair":
            a, b = p["columns"]
            pair_acc[(a, b)] = pair_acc[(b, a)] = (p["accuracy"], p["ceiling"])
    accuracy = [[None if a == b else pair_acc.get((a, b)) for b in shown] for a in shown]
    real = [[association["real"][pos[a]][pos[b]] for b in shown] for a in shown]
    syn = [[association["synthetic"][pos[a]][pos[b]] for b in shown] for a in shown]
    diff = [[s - r for r, s in zip(rr, ss, strict=True)] for rr, ss in zip(real, syn, strict=True)]

    def fmt2(v):
        return f"{v:.2f}"

    return {
        "matrix_note": (
            f"the {len(shown)} worst of {len(names)} columns"
            if len(names) > len(shown)
            else f"all {len(shown)} columns"
        ),
        "heatmap_svg": svg.heatmap(
            shown, accuracy, lambda v: svg.gap_colour(v[1] - v[0]), fmt=_accuracy_tip
        ),
        "assoc_svgs": [
            ("Real", svg.heatmap(shown, real, svg.association_colour, width=220, fmt=fmt2)),
            ("Synthetic", svg.heatmap(shown, syn, svg.association_colour, width=220, fmt=fmt2)),
            ("Difference", svg.heatmap(shown, diff, svg.difference_colour, width=220, fmt=fmt2)),
        ],
    }


def _accuracy_tip(value: tuple[float, float]) -> str:
    return f"accuracy {pct(value[0])}, ceiling {pct(value[1])}"


def _coherence_rows(coherence: dict) -> list[dict]:
    """One row per column: its next-row, distinct-per-sequence and spread accuracies."""
    rows: dict[str, dict] = {}
    for family, scores in coherence.items():
        for s in scores:
            column = s.get("column") or s["columns"][0]
            rows.setdefault(column, {"column": column})[family] = s["accuracy"]
    return list(rows.values())


def _timings(timings: dict) -> list[tuple[str, float]]:
    flat = []
    for key, value in timings.items():
        if isinstance(value, dict):
            flat += [(f"{key}: {k}", v) for k, v in value.items() if isinstance(v, int | float)]
        elif isinstance(value, int | float):
            flat.append((key, value))
    return flat
