"""The DAQM907A analog-source driver against the simulated DAQ970A + DAQM907A, over PyVISA sockets."""

from __future__ import annotations

import pytest

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.keysight_daqm907a import ACCURACY, KeysightDAQM907A
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.keysight_daqm907a import SimKeysightDAQM907A
from hil.station.model import AccuracyModel

#: the Movicom sensor inputs: Hall sensor Vcs/Vref (P12), humidity Vhs and temperature Vts (P13)
CHANNELS = {"VCS": "104", "VREF": "105", "VHS": "204", "VTS": "205", "DIO": "101", "GONE": "304"}
LIMITS = Limits(voltage_min=0.0, voltage_max=5.0)


def bound(volts: float) -> float:
    """The declared setting accuracy at `volts`."""
    figures = ACCURACY["voltage"]
    return figures["gain"] * abs(volts) + figures["offset"]


@pytest.fixture
def sim() -> SimKeysightDAQM907A:
    return SimKeysightDAQM907A("sensors", CHANNELS, seed=4)


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> KeysightDAQM907A:
    info = InstrumentInfo(
        role="sensors", model="DAQ970A + 2 x DAQM907A", resource=resource, channels=CHANNELS, limits=LIMITS
    )
    return KeysightDAQM907A(info, wire)


def test_set_and_read_back_within_accuracy(
    driver: KeysightDAQM907A, sim: SimKeysightDAQM907A, wire: RecordingTransport
) -> None:
    driver.set_voltage("VREF", 2.5)
    driver.set_voltage("VCS", 3.125)  # 2.5 V + 0.625 V: charging current on a Vref-centred sensor
    driver.set_voltage("VTS", 1.234)
    assert wire.sent[:2] == ["SOUR:VOLT 2.5,(@105)", "SYST:ERR?"]
    assert driver.voltage("VCS") == 3.125 and driver.voltage("VREF") == 2.5
    for terminal, volts in (("VREF", 2.5), ("VCS", 3.125), ("VTS", 1.234)):
        assert abs(sim.output(terminal) - volts) <= bound(volts), terminal
    assert sim.output("VHS") == 0.0


def test_accuracy_fits_the_station_files_accuracy_block() -> None:
    model = AccuracyModel.model_validate(ACCURACY["voltage"])
    assert (model.gain, model.offset, model.resolution) == (0.0025, 0.020, 0.001)


def test_safe_state_is_every_output_at_zero(
    driver: KeysightDAQM907A, sim: SimKeysightDAQM907A, wire: RecordingTransport
) -> None:
    driver.set_voltage("VCS", 4.0)
    driver.set_voltage("VHS", 1.5)
    assert not driver.state_is_safe({"VCS": {"voltage": driver.voltage("VCS")}})
    wire.sent.clear()
    driver.info.channels = {k: v for k, v in CHANNELS.items() if k in ("VCS", "VREF", "VHS", "VTS")}
    driver.safe()
    assert wire.sent == ["SOUR:VOLT 0,(@104,105,204,205)", "SYST:ERR?"]
    state = driver.output_state()
    assert state == {t: {"voltage": 0.0} for t in ("VCS", "VREF", "VHS", "VTS")}
    assert driver.state_is_safe(state) and sim.output("VCS") == 0.0 and sim.output("VHS") == 0.0


def test_limits_refuse_before_anything_is_sent(driver: KeysightDAQM907A, wire: RecordingTransport) -> None:
    for volts in (5.5, -0.1, float("nan")):
        with pytest.raises(LimitError, match="not sent"):
            driver.set_voltage("VCS", volts)
    assert wire.sent == []


def test_bad_channels_are_instrument_errors(driver: KeysightDAQM907A, sim: SimKeysightDAQM907A) -> None:
    with pytest.raises(InstrumentError, match="no channel mapped to terminal 'VXX'"):
        driver.set_voltage("VXX", 1.0)
    with pytest.raises(InstrumentError, match=r"-221,.*channel 101 is not a DAC"):
        driver.set_voltage("DIO", 1.0)
    with pytest.raises(InstrumentError, match=r"-241,.*no module in slot 3"):
        driver.set_voltage("GONE", 1.0)
    assert sim.output("DIO") == 0.0 and sim.outputs() == {"voltage": {}}


def test_the_instrument_refuses_beyond_its_dac_range(sim: SimKeysightDAQM907A) -> None:
    sim.execute("SOUR:VOLT 12.5,(@104)")
    assert sim.execute("SYST:ERR?") == '-222,"Data out of range; SOUR:VOLT 12.5"'
    sim.execute("SOUR:VOLT -12,(@104)")
    assert sim.execute("SOUR:VOLT? (@104)") == "-1.200000000E+01"
    sim.execute("*RST")
    assert sim.execute("SOUR:VOLT? (@104,205)") == "+0.000000000E+00,+0.000000000E+00"


def test_identity_and_check(driver: KeysightDAQM907A) -> None:
    assert driver.check() == "Keysight Technologies,DAQ970A,MY58010077,A.03.02-01.00-03.02-00.02-02-01"
