"""The supply current at 12 V (MM-SUP-I): at most 100 mA on the Main 2.1 (vendor spec page, S4); the
Main 2R's documentation gives no figure, so on a 2R the current is characterised (reported with its U,
no limit) and the row says CHARACTERISED, not PASS.

OUR READING (spec notes): measured with every relay open and the outputs unloaded. The discharge relay
is closed at nominal conditions, so the test forces "inhibit discharging" by software control (Modbus
0x5104, provisional address) for the reading and hands the signal back to the input afterwards."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import SOFTWARE_CONTROL_PHYSICAL, MovicomBench
from hil.duts.movicom_main_2.config import InputFunction
from hil.measure import info, within

#: MM-SUP-I: the supply voltage of the figure (V)
SUPPLY_V = 12.0


@pytest.mark.requirement("MM-SUP-I")
def test_supply_current_at_12_v(bench: MovicomBench, check) -> None:
    bench.set_supply(SUPPLY_V)
    bench.software_control(InputFunction.INHIBIT_DISCHARGING, 1)
    try:
        bench.clock.sleep(bench.settle_s)
        closed = bench.relays_closed()
        ma = bench.supply_current_ma()
    finally:
        bench.software_control(InputFunction.INHIBIT_DISCHARGING, SOFTWARE_CONTROL_PHYSICAL)
    u = bench.dmm_budget("current", ma / 1000.0, scale=1000.0, unit="mA")
    relays = ", ".join(str(n) for n in sorted(closed)) or "none"
    method = (
        f"DMM current channel in series with the supply at {SUPPLY_V:g} V; relays closed: {relays} "
        "(inhibit discharging forced by software control, Modbus 0x5104); outputs unloaded"
    )
    limit = bench.hw.supply.max_current_ma
    if limit is None:
        check(
            info(
                "MM-SUP-I",
                f"supply current at {SUPPLY_V:g} V",
                ma,
                "mA",
                bench.clock.now(),
                uncertainty=u,
                method=method,
                notes=f"{bench.hw.title}: no supply current is given (spec MM-SUP-I): characterised, "
                "not judged",
            )
        )
        return
    check(
        within(
            "MM-SUP-I",
            f"supply current at {SUPPLY_V:g} V",
            ma,
            "mA",
            bench.clock.now(),
            low=0.0,
            high=limit,
            uncertainty=u,
            method=method,
            data={"covers": [bench.hw.title.removeprefix("Movicom BMS ")]},
        )
    )
