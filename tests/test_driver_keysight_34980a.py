"""The 34980A fault-insertion switch driver against the simulated 34980A + 34937A, over PyVISA sockets."""

from __future__ import annotations

import pytest

from hil.errors import InstrumentError
from hil.instruments.drivers.keysight_34980a import Keysight34980A
from hil.instruments.info import InstrumentInfo
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.keysight_34980a import SimKeysight34980A

CHANNELS = {"HVIL_OPEN": "1011", "C3_WELDED": "1003", "PRE_SHUNT": "1029"}


@pytest.fixture
def sim() -> SimKeysight34980A:
    return SimKeysight34980A("fiu", CHANNELS, seed=1)


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> Keysight34980A:
    info = InstrumentInfo(role="fiu", model="34980A + 34937A", resource=resource, channels=CHANNELS)
    return Keysight34980A(info, wire)


def test_close_and_open_one_relay(
    driver: Keysight34980A, sim: SimKeysight34980A, wire: RecordingTransport
) -> None:
    driver.set_closed("HVIL_OPEN", True)
    assert sim.closed("HVIL_OPEN") and not sim.closed("C3_WELDED")
    assert driver.is_closed("HVIL_OPEN")
    driver.set_closed("HVIL_OPEN", False)
    assert not sim.closed("HVIL_OPEN")
    assert wire.sent == [
        "ROUT:CLOS (@1011)",
        "SYST:ERR?",
        "ROUT:CLOS? (@1011)",
        "ROUT:OPEN (@1011)",
        "SYST:ERR?",
    ]


def test_safe_state_opens_every_relay(driver: Keysight34980A, sim: SimKeysight34980A) -> None:
    driver.set_closed("C3_WELDED", True)
    driver.set_closed("PRE_SHUNT", True)
    driver.safe()
    state = driver.output_state()
    assert state == {terminal: {"closed": False} for terminal in CHANNELS}
    assert driver.state_is_safe(state)
    assert not driver.state_is_safe({"C3_WELDED": {"closed": True}})
    assert sim.outputs() == {"closed": []}


def test_missing_module_is_an_instrument_error(sim: SimKeysight34980A) -> None:
    sim.execute("ROUT:CLOS (@2001)")
    assert sim.execute("SYST:ERR?") == '-241,"Hardware missing; no channel 2001"'
    assert sim.outputs() == {"closed": []}


def test_rst_opens_everything(sim: SimKeysight34980A) -> None:
    sim.execute("ROUT:CLOS (@1001:1004)")
    assert sim.execute("ROUT:CLOS? (@1001:1005)") == "1,1,1,1,0"
    sim.execute("*RST")
    assert sim.execute("ROUT:OPEN? (@1001)") == "1"


def test_unmapped_terminal_sends_nothing(driver: Keysight34980A, wire: RecordingTransport) -> None:
    with pytest.raises(InstrumentError):
        driver.set_closed("HVIL_SCG", True)
    assert wire.sent == []
