"""The stimulus/response timeline of a section whose results are yes/no or read-backs: PNG bytes.

A plan states what it applied before a result in the result's `data["stimulus"]`, a mapping of
what was applied to its level or to an event, e.g. `{"supply [V]": 9.6}` or `{"command": "IDLE"}`.
The upper panel draws each numeric stimulus as a step series (its unit from the `[unit]` suffix;
two units on a left and a right axis, more on one stacked panel each, so no unit is left out) and
each event as a marked instant; the lower panel puts every result of the section on its own
lane against time, coloured by its verdict and labelled with its value. A section that declares
no stimulus (a read-back, a bus observed) gets no timeline: it has nothing to plot against.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hil.measure import Measurement
from hil.report import canvas
from hil.report.plots import COLOURS, OVERVIEW_DPI

#: result lanes drawn; the rest are counted in the panel's title
MAX_LANES = 12
#: characters of a lane's label and of a value written beside its point
LABEL_CHARS = 44
VALUE_CHARS = 14
_UNIT = re.compile(r"\[([^\]]*)\]\s*$")


@dataclass
class Stimuli:
    """What a section's results say was applied: numeric series by name, and events."""

    levels: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # name -> [(t, level)]
    events: list[tuple[float, str]] = field(default_factory=list)  # (t, "name: value")

    def __bool__(self) -> bool:
        return bool(self.levels or self.events)


def unit_of(name: str) -> str:
    """The unit a stimulus name states in a trailing `[unit]` ("" if none)."""
    found = _UNIT.search(name)
    return found.group(1) if found else ""


def stimuli(measurements: Sequence[Measurement]) -> Stimuli:
    """Every stimulus the results declare, in time order (a level repeated at a later result is
    kept: the step series shows it held)."""
    out = Stimuli()
    for m in sorted(measurements, key=lambda m: m.time):
        declared = m.data.get("stimulus")
        if not isinstance(declared, dict) or not isinstance(m.time, int | float):
            continue
        for name, value in declared.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                out.levels.setdefault(str(name), []).append((float(m.time), float(value)))
            else:
                event = (float(m.time), f"{name}: {value}")
                if event not in out.events:
                    out.events.append(event)
    return out


def _shown(m: Measurement) -> str:
    """A result's value as written beside its point."""
    if isinstance(m.value, bool):
        return "yes" if m.value else "no"
    if isinstance(m.value, int | float):
        return f"{m.value:.4g} {m.unit}".strip()
    return str(m.value)[:VALUE_CHARS]


def _draw_stimuli(panels: list[Axes], found: Stimuli) -> None:
    """Upper panels: numeric stimuli as steps, events as dotted instants with their text. One panel:
    the first unit on its left axis, a second on its right; more units: one stacked panel each."""
    units = list(dict.fromkeys(unit_of(n) for n in found.levels))
    ax = panels[0]
    axes: dict[str, Axes] = dict(zip(units, panels, strict=False))
    if len(panels) == 1 and len(units) == 2:
        axes[units[1]] = ax.twinx()
    for index, (name, points) in enumerate(found.levels.items()):
        target = axes[unit_of(name)]
        times, levels = [p[0] for p in points], [p[1] for p in points]
        colour = f"C{index % 10}"
        target.step(times, levels, where="post", color=colour, linewidth=1.2, label=name)
        target.scatter(times, levels, color=colour, s=12, zorder=3)
    for unit, target in axes.items():
        target.set_ylabel(f"stimulus [{unit}]" if unit else "stimulus", fontsize=8)
        target.tick_params(labelsize=7)
    for time, text in found.events:
        for panel in panels:
            panel.axvline(time, color="#455a64", linestyle=":", linewidth=0.9)
        ax.annotate(
            text[:LABEL_CHARS],
            (time, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=6,
            va="top",
            ha="right",
            color="#455a64",
        )
    if not found.levels:
        ax.set_yticks([])
    handles = [h for a in axes.values() for h in a.get_legend_handles_labels()[0]]
    if handles:
        ax.legend(handles=handles, fontsize=6, loc="best", framealpha=0.7)
    for panel in panels:
        panel.tick_params(labelbottom=False)
        panel.grid(True, linewidth=0.3)


def timeline(requirement: str, measurements: Sequence[Measurement]) -> bytes | None:
    """The timeline figure as PNG bytes; None when no result declares a stimulus."""
    fig = timeline_figure(requirement, measurements)
    return None if fig is None else canvas.png(fig, OVERVIEW_DPI)


def timeline_figure(requirement: str, measurements: Sequence[Measurement]) -> Figure | None:
    """Stimulus (upper: one panel, or one per unit beyond two units) and each result (lower) against
    time; None when no result declares a stimulus."""
    found = stimuli(measurements)
    timed = [m for m in measurements if isinstance(m.time, int | float)]
    if not found or not timed:
        return None
    lanes = list(dict.fromkeys(m.name for m in sorted(timed, key=lambda m: m.time)))
    shown, hidden = lanes[:MAX_LANES], len(lanes) - MAX_LANES
    units = len({unit_of(n) for n in found.levels})
    stacked = units if units > 2 else 1
    # inches: fixed margins below, so the time axis is never cut; 1.1 more per stacked panel
    height = 2.6 + 0.22 * len(shown) + 1.1 * (stacked - 1)
    fig = Figure(figsize=(7.2, height))
    upper_ratio, lower_ratio = 2 + 1.1 * (stacked - 1), max(1.5, 0.35 * len(shown))
    grid = fig.add_gridspec(
        2,
        1,
        height_ratios=[upper_ratio, lower_ratio],
        left=0.36,
        right=0.9,
        top=1 - 0.3 / height,
        bottom=0.45 / height,
        hspace=0.35 * (2 + lower_ratio) / (upper_ratio + lower_ratio),  # the one-panel gap, stacked too
    )
    upper = grid[0, 0].subgridspec(stacked, 1, hspace=0.12)
    ax = fig.add_subplot(upper[0, 0])
    panels = [ax, *(fig.add_subplot(upper[i, 0], sharex=ax) for i in range(1, stacked))]
    resp = fig.add_subplot(grid[1, 0], sharex=ax)
    _draw_stimuli(panels, found)
    ax.set_title(f"{requirement}: stimulus and response against time", fontsize=9)
    for m in timed:
        if m.name not in shown:
            continue
        lane = shown.index(m.name)
        resp.scatter([m.time], [lane], color=COLOURS.get(m.verdict.value, "#000000"), s=20, zorder=3)
        resp.annotate(_shown(m), (m.time, lane), xytext=(4, 3), textcoords="offset points", fontsize=6)
    resp.set_yticks(range(len(shown)), [n[:LABEL_CHARS] for n in shown], fontsize=6)
    resp.set_ylim(len(shown) - 0.5, -0.5)
    resp.set_xlabel("time [s]", fontsize=8)
    resp.tick_params(axis="x", labelsize=7)
    resp.grid(True, linewidth=0.3)
    more = f" (+{hidden} more results in the table)" if hidden > 0 else ""
    resp.set_title(f"response: each result at the time it was taken, by verdict colour{more}", fontsize=7)
    return fig
