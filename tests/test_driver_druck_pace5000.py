"""The Druck PACE5000 driver against its simulation, over PyVISA sockets, in virtual time."""

from __future__ import annotations

import pytest
from fakes import StepClock

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.druck_pace5000 import DruckPace5000, payload
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.druck_pace5000 import AMBIENT_KPA, SLEW_KPA_PER_S, SimDruckPace5000

LIMITS = Limits(pressure_min=5.0, pressure_max=150.0)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def sim(clock: StepClock) -> SimDruckPace5000:
    pace = SimDruckPace5000("pressure", {"ENCLOSURE": "1"}, seed=1)
    pace.now = clock.now
    return pace


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> DruckPace5000:
    info = InstrumentInfo(
        role="pressure", model="PACE5000", resource=resource, channels={"ENCLOSURE": "1"}, limits=LIMITS
    )
    return DruckPace5000(info, wire)


def test_payload_strips_the_pace_header() -> None:
    assert payload(":SENS:PRES:INL 100.0, 1") == "100.0, 1"
    assert payload("101.3") == "101.3"


def test_setpoint_and_output_commands(
    driver: DruckPace5000, sim: SimDruckPace5000, wire: RecordingTransport
) -> None:
    driver.set_in_limits(0.05, 2.0)
    driver.set_pressure(118.0)
    driver.set_output(True)
    assert wire.sent == [
        ":UNIT:PRES KPA",
        "SYST:ERR?",
        ":SOUR:PRES:INL 0.05",
        ":SOUR:PRES:INL:TIME 2",
        "SYST:ERR?",
        ":SOUR:PRES 118",
        "SYST:ERR?",
        ":OUTP:STAT ON",
        "SYST:ERR?",
    ]
    assert (sim.setpoint, sim.on, sim.inl_pct, sim.inl_time) == (118.0, True, 0.05, 2.0)
    assert driver.output_is_on()


def test_pressure_settles_in_limits_in_virtual_time(driver: DruckPace5000, clock: StepClock) -> None:
    driver.set_in_limits(0.05, 2.0)
    driver.set_pressure(122.0)
    driver.set_output(True)
    assert driver.in_limits() == (AMBIENT_KPA, False)
    done = driver.wait_settled(clock, timeout_s=60.0, poll_s=0.5)  # type: ignore[arg-type]
    assert done.settled and done.last == pytest.approx(122.0)
    assert (
        (122.0 - AMBIENT_KPA) / SLEW_KPA_PER_S + 2.0
        <= done.waited_s
        <= (122.0 - AMBIENT_KPA) / SLEW_KPA_PER_S + 3.5
    )
    assert driver.measure_pressure() == pytest.approx(122.0)


def test_the_floor_and_ceiling_are_refused_before_sending(
    driver: DruckPace5000, wire: RecordingTransport
) -> None:
    for kpa in (0.0, 4.9, 150.1, float("inf")):
        with pytest.raises(LimitError, match="not sent"):
            driver.set_pressure(kpa)
    assert wire.sent == []


def test_a_bad_unit_is_an_instrument_error(driver: DruckPace5000) -> None:
    with pytest.raises(InstrumentError, match="-224"):
        driver.configure(":UNIT:PRES PSI")


def test_safe_state_is_output_off_and_vented(
    driver: DruckPace5000, sim: SimDruckPace5000, clock: StepClock
) -> None:
    driver.set_pressure(120.0)
    driver.set_output(True)
    clock.sleep(5.0)
    assert not driver.state_is_safe(driver.output_state())
    driver.safe()
    clock.sleep(5.0)
    state = driver.output_state()
    assert state == {"output": False, "pressure": pytest.approx(AMBIENT_KPA)}
    assert driver.state_is_safe(state) and sim.venting
