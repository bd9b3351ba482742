"""Precharge: the current limit, the voltage delta that ends it, and its timeout (all configured).

The bench's DC link (capacitance, electronic load) is precharged through the pack's precharge
resistor (prechargeResistance); the DAQ reads the pack (U1) and the link. The load's steady current
sets the steady delta U1 - link = I·R, which is how the delta is put on either side of
maxPrechargeVoltageDelta; the PRE_SHUNT relay puts a low resistor across the precharge resistor,
which drives the inrush above maxPrechargeCurrent. With the shunt in and the charger holding the
link I·R below the pack before the precharge starts, there is no inrush and the load's current I
flows steadily through the precharge path: that puts the precharge current just below and just
beyond maxPrechargeCurrent (go/no-go).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hil.duts.prohelion_d1000_gen2.bench import D1000Bench, same
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsCommand, BmsState, InfoBit
from hil.duts.prohelion_d1000_gen2.terminals import PRE_SHUNT
from hil.errors import BenchError
from hil.measure import Measurement, info, within
from hil.uncertainty import budget, resolution, station_uncertainty

FRAME_S = 0.1
#: an interval between two state changes seen on CAN frames every FRAME_S: each edge within a frame
FRAME_U = budget(
    resolution(f"start edge seen on a {FRAME_S:g} s frame", FRAME_S),
    resolution(f"end edge seen on a {FRAME_S:g} s frame", FRAME_S),
    unit="s",
)


def _start_precharge(bench: D1000Bench, load_a: float) -> float:
    """From IDLE with the link emptied: CONNECT, the load at `load_a`, ENABLE; the time ENABLE was sent."""
    assert bench.discharge_link(), "the DC link could not be discharged"
    bench.command(BmsCommand.CONNECT)
    assert bench.wait_state(BmsState.CONNECT, 2.0), f"not CONNECT (state {bench.state()})"
    bench.discharge(load_a)
    t0 = bench.clock.now()
    bench.command(BmsCommand.ENABLE)
    return t0


def _judge_overcurrent(
    bench: D1000Bench,
    check: Callable[[Measurement], object],
    case: str,
    peak: float | None,
    failed: bool,
    expected: bool,
    method: str,
    stimulus: dict[str, object],
) -> None:
    """The reported precharge current (info) and whether OVERCURRENTPCHG came as it should."""
    now = bench.clock.now()
    data = {"stimulus": stimulus}
    check(info("PH-PRE-I", f"precharge current reported {case}", peak, "A", now, data=data))
    check(
        same(
            "PH-PRE-I",
            f"BMSPrechargeFailOVERCURRENTPCHG {case}",
            failed,
            expected,
            now,
            method=method,
            data=data,
        )
    )


@pytest.mark.requirement("PH-PRE-I")
def test_precharge_current(bench: D1000Bench, check) -> None:
    """No failure at the normal inrush (below the limit); OVERCURRENTPCHG when it is far above."""
    req = "PH-PRE-I"
    limit = bench.config.max_precharge_current
    check(info(req, "configured maxPrechargeCurrent", limit, "A", bench.clock.now()))
    for shunted in (False, True):
        bench.prepare()
        bench.set_fault(PRE_SHUNT, shunted)
        t0 = _start_precharge(bench, 0.0)
        done = bench.wait_until(
            lambda: bench.state() in (BmsState.ENABLED, BmsState.SAFE, BmsState.DISCONNECT),
            bench.config.precharge_timeout + 2.0,
        )
        t1 = bench.clock.now()
        peak = max(
            (abs(v) for v in bench.values_between("BMSCurrentData", "InstantaneousCurrent", t0, t1)),
            default=None,
        )
        failed = bench.flag(InfoBit.PRECHARGE_FAIL_OVERCURRENTPCHG)
        case = "precharge resistor shunted" if shunted else "precharge resistor alone"
        _judge_overcurrent(
            bench,
            check,
            f"({case})",
            peak,
            done and failed,
            shunted,
            f"inrush from an empty link, peak {peak} A against the configured {limit:g} A",
            {"precharge resistor": "shunted" if shunted else "alone"},
        )
        if shunted:
            check(
                same(
                    req,
                    "BMSReasonPRECHARGE with the failure",
                    bench.flag(InfoBit.REASON_PRECHARGE),
                    True,
                    bench.clock.now(),
                )
            )
            check(
                same(
                    req,
                    "SAFE after the failure",
                    bench.wait_state(BmsState.SAFE, 3.0),
                    True,
                    bench.clock.now(),
                )
            )
        else:
            check(
                same(req, "ENABLED at the normal inrush", bench.state(), BmsState.ENABLED, bench.clock.now())
            )
        bench.set_fault(PRE_SHUNT, False)
        bench.discharge(0.0)


def _steady_precharge(bench: D1000Bench, amps: float, window_s: float) -> tuple[bool, float | None, str]:
    """A precharge carrying a steady `amps` (shunted resistor, link held I·R below the pack, the
    load drawing I): whether OVERCURRENTPCHG came within `window_s`, the highest current reported,
    and how the stimulus was made."""
    r_pre = bench.config.precharge_resistance
    shunt = bench.expectations.get("pre_shunt_ohm")
    if shunt is None:
        raise BenchError("the station's expectations give no pre_shunt_ohm (the PRE_SHUNT resistor)")
    r = r_pre * shunt / (r_pre + shunt)
    bench.prepare()
    bench.set_fault(PRE_SHUNT, True)
    pack = bench.pack_terminal_v()
    bench.hold_link(pack - amps * r, current_limit=amps + 1.0)  # the link where I·R puts it: no inrush
    bench.discharge(amps)
    bench.command(BmsCommand.CONNECT)
    assert bench.wait_state(BmsState.CONNECT, 2.0), f"not CONNECT (state {bench.state()})"
    t0 = bench.clock.now()
    bench.command(BmsCommand.ENABLE)
    failed = bench.wait_until(lambda: bench.flag(InfoBit.PRECHARGE_FAIL_OVERCURRENTPCHG), window_s)
    peak = max(
        (v for v in bench.values_between("BMSCurrentData", "InstantaneousCurrent", t0, bench.clock.now())),
        default=None,
    )
    bench.set_fault(PRE_SHUNT, False)
    bench.idle_power()
    how = (
        f"load {amps:.3g} A through {r_pre:g} Ω || {shunt:g} Ω = {r:.3g} Ω with the link held at "
        f"{pack - amps * r:.2f} V ({pack:.2f} V pack): steady, no inrush"
    )
    return failed, peak, how


@pytest.mark.requirement("PH-PRE-I")
def test_precharge_current_limit(bench: D1000Bench, check) -> None:
    """Go/no-go on maxPrechargeCurrent with a steady precharge current: no OVERCURRENTPCHG just
    below the limit, OVERCURRENTPCHG just beyond it (the margin is the station's expectation)."""
    limit = bench.config.max_precharge_current
    margin = bench.expectations.get("precharge_current_margin_a", 0.5)
    window = bench.expectations.get("protection_delay_max_s", 1.0) + bench.settle_s
    for amps, expected in ((max(limit - margin, 0.0), False), (limit + margin, True)):
        failed, peak, how = _steady_precharge(bench, amps, window)
        _judge_overcurrent(
            bench,
            check,
            f"({'beyond' if expected else 'below'} the limit)",
            peak,
            failed,
            expected,
            f"{how}; limit {limit:g} A, margin {margin:g} A (station expectation); flag awaited {window:g} s",
            {"steady precharge current [A]": round(amps, 4)},
        )


@pytest.mark.requirement("PH-PRE-DV")
def test_precharge_delta(bench: D1000Bench, check) -> None:
    """ENABLED only once the link is within maxPrechargeVoltageDelta of the pack (steady deltas)."""
    req = "PH-PRE-DV"
    delta = bench.config.max_precharge_voltage_delta
    r_pre = bench.config.precharge_resistance
    margin = bench.expectations.get("precharge_delta_margin_v", 0.3)
    check(info(req, "configured maxPrechargeVoltageDelta", delta, "V", bench.clock.now()))
    for steady, expect_enabled in ((max(delta - margin, 0.0), True), (delta + margin, False)):
        bench.prepare()
        load_a = steady / r_pre  # the steady drop across the precharge resistor
        t0 = _start_precharge(bench, load_a)
        bench.wait_state(BmsState.PRECHARGE, 2.0)
        enabled = bench.wait_state(BmsState.ENABLED, bench.config.precharge_timeout - 1.0)
        pack, link = bench.pack_terminal_v(), bench.link_v()
        measured = pack - link
        budget = station_uncertainty(bench.station, "daq", "voltage", pack, unit="V").plus(
            station_uncertainty(bench.station, "daq", "voltage", link, unit="V")
        )
        name = "inside" if expect_enabled else "beyond"
        check(
            same(
                req,
                f"ENABLED with a steady delta {name} the limit",
                enabled,
                expect_enabled,
                bench.clock.now(),
                method=f"load {load_a * 1000:.1f} mA through {r_pre:g} Ω: steady delta {steady:.3g} V",
                data={"delta_at_end_v": measured},
            )
        )
        if expect_enabled:
            voltages = bench.values_between("BMSVoltageData", "BatteryVoltage", t0, bench.clock.now())
            loads = bench.values_between("BMSVoltageData", "LoadVoltage", t0, bench.clock.now())
            t_en = bench.entered(BmsState.ENABLED, t0)
            check(
                info(
                    req,
                    "delta reported in the last frame before ENABLED",
                    abs(voltages[-2] - loads[-2]) if len(voltages) > 1 and t_en is not None else None,
                    "V",
                    bench.clock.now(),
                    notes="BMSVoltageData every 100 ms: the delta falls by up to one frame's change",
                )
            )
        else:
            check(
                within(
                    req,
                    "steady delta held (DAQ)",
                    measured,
                    "V",
                    bench.clock.now(),
                    low=delta,
                    uncertainty=budget,
                )
            )
        bench.discharge(0.0)


@pytest.mark.requirement("PH-PRE-TO")
def test_precharge_timeout(bench: D1000Bench, check) -> None:
    """A precharge that does not match fails with BMSPrechargeFailTIMEOUT after prechargeTimeout."""
    req = "PH-PRE-TO"
    timeout = bench.config.precharge_timeout
    delta = bench.config.max_precharge_voltage_delta
    load_a = 3 * max(delta, 0.1) / bench.config.precharge_resistance  # steady delta 3x the limit
    t0 = _start_precharge(bench, load_a)
    failed = bench.wait_until(lambda: bench.flag(InfoBit.PRECHARGE_FAIL_TIMEOUT), timeout + 5.0)
    start = bench.entered(BmsState.PRECHARGE, t0)
    end = bench.entered(BmsState.DISCONNECT, t0) or bench.entered(BmsState.SAFE, t0)
    check(
        within(
            req,
            "PRECHARGE to the timeout failure",
            None if not failed or start is None or end is None else end - start,
            "s",
            bench.clock.now(),
            low=timeout - 2 * FRAME_S,
            high=timeout + 2 * FRAME_S,
            uncertainty=FRAME_U,
            notes=f"configured prechargeTimeout {timeout:g} s; CAN frames every {FRAME_S:g} s",
        )
    )
    check(same(req, "BMSReasonPRECHARGE", bench.flag(InfoBit.REASON_PRECHARGE), True, bench.clock.now()))
    check(
        same(
            req,
            "SAFE with no coil energised",
            bench.wait_state(BmsState.SAFE, 3.0) and not bench.energised(),
            True,
            bench.clock.now(),
        )
    )
    bench.discharge(0.0)
