"""Small inline SVG charts for the report: no plotting library, no script, no network.

Every function returns an SVG element as a string, with labels escaped and a ``<title>``
tooltip on each mark, sized in CSS pixels so the browser lays it out like text.
"""

from __future__ import annotations

from html import escape

REAL = "#8b93a1"
SYNTHETIC = "#139a82"
INK = "#334155"
MUTED = "#94a3b8"
FONT = 'font-family="inherit" font-size="11"'


def _label(text: str, limit: int = 22) -> str:
    text = str(text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _pct(x: float) -> str:
    return f"{x:.1%}"


def distribution(
    labels: list[str], real: list[float], synthetic: list[float], width: int = 420
) -> str:
    """Horizontal bars per bin, real above synthetic, scaled to the largest share."""
    row, left, top_pad = 20, 150, 4
    peak = max([*real, *synthetic, 1e-9])
    span = width - left - 48
    height = top_pad + row * len(labels) + 4
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, r, s) in enumerate(zip(labels, real, synthetic, strict=True)):
        y = top_pad + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" fill="{INK}" {FONT}>'
            f"<title>{escape(str(label))}</title>{_label(label)}</text>"
        )
        for offset, share, colour, who in ((2, r, REAL, "real"), (9, s, SYNTHETIC, "synthetic")):
            w = max(share / peak * span, 0.5 if share > 0 else 0)
            parts.append(
                f'<rect x="{left}" y="{y + offset}" width="{w:.1f}" height="6" rx="1" '
                f'fill="{colour}"><title>{escape(str(label))}: {who} {_pct(share)}'
                f"</title></rect>"
            )
        parts.append(
            f'<text x="{left + span + 6}" y="{y + 13}" fill="{MUTED}" {FONT}>{_pct(s)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(names: list[str], matrix: list[list], colour, *, width: int = 440, fmt=_pct) -> str:
    """A square matrix of coloured cells with column names on the left and the top.

    ``colour(value)`` fills a cell and ``fmt(value)`` is its tooltip; None cells stay grey.
    Cells shrink with the number of columns so the matrix stays about ``width`` wide.
    """
    n = len(names)
    cell = max(8, min(28, width // max(n, 1)))
    font = min(11, cell - 1)
    margin = int(min(150, 12 + 0.58 * font * max(len(_label(x)) for x in names)))
    size = margin + cell * n + 2
    text = f'font-family="inherit" font-size="{font}" fill="{INK}"'
    parts = [
        f'<svg class="chart heat" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, name in enumerate(names):
        mid = margin + i * cell + cell / 2
        parts.append(
            f'<text x="{margin - 4}" y="{mid + font * 0.35:.1f}" text-anchor="end" '
            f"{text}>{_label(name)}</text>"
        )
        parts.append(
            f'<text transform="translate({mid + font * 0.35:.1f},{margin - 4}) '
            f'rotate(-90)" {text}>{_label(name)}</text>'
        )
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            fill = "#f1f5f9" if value is None else colour(value)
            shown = "\u2013" if value is None else fmt(value)
            tip = f"{escape(names[i])} \u00d7 {escape(names[j])}: {shown}"
            parts.append(
                f'<rect x="{margin + j * cell}" y="{margin + i * cell}" '
                f'width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                f"<title>{tip}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def gap_colour(gap: float) -> str:
    """Green at or above the ceiling, amber 5 points below it, red 15 points or more below."""
    t = min(max(gap / 0.15, 0.0), 1.0)
    return _blend(((0.09, 0.60, 0.45), (0.93, 0.70, 0.20), (0.80, 0.20, 0.20)), t)


def association_colour(value: float) -> str:
    """White at 0 to deep blue at 1."""
    return _blend(((1.0, 1.0, 1.0), (0.12, 0.33, 0.64)), min(max(value, 0.0), 1.0))


def difference_colour(value: float) -> str:
    """White at 0 to red at an absolute difference of 0.3 or more."""
    return _blend(((1.0, 1.0, 1.0), (0.80, 0.20, 0.20)), min(abs(value) / 0.3, 1.0))


def histogram(
    edges: list[float],
    series: dict[str, list[float]],
    colours: dict[str, str],
    width: int = 720,
    height: int = 200,
) -> str:
    """Overlaid step lines of binned shares over common ``edges``, with a legend."""
    left, bottom, top, right = 44, 28, 26, 12
    peak = max([max(v) for v in series.values()] + [1e-9])
    lo, hi = edges[0], edges[-1] or 1.0

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo or 1.0) * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - v / peak * (height - bottom - top)

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" '
        f'stroke="{MUTED}"/>',
    ]
    for tick, anchor in ((lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end")):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{height - 10}" text-anchor="{anchor}" '
            f'fill="{MUTED}" {FONT}>{tick:.3g}</text>'
        )
    parts.append(
        f'<text x="{left - 6}" y="{y(peak) + 4:.1f}" text-anchor="end" fill="{MUTED}" '
        f"{FONT}>{_pct(peak)}</text>"
    )
    for k, (name, shares) in enumerate(series.items()):
        points = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for i, share in enumerate(shares):
            points += [f"{x(edges[i]):.1f},{y(share):.1f}", f"{x(edges[i + 1]):.1f},{y(share):.1f}"]
        points.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        colour = colours.get(name, INK)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"><title>{escape(name)}</title></polyline>'
        )
        lx = left + 8 + k * 170
        parts.append(
            f'<rect x="{lx}" y="6" width="12" height="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="12" fill="{INK}" {FONT}>{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _blend(stops, t: float) -> str:
    """Colour at ``t`` in [0, 1] along evenly spaced RGB ``stops``, as #rrggbb."""
    segment = min(int(t * (len(stops) - 1)), len(stops) - 2)
    local = t * (len(stops) - 1) - segment
    a, b = stops[segment], stops[segment + 1]
    rgb = [round(255 * (a[i] + (b[i] - a[i]) * local)) for i in range(3)]
    return "#" + "".join(f"{c:02x}" for c in rgb)
