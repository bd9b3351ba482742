"""Figures drawn ahead (hil.report.plots keeps each figure by exactly what it is drawn from).

The prefetch worker draws a requirement's figures while its later tests still run; a figure whose
inputs those tests did not change must be the very one a fresh process draws, and one whose
inputs changed must be drawn again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hil.measure import Measurement, Verdict
from hil.report import plots
from hil.report.figures import requirement_plots
from hil.report.model import RequirementRow

SPEC = {"id": "CV-OVP", "title": "Cell over-voltage", "unit": "mV", "trip": 3650, "release": 3550}


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """Each test starts as a new process would: nothing drawn yet."""
    plots._DRAWN.clear()
    yield
    plots._DRAWN.clear()


def trip_point(probes: list[list[float | bool]]) -> Measurement:
    return Measurement(
        "CV-OVP", "trip point", 3652.0, "mV", Verdict.PASS, 40.0, low=3600.0, high=3700.0,
        uncertainty=4.0, method="bisection", data={"probes": probes},
    )  # fmt: skip


def held(level: float, tripped: bool, time: float) -> Measurement:
    return Measurement("CV-OVP", "go/no-go", tripped, "", Verdict.PASS, time, data={"level": level})


PROBES: list[list[float | bool]] = [[3600.0, False, 1.0], [3700.0, True, 3.0], [3650.0, True, 5.0]]


def row(measurements: list[Measurement]) -> RequirementRow:
    return RequirementRow("CV-OVP", SPEC, "pass", [], measurements, [], [], [])


def test_a_figure_whose_inputs_a_later_test_left_alone_is_kept() -> None:
    early = [trip_point(PROBES), held(3630.0, False, 50.0), held(3670.0, True, 53.0)]
    ahead = requirement_plots(row(early))
    release = Measurement("CV-OVP", "release recovery", True, "", Verdict.PASS, 90.0)  # no probes, no level
    final = requirement_plots(row([*early, release]))
    assert len(ahead) == 2
    assert all(a is f for a, f in zip(ahead, final, strict=True))  # not drawn again
    plots._DRAWN.clear()
    fresh = requirement_plots(row([*early, release]))
    assert fresh == final  # and the same figures a process that drew nothing ahead draws


def test_a_figure_whose_inputs_changed_is_drawn_again() -> None:
    ahead = requirement_plots(row([trip_point(PROBES), held(3630.0, False, 50.0)]))
    moved = [*PROBES[:2], [3640.0, False, 5.0]]
    final = requirement_plots(row([trip_point(moved), held(3630.0, False, 50.0), held(3670.0, True, 53.0)]))
    assert ahead[0] != final[0]  # another probe series: another stimulus/response figure
    assert ahead[1] != final[1]  # another held level: another go/no-go figure
    plots._DRAWN.clear()
    assert final == requirement_plots(
        row([trip_point(moved), held(3630.0, False, 50.0), held(3670.0, True, 53.0)])
    )
