"""The DAQ970A DMM driver against the simulated DAQ970A + DAQM901A, through real PyVISA sockets."""

from __future__ import annotations

import math

import pytest
from pyvisa.resources import MessageBasedResource

from hil.errors import InstrumentError
from hil.instruments.drivers.keysight_daq970a import OVERLOAD, KeysightDAQ970A
from hil.instruments.info import InstrumentInfo
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.keysight_daq970a import SimKeysightDAQ970A

CHANNELS = {"PACK": "101", "CELL1": "102", "T_CELL1": "110", "T_AMB": "111", "SUPPLY": "121", "SLEEP": "122"}
TRUE = {
    ("PACK", "VOLT"): 13.2,
    ("CELL1", "VOLT"): 3.3,
    ("T_CELL1", "RES"): 10_000.0,
    ("T_AMB", "RES"): math.inf,
    ("SUPPLY", "CURR"): 0.012,
    ("SLEEP", "CURR"): 8e-6,  # a BMS shut down (PM-SLEEP-I)
}


class FakePlant:
    """A probe that answers from TRUE and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def __call__(self, point: str, quantity: str) -> float:
        self.asked.append((point, quantity))
        return TRUE.get((point, quantity), 0.0)


@pytest.fixture
def plant() -> FakePlant:
    return FakePlant()


@pytest.fixture
def sim(plant: FakePlant) -> SimKeysightDAQ970A:
    daq = SimKeysightDAQ970A("dmm", CHANNELS, seed=3)
    daq.probe = plant
    return daq


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> KeysightDAQ970A:
    info = InstrumentInfo(role="dmm", model="DAQ970A", resource=resource, channels=CHANNELS)
    return KeysightDAQ970A(info, wire)


def test_plain_pyvisa_idn(visa: MessageBasedResource) -> None:
    vendor, model, serial, firmware = visa.query("*IDN?").split(",")
    assert (vendor, model, serial) == ("Keysight Technologies", "DAQ970A", "MY58010042")
    assert firmware


def test_default_probe_reads_zero() -> None:
    daq = SimKeysightDAQ970A("dmm", CHANNELS)
    assert daq.execute("MEAS:VOLT:DC? AUTO,DEF,(@101)") is not None
    assert abs(float(daq.execute("MEAS:VOLT:DC? AUTO,DEF,(@101)") or "nan")) <= 0.000040 * 0.1


def test_dc_voltage(driver: KeysightDAQ970A, plant: FakePlant, wire: RecordingTransport) -> None:
    pack = driver.measure_dc_voltage("PACK")
    cell = driver.measure_dc_voltage("CELL1")
    # 100 V range for 13.2 V (above 120 % of 10 V), 10 V range for 3.3 V
    assert abs(pack - 13.2) <= 0.000045 * 13.2 + 0.000006 * 100
    assert abs(cell - 3.3) <= 0.000035 * 3.3 + 0.000005 * 10
    assert plant.asked == [("PACK", "VOLT"), ("CELL1", "VOLT")]
    assert wire.sent == ["MEAS:VOLT:DC? AUTO,DEF,(@101)", "MEAS:VOLT:DC? AUTO,DEF,(@102)"]


def test_resistance(driver: KeysightDAQ970A, plant: FakePlant, wire: RecordingTransport) -> None:
    ohms = driver.measure_resistance("T_CELL1")
    assert abs(ohms - 10_000.0) <= 0.0001 * 10_000 + 0.00001 * 10_000
    assert plant.asked == [("T_CELL1", "RES")]
    assert wire.sent == ["MEAS:RES? AUTO,DEF,(@110)"]


def test_open_circuit_reads_overload(driver: KeysightDAQ970A) -> None:
    assert driver.measure_resistance("T_AMB") == OVERLOAD
    assert not driver.contact_closed("T_AMB")


def test_dc_current(driver: KeysightDAQ970A, plant: FakePlant, wire: RecordingTransport) -> None:
    amps = driver.measure_dc_current("SUPPLY")
    assert abs(amps - 0.012) <= 0.0005 * 0.012 + 0.0002 * 0.01
    assert plant.asked == [("SUPPLY", "CURR")]
    assert wire.sent == ["MEAS:CURR:DC? AUTO,DEF,(@121)"]


def test_sleep_current_is_read_on_the_100_ua_range(driver: KeysightDAQ970A) -> None:
    """Within the 12100 stations' figure (OUR READING: ±(0.05 % + 0.025 % of 100 µA)), not the
    10 mA range's ±(0.05 % + 0.02 % of 10 mA), which is 70 times wider."""
    limit = 0.0005 * 8e-6 + 0.00025 * 1e-4
    readings = [driver.measure_dc_current("SLEEP") for _ in range(20)]
    assert all(abs(amps - 8e-6) <= limit for amps in readings), readings
    assert len(set(readings)) > 1  # the sim's error is drawn per reading


def test_unmapped_point_sends_nothing(driver: KeysightDAQ970A, wire: RecordingTransport) -> None:
    with pytest.raises(InstrumentError):
        driver.measure_dc_voltage("CELL4")
    assert wire.sent == []


def test_unknown_channel_lands_in_error_queue(visa: MessageBasedResource) -> None:
    visa.write("MEAS:VOLT:DC? AUTO,DEF,(@125)")
    assert visa.query("SYST:ERR?").startswith('-241,"Hardware missing')
    assert visa.query("SYST:ERR?") == '0,"No error"'


def test_current_on_voltage_channel_is_a_conflict(visa: MessageBasedResource) -> None:
    visa.write("MEAS:CURR:DC? AUTO,DEF,(@101)")
    assert visa.query("SYST:ERR?").startswith('-221,"Settings conflict')


def test_configure_error_names_instrument_and_command(driver: KeysightDAQ970A) -> None:
    with pytest.raises(InstrumentError) as err:
        driver.configure("CONF:VOLT:DC AUTO,DEF,(@130)")
    assert err.value.instrument == "dmm"
    assert "CONF:VOLT:DC AUTO,DEF,(@130)" in err.value.command
    assert err.value.detail.startswith("-241")
    with pytest.raises(InstrumentError) as err:
        driver.configure("CONF:BOGUS (@101)")
    assert err.value.detail.startswith("-113")


def test_scan_and_read(visa: MessageBasedResource, plant: FakePlant) -> None:
    visa.write("CONF:VOLT:DC AUTO,DEF,(@101,102)")
    assert visa.query("ROUT:SCAN?") == "(@101,102)"
    readings = [float(v) for v in visa.query("READ?").split(",")]
    assert readings == [pytest.approx(13.2, abs=2e-3), pytest.approx(3.3, abs=2e-4)]
    visa.write("ROUT:SCAN (@102)")
    assert float(visa.query("READ?")) == pytest.approx(3.3, abs=2e-4)
    assert visa.query("SYST:ERR?") == '0,"No error"'
    assert ("CELL1", "VOLT") in plant.asked


def test_fixed_range_overload(visa: MessageBasedResource) -> None:
    assert float(visa.query("MEAS:VOLT:DC? 1,DEF,(@101)")) == OVERLOAD
    assert float(visa.query("MEAS:VOLT:DC? 100,DEF,(@101)")) == pytest.approx(13.2, abs=2e-3)
