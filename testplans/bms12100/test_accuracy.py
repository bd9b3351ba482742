"""Measurement accuracy against the bench's reference instruments (seed §3.1–§3.3): ACC-*.

Checked at room temperature only; the seed's -20..70 °C range needs a climatic chamber (noted
in the spec data). Each point's limits are the spec's (reference ± the DUT's stated accuracy);
the reference instrument's accuracy and resolution and the DUT's reading resolution go into the
result's U, and the run's decision rule decides what U does to the verdict.
"""

from __future__ import annotations

import pytest

from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import NOMINAL_CELL_V, Bms12100Bench
from hil.duts.bms12100.ntc import resistance_ohm
from hil.measure import capable, within
from hil.uncertainty import Budget, budget, rectangular, resolution, station_uncertainty

#: the ambient the BMS sat in (the spec rows' -20 and 70 °C need a climatic chamber: PARTIAL)
ROOM = "BMS at room temperature"
#: the DUT's reading resolution of each quantity (RS-485 0x42: 1 mV cells, 1 mV pack, 10 mA, 0.1 °C)
READING_STEP = {"cell_voltage": 0.001, "pack_voltage": 0.001, "current": 0.01, "temperature": 0.1}


#: Every reading is taken the station's settle time (`settle_s`) after its stimulus: the seed gives the
#: BMS no measurement filter, so the settle time of the bench's instruments is the wait. Reading
#: before the temperature and voltage protections' trip delays (1-2 s) also keeps the range ends from
#: tripping them (which cost a power cycle each before the next test).


def _reading(quantity: str, unit: str) -> Budget:
    step = READING_STEP[quantity]
    return budget(resolution(f"DUT reading resolution {step:g} {unit}", step), unit=unit)


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


@pytest.mark.requirement("ACC-CV")
@pytest.mark.parametrize("volts", _points(CELL_POINTS_V))
def test_cell_voltage_accuracy(bench: Bms12100Bench, volts: float, check) -> None:
    levels = [volts, NOMINAL_CELL_V, volts, NOMINAL_CELL_V]
    bench.set_cells(levels)
    bench.clock.sleep(bench.settle_s)
    status = bench.dut.status()
    dmm = bench.station.dmm
    for i in range(CELL_COUNT):
        reference = dmm.measure_dc_voltage(f"CELL{i + 1}")
        u = station_uncertainty(bench.station, dmm.name, "voltage", reference, unit="V").plus(
            _reading("cell_voltage", "V")
        )
        check(
            within(
                "ACC-CV",
                f"cell {i + 1} at {levels[i]:.2f} V",
                status.cell_mv[i] / 1000.0,
                "V",
                status.time,
                low=reference - 0.020,
                high=reference + 0.020,
                expected=round(reference, 4),
                uncertainty=u,
                method="BMS reading (RS-485 0x42) vs DAQ970A on the cell tap",
                data={"covers": [ROOM]},
            )
        )


@pytest.mark.requirement("ACC-PV")
@pytest.mark.parametrize("volts", _points(PACK_POINTS_V))
def test_pack_voltage_accuracy(bench: Bms12100Bench, volts: float, check) -> None:
    bench.set_cells([volts / CELL_COUNT] * CELL_COUNT)
    bench.clock.sleep(bench.settle_s)
    status = bench.dut.status()
    dmm = bench.station.dmm
    reference = dmm.measure_dc_voltage("PACK")
    u = station_uncertainty(bench.station, dmm.name, "voltage", reference, unit="V").plus(
        _reading("pack_voltage", "V")
    )
    tol = 0.005 * reference
    check(
        within(
            "ACC-PV",
            f"pack at {volts:.1f} V",
            status.pack_v,
            "V",
            status.time,
            low=reference - tol,
            high=reference + tol,
            expected=round(reference, 4),
            uncertainty=u,
            method="BMS reading (RS-485 0x42) vs DAQ970A on B+/B-",
            data={"covers": [ROOM]},
        )
    )


@pytest.mark.requirement("ACC-T")
@pytest.mark.parametrize("celsius", _points(TEMPERATURE_POINTS_C))
def test_temperature_accuracy(bench: Bms12100Bench, celsius: float, check) -> None:
    ntc = bench.station.ntc
    for terminal in ntc.info.channels:
        ntc.set_temperature(terminal, celsius, resistance_ohm)
    bench.clock.sleep(bench.settle_s)
    status = bench.dut.status()
    acc = bench.station.model.instruments[ntc.name].accuracy["resistance"]
    # the emulator's resistance error and step as a temperature error (NTC: about 4 %/°C near 25 °C)
    ohm = resistance_ohm(celsius)
    per_ohm = 1.0 / (bench.ntc_sensitivity(celsius) * ohm)
    u = budget(
        rectangular(
            f"{ntc.name} ({ntc.info.model}) resistance accuracy ±({acc.gain:g}·R + {acc.offset:g} Ω) "
            f"at {ohm:.6g} Ω, as °C",
            (acc.gain + acc.offset / ohm) / bench.ntc_sensitivity(celsius),
        ),
        resolution(f"{ntc.name} resistance resolution {acc.resolution:g} Ω, as °C", acc.resolution * per_ohm),
        unit="°C",
    ).plus(_reading("temperature", "°C"))
    for name, reading in zip(("cell1", "cell2", "ambient", "power"), status.temperatures_c, strict=True):
        check(
            within(
                "ACC-T",
                f"{name} NTC at {celsius:g} °C",
                reading,
                "°C",
                status.time,
                low=celsius - 2.0,
                high=celsius + 2.0,
                expected=celsius,
                uncertainty=u,
                method="BMS reading vs the emulated NTC temperature (our assumed 10 kΩ B3435 NTC)",
                data={"covers": [ROOM]},
            )
        )


@pytest.mark.requirement("ACC-I")
@pytest.mark.parametrize("amps", _points(CURRENT_POINTS_A))
def test_current_accuracy(bench: Bms12100Bench, amps: float, check) -> None:
    bench.apply_current(amps)
    bench.clock.sleep(bench.settle_s)
    status = bench.dut.status()
    source = bench.station.charger if amps > 0 else bench.station.load
    reference = source.measure_current() * (1 if amps > 0 else -1)
    bench.idle()
    u = station_uncertainty(bench.station, source.name, "current", reference, unit="A").plus(
        _reading("current", "A")
    )
    tol = (0.02 if abs(reference) < 10 else 0.01) * abs(reference)
    check(
        capable(
            within(
                "ACC-I",
                f"current at {amps:+g} A",
                status.current_a,
                "A",
                status.time,
                low=reference - tol,
                high=reference + tol,
                expected=round(reference, 3),
                uncertainty=u,
                method="BMS reading vs the charger/load readback",
                data={"covers": [ROOM, "below 10 A (±2 %)" if abs(reference) < 10 else "above 10 A (±1 %)"]},
            )
        )
    )
