"""The lab's CAN bus-load generator (`can_load`, `can_load_status` on the control port)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from hil.errors import SimError
from hil.sim.client import SimProcess

STATION = Path(__file__).resolve().parents[1] / "stations" / "sim-bms12100.yaml"
LOAD_ID = 0x7F0
RATE = 200.0
DURATION = 0.5
FRAMES = round(RATE * DURATION)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess(STATION)
    yield process
    process.stop()


def _open_bus(sim: SimProcess) -> can.BusABC:
    can_ep = sim.endpoints["can"]
    return can.Bus(
        interface="socketcand", host=can_ep["host"], port=can_ep["port"], channel=can_ep["channel"]
    )


def _wait_until_ended(sim: SimProcess, limit_s: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + limit_s
    status = sim.control.request("can_load_status")
    while status["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
        status = sim.control.request("can_load_status")
    return status


def test_can_load_delivers_every_sequence_number_and_reports_the_count(sim: SimProcess) -> None:
    bus = _open_bus(sim)
    try:
        reply = sim.control.request("can_load", rate=RATE, duration=DURATION)
        assert reply["ok"] is True
        assert reply["started"] is True
        status = _wait_until_ended(sim)
        received: list[can.Message] = []
        deadline = time.monotonic() + 30.0
        while len(received) < FRAMES and time.monotonic() < deadline:
            msg = bus.recv(timeout=0.5)
            if msg is not None and msg.arbitration_id == LOAD_ID:
                received.append(msg)
    finally:
        bus.shutdown()

    assert status["running"] is False
    assert status["sent"] == FRAMES
    assert len(received) == FRAMES
    assert all(len(msg.data) == 8 and not msg.is_extended_id for msg in received)
    sequence = [struct.unpack("<II", bytes(msg.data))[0] for msg in received]
    assert sequence == list(range(FRAMES))  # in order, no gaps, no duplicates
    stamps = [struct.unpack("<II", bytes(msg.data))[1] for msg in received]
    assert stamps == sorted(stamps)  # wall-clock microseconds since the start never go back


def test_can_load_on_another_id_and_status_while_idle(sim: SimProcess) -> None:
    idle = sim.control.request("can_load_status")
    assert idle["running"] is False
    bus = _open_bus(sim)
    try:
        sim.control.request("can_load", rate=50, duration=0.1, can_id=0x18FF50E5)
        status = _wait_until_ended(sim)
        msg = bus.recv(timeout=10.0)
    finally:
        bus.shutdown()
    assert status["sent"] == 5
    assert msg is not None
    assert msg.arbitration_id == 0x18FF50E5
    assert msg.is_extended_id
    assert struct.unpack("<II", bytes(msg.data))[0] == 0


def test_can_load_refuses_bad_parameters_and_a_second_load(sim: SimProcess) -> None:
    with pytest.raises(SimError, match="rate > 0"):
        sim.control.request("can_load", rate=0, duration=1)
    sim.control.request("can_load", rate=10, duration=0.5)
    with pytest.raises(SimError, match="already running"):
        sim.control.request("can_load", rate=10, duration=1)
    assert _wait_until_ended(sim)["sent"] == 5
