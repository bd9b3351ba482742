"""Working modes and the effective currents that switch them (seed §6.2): MODE-*, I-EFF-*."""

from __future__ import annotations

import pytest

from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import NOMINAL_CELL_V, PROBE_CURRENT_A, Bms12100Bench
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
    none = {"stimulus": {"current [A]": 0.0}}  # the report's timeline: charge +, discharge -
    check(equals("MODE-STBY", "standby with no current", status.mode, "standby", status.time, data=none))
    check(
        equals(
            "MODE-STBY",
            "both MOSFETs on in standby (charge and discharge possible)",
            status.charge_fet and status.discharge_fet,
            True,
            status.time,
            data=none,
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
            data={
                "charger_v": bench.station.charger.measure_voltage(),
                "current_a": status.current_a,
                "stimulus": {"current [A]": PROBE_CURRENT_A},
            },
        )
    )
    bench.discharge(PROBE_CURRENT_A)
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    check(
        equals(
            "MODE-DSG",
            "discharge mode while discharging at 2 A",
            status.mode,
            "discharge",
            status.time,
            data={"stimulus": {"current [A]": -PROBE_CURRENT_A}},
        )
    )
    bench.idle()
    bench.clock.sleep(2.0)
    status = bench.dut.status()
    check(
        equals(
            "MODE-STBY",
            "back to standby when the current stops",
            status.mode,
            "standby",
            status.time,
            data=none,
        )
    )


#: cells this far below the charger's CV setpoint: the charger pushes current and P stays at or below it
CV_GAP_V = 0.02
#: the charger's current limit while probing the charge-mode voltage (well above I-EFF-C)
MODE_PROBE_LIMIT_A = 2.0


@pytest.mark.requirement("MODE-CHG")
def test_charge_mode_charger_voltage(bench: Bms12100Bench, spec_data, check) -> None:
    """Charge mode needs the charger voltage above 11.5 V: with charge current flowing, no charge
    mode with P held at the lower limit, charge mode with the pack itself above the upper limit."""
    req = spec_data.get("MODE-CHG")
    assert isinstance(req.value, float | int) and req.tolerance is not None
    placement = place(check.rule, req.tolerance, bench.setting_budget(req, req.value))
    inside, beyond = req.value - placement.distance, req.value + placement.distance
    effective = spec_data.get("I-EFF-C")
    assert effective.trip is not None
    try:
        # inside: the charger in CV at the lower probe level caps P there; the cells sit just below
        bench.set_cells([(inside - CV_GAP_V) / CELL_COUNT] * CELL_COUNT)
        bench.hold_charger(inside, MODE_PROBE_LIMIT_A)
        bench.clock.sleep(bench.settle_s + 1.0)
        status = bench.dut.status()
        flowing = status.current_a * 1000.0 >= effective.trip
        check(
            equals(
                "MODE-CHG",
                "charge current flows with the charger at the lower probe level",
                flowing,
                True,
                status.time,
                data={"current_a": status.current_a, "i_eff_c_ma": effective.trip},
            )
        )
        check(
            equals(
                "MODE-CHG",
                "no charge mode with the charger voltage inside the limit",
                status.mode == "charge",
                False,
                status.time,
                method=f"charger in CV at {inside:.4g} V, cells {inside - CV_GAP_V:.4g} V in all; "
                + placement.describe(req.unit or "V"),
                data={**placement.data(inside), "mode": status.mode, "current_a": status.current_a},
            )
        )
        # beyond: the pack itself above the upper probe level, so P (≥ the pack while charging) is too
        bench.set_cells([beyond / CELL_COUNT] * CELL_COUNT)
        bench.hold_charger(beyond + CV_GAP_V, MODE_PROBE_LIMIT_A)
        bench.clock.sleep(bench.settle_s + 1.0)
        status = bench.dut.status()
        check(
            equals(
                "MODE-CHG",
                "charge mode with the charger voltage beyond the limit",
                status.mode,
                "charge",
                status.time,
                method=f"cells {beyond:.4g} V in all, charger in CV at {beyond + CV_GAP_V:.4g} V; "
                + placement.describe(req.unit or "V"),
                data={**placement.data(beyond), "current_a": status.current_a},
            )
        )
    finally:
        bench.idle()
        bench.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
