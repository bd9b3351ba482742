"""Tolerance bars: a result's place between its limits as a small inline SVG (no plotting library).

Green: the limits; orange: the guard band (guarded acceptance); the dot is the measured value, the
whiskers its expanded uncertainty U (k=2), coloured by verdict. One-sided limits get a scale
from the value and U.
"""

from __future__ import annotations

import math
from html import escape

from hil.measure import Measurement

COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "conditional-pass": "#ef6c00",
    "conditional-fail": "#ad1457",
    "info": "#1565c0",
    "error": "#6a1b9a",
}
WIDTH, HEIGHT = 100.0, 12.0


def tolerance_bar(m: Measurement) -> str:
    """The SVG of one numeric result with at least one limit; "" when there is nothing to draw."""
    if not m.numeric or m.value is None or (m.low is None and m.high is None):
        return ""
    value = float(m.value)
    if math.isnan(value) or math.isinf(value):
        return ""
    u = abs(m.uncertainty or 0.0)
    w = abs(m.guard_band or 0.0)
    points = [value - u, value + u] + [x for x in (m.low, m.high) if x is not None]
    lo, hi = min(points), max(points)
    span = hi - lo
    if span <= 0:
        span = abs(value) * 0.1 or 1.0
    pad = span * 0.12
    a, b = lo - pad, hi + pad

    def x(v: float) -> float:
        return round((v - a) / (b - a) * WIDTH, 2)

    colour = COLOURS.get(m.verdict.value, "#000000")
    left = x(m.low) if m.low is not None else 0.0
    right = x(m.high) if m.high is not None else WIDTH
    parts = [
        f'<rect x="0" y="2" width="{WIDTH}" height="8" fill="#eceff1"/>',
        f'<rect x="{left}" y="2" width="{max(right - left, 0.0)}" height="8" fill="#c8e6c9"/>',
    ]
    if w:
        if m.low is not None:
            parts.append(
                f'<rect x="{left}" y="2" width="{max(x(m.low + w) - left, 0.0)}" height="8" fill="#ffcc80"/>'
            )
        if m.high is not None:
            start = x(m.high - w)
            parts.append(
                f'<rect x="{start}" y="2" width="{max(right - start, 0.0)}" height="8" fill="#ffcc80"/>'
            )
    for limit in (m.low, m.high):
        if limit is not None:
            parts.append(
                f'<line x1="{x(limit)}" y1="0.5" x2="{x(limit)}" y2="11.5" '
                'stroke="#2e7d32" stroke-width="0.6"/>'
            )
    if u:
        parts.append(
            f'<line x1="{x(value - u)}" y1="6" x2="{x(value + u)}" y2="6" '
            f'stroke="{colour}" stroke-width="0.8"/>'
        )
        for end in (value - u, value + u):
            parts.append(
                f'<line x1="{x(end)}" y1="4" x2="{x(end)}" y2="8" stroke="{colour}" stroke-width="0.8"/>'
            )
    parts.append(f'<circle cx="{x(value)}" cy="6" r="1.8" fill="{colour}"/>')
    title = escape(f"{m.name}: {value:.6g} ± {u:.3g} {m.unit}, limits [{m.low}, {m.high}]")
    return (
        f'<svg class="bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" '
        f'preserveAspectRatio="none"><title>{title}</title>{"".join(parts)}</svg>'
    )
