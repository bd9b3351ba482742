"""Report figures drawn on reused layouts (hil.report.canvas): the very pixels a new figure gives.

A layout is reused for the next figure of its kind in the same thread, and titles are placed
without matplotlib measuring the tick labels again; a report must show the same figure whatever
was drawn before it, and a title must sit where matplotlib itself puts it, also when a y axis shows
an offset text ("1e6", "+1e6") that pushes it up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hil.measure import Measurement, Verdict
from hil.report import canvas, plots
from hil.report.figures import requirement_plots
from hil.report.model import RequirementRow


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """Nothing drawn yet, as in a new process (figures kept by their inputs, layouts by kind)."""
    plots._DRAWN.clear()
    canvas._LAYOUTS.__dict__.clear()
    yield
    plots._DRAWN.clear()
    canvas._LAYOUTS.__dict__.clear()


def make() -> tuple[Figure, tuple[Axes, Axes]]:
    fig = Figure(figsize=(4.0, 3.0))
    top = fig.add_subplot(2, 1, 1)
    return fig, (top, fig.add_subplot(2, 1, 2, sharex=top))


def filler(ys: list[float], title: str) -> Callable[[tuple[Axes, Axes]], None]:
    def fill(axes: tuple[Axes, Axes]) -> None:
        top, bottom = axes
        top.step(range(len(ys)), ys, where="post", label="stimulus")
        top.scatter(range(len(ys)), ys, c=["#c62828"] * len(ys))
        top.axhspan(min(ys), max(ys), alpha=0.1)
        top.set_title(title, fontsize=9)
        top.legend(fontsize=6, loc="best")
        bottom.errorbar([1.0], [ys[0]], yerr=[[0.5], [0.5]], fmt="o")
        bottom.set_title("response", fontsize=7)

    return fill


def new_figure(ys: list[float], title: str) -> bytes:
    """The figure as matplotlib draws it on a new Figure, titles placed by matplotlib."""
    fig, axes = make()
    filler(ys, title)(axes)
    return canvas.encoded(fig, 80)


SERIES = [
    ([3.0, 4.5, 3.8, 4.1], "A: trip point"),
    ([-28.0, -12.0, -20.0], "B: a longer title over other limits and ticks"),
    ([1e6 + 0.001, 1e6 + 0.004, 1e6 + 0.002], "C: an offset text on the y axis, a long title over it"),
    ([3.0, 4.5, 3.8, 4.1], "A: trip point"),
]


def test_a_reused_layout_draws_what_a_new_figure_draws() -> None:
    for ys, title in SERIES:
        assert canvas.drawn_on("test", make, filler(ys, title), 80) == new_figure(ys, title), title


def test_an_offset_text_moves_a_title_as_matplotlib_does() -> None:
    fig, axes = make()
    filler(*SERIES[2])(axes)
    assert canvas.offset_shown(fig)  # the y axis shows an offset: titles left to matplotlib
    fig, axes = make()
    filler(*SERIES[0])(axes)
    assert not canvas.offset_shown(fig)


def cell(probes: list[list[float | bool]], value: float) -> RequirementRow:
    trip = Measurement(
        "CV-OVP", "trip point", value, "mV", Verdict.PASS, 40.0, low=3600.0, high=3700.0,
        uncertainty=4.0, method="bisection", data={"probes": probes},
    )  # fmt: skip
    held = Measurement("CV-OVP", "go/no-go", True, "", Verdict.PASS, 50.0, data={"level": 3670.0})
    spec = {"id": "CV-OVP", "unit": "mV", "trip": 3650, "release": 3550, "tolerance": 50}
    return RequirementRow("CV-OVP", spec, "pass", [], [trip, held], [], [], [])


def test_a_requirement_s_figures_do_not_depend_on_what_was_drawn_before() -> None:
    first = cell([[3600.0, False, 1.0], [3700.0, True, 3.0], [3650.0, True, 5.0]], 3652.0)
    other = cell([[3500.0, False, 100.0], [3800.0, True, 130.0]], 3790.0)
    drawn_alone: list[list[bytes]] = []
    thread = threading.Thread(target=lambda: drawn_alone.append(requirement_plots(first)))
    thread.start()  # a thread of its own: no layout reused, as in a new process
    thread.join()
    requirement_plots(other)  # this thread's layouts drawn on by another requirement first
    plots._DRAWN.clear()
    after_other = requirement_plots(first)
    assert len(after_other) == 2
    assert after_other == drawn_alone[0]
