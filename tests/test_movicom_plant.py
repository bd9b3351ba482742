"""The Movicom plant on the simulated lab: Modbus RTU and TCP answered through pymodbus's framers
from the twin's registers (a request in pieces answered once, another unit silent, an unpowered
unit silent), and the CANopen node's periodic sends on virtual time (sim/canbus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadInputRegistersRequest

from hil.duts.movicom_main_2.sim.canbus import VirtualNetwork
from hil.duts.movicom_main_2.sim.plant import MovicomPlant
from hil.sim.lab import Lab
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[1]
MAX_MIN_CELL = 0x2105  # min_cell_voltage, max_cell_voltage (REAL32 each, CDAB)
F32 = ModbusClientMixin.DATATYPE.FLOAT32


def _lab(powered: bool) -> Lab:
    model = load_station(ROOT / "stations" / "sim-movicom-main-2.1.yaml")
    lab = Lab(getattr(model, "model", model))
    if powered:
        commands = {
            "supply": ["VOLT 12", "CURR 0.5", "OUTP ON"],
            **{f"cells_{c}": ["VOLT 3.3,(@1:4)", "OUTP ON,(@1:4)"] for c in "abcd"},
            "analog": ["SOUR:VOLT 2.5,(@104,105)"],
        }
        for name, lines in commands.items():
            for line in lines:
                lab.instruments[name].execute(line)
        lab.advance(3.0)  # past the Logic link's initialisation
    return lab


def _request(framer: FramerRTU | FramerSocket, unit: int = 32) -> bytes:
    return framer.buildFrame(ReadInputRegistersRequest(address=MAX_MIN_CELL, count=4, dev_id=unit))


def _cells(framer: FramerRTU | FramerSocket, answer: bytes) -> list[float]:
    _, response = framer.handleFrame(answer, 0, 0)
    assert response is not None and not response.isError()
    r = response.registers
    return [ModbusClientMixin.convert_from_registers([r[i + 1], r[i]], F32) for i in (0, 2)]  # type: ignore[misc]


def test_rtu_request_in_pieces_is_answered_once_with_the_cell_voltages() -> None:
    lab = _lab(powered=True)
    framer = FramerRTU(DecodePDU(is_server=False))
    request = _request(framer)
    assert lab.serial(request[:3]) == b""  # not whole yet
    answer = lab.serial(request[3:])
    assert _cells(framer, answer) == [pytest.approx(3.3, abs=0.01)] * 2
    assert lab.serial(b"") == b""  # nothing left behind to answer again
    assert lab.serial(_request(framer, unit=7)) == b""  # another unit on the line: silence


def test_modbus_tcp_answers_and_an_unpowered_unit_is_silent() -> None:
    framer = FramerSocket(DecodePDU(is_server=False))
    lab = _lab(powered=True)
    answer = lab.plant.modbus_tcp(lab.t, _request(framer))
    assert _cells(framer, answer) == [pytest.approx(3.3, abs=0.01)] * 2
    off = _lab(powered=False)
    assert off.plant.modbus_tcp(off.t, _request(framer)) == b""
    assert off.serial(_request(FramerRTU(DecodePDU(is_server=False)))) == b""


def test_periodic_sends_follow_virtual_time() -> None:
    sent: list[tuple[float, int, bytes]] = []
    now = [0.0]
    network = VirtualNetwork(lambda t, can_id, data: sent.append((t, can_id, data)), lambda: now[0])
    task = network.send_periodic(0x720, [0x7F], 1.0)
    assert network.next_due() == 1.0
    network.fire(2.5)
    task.update([0x05])
    network.fire(3.0)
    task.stop()
    network.fire(10.0)
    assert sent == [(1.0, 0x720, b"\x7f"), (2.0, 0x720, b"\x7f"), (3.0, 0x720, b"\x05")]
    assert network.next_due() is None


def test_the_served_unit_sends_its_heartbeat_on_the_lab_clock() -> None:
    lab = _lab(powered=True)  # booted at t = 0 (the supply on before the first step)
    assert isinstance(lab.plant, MovicomPlant)
    period = lab.plant.config.can.heartbeat_ms / 1000.0
    lab.advance(5.0 * period - lab.t + 0.5)
    assert lab.hub.last_timestamp == pytest.approx(5.0 * period)  # the 5th heartbeat, none since
