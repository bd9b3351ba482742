"""Contactor auxiliary feedback (every contactor) and the HVIL loop (every fault kind).

Faults are inserted with the bench's relays: `C<k>_WELDED` makes contactor k's auxiliary contact
read closed whatever its coil (a welded contactor), `C<k>_AUX_OPEN` read open (stuck open or a
broken feedback wire); `HVIL_OPEN`, `HVIL_SCG`, `HVIL_SCB` open the HVIL loop or short its return.
"""

from __future__ import annotations

import pytest

from hil.duts.prohelion_d1000_gen2.bench import D1000Bench, same
from hil.duts.prohelion_d1000_gen2.config import ChargingMethod
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsCommand, BmsState, InfoBit, contactor_fault_bit
from hil.duts.prohelion_d1000_gen2.terminals import AUX_OPEN, CONTACTOR_IDS, WELDED
from hil.measure import info, within
from hil.uncertainty import budget, resolution

#: how long an auxiliary contact may disagree is not documented; the station's expectation bounds it
FRAME_S = 0.1
#: an interval between two state changes seen on CAN frames every FRAME_S: each edge within a frame
FRAME_U = budget(
    resolution(f"start edge seen on a {FRAME_S:g} s frame", FRAME_S),
    resolution(f"end edge seen on a {FRAME_S:g} s frame", FRAME_S),
    unit="s",
)
HVIL_FLAGS = {"HVIL_OPEN": "HVILFlag_OpenLoop", "HVIL_SCG": "HVILFlag_SCG", "HVIL_SCB": "HVILFlag_SCB"}


def _fault_bits(bench: D1000Bench) -> list[int]:
    return sorted(k for k in CONTACTOR_IDS if bench.flag(contactor_fault_bit(k)))


def _close(bench: D1000Bench, contactor: int) -> bool:
    """Bring the BMS to a state that commands `contactor` closed (False: this configuration has none)."""
    if contactor == 1:
        bench.command(BmsCommand.CONNECT)
        return bench.wait_state(BmsState.CONNECT, 2.0)
    if contactor == 2:  # hold PRECHARGE: the load keeps the link far from the pack
        bench.discharge_link()
        bench.command(BmsCommand.CONNECT)
        bench.wait_state(BmsState.CONNECT, 2.0)
        bench.discharge(0.5)
        bench.command(BmsCommand.ENABLE)
        return bench.wait_state(BmsState.PRECHARGE, 2.0)
    if contactor == 3:
        return bench.drive_enabled()
    if bench.config.charging_method is not ChargingMethod.EXTERNAL:
        return False
    # contactor 4 alone (CHARGE_CONNECT) lasts while the charger voltage does not match the pack
    bench.hold_link(bench.path_v - (5.0 if contactor == 4 else 0.0), 5.0)
    bench.command(BmsCommand.CHARGE_INIT)
    bench.wait_state(BmsState.CHARGE_INIT, 2.0)
    bench.command(BmsCommand.CHARGE_ENABLE)
    target = BmsState.CHARGE_CONNECT if contactor == 4 else BmsState.CHARGE_ENABLED
    return bench.wait_state(target, bench.config.precharge_timeout + 2.0)


@pytest.mark.requirement("PH-CONT")
@pytest.mark.parametrize("contactor", CONTACTOR_IDS)
def test_welded(bench: D1000Bench, contactor: int, check) -> None:
    """Commanded open, auxiliary contact reads closed: BMSContactorFaultCONTACTORk, SAFE."""
    req = "PH-CONT"
    checked = bench.config.aux_enabled(contactor)
    bench.set_fault(WELDED[contactor - 1], True)
    limit = bench.expectations.get("protection_delay_max_s", 1.0)
    faulted = bench.wait_until(lambda: bench.flag(contactor_fault_bit(contactor)), limit + 1.0)
    check(
        same(
            req,
            f"contactor {contactor} welded: fault bits",
            _fault_bits(bench),
            [contactor] if checked else [],
            bench.clock.now(),
            notes=f"contactorConfigAuxEnable 0x{bench.config.contactor_config_aux_enable:05X}",
        )
    )
    if checked:
        check(
            same(
                req,
                "BMSReasonCONTACTORFAIL",
                faulted and bench.flag(InfoBit.REASON_CONTACTORFAIL),
                True,
                bench.clock.now(),
            )
        )
        check(same(req, "SAFE", bench.wait_state(BmsState.SAFE, 3.0), True, bench.clock.now()))
        reported = bench.dut.contactors()
        check(
            same(
                req,
                f"ContactorState_{contactor} reports it closed",
                None if reported is None else reported[1][contactor - 1],
                True,
                bench.clock.now(),
            )
        )
    bench.set_fault(WELDED[contactor - 1], False)


@pytest.mark.requirement("PH-CONT")
@pytest.mark.parametrize("contactor", CONTACTOR_IDS)
def test_aux_open(bench: D1000Bench, contactor: int, check) -> None:
    """Commanded closed, auxiliary contact reads open: BMSContactorFaultCONTACTORk, SAFE, coils off."""
    req = "PH-CONT"
    bench.set_fault(AUX_OPEN[contactor - 1], True)
    if not _close(bench, contactor):
        check(
            info(
                req,
                f"contactor {contactor} stuck open",
                None,
                "",
                bench.clock.now(),
                notes=f"no state commands contactor {contactor} closed with chargingMethod "
                f"{bench.config.charging_method.name}: only the welded case applies",
            )
        )
        bench.set_fault(AUX_OPEN[contactor - 1], False)
        return
    limit = bench.expectations.get("protection_delay_max_s", 1.0)
    t0 = bench.clock.now()
    faulted = bench.wait_until(lambda: bench.flag(contactor_fault_bit(contactor)), limit + 1.0)
    check(
        same(
            req,
            f"contactor {contactor} stuck open: fault bits",
            _fault_bits(bench),
            [contactor] if bench.config.aux_enabled(contactor) else [],
            bench.clock.now(),
        )
    )
    check(
        within(
            req,
            f"contactor {contactor}: commanded closed to fault",
            bench.clock.now() - t0 if faulted else None,
            "s",
            bench.clock.now(),
            low=0.0,
            high=limit,
            uncertainty=FRAME_U,
            notes="no debounce documented: checked against protection_delay_max_s",
        )
    )
    check(
        same(
            req,
            "SAFE with no coil energised",
            bench.wait_state(BmsState.SAFE, 4.0) and not bench.energised(),
            True,
            bench.clock.now(),
        )
    )
    bench.set_fault(AUX_OPEN[contactor - 1], False)
    bench.discharge(0.0)
    bench.idle_power()


@pytest.mark.requirement("PH-HVIL")
@pytest.mark.parametrize("point", list(HVIL_FLAGS))
def test_hvil(bench: D1000Bench, point: str, check) -> None:
    """An open or shorted HVIL loop in ENABLED: HVILInfo flags, BMSReasonHVIL, SAFE with contactors open."""
    req = "PH-HVIL"
    assert bench.drive_enabled(), f"not ENABLED (state {bench.state()})"
    t0 = bench.clock.now()
    bench.set_fault(point, True)
    safe = bench.wait_state(BmsState.SAFE, 5.0)
    t_safe = bench.entered(BmsState.SAFE, t0)
    bench.wait_fresh(["HVILInfo"], t0 + FRAME_S, 2.0)  # sent every 1 s
    flags = {name: bool(bench.dut.value("HVILInfo", name)) for name in ("HVILFlag_NOK", *HVIL_FLAGS.values())}
    expected = {name: name in ("HVILFlag_NOK", HVIL_FLAGS[point]) for name in flags}
    check(same(req, f"{point}: HVILInfo flags", str(flags), str(expected), bench.clock.now()))
    check(same(req, "BMSReasonHVIL", bench.flag(InfoBit.REASON_HVIL), True, bench.clock.now()))
    check(same(req, "SAFE with no coil energised", safe and not bench.energised(), True, bench.clock.now()))
    check(
        info(
            req,
            f"{point}: fault to SAFE",
            None if t_safe is None else t_safe - t0,
            "s",
            bench.clock.now(),
            uncertainty=FRAME_U,
            notes="no detection time documented: characterised",
        )
    )
    bench.set_fault(point, False)
    check(
        info(
            req,
            "IDLE again once the loop is closed (1 = yes)",
            float(bench.to_idle()),
            "",
            bench.clock.now(),
            notes="whether an HVIL fault latches is not documented",
        )
    )
