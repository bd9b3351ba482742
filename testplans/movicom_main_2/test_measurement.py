"""Modbus values agree with the stimulus: cell voltages (RTU and, on the 2.1, TCP) and the current
with its sign (MM-MODBUS, MM-CS)."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import LOGIC_CELL_ACCURACY_V, MovicomBench
from hil.measure import capable, within
from hil.spec import SpecFile
from testplans.movicom_main_2.coverage import items

#: the cell the plan moves, and how far from nominal
STIMULUS_CELL_V = 3.45


#: MM-MODBUS's coverage item of each transport
TRANSPORT_ITEMS = {"rtu": "RTU", "tcp": "TCP (Main 2.1)"}


def _transports(bench: MovicomBench) -> list[str]:
    return ["rtu", "tcp"] if bench.hw.modbus_tcp else ["rtu"]


@pytest.mark.requirement("MM-MODBUS")
def test_cell_voltages_over_modbus_agree_with_the_cell_emulator(bench: MovicomBench, check) -> None:
    bench.set_cell(1, 1, STIMULUS_CELL_V)
    bench.clock.sleep(bench.settle_s)
    _, setting = bench.cell_error(STIMULUS_CELL_V)
    tolerance = LOGIC_CELL_ACCURACY_V + setting
    for transport in _transports(bench):
        values = bench.dut.read(["max_cell_voltage", "min_cell_voltage"], transport)  # type: ignore[arg-type]
        for name, expected in (
            ("max_cell_voltage", STIMULUS_CELL_V),
            ("min_cell_voltage", bench.NOMINAL_CELL_V),
        ):
            value = values[name]
            assert isinstance(value, float)
            check(
                within(
                    "MM-MODBUS",
                    f"{name} over Modbus {transport.upper()}",
                    value,
                    "V",
                    bench.clock.now(),
                    low=expected - tolerance,
                    high=expected + tolerance,
                    method=f"cell L1C01 at {STIMULUS_CELL_V} V, the others at {bench.NOMINAL_CELL_V} V; "
                    "limit: the Logic's cell error (OUR READING) + the emulator's limit of error",
                    data={"covers": [TRANSPORT_ITEMS[transport]]},
                )
            )


@pytest.mark.requirement("MM-CS")
@pytest.mark.parametrize("amps", [20.0, -20.0], ids=["charging", "discharging"])
def test_current_agrees_with_the_hall_sensor_signal_with_its_sign(
    bench: MovicomBench, spec_data: SpecFile, amps: float, check
) -> None:
    bench.set_current_trimmed(amps)
    bench.clock.sleep(bench.settle_s)
    value = bench.dut.value("battery_current")
    assert isinstance(value, float)
    covers = [
        *items(spec_data, "MM-CS", bench, bench.hw.current_sensors[0].header),
        "charging" if amps > 0 else "discharging",
    ]
    name = "battery current (positive = charging)"
    check(capable(bench.current_reading_result("MM-CS", name, value, amps, covers)))
