"""Server-drawn SVG charts for the console (no script, no inline style: colours come from classes in
console.css). Every mark carries its numbers as ``data-*`` attributes, so what a chart shows can be
checked against the database, and a ``<title>`` for a tooltip and for screen readers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 30


def _svg(body: list[str], label: str, *, height: int = HEIGHT) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every value is escaped or numeric


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * exponent:
            return float(step * exponent)
    return float(10 * exponent)


def _y_axis(top: float, unit: str = "") -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for fraction in (0, 0.5, 1):
        y = HEIGHT - BOTTOM - fraction * plot_h
        value = top * fraction
        text = f"{value:g}{unit}" if value != int(value) else f"{int(value)}{unit}"
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>'
        )
    return out


def _x_labels(days: Sequence[str], slot: float) -> list[str]:
    every = max(1, math.ceil(len(days) / 10))
    out = []
    for i, day in enumerate(days):
        if i % every == 0:
            x = LEFT + slot * (i + 0.5)
            out.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(day[5:])}</text>"
            )
    return out


def stacked_days(days: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], label: str) -> Markup:
    """One stacked bar per day; ``series``: (name, css class, value per day)."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(days))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    body = _y_axis(top)
    for i, day in enumerate(days):
        x = LEFT + slot * i + slot * 0.15
        y = float(HEIGHT - BOTTOM)
        for name, css, values in series:
            value = values[i]
            h = plot_h * value / top
            y -= h
            body.append(
                f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'data-day="{escape(day)}" data-series="{escape(name)}" data-value="{value}">'
                f"<title>{escape(day)} {escape(name)}: {value}</title></rect>"
            )
    body += _x_labels(days, slot)
    return _svg(body, label)


def lines_days(
    days: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]], label: str, unit: str
) -> Markup:
    """One line per series over the days (gaps where a day has no value)."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    top = _nice_max(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    body = _y_axis(top, unit)
    for name, css, vs in series:
        points = []
        for i, value in enumerate(vs):
            if value is None:
                continue
            x, y = LEFT + slot * (i + 0.5), HEIGHT - BOTTOM - plot_h * value / top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="3" data-day="{escape(days[i])}" '
                f'data-series="{escape(name)}" data-value="{value:.4f}">'
                f"<title>{escape(days[i])} {escape(name)}: {value:.3f}{escape(unit)}</title></circle>"
            )
        if len(points) > 1:
            body.append(f'<polyline class="{css}" points="{" ".join(points)}"/>')
    body += _x_labels(days, slot)
    return _svg(body, label)


def histogram(
    bins: Sequence[tuple[float, float, int]],
    threshold: float | None,
    band: tuple[float, float] | None,
    label: str,
) -> Markup:
    """Similarity histogram with the accept threshold (a line) and the review band (a shaded range)."""
    if not bins:
        return _svg([], label)
    lo, hi = bins[0][0], bins[-1][1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max(c for _, _, c in bins))

    def x_of(value: float) -> float:
        return LEFT + plot_w * (min(hi, max(lo, value)) - lo) / (hi - lo)

    body = _y_axis(top)
    if band is not None:
        high = min(band[1], threshold) if threshold is not None else band[1]
        x0, x1 = x_of(band[0]), x_of(high)
        body.append(
            f'<rect class="band" x="{x0:.1f}" y="{TOP}" width="{max(0.0, x1 - x0):.1f}" height="{plot_h}" '
            f'data-band-low="{band[0]:.4f}" data-band-high="{high:.4f}"><title>review band '
            f"{band[0]:.3f}–{high:.3f}</title></rect>"
        )
    for b_lo, b_hi, count in bins:
        h = plot_h * count / top
        x = x_of(b_lo)
        body.append(
            f'<rect class="bar-hist" x="{x + 0.5:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" '
            f'width="{max(0.5, x_of(b_hi) - x - 1):.1f}" height="{h:.1f}" '
            f'data-lo="{b_lo:.4f}" data-hi="{b_hi:.4f}" '
            f'data-value="{count}"><title>{b_lo:.3f}–{b_hi:.3f}: {count}</title></rect>'
        )
    if threshold is not None:
        x = x_of(threshold)
        body.append(
            f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            f'data-threshold="{threshold:.4f}"><title>accept threshold {threshold:.3f}</title></line>'
        )
    step = 0.2
    tick = math.ceil(lo / step) * step
    while tick <= hi + 1e-9:
        body.append(
            f'<text class="axis" x="{x_of(tick):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{tick:.1f}</text>'
        )
        tick += step
    return _svg(body, label)


def bars(rows: Sequence[tuple[str, int]], label: str) -> Markup:
    """Horizontal bars, one per (name, count), largest first."""
    row_h = 22
    height = max(40, TOP + row_h * len(rows) + 8)
    top = _nice_max(max((c for _, c in rows), default=0))
    name_w = 250
    plot_w = WIDTH - name_w - 60
    body = []
    for i, (name, count) in enumerate(rows):
        y = TOP + i * row_h
        w = plot_w * count / top
        body.append(
            f'<text class="axis" x="{name_w - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
        )
        body.append(
            f'<rect class="bar-reason" x="{name_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'data-series="{escape(name)}" data-value="{count}"><title>{escape(name)}: {count}</title></rect>'
        )
        body.append(f'<text class="axis" x="{name_w + w + 6:.1f}" y="{y + 15}">{count}</text>')
    return _svg(body, label, height=height)


def gauge(similarity: float, threshold: float | None, band: tuple[float, float] | None) -> Markup:
    """One similarity on the -0.2..1.0 scale, with the accept threshold and the review band."""
    lo, hi, left, width = -0.2, 1.0, 20.0, 480.0

    def x_of(value: float) -> float:
        return left + width * (min(hi, max(lo, value)) - lo) / (hi - lo)

    body = [f'<rect class="track" x="{left}" y="14" width="{width}" height="12" rx="6"/>']
    if band is not None:
        high = min(band[1], threshold) if threshold is not None else band[1]
        body.append(
            f'<rect class="band" x="{x_of(band[0]):.1f}" y="8" '
            f'width="{max(0.0, x_of(high) - x_of(band[0])):.1f}" '
            f'height="24" data-band-low="{band[0]:.4f}" data-band-high="{high:.4f}"/>'
        )
    if threshold is not None:
        x = x_of(threshold)
        body.append(f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="36"/>')
        body.append(f'<text x="{x:.1f}" y="50" text-anchor="middle">threshold {threshold:.3f}</text>')
    body.append(
        f'<circle class="value" cx="{x_of(similarity):.1f}" cy="20" r="7" data-value="{similarity:.4f}"/>'
    )
    body.append('<text x="20" y="50">−0.2</text><text x="500" y="50" text-anchor="end">1.0</text>')
    label = f"similarity {similarity:.3f}" + (
        f" against the threshold {threshold:.3f}" if threshold is not None else ""
    )
    head = f'<svg class="gauge" viewBox="0 0 520 54" role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - numbers only
