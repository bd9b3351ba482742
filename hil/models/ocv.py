"""A cell's open-circuit voltage versus state of charge, from a family's table.

The arithmetic is shared; the table is the family's (a generic curve, or the vendor's configuration
parameter). Between points the functions interpolate linearly; outside the table they clamp to its
ends, so a strictly increasing table inverts exactly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


def interpolate(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """y at `x` on the polyline (xs, ys), xs increasing; clamped to the first and last y outside."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
