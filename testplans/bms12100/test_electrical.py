"""Electrical characteristics (seed §5): EL-VOP, EL-ICONT, EL-RDS."""

from __future__ import annotations

import pytest

from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import Bms12100Bench
from hil.measure import equals, within
from hil.uncertainty import reading, scaled, station_uncertainty

CONTINUOUS_S = 60.0
RDS_CURRENT_A = 100.0
#: protections that continuous rated current must not trip
CURRENT_PROTECTIONS = ("IC-OCP", "ID-OCP", "ID-TOCP", "SCP")


@pytest.mark.requirement("EL-VOP")
@pytest.mark.parametrize("pack_v", [8.4, 12.8, 14.8])
def test_operating_voltage(bench: Bms12100Bench, pack_v: float, check) -> None:
    """The BMS runs and measures across 8-15 V (protections may act at the ends; it must still answer)."""
    bench.set_cells([pack_v / CELL_COUNT] * CELL_COUNT)
    bench.clock.sleep(bench.settle_s)  # read before the 1 s voltage protections act at the ends
    status = bench.dut.status()
    check(
        within(
            "EL-VOP",
            f"pack voltage reported at {pack_v:g} V",
            status.pack_v,
            "V",
            status.time,
            low=pack_v * 0.995,
            high=pack_v * 1.005,
            uncertainty=station_uncertainty(  # four cells set in series: their errors add (correlated)
                bench.station,
                bench.station.cells.name,
                "voltage",
                pack_v / CELL_COUNT,
                scale=CELL_COUNT,
                unit="V",
            ).plus(reading("pack voltage over RS-485 0x42", 0.001, "V")),
            method="BMS reading against the cell emulator's setting; limits: ACC-PV's ±0.5 %",
        )
    )


@pytest.mark.type_test
@pytest.mark.requirement("EL-ICONT")
@pytest.mark.parametrize("amps", [-100.0, 98.0])
def test_continuous_current(bench: Bms12100Bench, amps: float, check) -> None:
    """Rated current for a minute without a current protection.

    The seed rates 100 A continuous charge but sets IC-OCP at 100 A: charge is held just below
    that threshold (by its tolerance), and the conflict is noted in the spec data.
    """
    bench.apply_current(amps)
    bench.clock.sleep(CONTINUOUS_S)
    status = bench.dut.status()
    tripped = sorted(set(CURRENT_PROTECTIONS) & status.active)
    bench.idle()
    check(
        equals(
            "EL-ICONT",
            f"{amps:+g} A for {CONTINUOUS_S:g} s without a current protection",
            not tripped,
            True,
            status.time,
            data={"active": tripped, "current_a": status.current_a, "stimulus": {"current [A]": amps}},
        )
    )


@pytest.mark.requirement("EL-RDS")
def test_discharge_path_resistance(bench: Bms12100Bench, check) -> None:
    """Voltage drop from B+/B- to P+/P- at 100 A discharge (4-wire on the DAQ) over the current."""
    dmm = bench.station.dmm
    bench.apply_current(-RDS_CURRENT_A)
    bench.clock.sleep(bench.settle_s)
    pack, out = dmm.measure_dc_voltage("PACK"), dmm.measure_dc_voltage("P")
    drop = pack - out
    current = bench.load_current()
    bench.idle()
    r_mohm = drop / current * 1000.0 if current > 1.0 else None
    u = None
    if r_mohm is not None:  # R = (V_PACK - V_P)/I: c_V = 1000/I mΩ per volt, c_I = R/I mΩ per ampere
        u = scaled(
            station_uncertainty(bench.station, dmm.name, "voltage", pack),
            1000.0 / current,
            "PACK, V to mΩ",
            "mΩ",
        ).plus(
            scaled(
                station_uncertainty(bench.station, dmm.name, "voltage", out), 1000.0 / current, "P, V to mΩ"
            ),
            scaled(
                station_uncertainty(bench.station, bench.station.load.name, "current", current),
                r_mohm / current,
                "load current, A to mΩ",
            ),
        )
    check(
        within(
            "EL-RDS",
            "discharge path resistance",
            r_mohm,
            "mΩ",
            bench.clock.now(),
            low=0.0,
            high=2.0,
            uncertainty=u,
            data={"drop_v": drop, "current_a": current},
        )
    )
