"""Measurement accuracy against the bench's reference instruments (seed §3.1–§3.3): ACC-*.

Checked at room temperature only; the seed's -20..70 °C range needs a climatic chamber (noted
in the spec data). Each point's acceptance is the DUT's accuracy plus the reference's own
uncertainty from the station file (a guard band against falsely failing a good unit).
"""

from __future__ import annotations

import pytest

from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.harness import NOMINAL_CELL_V, Bms12100Bench, ntc_sensitivity
from hil.duts.bms12100.ntc import resistance_ohm
from hil.measure import within

CELL_POINTS_V = (2.95, 3.30, 3.55)
PACK_POINTS_V = (11.9, 13.2, 14.2)
TEMPERATURE_POINTS_C = (-15.0, 25.0, 65.0)
CURRENT_POINTS_A = (-50.0, -5.0, 5.0, 50.0)
#: the points the EOL profile leaves out: the ends of each range show this unit's gain and offset
#: (a cell at 3.30 V is already read at the other points, the cells between them stay nominal)
NOT_EOL = {3.30, 13.2, 25.0, -5.0}


def _points(values: tuple[float, ...]) -> list[object]:
    """The parameter values, those in NOT_EOL marked for audit and full profiles only."""
    return [pytest.param(v, marks=pytest.mark.not_eol) if v in NOT_EOL else v for v in values]


def _station_accuracy(bench: Bms12100Bench, instrument: str, quantity: str, value: float) -> float:
    acc = bench.station.model.instruments[instrument].accuracy.get(quantity)
    return acc.gain * abs(value) + acc.offset if acc else 0.0


@pytest.mark.requirement("ACC-CV")
@pytest.mark.parametrize("volts", _points(CELL_POINTS_V))
def test_cell_voltage_accuracy(bench: Bms12100Bench, volts: float, check) -> None:
    levels = [volts, NOMINAL_CELL_V, volts, NOMINAL_CELL_V]
    bench.set_cells(levels)
    bench.clock.sleep(bench.settle_s + 1.0)
    status = bench.dut.status()
    dmm = bench.station.dmm
    for i in range(CELL_COUNT):
        reference = dmm.measure_dc_voltage(f"CELL{i + 1}")
        u_ref = _station_accuracy(bench, dmm.name, "voltage", reference)
        check(
            within(
                "ACC-CV",
                f"cell {i + 1} at {levels[i]:.2f} V",
                status.cell_mv[i] / 1000.0,
                "V",
                status.time,
                low=reference - 0.020 - u_ref,
                high=reference + 0.020 + u_ref,
                expected=round(reference, 4),
                uncertainty=u_ref,
                method="BMS reading (RS-485 0x42) vs DAQ970A on the cell tap",
            )
        )


@pytest.mark.requirement("ACC-PV")
@pytest.mark.parametrize("volts", _points(PACK_POINTS_V))
def test_pack_voltage_accuracy(bench: Bms12100Bench, volts: float, check) -> None:
    bench.set_cells([volts / CELL_COUNT] * CELL_COUNT)
    bench.clock.sleep(bench.settle_s + 1.0)
    status = bench.dut.status()
    dmm = bench.station.dmm
    reference = dmm.measure_dc_voltage("PACK")
    u_ref = _station_accuracy(bench, dmm.name, "voltage", reference)
    tol = 0.005 * reference
    check(
        within(
            "ACC-PV",
            f"pack at {volts:.1f} V",
            status.pack_v,
            "V",
            status.time,
            low=reference - tol - u_ref,
            high=reference + tol + u_ref,
            expected=round(reference, 4),
            uncertainty=u_ref,
            method="BMS reading (RS-485 0x42) vs DAQ970A on B+/B-",
        )
    )


@pytest.mark.requirement("ACC-T")
@pytest.mark.parametrize("celsius", _points(TEMPERATURE_POINTS_C))
def test_temperature_accuracy(bench: Bms12100Bench, celsius: float, check) -> None:
    ntc = bench.station.ntc
    for terminal in ntc.info.channels:
        ntc.set_temperature(terminal, celsius, resistance_ohm)
    bench.clock.sleep(bench.settle_s + 3.0)
    status = bench.dut.status()
    acc = bench.station.model.instruments[ntc.name].accuracy.get("resistance")
    # the emulator's resistance error as a temperature error (NTC: about 4 %/°C near 25 °C)
    u_ref = (acc.gain + acc.offset / resistance_ohm(celsius)) / ntc_sensitivity(celsius) if acc else 0.0
    for name, reading in zip(("cell1", "cell2", "ambient", "power"), status.temperatures_c, strict=True):
        check(
            within(
                "ACC-T",
                f"{name} NTC at {celsius:g} °C",
                reading,
                "°C",
                status.time,
                low=celsius - 2.0 - u_ref,
                high=celsius + 2.0 + u_ref,
                expected=celsius,
                uncertainty=u_ref,
                method="BMS reading vs the emulated NTC temperature (our assumed 10 kΩ B3435 NTC)",
            )
        )


@pytest.mark.requirement("ACC-I")
@pytest.mark.parametrize("amps", _points(CURRENT_POINTS_A))
def test_current_accuracy(bench: Bms12100Bench, amps: float, check) -> None:
    bench.apply_current(amps)
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    source = bench.station.charger if amps > 0 else bench.station.load
    reference = source.measure_current() * (1 if amps > 0 else -1)
    bench.idle()
    u_ref = _station_accuracy(bench, source.name, "current", reference)
    tol = (0.02 if abs(reference) < 10 else 0.01) * abs(reference)
    check(
        within(
            "ACC-I",
            f"current at {amps:+g} A",
            status.current_a,
            "A",
            status.time,
            low=reference - tol - u_ref,
            high=reference + tol + u_ref,
            expected=round(reference, 3),
            uncertainty=u_ref,
            method="BMS reading vs the charger/load readback",
        )
    )
