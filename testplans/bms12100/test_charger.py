"""CHG-HV on the power path: charging stops while the charger is above 18 V, resumes below."""

from __future__ import annotations

import pytest

from hil.duts.bms12100.bench import NOMINAL_CELL_V, Bms12100Bench
from hil.measure import equals, info, within
from hil.uncertainty import station_uncertainty


@pytest.mark.requirement("CHG-HV")
def test_charger_overvoltage_stops_charging(bench: Bms12100Bench, spec_data, check) -> None:
    """CHG-HV alone keeps the charge path open: released cell OVP, charger above 18 V, no current."""
    req = spec_data.get("CHG-HV")
    bench.precondition(req)
    bench.hold_charger(18.5)
    check(equals("CHG-HV", "active with the charger at 18.5 V", bench.wait_state("CHG-HV", True, 5.0), True,
                 bench.clock.now()))  # fmt: skip
    bench.set_cells([NOMINAL_CELL_V] * 4)  # release the cell over-voltage that opened the path
    bench.wait_state("CV-OVP", False, 5.0)
    check(equals("CHG-HV", "no charge current while above 18 V", bench.path_blocked("charge"), True,
                 bench.clock.now(), data={"charger_current_a": bench.charger_current()}))  # fmt: skip
    bench.hold_charger(17.5)
    bench.wait_state("CHG-HV", False, 5.0)
    current = bench.charger_current()
    u = station_uncertainty(bench.station, bench.station.charger.name, "current", current or 0.0, unit="A")
    check(
        within(
            "CHG-HV", "charging resumes below 18 V", current, "A", bench.clock.now(), low=1.0, uncertainty=u
        )
    )
    check(info("CHG-HV", "charge current after release", current, "A", bench.clock.now()))
