"""The ESPEC P-300 chamber driver against the simulated SH-242, over PyVISA sockets, in virtual time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes import Heard, StepClock

from hil.errors import BenchUnusable, InstrumentError, InstrumentTimeout, LimitError
from hil.instruments.drivers.espec_p300 import EspecP300
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.espec_p300 import TEMP_RAMP_C_PER_S, SimEspecP300
from hil.sim.tcp import scpi_server_thread

LIMITS = Limits(temperature_min=-40.0, temperature_max=90.0, humidity_min=20.0, humidity_max=95.0)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


class HeardChamber(Heard, SimEspecP300):
    """The simulated chamber, keeping every line it executed."""


@pytest.fixture
def sim(clock: StepClock) -> HeardChamber:
    chamber = HeardChamber("chamber", {"AIR": "1"}, seed=1)
    chamber.now = clock.now
    return chamber


@pytest.fixture
def quick(sim: HeardChamber) -> Iterator[tuple[EspecP300, RecordingTransport]]:
    """The driver on a wire with a short timeout (for lost answers), retries as a station gives them."""
    with scpi_server_thread(sim) as resource:
        wire = RecordingTransport(VisaTransport("chamber", resource, timeout_s=0.3))
        info = InstrumentInfo(
            role="chamber", model="SH-242", resource=resource, channels={"AIR": "1"}, retries=2
        )
        chamber = EspecP300(info, wire)
        try:
            yield chamber, wire
        finally:
            chamber.close()
            time.sleep(0.1)


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> EspecP300:
    info = InstrumentInfo(
        role="chamber", model="SH-242", resource=resource, channels={"AIR": "1"}, limits=LIMITS
    )
    return EspecP300(info, wire)


def test_settings_are_p300_lines_answered_ok(
    driver: EspecP300, sim: SimEspecP300, wire: RecordingTransport
) -> None:
    driver.set_temperature(58.04)
    driver.set_humidity(50.4)
    driver.run()
    assert [m.rstrip("\r") for m in wire.sent] == ["TEMP, S58.0", "HUMI, S50", "MODE, CONSTANT"]
    assert all(m.endswith("\r") for m in wire.sent)  # CR, then the transport's LF: CR LF
    assert (sim.temp_setpoint, sim.humi_setpoint, sim.mode) == (58.0, 50.0, "CONSTANT")
    assert driver.setpoints() == (58.0, 50.0)
    driver.set_humidity(None)
    assert driver.setpoints() == (58.0, None)
    assert driver.idn().startswith("ESPEC,SH-242,")  # maker, model, serial, firmware


def test_monitor_parses_temperature_humidity_mode_alarms(driver: EspecP300) -> None:
    reading = driver.monitor()
    assert (reading.temperature, reading.humidity, reading.mode, reading.alarms) == (25.0, 40.0, "OFF", 0)


def test_a_refused_setting_raises_naming_the_chamber_reason(
    driver: EspecP300, wire: RecordingTransport
) -> None:
    with pytest.raises(InstrumentError, match="NA: COMMAND ERR"):
        driver.configure("FOO, S1")
    with pytest.raises(InstrumentError, match="DATA OUT OF RANGE"):
        driver.configure("TEMP, S200.0")  # past the chamber's own range (not the station's)


def test_limits_refuse_before_anything_is_sent(driver: EspecP300, wire: RecordingTransport) -> None:
    for celsius in (95.0, -45.0, float("nan")):
        with pytest.raises(LimitError, match="not sent"):
            driver.set_temperature(celsius)
    for percent in (10.0, 96.0):
        with pytest.raises(LimitError, match="not sent"):
            driver.set_humidity(percent)
    assert wire.sent == []


def test_the_air_ramps_and_settles_in_virtual_time(driver: EspecP300, clock: StepClock) -> None:
    driver.set_temperature(60.0)
    driver.set_humidity(None)
    driver.run()
    clock.sleep(10.0)
    assert driver.monitor().temperature == pytest.approx(25.0 + 10.0 * TEMP_RAMP_C_PER_S, abs=0.05)
    done = driver.wait_settled(clock, band_c=0.5, band_pct=2.0, soak_s=5.0, timeout_s=600.0)  # type: ignore[arg-type]
    ramp = (60.0 - 25.0) / TEMP_RAMP_C_PER_S
    assert done.settled
    assert abs(done.last - 60.0) <= 0.5 if done.last is not None else False
    # the ramp (less what already passed), then the soak; polled once a second
    assert ramp - 10.0 + 5.0 - 3.0 <= done.waited_s <= ramp - 10.0 + 5.0 + 2.0


def test_not_settled_within_the_timeout_is_reported(driver: EspecP300, clock: StepClock) -> None:
    driver.set_temperature(85.0)
    driver.run()
    done = driver.wait_settled(clock, band_c=0.5, band_pct=2.0, soak_s=5.0, timeout_s=30.0)  # type: ignore[arg-type]
    assert not done.settled and "not settled within 30 s" in done.detail


def test_safe_state_is_standby_and_reads_back_safe(driver: EspecP300, sim: SimEspecP300) -> None:
    driver.run()
    assert not driver.state_is_safe(driver.output_state())
    driver.safe()
    state = driver.output_state()
    assert sim.mode == "STANDBY" and state["mode"] == "STANDBY" and driver.state_is_safe(state)


def test_check_asks_the_p300_identity_and_never_idn(driver: EspecP300, sim: HeardChamber) -> None:
    answer = driver.check()
    assert answer == f"ESPEC,SH-242,{sim.serial},P300 ROM Ver 1.10 (HUMI)"
    assert sim.heard == ["TYPE?", "ROM?"]  # the chamber's own identity queries, as it received them
    assert driver.idn() == answer
    assert not any("IDN" in line for line in sim.heard)


def test_check_reconnects_once_after_a_dropped_connection(
    quick: tuple[EspecP300, RecordingTransport], sim: HeardChamber
) -> None:
    chamber, wire = quick
    sim.inject_fault("disconnect", count=1)
    assert chamber.check().startswith("ESPEC,SH-242,")
    assert chamber.suspect is None
    assert [m.rstrip("\r") for m in wire.sent] == ["TYPE?", "TYPE?", "ROM?"]  # the first was lost
    assert sim.heard == ["TYPE?", "ROM?"]


def test_check_names_the_identity_query_of_a_silent_chamber(
    quick: tuple[EspecP300, RecordingTransport], sim: HeardChamber
) -> None:
    chamber, _ = quick
    sim.inject_fault("timeout")
    with pytest.raises(
        BenchUnusable, match=r"chamber: does not answer 'TYPE\?' and 'ROM\?'.*nor after reconnecting"
    ):
        chamber.check()
    assert chamber.suspect is not None and sim.heard == []


def test_a_lost_query_is_asked_again_a_lost_setting_never(
    quick: tuple[EspecP300, RecordingTransport], sim: HeardChamber
) -> None:
    chamber, wire = quick
    sim.inject_fault("timeout", count=1)
    assert chamber.monitor().mode == "OFF"  # the second MON? was answered
    assert [m.rstrip("\r") for m in wire.sent] == ["MON?", "MON?"]
    wire.sent.clear()
    sim.inject_fault("timeout", count=1)
    with pytest.raises(InstrumentTimeout, match="MODE, CONSTANT"):
        chamber.run()
    assert [m.rstrip("\r") for m in wire.sent] == ["MODE, CONSTANT"]  # sent once, never again
    assert sim.mode == "OFF" and "MODE, CONSTANT" not in sim.heard
