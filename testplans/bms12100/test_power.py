"""Precharge and power management (seed §3.8, §3.13, §6.2.4, §7.8): PRE, PM-*."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hil.can_monitor import CanMonitor
from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import (
    BLOCKED_A,
    BUTTON_PRESS_S,
    NEUTRAL_C,
    NOMINAL_CELL_V,
    PROBE_CURRENT_A,
    Bms12100Bench,
)
from hil.duts.bms12100.ntc import resistance_ohm
from hil.errors import DutError
from hil.measure import equals, within
from hil.uncertainty import budget, resolution, station_uncertainty

PRECHARGE_LOAD_A = 5.0
#: a cell level beyond CV-UVP (2800 mV) by well over its tolerance
UVP_CELL_V = 2.70
SLEEP_CURRENT_LIMIT_UA = 10.0
#: the 12100 sends each inverter frame every second: the resolution of "when did it stop"
CAN_PERIOD_S = 1.0
SLEEP_SWITCH = "power_management.sleep_enabled"
#: a cell temperature beyond the discharge over-temperature protection (TD-OTP, 60 °C)
TRIP_TERMINAL = "T_CELL1"
TRIP_CELL_C = 70.0
#: CAN silent this long before a wake-up: the BMS was shut down (s; its telemetry period is 1 s)
SHUTDOWN_QUIET_S = 5.0


def _trip_uvp(bench: Bms12100Bench) -> float:
    """Trip CV-UVP with a 2 A discharge; returns the time the BMS reported it."""
    bench.discharge(PROBE_CURRENT_A)
    bench.set_cells([UVP_CELL_V] + [NOMINAL_CELL_V] * (CELL_COUNT - 1))
    met, when = bench.clock.wait_until(lambda: bench.active("CV-UVP"), 5.0, 0.05)
    if not met:
        raise DutError("CV-UVP did not trip: cannot reach the shutdown state")
    bench.idle()
    return when


#: the PM-UVSD shutdown delay, a parameter (design row, proven by read-back): the EOL profile
#: shortens it over RS-485 to reach the sleep state for PM-SLEEP-I and restores it afterwards
SHUTDOWN_SETTING = "cell_undervoltage_protection.shutdown_after_s"
EOL_SHUTDOWN_S = 2  # s: the BMS, woken with its cells still low, must stay up for one CAN frame
#: after the shortened shutdown delay, one firmware cycle's guard before the sleep current is read (s)
EOL_SHUTDOWN_GUARD_S = 1.0
#: PM-WAKE: how long after the wake the first telemetry frame may come (s): one 1 s period, guarded
WAKE_FRAME_S = 3.0


@pytest.fixture
def shutdown_wait(bench: Bms12100Bench, profile: str) -> Iterator[float]:
    """How long after a UVP trip the BMS is surely shut down (s); EOL: the delay shortened, then restored."""
    if profile != "eol":
        yield 65.0
        return
    released = bench.dut.read_setting(SHUTDOWN_SETTING)
    bench.dut.write_setting(SHUTDOWN_SETTING, EOL_SHUTDOWN_S)
    try:
        yield EOL_SHUTDOWN_S + EOL_SHUTDOWN_GUARD_S
    finally:
        bench.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        for attempt in range(3):  # the BMS may have shut down again: the first frame may only wake it
            try:
                bench.dut.write_setting(SHUTDOWN_SETTING, released)
                break
            except DutError:
                if attempt == 2:
                    raise


def _last_frame_after(can_monitor: CanMonitor, t0: float) -> float | None:
    frames = can_monitor.since(t0)
    return frames[-1].timestamp if frames else None


@pytest.mark.requirement("PRE")
def test_precharge_at_start_up(present_bench: Bms12100Bench, spec_data, check) -> None:
    """With a load waiting, the output current is held back for the precharge time after start-up.

    The test's own power-off is its preparation (inputs neutral, cells nominal while off): it clears
    whatever the test before left tripped, so no power cycle is spent before it."""
    bench = present_bench
    req = spec_data.get("PRE")
    cells = bench.station.cells
    bench.neutral_inputs()
    cells.set_output(False)
    bench.clock.sleep(1.0)
    bench.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
    bench.discharge(PRECHARGE_LOAD_A)
    cells.set_output(True)
    t0 = bench.clock.now()
    met, when = bench.clock.wait_until(lambda: bench.load_current() > 0.9 * PRECHARGE_LOAD_A, 10.0, 0.05)
    delay = when - t0 if met else None
    expected = req.delay_s or 2.0
    check(
        within(
            "PRE",
            "time until the full load current flows after start-up",
            delay,
            "s",
            bench.clock.now(),
            low=expected * 0.9,
            high=expected * 1.1,
            uncertainty=budget(resolution("load current polled every 0.05 s", 0.05), unit="s"),
            notes="seed: 2000 ms in the table, 1-7 s in §3.13; checked against the table value ± 10 % "
            "(OUR READING: the seed gives no tolerance)",
        )
    )


@pytest.mark.type_test
@pytest.mark.requirement("PM-UVSD")
def test_shutdown_one_minute_after_under_voltage(
    bench: Bms12100Bench, can_monitor: CanMonitor, check
) -> None:
    """After CV-UVP the BMS keeps communicating for 1 min, then shuts down (CAN stops)."""
    t_trip = _trip_uvp(bench)
    bench.clock.sleep(75.0)  # no RS-485 traffic meanwhile: it would wake the BMS
    last = _last_frame_after(can_monitor, t_trip)
    silent_for = bench.clock.now() - last if last is not None else None
    check(
        within(
            "PM-UVSD",
            "communication kept after the protection",
            None if last is None else last - t_trip + CAN_PERIOD_S / 2,
            "s",
            bench.clock.now(),
            low=59.0,
            high=61.0,
            uncertainty=budget(resolution(f"CAN frame period {CAN_PERIOD_S:g} s", CAN_PERIOD_S), unit="s"),
            method="last CAN frame after the trip, plus half a frame period (it stopped within the next one)",
        )
    )
    check(
        within(
            "PM-UVSD",
            "silent after the shutdown",
            silent_for,
            "s",
            bench.clock.now(),
            low=10.0,
            uncertainty=budget(resolution(f"CAN frame period {CAN_PERIOD_S:g} s", CAN_PERIOD_S), unit="s"),
        )
    )


@pytest.mark.requirement("PM-WAKE", "PM-SLEEP-I")
def test_wake_and_sleep_current(
    bench: Bms12100Bench, can_monitor: CanMonitor, profile: str, shutdown_wait: float, check
) -> None:
    """Shut down (after UVP): supply current within the sleep limit; woken by RS-485, by the button
    (the relay across it, a short press) and by a charger, each from a new shutdown.

    EOL profile: the supply current and the RS-485 wake only (each further wake needs another
    minute-long shutdown; the wake paths are firmware logic, the same on every unit), with the
    shutdown delay shortened through the parameter interface and restored (`shutdown_wait`)."""
    _trip_uvp(bench)
    bench.clock.sleep(shutdown_wait)
    supply_ua = bench.station.dmm.measure_dc_current("SUPPLY") * 1e6
    check(
        within(
            "PM-SLEEP-I",
            "supply current while shut down",
            supply_ua,
            "µA",
            bench.clock.now(),
            low=0.0,
            high=SLEEP_CURRENT_LIMIT_UA,
            uncertainty=station_uncertainty(
                bench.station, bench.station.dmm.name, "current", supply_ua / 1e6, scale=1e6, unit="µA"
            ),
            notes="seed row reads '1 0 uA': 10 µA (uncertain reading)",
        )
    )
    t_wake = bench.clock.now()
    answered = False
    for _ in range(3):  # RS-485 traffic wakes it; the first frame may only wake it, unanswered
        try:
            bench.dut.status()
        except DutError:
            continue
        answered = True
        break
    if profile == "eol":  # the first frame is the evidence: no need to wait out the whole window
        bench.clock.wait_until(lambda: bool(can_monitor.since(t_wake + 0.5)), WAKE_FRAME_S, 0.1)
    else:
        bench.clock.sleep(WAKE_FRAME_S)
    check(
        equals(
            "PM-WAKE",
            "woken by RS-485 communication",
            answered and bool(can_monitor.since(t_wake + 0.5)),
            True,
            bench.clock.now(),
            data={"covers": ["RS-485 communication"], "stimulus": {"RS-485": "status request"}},
        )
    )
    if profile != "full":
        return
    # back to shutdown (cells still low, UVP re-checked after the wake), then wake with the button
    bench.set_cells([UVP_CELL_V] + [NOMINAL_CELL_V] * (CELL_COUNT - 1))
    bench.clock.sleep(70.0)
    t_button = bench.clock.now()
    asleep = not can_monitor.since(t_button - SHUTDOWN_QUIET_S)
    bench.press_button()
    bench.clock.sleep(3.0)
    check(
        equals(
            "PM-WAKE",
            "woken by the button",
            asleep and bool(can_monitor.since(t_button + 0.5)),
            True,
            bench.clock.now(),
            data={"covers": ["the button"], "stimulus": {"button": f"{BUTTON_PRESS_S:g} s press"}},
            method=f"CAN silent {SHUTDOWN_QUIET_S:g} s before a {BUTTON_PRESS_S:g} s press, frames after",
        )
    )
    # back to shutdown once more, then wake with a charger
    bench.clock.sleep(70.0)
    t_charger = bench.clock.now()
    bench.charge(PROBE_CURRENT_A)
    bench.clock.sleep(3.0)
    check(
        equals(
            "PM-WAKE",
            "woken by connecting a charger",
            bool(can_monitor.since(t_charger + 0.5)),
            True,
            bench.clock.now(),
            data={"covers": ["charging"], "stimulus": {"charge current [A]": PROBE_CURRENT_A}},
        )
    )
    bench.idle()


@pytest.mark.long
@pytest.mark.requirement("PM-SLEEP")
def test_sleep_after_maximum_standby(bench: Bms12100Bench, can_monitor: CanMonitor, spec_data, check) -> None:
    """With no charger and no current, the BMS sleeps after the maximum standby time (48 h)."""
    hours = float(spec_data.get("PM-SLEEP").value or 48.0)
    bench.idle()
    start = bench.clock.now()
    with can_monitor.paused():  # 48 h of frames are not kept; the gap is in the capture's record
        bench.clock.sleep(hours * 3600 - 600)
    bench.clock.sleep(5.0)
    awake = bool(can_monitor.since(bench.clock.now() - 3.0))
    standby = "time in standby [h]"  # the report's timeline
    check(
        equals(
            "PM-SLEEP",
            "awake 10 min before the maximum standby time",
            awake,
            True,
            bench.clock.now(),
            data={"stimulus": {standby: round(hours - 1 / 6, 3)}},
        )
    )
    bench.clock.sleep(1200.0)
    frames = can_monitor.since(start + hours * 3600 + 60.0)
    check(
        equals(
            "PM-SLEEP",
            "asleep (CAN silent) 10 min after it",
            not frames,
            True,
            bench.clock.now(),
            data={"frames_after": len(frames), "stimulus": {standby: round(hours + 1 / 6, 3)}},
        )
    )


@pytest.mark.long
@pytest.mark.requirement("PM-SLEEP")
def test_no_sleep_while_sleep_is_switched_off(
    bench: Bms12100Bench, can_monitor: CanMonitor, spec_data, check
):
    """With automatic sleep switched off in the settings, the BMS is still awake after the standby time."""
    hours = float(spec_data.get("PM-SLEEP").value or 48.0)
    bench.idle()
    before = bench.dut.read_setting(SLEEP_SWITCH)
    bench.dut.write_setting(SLEEP_SWITCH, False)
    try:
        with can_monitor.paused():
            bench.clock.sleep(hours * 3600 + 600)
        bench.clock.sleep(5.0)
        awake = bool(can_monitor.since(bench.clock.now() - 3.0))
        check(
            equals(
                "PM-SLEEP",
                f"awake 10 min after the standby time with {SLEEP_SWITCH} off",
                awake,
                True,
                bench.clock.now(),
                data={"stimulus": {"time in standby [h]": round(hours + 1 / 6, 3), SLEEP_SWITCH: "off"}},
            )
        )
    finally:
        bench.dut.write_setting(SLEEP_SWITCH, before)


@pytest.mark.not_eol  # the same precharge path as at start-up; when it runs is firmware logic
@pytest.mark.requirement("PRE")
def test_precharge_when_the_discharge_path_turns_on_again(bench: Bms12100Bench, spec_data, check) -> None:
    """After a discharge-blocking protection releases, the load is precharged again before full current.

    OUR READING (the seed describes the precharge at start-up only): every switch-on of the
    discharge path precharges; the result says so.
    """
    req = spec_data.get("PRE")
    expected = req.delay_s or 2.0
    bench.discharge(PRECHARGE_LOAD_A)
    bench.clock.sleep(expected + 0.5)
    ntc = bench.station.ntc
    ntc.set_temperature(TRIP_TERMINAL, TRIP_CELL_C, resistance_ohm)
    blocked, _ = bench.clock.wait_until(lambda: bench.load_current() < BLOCKED_A, 10.0, 0.05)
    ntc.set_temperature(TRIP_TERMINAL, NEUTRAL_C, resistance_ohm)
    on, t_on = bench.clock.wait_until(lambda: not bench.active("TD-OTP"), 30.0, 0.05)
    full, t_full = bench.clock.wait_until(lambda: bench.load_current() > 0.9 * PRECHARGE_LOAD_A, 10.0, 0.02)
    bench.idle()
    check(equals("PRE", "discharge path blocked by TD-OTP, then released", blocked and on, True, t_on))
    check(
        within(
            "PRE",
            "precharge time when the discharge path turns on again",
            t_full - t_on if on and full else None,
            "s",
            bench.clock.now(),
            low=expected * 0.9,
            high=expected * 1.1,
            uncertainty=budget(
                resolution("TD-OTP flag polled every 0.05 s", 0.05),
                resolution("load current polled every 0.02 s", 0.02),
                unit="s",
            ),
            method="TD-OTP flag cleared (RS-485, 50 ms polls) to load current above 90 % of its setting",
            notes="OUR READING: the seed gives the precharge at start-up; assumed on every switch-on",
        )
    )
