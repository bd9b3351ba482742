"""CANopen (MM-CAN): the heartbeat at the configured producer time, saying OPERATIONAL, and TPDO1/TPDO2
answering a SYNC with the twin's values (battery current from the Hall-sensor stimulus)."""

from __future__ import annotations

import itertools

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.measure import equals, info, within
from hil.spec import SpecFile
from testplans.movicom_main_2.coverage import items

NMT_OPERATIONAL = 0x05
HEARTBEATS = 5
#: the heartbeat period's tolerance: OUR READING (none documented), one CAN frame time at most
PERIOD_TOLERANCE_S = 0.01
STIMULUS_A = 20.0
TIMESTAMP_S = 1e-5
#: why the 2R's internal CAN bus is not tested: the vendor documents nothing on it to judge against
INTERNAL_BUS_NOT_TESTED = (
    "not tested. OUR READING of the vendor's material: the Main 2R installation page names {header} only "
    "as the {name} H and L lines 'for communication with internal equipment' (BMS Indication, BMS Display) "
    "and states no bit rate, protocol, node ID or frame for {name}; no Main 2R protocol page was found. "
    "Nothing on {name} has a documented behaviour to judge, so a CAN adapter there (a station declares one "
    "CAN bus, on the external interface) would show traffic without a limit. Its terminator ({jumper}) is "
    "tested under MM-TERM-CAN"
)


def _external_bus(spec_data: SpecFile, bench: MovicomBench) -> list[str]:
    """MM-CAN's item of the external CAN interface the bench's adapter is on (P14; 2R X13 CAN1)."""
    header = next(bus.header for bus in bench.hw.can_buses if bus.external)
    return items(spec_data, "MM-CAN", bench, header)


@pytest.mark.requirement("MM-CAN")
def test_heartbeat_at_the_configured_producer_time(bench: MovicomBench, spec_data: SpecFile, check) -> None:
    period = bench.config.can.heartbeat_ms / 1000.0
    t0 = bench.clock.now()
    bench.clock.sleep(period * (HEARTBEATS + 0.5))
    frames = bench.dut.heartbeats(t0)
    check(
        equals(
            "MM-CAN",
            f"{HEARTBEATS} heartbeats or more",
            len(frames) >= HEARTBEATS,
            True,
            bench.clock.now(),
            data={"covers": _external_bus(spec_data, bench)},
        )
    )
    check(
        equals(
            "MM-CAN",
            "every heartbeat says OPERATIONAL",
            all(f.data == bytes([NMT_OPERATIONAL]) for f in frames),
            True,
            bench.clock.now(),
        )
    )
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(frames)]
    for gap in (min(gaps), max(gaps)) if gaps else ():
        check(
            within(
                "MM-CAN",
                "heartbeat period",
                gap,
                "s",
                bench.clock.now(),
                low=period - PERIOD_TOLERANCE_S,
                high=period + PERIOD_TOLERANCE_S,
                method=f"0x1017 producer time {bench.config.can.heartbeat_ms} ms (configuration)",
            )
        )


@pytest.mark.requirement("MM-CAN")
def test_tpdos_answer_a_sync_with_the_stimulus(bench: MovicomBench, spec_data: SpecFile, check) -> None:
    bench.set_current(STIMULUS_A)
    bench.clock.sleep(bench.settle_s)
    t0 = bench.clock.now() - TIMESTAMP_S  # socketcand timestamps carry microseconds
    bench.dut.sync()
    bench.clock.wait_until(lambda: bool(bench.dut.tpdo(2, t0)), 1.0, 0.05)
    tpdo1, tpdo2 = bench.dut.tpdo(1, t0), bench.dut.tpdo(2, t0)
    check(
        equals(
            "MM-CAN",
            "TPDO1 and TPDO2 once each per SYNC",
            f"{len(tpdo1)} x TPDO1, {len(tpdo2)} x TPDO2",
            "1 x TPDO1, 1 x TPDO2",
            bench.clock.now(),
            data={"covers": _external_bus(spec_data, bench)},
        )
    )
    if tpdo1:
        _, current_tol = bench.current_error()
        adc = (
            bench.config.fixed.adc_error_mv
            / 1000.0
            * (bench.config.current_sensors[0].rated_a / bench.config.current_sensors[0].volts_at_rated)
        )
        check(
            within(
                "MM-CAN",
                "TPDO1 battery current",
                float(tpdo1[0][1]["battery_current"]),
                "A",
                bench.clock.now(),
                low=STIMULUS_A - current_tol - adc - 0.1,  # 0.1 A: the PDO's resolution
                high=STIMULUS_A + current_tol + adc + 0.1,
                method="decoded with protocol/movicom_main_2.dbc (cantools)",
            )
        )


@pytest.mark.requirement("MM-CAN")
@pytest.mark.variants("main-2r")  # the 2.1 has one CAN interface: not applicable to it
def test_internal_can_bus_not_tested(bench: MovicomBench, check) -> None:
    """The 2R's internal CAN2 (X12): NOT TESTED, with the reason, so the row says it (PARTIAL)."""
    internal = [bus for bus in bench.hw.can_buses if not bus.external]
    assert internal, f"{bench.hw.title}: variants.yaml names no internal CAN bus"
    for bus in internal:
        why = INTERNAL_BUS_NOT_TESTED.format(name=bus.name, header=bus.header, jumper=bus.termination_jumper)
        check(
            info(
                "MM-CAN",
                f"{bus.name} ({bus.header})",
                None,
                "",
                bench.clock.now(),
                notes=why,
                data={"not_covered": why},
            )
        )
