"""`benchmarks/measure_cost.py`'s method: the order its processes run in and the figures it draws
from their times (issue 18 §1 is judged by them)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "measure_cost.py"


@pytest.fixture(scope="module")
def mc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("measure_cost", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure_cost"] = module
    spec.loader.exec_module(module)
    return module


def test_each_round_runs_every_side_at_both_counts_in_a_changing_order(mc: ModuleType) -> None:
    sides = ["hil", "base", "openhtf"]
    orders = [mc.round_order(r, sides, 1000) for r in range(6)]
    for order in orders:
        assert sorted(order) == sorted((s, n) for s in sides for n in (0, 1000))
        # each side's two runs back to back (its slope is taken from neighbours in time)
        assert [order[i][0] for i in range(0, 6, 2)] == [order[i][0] for i in range(1, 6, 2)]
    assert [o[0][0] for o in orders] == ["hil", "base", "openhtf", "hil", "base", "openhtf"]
    assert [o[0][1] for o in orders] == [0, 1000, 0, 1000, 0, 1000]
    assert mc.round_order(0, ["hil"], 5) == [("hil", 0), ("hil", 5)]


def test_slopes_and_report_from_the_times(mc: ModuleType) -> None:
    # (wall, CPU) seconds; N = 1000: 1 ms more per side's N run is 1 µs per measurement
    samples = {
        "hil": {0: [(2.0, 1.0), (2.0, 1.2), (2.0, 1.1)], 1000: [(2.02, 1.02), (2.03, 1.25), (2.01, 1.13)]},
        "openhtf": {
            0: [(1.0, 0.5), (1.0, 0.5), (1.0, 0.6)],
            1000: [(1.06, 0.56), (1.06, 0.57), (1.06, 0.64)],
        },
    }
    assert mc.slopes(samples, "hil", 1000, 1) == pytest.approx([20e-6, 50e-6, 30e-6])
    assert mc.slopes(samples, "hil", 1000, 0) == pytest.approx([20e-6, 30e-6, 10e-6])
    assert mc.quartiles([3.0, 1.0, 2.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)
    assert mc.quartiles([7.0]) == (7.0, 7.0, 7.0)
    lines = mc.report(samples, 1000)
    assert lines[0].split()[:5] == ["hil", "20.0", "µs", "wall", "30.0"]
    assert lines[0].endswith("CPU quartiles 25.0-40.0, range 20.0-50.0")
    assert lines[1].endswith("CPU quartiles 50.0-65.0, range 40.0-70.0")
    # by the medians 30 / 60 µs CPU; per round 20/60, 50/70, 30/40
    ratio = lines[2]
    assert ratio.startswith("  hil/openhtf  0.33x wall   0.50x CPU")
    assert ratio.endswith("median 0.71x, range 0.33-0.75x, 1 of 3 rounds <= 0.5x")
