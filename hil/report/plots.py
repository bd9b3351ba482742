"""Plots for the reports (matplotlib, Agg, no pyplot state): PNG bytes.

- `stimulus_response`: for each measurement of a requirement that carries probes
  (`data.probes` = [(level, tripped, time)]), the stimulus level and the DUT's response against
  (virtual) time, with the found point, the limits and the spec's nominal value marked;
- `go_no_go`: the levels a go/no-go check held (`data.level`, the result whether the DUT tripped)
  and the response, against time, with the spec's set point and tolerance (the EOL profile's checks);
- `results_over_time`: the numeric results of a requirement with their U and limits against time,
  for a section whose stimulus left no probe series (one panel per unit);
- `trend`: a result across runs (hil report --compare).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hil.measure import Measurement
from hil.report import canvas

COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "conditional-pass": "#ef6c00",
    "conditional-fail": "#ad1457",
    "info": "#1565c0",
    "error": "#6a1b9a",
}
DPI = 100
#: the per-section overview figures (go/no-go levels, results against time): many per report, so lighter
OVERVIEW_DPI = 80
#: probe series side by side in one stimulus/response figure
MAX_COLUMNS = 3
#: figures kept by `_drawn` (a full plan draws about 100, some 70 kB each)
MAX_DRAWN = 256
_DRAWN: OrderedDict[str, bytes] = OrderedDict()


def _plain(value: object) -> object:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else str(value)  # type: ignore[arg-type]


def _drawn(drawn_from: object, draw: Callable[[], bytes]) -> bytes:
    """The figure drawn from exactly `drawn_from` (everything `draw` reads), drawn once per process:
    the prefetch worker draws a requirement's figures ahead, and those whose inputs did not change
    by its last test are not drawn again."""
    try:
        key = hashlib.sha256(json.dumps(drawn_from, sort_keys=True, default=_plain).encode()).hexdigest()
    except (TypeError, ValueError):  # odd data: drawn, not kept
        return draw()
    png = _DRAWN.pop(key, None)
    if png is None:
        png = draw()
    _DRAWN[key] = png
    while len(_DRAWN) > MAX_DRAWN:
        _DRAWN.popitem(last=False)
    return png


def _probes(m: Measurement) -> list[tuple[float, bool, float]]:
    out = []
    for probe in m.data.get("probes", []) or []:
        if isinstance(probe, list | tuple) and len(probe) >= 3:
            level, tripped, time = probe[0], probe[1], probe[2]
            if isinstance(level, int | float) and isinstance(time, int | float):
                out.append((float(level), bool(tripped), float(time)))
    return out


def has_probes(measurements: Sequence[Measurement]) -> bool:
    return any(_probes(m) for m in measurements)


def stimulus_response(
    requirement: str, measurements: Sequence[Measurement], spec: dict[str, Any] | None = None
) -> bytes | None:
    """Stimulus and response against time for every measurement with probes; None if there are none."""
    series = [(m, _probes(m)) for m in measurements]
    series = [(m, p) for m, p in series if p][:MAX_COLUMNS]
    if not series:
        return None
    drawn_from = ("stimulus_response", requirement, [m for m, _ in series], spec or {})
    return _drawn(drawn_from, lambda: _stimulus_response(requirement, series, spec or {}))


def _stimulus_response(
    requirement: str, series: list[tuple[Measurement, list[tuple[float, bool, float]]]], spec: dict[str, Any]
) -> bytes:
    def fill(columns: list[tuple[Axes, Axes]]) -> None:
        for (ax, resp), (m, probes) in zip(columns, series, strict=True):
            _stimulus_column(ax, resp, requirement, m, probes, spec)

    return canvas.drawn_on(("stimulus_response", len(series)), lambda: _response_grid(len(series)), fill, DPI)


def _response_grid(columns: int) -> tuple[Figure, list[tuple[Axes, Axes]]]:
    """The stimulus/response layout: per column a stimulus panel over a response panel (shared time)."""
    fig = Figure(figsize=(7.2, 3.4))
    grid = fig.add_gridspec(
        2,
        columns,
        height_ratios=[3, 1],
        left=0.09,
        right=0.98,
        top=0.91,
        bottom=0.13,
        hspace=0.12,
        wspace=0.32,
    )
    pairs = []
    for col in range(columns):
        ax = fig.add_subplot(grid[0, col])
        pairs.append((ax, fig.add_subplot(grid[1, col], sharex=ax)))
        _stimulus_axis(ax)
        _response_axis(pairs[-1][1])
    return fig, pairs


def _columns(points: list[tuple[float, bool, float]]) -> tuple[list[float], list[float], list[int]]:
    """(times, levels, tripped as 0/1) of (level, tripped, time) points, as the panels plot them."""
    return [p[2] for p in points], [p[0] for p in points], [1 if p[1] else 0 for p in points]


def _tripped_marks(
    ax: Axes, times: list[float], levels: list[float], tripped: list[int], size: int, label: str
) -> None:
    """The levels as marks, red where the DUT tripped, green where it did not."""
    colours = ["#c62828" if t else "#2e7d32" for t in tripped]
    ax.scatter(times, levels, c=colours, s=size, zorder=3, label=label)


def _stimulus_column(
    ax: Axes,
    resp: Axes,
    requirement: str,
    m: Measurement,
    probes: list[tuple[float, bool, float]],
    spec: dict[str, Any],
) -> None:
    """One measurement's probes: the stimulus levels (upper panel) and the DUT's response (lower)."""
    times, levels, tripped = _columns(probes)
    ax.step(times, levels, where="post", color="#455a64", linewidth=1.2, label="stimulus")
    _tripped_marks(ax, times, levels, tripped, 18, "probe (red: tripped)")
    if m.low is not None and m.high is not None:
        ax.axhspan(m.low, m.high, color="#2e7d32", alpha=0.10, label="limits")
    for limit in (m.low, m.high):
        if limit is not None:
            ax.axhline(limit, color="#2e7d32", linestyle="--", linewidth=0.8)
    if m.guard_band:
        for limit, sign in ((m.low, 1), (m.high, -1)):
            if limit is not None:
                ax.axhline(limit + sign * m.guard_band, color="#ef6c00", linestyle=":", linewidth=0.8)
    nominal_key = "release" if "release" in m.name else "trip"
    nominal = spec.get(nominal_key)
    if isinstance(nominal, int | float):
        ax.axhline(float(nominal), color="#1565c0", linestyle=":", linewidth=1.0, label=f"spec {nominal_key}")
    if isinstance(m.value, int | float) and not isinstance(m.value, bool) and not math.isnan(m.value):
        colour = COLOURS.get(m.verdict.value, "#000000")
        ax.axhline(float(m.value), color=colour, linewidth=1.4, label=f"{m.name} {m.value:.6g} {m.unit}")
        if m.uncertainty:
            ax.axhspan(m.value - m.uncertainty, m.value + m.uncertainty, color=colour, alpha=0.18)
    ax.set_title(f"{requirement}: {m.name}", fontsize=9)
    ax.set_ylabel(f"stimulus [{m.unit}]" if m.unit else "stimulus", fontsize=8)
    ax.legend(fontsize=6, loc="upper left", framealpha=0.7)
    _response(resp, times, tripped)


def _stimulus_axis(ax: Axes) -> None:
    """The upper panel's fixed look: small tick labels, none under it (the response panel has them)."""
    ax.tick_params(labelsize=7, labelbottom=False)
    ax.grid(True, linewidth=0.3)


def _response_axis(resp: Axes) -> None:
    """The lower panel's fixed look: whether the DUT had tripped (no / yes) against time."""
    resp.set_ylim(-0.2, 1.2)
    resp.set_yticks([0, 1], ["no", "yes"])
    resp.set_ylabel("tripped", fontsize=8)
    resp.set_xlabel("time [s]", fontsize=8)
    resp.tick_params(labelsize=7)
    resp.grid(True, linewidth=0.3)


def _response(resp: Axes, times: list[float], tripped: list[int]) -> None:
    """The lower panel's data: whether the DUT had tripped, against time."""
    resp.step(times, tripped, where="post", color="#c62828", linewidth=1.2)


def trend(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    uncertainties: Sequence[float | None],
    unit: str,
    low: float | None = None,
    high: float | None = None,
    drifted: Sequence[bool] = (),
) -> bytes:
    """A result across runs with its uncertainty bars and limits; drifted runs in red."""
    fig = Figure(figsize=(6.4, 2.6))
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.3)
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    for x, v, u in zip(xs, values, uncertainties, strict=False):
        if v is None:
            continue
        bad = bool(drifted[x]) if x < len(drifted) else False
        ax.errorbar(
            [x], [v], yerr=[[u or 0.0], [u or 0.0]], fmt="o", capsize=3, color="#c62828" if bad else "#1565c0"
        )
    ys = [v for v in values if v is not None]
    if len(ys) > 1:
        ax.plot(
            [x for x, v in zip(xs, values, strict=False) if v is not None], ys, color="#90a4ae", linewidth=0.8
        )
    for limit in (low, high):
        if limit is not None:
            ax.axhline(limit, color="#2e7d32", linestyle="--", linewidth=0.8)
    ax.set_xticks(xs, list(labels), fontsize=6, rotation=20, ha="right")
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    ax.grid(True, linewidth=0.3)
    return canvas.png(fig, DPI)


#: data keys of a held go/no-go level, and the unit the key names (None: the spec row's unit)
LEVEL_KEYS: dict[str, str | None] = {"level": None, "level_ma": "mA"}


def _held_levels(measurements: Sequence[Measurement]) -> tuple[list[tuple[float, bool, float]], str | None]:
    """(level, tripped, time) of every go/no-go result (a held level and a yes/no outcome), and the
    unit the level's key names (None: the spec row's)."""
    out, unit = [], None
    for m in measurements:
        for key, key_unit in LEVEL_KEYS.items():
            level = m.data.get(key)
            if (
                isinstance(level, int | float)
                and isinstance(m.value, bool)
                and isinstance(m.time, int | float)
            ):
                out.append((float(level), m.value, float(m.time)))
                unit = key_unit or unit
    return sorted(out, key=lambda p: p[2]), unit


def go_no_go(
    requirement: str, measurements: Sequence[Measurement], spec: dict[str, Any] | None = None
) -> bytes | None:
    """The held levels of a requirement's go/no-go checks and whether the DUT tripped; None if none."""
    points, level_unit = _held_levels(measurements)
    if not points:
        return None
    drawn_from = ("go_no_go", requirement, points, level_unit, spec or {})
    return _drawn(drawn_from, lambda: _go_no_go(requirement, points, level_unit, spec or {}))


def _go_no_go(
    requirement: str, points: list[tuple[float, bool, float]], level_unit: str | None, spec: dict[str, Any]
) -> bytes:
    def fill(panels: tuple[Axes, Axes]) -> None:
        _go_no_go_levels(*panels, requirement, points, level_unit, spec)

    return canvas.drawn_on("go_no_go", _go_no_go_grid, fill, OVERVIEW_DPI)


def _go_no_go_grid() -> tuple[Figure, tuple[Axes, Axes]]:
    """The go/no-go layout: the held levels over the response (shared time)."""
    fig = Figure(figsize=(7.2, 3.0))
    grid = fig.add_gridspec(
        2, 1, height_ratios=[3, 1], left=0.09, right=0.98, top=0.9, bottom=0.15, hspace=0.12
    )
    ax = fig.add_subplot(grid[0, 0])
    resp = fig.add_subplot(grid[1, 0], sharex=ax)
    _stimulus_axis(ax)
    _response_axis(resp)
    return fig, (ax, resp)


def _go_no_go_levels(
    ax: Axes,
    resp: Axes,
    requirement: str,
    points: list[tuple[float, bool, float]],
    level_unit: str | None,
    spec: dict[str, Any],
) -> None:
    spec_unit = str(spec.get("unit") or "")
    unit = level_unit or spec_unit
    times, levels, tripped = _columns(points)
    _tripped_marks(ax, times, levels, tripped, 22, "held level (red: tripped)")
    tolerance = spec.get("tolerance")
    for key, colour in (("trip", "#1565c0"),):  # the levels sit around the trip point: no release line
        nominal = spec.get(key)
        if isinstance(nominal, int | float) and unit == spec_unit:  # the spec's set point, same unit
            ax.axhline(
                float(nominal),
                color=colour,
                linestyle=":",
                linewidth=1.0,
                label=f"spec {key} {nominal:g} {unit}",
            )
            if isinstance(tolerance, int | float) and key == "trip":
                ax.axhspan(
                    nominal - tolerance,
                    nominal + tolerance,
                    color=colour,
                    alpha=0.08,
                    label="trip ± tolerance",
                )
    ax.set_title(f"{requirement}: go/no-go levels held and the response", fontsize=9)
    ax.set_ylabel(f"stimulus [{unit}]" if unit else "stimulus", fontsize=8)
    ax.legend(fontsize=6, loc="best", framealpha=0.7)
    _response(resp, times, tripped)


def results_over_time(requirement: str, measurements: Sequence[Measurement]) -> bytes | None:
    """Each numeric result with limits or a U, against the time it was taken; None if there is none."""
    numeric = [
        m
        for m in measurements
        if isinstance(m.value, int | float)
        and not isinstance(m.value, bool)
        and not math.isnan(m.value)
        and isinstance(m.time, int | float)
        and (m.low is not None or m.high is not None or m.uncertainty is not None)  # judged or measured
    ]
    units = list(dict.fromkeys(m.unit for m in numeric))[:MAX_COLUMNS]
    if not units:
        return None

    def fill(axes: list[Axes]) -> None:
        for ax, unit in zip(axes, units, strict=True):
            _results_of_unit(ax, requirement, unit, [m for m in numeric if m.unit == unit])

    return canvas.drawn_on(
        ("results_over_time", len(units)), lambda: _results_grid(len(units)), fill, OVERVIEW_DPI
    )


def _results_grid(columns: int) -> tuple[Figure, list[Axes]]:
    """The results layout: one panel per unit, side by side."""
    fig = Figure(figsize=(7.2, 2.6))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.18, wspace=0.35)
    axes = [fig.add_subplot(1, columns, col + 1) for col in range(columns)]
    for ax in axes:
        ax.set_xlabel("time [s]", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, linewidth=0.3)
    return fig, axes


def _results_of_unit(ax: Axes, requirement: str, unit: str, mine: list[Measurement]) -> None:
    """The results in one unit: each value with its U as a bar (one errorbar per verdict colour),
    its limits as dashes (one collection)."""
    by_colour: dict[str, list[Measurement]] = {}
    for m in mine:
        by_colour.setdefault(COLOURS.get(m.verdict.value, "#000000"), []).append(m)
    for colour, group in by_colour.items():
        us = [m.uncertainty or 0.0 for m in group]
        values = [float(m.value) for m in group]  # type: ignore[arg-type]  # numeric: chosen so
        ax.errorbar([m.time for m in group], values, yerr=[us, us], fmt="o", ms=3, capsize=2, color=colour)
    limits = [(limit, m.time) for m in mine for limit in (m.low, m.high) if limit is not None]
    if limits:
        ax.hlines(
            [limit for limit, _ in limits],
            [t - 0.5 for _, t in limits],
            [t + 0.5 for _, t in limits],
            color="#2e7d32",
            linestyle="--",
            linewidth=0.8,
        )
    ax.set_ylabel(unit or "value", fontsize=8)
    label = f" [{unit}]" if unit else ""
    ax.set_title(f"{requirement}: results{label} (bars: U; dashes: limits)", fontsize=8)
