"""The validation report as HTML: one self-contained section, and a page around it.

The section (``<section id="validation">``) is what the QA report links to or embeds: a verdict,
the failed checks first, then every table's checks with observed values and examples. No
scripts, no external assets; every value is escaped.
"""

from __future__ import annotations

import json
from html import escape

STYLE = """
#validation{font:14px/1.45 system-ui,sans-serif;color:#1f2328;max-width:1200px}
#validation table{border-collapse:collapse;width:100%;margin:.4em 0 1.2em}
#validation th,#validation td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;
vertical-align:top}
#validation th{background:#f6f8fa}
#validation .ok{color:#1a7f37}#validation .bad{color:#cf222e;font-weight:600}
#validation .verdict{padding:8px 12px;border-radius:6px;display:inline-block}
#validation .pass{background:#dafbe1}#validation .fail{background:#ffebe9}
#validation code{font-size:12px;word-break:break-all}
"""


def _value(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > 160:
        text = text[:157] + "..."
    return f"<code>{escape(text)}</code>"


def _status(success: bool) -> str:
    return '<span class="ok">pass</span>' if success else '<span class="bad">FAIL</span>'


def _row(e: dict) -> str:
    examples = e.get("unexpected_examples") or []
    cells = [
        _status(e["success"]),
        escape(e.get("column") or ""),
        f"<code>{escape(e['expectation'])}</code>",
        _value(e.get("kwargs")),
        _value(e.get("observed_value")),
        "" if e.get("unexpected_count") is None else f"{e['unexpected_count']:,}",
        _value(examples[:5] or None),
        escape(e.get("exception") or e.get("where") or "") if not e["success"] else "",
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


HEADER = (
    "<tr><th>status</th><th>column</th><th>expectation</th><th>arguments</th><th>observed</th>"
    "<th>unexpected</th><th>examples</th><th>note</th></tr>"
)


def _table(name: str, found: dict) -> str:
    entries = sorted(found["results"], key=lambda e: e["success"])  # failures first
    rows = "".join(_row(e) for e in entries)
    return f"<h3>{escape(name)} {_status(found['success'])}</h3><table>{HEADER}{rows}</table>"


def _gates(gates: list[dict]) -> str:
    if not gates:
        return "<p>No quality gates are set for this pipeline.</p>"
    rows = "".join(
        f"<tr><td>{_status(g['success'])}</td><td>{escape(g['gate'])}</td>"
        f"<td>{_value(g['threshold'])}</td><td>{_value(g['observed_value'])}</td>"
        f"<td>{escape(g['message'])}</td></tr>"
        for g in gates
    )
    head = "<tr><th>status</th><th>gate</th><th>threshold</th><th>observed</th><th>note</th></tr>"
    return f"<table>{head}{rows}</table>"


def section(result: dict) -> str:
    """The report as one ``<section id="validation">`` with its own styles."""
    stats = result["statistics"]
    verdict = "passed" if result["success"] else "FAILED"
    css = "pass" if result["success"] else "fail"
    failures = "".join(f"<li>{escape(m)}</li>" for m in result["failures"])
    parts = [
        f"<style>{STYLE}</style>",
        '<section id="validation">',
        "<h2>Validation</h2>",
        f'<p class="verdict {css}">Dataset <b>{escape(result["dataset_name"])}</b> '
        f"({escape(result['dataset'])}) {verdict}: {stats['successful']} of "
        f"{stats['evaluated']} checks passed.</p>",
    ]
    if result.get("skipped"):
        parts.append(f"<p>Validation skipped: {escape(result['skipped'])}</p>")
    if failures:
        parts.append(f"<h3>What failed</h3><ul>{failures}</ul>")
    parts.append(f"<h3>Quality gates</h3>{_gates(result['gates'])}")
    parts += [_table(name, found) for name, found in result["tables"].items()]
    parts.append(
        f"<p>Great Expectations {escape(str(result.get('gx_version')))}; "
        f"{result['duration_s']:.1f} s.</p></section>"
    )
    return "\n".join(parts)


def page(result: dict) -> str:
    """A self-contained HTML page holding the section."""
    title = f"Validation of {result['dataset_name']}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{section(result)}</body></html>\n"
    )
