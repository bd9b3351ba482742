"""The D1000 bench's several-cells stimulus on the simulated station: one message per emulator,
the cells' voltages in the instruments and in the BMU's own extremes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from d1000_rig import d1000_rig

from hil.duts.prohelion_d1000_gen2.bench import NOMINAL_CELL_V, D1000Bench
from hil.duts.prohelion_d1000_gen2.terminals import CellId
from hil.errors import LimitError


@pytest.fixture(scope="module")
def bench() -> Iterator[D1000Bench]:
    with d1000_rig() as rig:
        b = D1000Bench(rig.station, rig.client)
        b.power_up()
        yield b


def _lab_volts(bench: D1000Bench, cell: CellId) -> float:
    """The voltage the simulated emulator holds on the cell's channel (the lab's own state)."""
    emulator = bench.cells[cell.terminal]
    assert bench.station.sim is not None
    outputs = bench.station.sim.control.request("outputs")["outputs"]
    return float(outputs[emulator.name][emulator.info.channels[cell.terminal]]["voltage"])


def test_cells_on_two_emulators_reach_the_bmu(bench: D1000Bench) -> None:
    high, low, same = CellId(0, 3), CellId(0, 9), CellId(0, 4)
    assert bench.cells[high.terminal] is bench.cells[same.terminal]
    assert bench.cells[high.terminal] is not bench.cells[low.terminal]
    bench.set_cell_voltages({high: 3.95, low: 3.45, same: NOMINAL_CELL_V})
    assert (_lab_volts(bench, high), _lab_volts(bench, low), _lab_volts(bench, same)) == (3.95, 3.45, 3.7)
    t0 = bench.clock.now()
    assert bench.wait_fresh(["NodeCellInfo"], t0 + 1e-3)
    extremes = bench.dut.latest("NodeCellInfo")
    assert extremes is not None
    s = extremes.signals
    assert (s["MaxCellVoltageNodeID"], s["MaxCellVoltageCellID"]) == (0, 3)
    assert (s["MinCellVoltageNodeID"], s["MinCellVoltageCellID"]) == (0, 9)
    assert s["MaxCellVoltage"] == pytest.approx(3.95, abs=0.005)
    assert s["MinCellVoltage"] == pytest.approx(3.45, abs=0.005)
    bench.set_cells(NOMINAL_CELL_V)
    assert (_lab_volts(bench, high), _lab_volts(bench, low)) == (NOMINAL_CELL_V, NOMINAL_CELL_V)


def test_a_refused_group_changes_nothing(bench: D1000Bench) -> None:
    cell, other = CellId(0, 1), CellId(0, 2)
    with pytest.raises(LimitError):
        bench.set_cell_voltages({cell: 3.6, other: 99.0})
    assert (_lab_volts(bench, cell), _lab_volts(bench, other)) == (NOMINAL_CELL_V, NOMINAL_CELL_V)
    bench.set_cell_voltages({cell: 3.6})  # the bench did not take the refused values as set
    assert _lab_volts(bench, cell) == 3.6
    bench.set_cell(cell, NOMINAL_CELL_V)
