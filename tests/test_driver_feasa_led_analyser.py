"""The Feasa LED analyser driver against the simulated Feasa 20-F, over PyVISA sockets, in virtual time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes import Heard, StepClock

from hil.errors import BenchUnusable, InstrumentError, InstrumentTimeout
from hil.instruments.drivers.feasa_led_analyser import FeasaLedAnalyser
from hil.instruments.info import InstrumentInfo
from hil.instruments.roles import blink_from, colour_name
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.feasa_led_analyser import LedLight, SimFeasaLedAnalyser
from hil.sim.tcp import scpi_server_thread

FIBRES = {"DS1": "1", "DS2": "2", "DS3": "3", "DS4": "4", "DS5": "5", "DS9": "25"}


class HeardAnalyser(Heard, SimFeasaLedAnalyser):
    """The simulated analyser, keeping every line it executed."""


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def sim(clock: StepClock) -> HeardAnalyser:
    analyser = HeardAnalyser("leds", FIBRES, seed=2)
    analyser.now = clock.now
    return analyser


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> FeasaLedAnalyser:
    info = InstrumentInfo(role="leds", model="Feasa 20-F", resource=resource, channels=FIBRES)
    return FeasaLedAnalyser(info, wire)


@pytest.fixture
def quick(sim: HeardAnalyser) -> Iterator[tuple[FeasaLedAnalyser, RecordingTransport]]:
    """The driver on a wire with a short timeout (for lost answers)."""
    with scpi_server_thread(sim) as resource:
        wire = RecordingTransport(VisaTransport("leds", resource, timeout_s=0.3))
        info = InstrumentInfo(role="leds", model="Feasa 20-F", resource=resource, channels=FIBRES, retries=2)
        analyser = FeasaLedAnalyser(info, wire)
        try:
            yield analyser, wire
        finally:
            analyser.close()
            time.sleep(0.1)


def test_colour_intensity_and_dark(driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser) -> None:
    sim.set_light("DS1", LedLight("red", 5000.0))
    sim.set_light("DS2", LedLight("green", 12000.0))
    sim.set_light("DS5", LedLight("amber", 3000.0))
    red = driver.measure("DS1", pwm=False)
    assert (red.lit, red.colour, red.rgb, red.wavelength_nm) == (True, "red", (250, 5, 0), 625.0)
    assert red.intensity == pytest.approx(5000, rel=0.011)  # the sim's ±1 % intensity error
    green = driver.read("DS2")  # from the same capture
    assert (green.colour, green.wavelength_nm) == ("green", 525.0)
    assert green.hue is not None and 70 <= green.hue < 170
    assert driver.read("DS5").colour == "amber"
    dark = driver.read("DS4")
    assert (dark.lit, dark.colour, dark.intensity, dark.hue) == (False, "off", 0, None)


def test_a_blinking_led_reads_its_average_over_the_pwm_capture(
    driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser
) -> None:
    sim.set_light("DS4", LedLight("red", 8000.0, blink_hz=2.0))
    reading = driver.measure("DS4")  # CAPTUREPWM: 2 s, four whole periods at 50 % duty
    assert reading.colour == "red"
    assert reading.intensity == pytest.approx(4000, rel=0.02)


def test_2_hz_and_25_hz_are_told_apart(driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser) -> None:
    sim.set_light("DS3", LedLight("green", 6000.0, blink_hz=2.0))
    slow = driver.blink("DS3")
    assert slow.frequency_hz == pytest.approx(2.0, rel=0.02)
    assert slow.duty == pytest.approx(0.5, abs=0.02) and slow.lit and not slow.steady
    sim.set_light("DS3", LedLight("green", 6000.0, blink_hz=25.0, duty=0.3))
    fast = driver.blink("DS3")
    assert fast.frequency_hz == pytest.approx(25.0, rel=0.02)
    assert fast.duty == pytest.approx(0.3, abs=0.03)
    sim.set_light("DS1", LedLight("red", 5000.0))
    steady = driver.blink("DS1")
    assert (steady.lit, steady.steady, steady.frequency_hz) == (True, True, None)
    off = driver.blink("DS4")
    assert (off.lit, off.steady, off.frequency_hz) == (False, True, None)


def test_a_plant_drives_the_light_through_a_callable_of_lab_time(
    driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser, clock: StepClock
) -> None:
    def link_led(t: float) -> LedLight:
        """DS3 as the Movicom twin would drive it: 2 Hz while initialising, 25 Hz from t = 10 s."""
        return LedLight("green", 6000.0, blink_hz=2.0 if t < 10.0 else 25.0)

    sim.set_light("DS3", link_led)
    assert driver.blink("DS3").frequency_hz == pytest.approx(2.0, rel=0.02)
    clock.sleep(10.0)
    assert driver.blink("DS3").frequency_hz == pytest.approx(25.0, rel=0.02)


def test_a_sequence_is_programmed_then_read_line_by_line(
    driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser, wire: RecordingTransport
) -> None:
    sim.set_light("DS3", LedLight("green", 6000.0, blink_hz=25.0))
    driver.blink("DS3", window_s=0.2)
    assert wire.sent == [
        "PUTSEQUENCECHANNEL03",
        "PUTSEQUENCECAPTURE002",
        "PUTSEQUENCEWAIT000",
        "PUTSEQUENCENUMBER0100",
        "PUTSEQUENCETHRESHOLD00200",
        "CAPTURESEQUENCE",
        "GETSEQUENCE03",
    ]


def test_identity_and_check_use_getserial_and_getversion(
    driver: FeasaLedAnalyser, sim: HeardAnalyser
) -> None:
    assert driver.check() == "Feasa,Feasa 20-F,7A3C,F208"
    assert sim.heard == ["GETSERIAL", "GETVERSION"]
    assert driver.idn() == "Feasa,Feasa 20-F,7A3C,F208"


def test_bad_channels_and_commands_are_instrument_errors(
    driver: FeasaLedAnalyser, sim: SimFeasaLedAnalyser, wire: RecordingTransport
) -> None:
    with pytest.raises(InstrumentError, match="no channel mapped to terminal 'DS7'"):
        driver.read("DS7")
    with pytest.raises(InstrumentError, match=r"fibre 25 of DS9 is outside 1\.\.20"):
        driver.blink("DS9")
    assert wire.sent == []  # neither reached the analyser
    with pytest.raises(InstrumentError, match="refused by the analyser: ERROR"):
        driver.configure("PUTSEQUENCENUMBER9999")  # beyond the 3500 samples of sequence mode 0
    with pytest.raises(InstrumentError, match=r"holds 2\.\.3500"):
        driver.blink("DS3", window_s=10.0)
    assert sim.execute("GETHSI21") == "ERROR: no fibre 21"


def test_safe_state_is_nothing_to_switch_off(driver: FeasaLedAnalyser, wire: RecordingTransport) -> None:
    driver.safe()
    assert driver.output_state() == {} and driver.state_is_safe(driver.output_state())
    assert wire.sent == []


def test_a_lost_read_is_asked_again_a_lost_capture_never(
    quick: tuple[FeasaLedAnalyser, RecordingTransport], sim: HeardAnalyser
) -> None:
    analyser, wire = quick
    sim.set_light("DS1", LedLight("red", 5000.0))
    analyser.capture(pwm=False)
    wire.sent.clear()
    sim.inject_fault("timeout", count=1)
    assert analyser.read("DS1").colour == "red"
    assert wire.sent[:2] == ["GETHSI01", "GETHSI01"]
    wire.sent.clear()
    sim.inject_fault("timeout", count=1)
    with pytest.raises(InstrumentTimeout, match="CAPTUREPWM"):
        analyser.capture()
    assert wire.sent == ["CAPTUREPWM"]
    sim.inject_fault("timeout")
    with pytest.raises(BenchUnusable, match="does not answer 'GETSERIAL' and 'GETVERSION'"):
        analyser.check()


def test_blink_from_samples() -> None:
    on, off = [True] * 10, [False] * 10
    blink = blink_from((on + off) * 5, 0.001)  # 20 ms period
    assert blink.frequency_hz == pytest.approx(50.0) and blink.duty == pytest.approx(0.5)
    assert blink_from(on + off, 0.001).frequency_hz is None  # one edge: no period seen
    assert blink_from(off, 0.001).lit is False


def test_colour_names_by_hue_and_saturation() -> None:
    assert [colour_name(h, 95) for h in (2, 359, 38, 55, 125, 235)] == [
        "red",
        "red",
        "amber",
        "yellow",
        "green",
        "blue",
    ]
    assert colour_name(60, 8) == "white"
