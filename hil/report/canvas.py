"""Report figures drawn at less CPU, the same pixels: layouts reused, titles placed once, PNG bytes.

Most of a report figure's CPU is matplotlib's bookkeeping, not our data: each new Axes builds its
spines, axes and ticks (five artists per tick, each copied from the first one), and at every draw
a titled Axes measures its y tick labels again to see whether an offset text ("1e-5", "+4.036e5")
would overlap its title. So a figure's layout (`make`: the figure, its axes and what never changes
on them) is built once per thread and kind, emptied of what the last drawing added and drawn on
again; and the titles are fixed at the height matplotlib's automatic placement gives them unless
a y axis of the figure shows an offset text, when the figure is drawn fresh and matplotlib places
them as always.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

Layout = TypeVar("Layout")
#: zlib level of the PNGs: 3 (zlib's fastest kind of search) takes two thirds of the default 6's
#: CPU for files about 1 % larger; the PDF re-encodes the pixels anyway
PNG_LEVEL = 3
_LAYOUTS = threading.local()  # key -> (figure, layout): matplotlib's artists are not for two threads


def offset_shown(fig: Figure) -> bool:
    """Whether a y axis of `fig` will draw an offset or scale text (its formatter's, at the
    current data), the one thing that makes matplotlib move a title off its place."""
    for ax in fig.axes:
        axis = ax.yaxis
        if not axis.get_visible() or isinstance(axis.get_major_locator(), NullLocator):
            continue
        formatter = axis.get_major_formatter()
        formatter.format_ticks(list(axis.get_majorticklocs()))  # what the draw does: sets the offset
        if formatter.get_offset():
            return True
    return False


def fix_titles(fig: Figure) -> None:
    """Each title at y = 1.0 of its axes, where matplotlib puts it when no offset text is in the
    way, so that the draw does not measure the tick labels again to find that out."""
    for ax in fig.axes:
        if ax.get_title():
            ax.set_title(ax.get_title(), fontsize=ax.title.get_fontsize(), y=1.0)


def encoded(fig: Figure, dpi: float) -> bytes:
    """The figure as PNG bytes (no software tag, so the same drawing gives the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": PNG_LEVEL}
    )
    return buf.getvalue()


def png(fig: Figure, dpi: float) -> bytes:
    """A fresh figure as PNG bytes, its titles fixed unless an offset text could move them."""
    if not offset_shown(fig):
        fix_titles(fig)
    return encoded(fig, dpi)


def _emptied(fig: Figure) -> None:
    """Every artist the last drawing added removed (data, spans, marks, legends, annotations), the
    data limits and the colour cycle reset, as on a new Axes; titles and labels are set again by the
    next drawing."""
    for ax in fig.axes:
        for container in list(ax.containers):
            container.remove()
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images]:
            artist.remove()
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        ax.relim()
        ax.set_prop_cycle(None)  # the default colours from C0 again


def _on_agg(made: tuple[Figure, Layout]) -> tuple[Figure, Layout]:
    """The figure given its own Agg canvas: savefig otherwise makes a new one, and a new renderer,
    each time, and matplotlib's cache of text extents (kept per renderer) starts empty each time."""
    FigureCanvasAgg(made[0])
    return made


def drawn_on(
    key: Hashable, make: Callable[[], tuple[Figure, Layout]], fill: Callable[[Layout], None], dpi: float
) -> bytes:
    """PNG bytes of `fill` drawing on the layout `make` builds, reused for `key` in this thread (the
    layout must not depend on anything but `key`); drawn fresh when an offset text is shown."""
    layouts: dict[Hashable, tuple[Figure, Layout]] = _LAYOUTS.__dict__.setdefault("by_key", {})
    fig, layout = layouts.pop(key) if key in layouts else _on_agg(make())
    _emptied(fig)
    fill(layout)
    if offset_shown(fig):  # matplotlib places the titles itself: on a new figure, titles not fixed
        fresh, fresh_layout = make()
        fill(fresh_layout)
        return encoded(fresh, dpi)
    fix_titles(fig)
    drawn = encoded(fig, dpi)
    layouts[key] = (fig, layout)  # kept only after a whole drawing
    return drawn
