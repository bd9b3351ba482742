"""Dry-contact inputs, relay contacts, termination and loaded outputs with the existing switch and DMM
roles: the 34980A closes a DUT input's dry contact or a fixture load, the DAQ970A reads 2-wire ohms
and DC volts through its multiplexer (both drivers against their sims, over PyVISA sockets).

The fixture model below stands in for the wiring a plant will compute (the Movicom plant is not
written yet): it answers the DMM's probe from the switch's relays and a settable DUT relay.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from hil.instruments.drivers.keysight_34980a import Keysight34980A
from hil.instruments.drivers.keysight_daq970a import OVERLOAD, KeysightDAQ970A
from hil.instruments.info import InstrumentInfo
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.keysight_34980a import SimKeysight34980A
from hil.sim.instruments.keysight_daq970a import SimKeysightDAQ970A
from hil.sim.tcp import scpi_server_thread

RELAYS = {"DI1": "1001", "DI2": "1002", "DO1_LOAD": "1029"}
POINTS = {"DI1_CONTACT": "103", "K1": "104", "CAN_TERM": "105", "DO1": "106"}
#: the discrete output's open-circuit voltage and source resistance, the fixture's 20 mA load
DO_OPEN_V, DO_SOURCE_OHM, LOAD_OHM = 5.05, 2.5, 250.0
RELAY_CLOSED_OHM = 0.12  # a 34937A contact plus wiring


class Fixture:
    """The bench wiring as a plant would compute it: what the DMM sees at each point."""

    def __init__(self, relays: SimKeysight34980A) -> None:
        self.relays = relays
        self.dut_relay_closed = False

    def __call__(self, point: str, quantity: str) -> float:
        if (point, quantity) == ("DI1_CONTACT", "RES"):
            return RELAY_CLOSED_OHM if self.relays.closed("DI1") else math.inf
        if (point, quantity) == ("K1", "RES"):
            return 0.05 if self.dut_relay_closed else math.inf
        if (point, quantity) == ("CAN_TERM", "RES"):
            return 120.0
        if (point, quantity) == ("DO1", "VOLT"):
            if not self.relays.closed("DO1_LOAD"):
                return DO_OPEN_V
            return DO_OPEN_V * LOAD_OHM / (LOAD_OHM + DO_SOURCE_OHM)
        return 0.0


@pytest.fixture
def bench() -> Iterator[tuple[Keysight34980A, KeysightDAQ970A, Fixture]]:
    switch_sim = SimKeysight34980A("inputs", RELAYS, seed=1)
    dmm_sim = SimKeysightDAQ970A("dmm", POINTS, seed=1)
    fixture = Fixture(switch_sim)
    dmm_sim.probe = fixture
    with scpi_server_thread(switch_sim) as switch_res, scpi_server_thread(dmm_sim) as dmm_res:
        switch = Keysight34980A(
            InstrumentInfo(role="inputs", model="34980A + 34937A", resource=switch_res, channels=RELAYS),
            RecordingTransport(VisaTransport("inputs", switch_res)),
        )
        dmm = KeysightDAQ970A(
            InstrumentInfo(role="dmm", model="DAQ970A + DAQM901A", resource=dmm_res, channels=POINTS),
            RecordingTransport(VisaTransport("dmm", dmm_res)),
        )
        try:
            yield switch, dmm, fixture
        finally:
            switch.close()
            dmm.close()
            time.sleep(0.1)


def test_a_dry_contact_input_is_closed_and_opened_by_its_relay(
    bench: tuple[Keysight34980A, KeysightDAQ970A, Fixture],
) -> None:
    switch, dmm, _ = bench
    assert dmm.measure_resistance("DI1_CONTACT") == OVERLOAD
    switch.set_closed("DI1", True)
    assert switch.is_closed("DI1") and not switch.is_closed("DI2")
    assert dmm.measure_resistance("DI1_CONTACT") == pytest.approx(RELAY_CLOSED_OHM, abs=0.01)
    switch.safe()  # every relay open: every dry-contact input released
    assert dmm.measure_resistance("DI1_CONTACT") == OVERLOAD
    assert switch.state_is_safe(switch.output_state())


def test_a_relay_contact_and_the_termination_by_two_wire_ohms(
    bench: tuple[Keysight34980A, KeysightDAQ970A, Fixture],
) -> None:
    _, dmm, fixture = bench
    assert not dmm.contact_closed("K1")
    fixture.dut_relay_closed = True
    assert dmm.contact_closed("K1")
    assert dmm.measure_resistance("CAN_TERM") == pytest.approx(120.0, rel=2e-3)  # 1 kΩ range accuracy
    assert dmm.transport.sent[-1] == "MEAS:RES? AUTO,DEF,(@105)"  # type: ignore[attr-defined]


def test_a_discrete_output_under_its_20_ma_fixture_load(
    bench: tuple[Keysight34980A, KeysightDAQ970A, Fixture],
) -> None:
    switch, dmm, _ = bench
    unloaded = dmm.measure_dc_voltage("DO1")
    switch.set_closed("DO1_LOAD", True)
    loaded = dmm.measure_dc_voltage("DO1")
    assert unloaded == pytest.approx(DO_OPEN_V, abs=1e-3)
    assert loaded / LOAD_OHM == pytest.approx(0.02, rel=0.01)  # 20 mA drawn
    assert (unloaded - loaded) / (loaded / LOAD_OHM) == pytest.approx(DO_SOURCE_OHM, rel=0.05)
