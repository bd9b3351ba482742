"""Working modes and the effective currents that switch them (seed §6.2): MODE-*, I-EFF-*."""

from __future__ import annotations

import pytest

from hil.duts.bms12100.bench import PROBE_CURRENT_A, Bms12100Bench
from hil.measure import equals
from hil.procedures.placement import place
from hil.procedures.threshold import ThresholdSetup, go_no_go
from hil.spec import Requirement

MODE_OF = {"I-EFF-C": "charge", "I-EFF-D": "discharge"}


def _mode_setup(bench: Bms12100Bench, req: Requirement, mode: str) -> ThresholdSetup:
    assert req.direction is not None
    return ThresholdSetup(
        clock=bench.clock,
        apply=lambda level: bench.apply(req, level),
        tripped=lambda: bench.dut.mode() == mode,
        rearm=bench.idle,
        settle_s=bench.settle(req),
        direction=req.direction,
    )


@pytest.mark.parametrize("rid", [pytest.param(r, marks=pytest.mark.requirement(r)) for r in MODE_OF])
def test_effective_current(bench: Bms12100Bench, spec_data, rid: str, check) -> None:
    """Enters its mode beyond the enter current, leaves it inside the exit current (hysteresis)."""
    req = spec_data.get(rid)
    assert req.trip is not None and req.release is not None and req.tolerance is not None
    enter = place(check.rule, req.tolerance, bench.setting_budget(req, req.trip))
    setup = _mode_setup(bench, req, MODE_OF[rid])
    result = go_no_go(setup, req.trip, enter.distance)
    check(
        equals(
            rid,
            "no mode change inside the enter current",
            result.inside.tripped,
            False,
            result.inside.time,
            method=enter.describe(req.unit or ""),
            data=enter.data(result.inside.level),
        )
    )
    check(
        equals(
            rid,
            "mode entered beyond the enter current",
            result.beyond.tripped,
            True,
            result.beyond.time,
            method=enter.describe(req.unit or ""),
            data=enter.data(result.beyond.level),
        )
    )
    # Leaving: from inside the mode, step back past the exit current.
    leave_at = place(check.rule, req.tolerance, bench.setting_budget(req, req.release))
    exit_margin = leave_at.distance
    stay = req.release + exit_margin if req.direction == "above" else req.release - exit_margin
    leave = req.release - exit_margin if req.direction == "above" else req.release + exit_margin
    setup.probe(stay)
    check(
        equals(
            rid,
            "stays in the mode above the exit current",
            setup.tripped(),
            True,
            bench.clock.now(),
            method=leave_at.describe(req.unit or ""),
            data=leave_at.data(stay),
        )
    )
    setup.probe(leave)
    check(
        equals(
            rid,
            "leaves the mode below the exit current",
            setup.tripped(),
            False,
            bench.clock.now(),
            method=leave_at.describe(req.unit or ""),
            data=leave_at.data(leave),
        )
    )


@pytest.mark.requirement("MODE-CHG", "MODE-DSG", "MODE-STBY")
def test_modes(bench: Bms12100Bench, check) -> None:
    """Charging current → charge mode, discharge current → discharge mode, neither → standby."""
    bench.idle()
    bench.clock.sleep(bench.settle_s + 1.0)
    status = bench.dut.status()
    check(equals("MODE-STBY", "standby with no current", status.mode, "standby", status.time))
    check(
        equals(
            "MODE-STBY",
            "both MOSFETs on in standby (charge and discharge possible)",
            status.charge_fet and status.discharge_fet,
            True,
            status.time,
        )
    )
    bench.charge(PROBE_CURRENT_A)
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    check(
        equals(
            "MODE-CHG",
            "charge mode while charging at 2 A",
            status.mode,
            "charge",
            status.time,
            data={"charger_v": bench.station.charger.measure_voltage(), "current_a": status.current_a},
        )
    )
    bench.discharge(PROBE_CURRENT_A)
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    check(
        equals("MODE-DSG", "discharge mode while discharging at 2 A", status.mode, "discharge", status.time)
    )
    bench.idle()
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    check(equals("MODE-STBY", "back to standby when the current stops", status.mode, "standby", status.time))
