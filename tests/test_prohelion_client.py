"""The D1000 Gen2 client's telemetry view on the simulated station's CAN bus.

Frames are put on the bus by a second client (the BMU stays unpowered, so it sends nothing): the
client checks each frame's ID and length as it arrives and decodes a message only when it is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import can
import pytest
from d1000_rig import d1000_rig

from hil.can_monitor import CanMonitor, open_station_bus
from hil.duts.prohelion_d1000_gen2.client import D1000Client, state_of
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsState

WAIT_S = 5.0


@pytest.fixture(scope="module")
def rig() -> Iterator[tuple[D1000Client, CanMonitor, can.BusABC]]:
    with d1000_rig() as opened:
        opened.client.sending = False
        bus = opened.station.model.buses.can
        assert bus is not None
        other = open_station_bus(bus)
        try:
            yield opened.client, opened.monitor, other
        finally:
            other.shutdown()


def _put(rig: tuple[D1000Client, CanMonitor, can.BusABC], can_id: int, data: bytes) -> None:
    _, monitor, other = rig
    seen = monitor.count(can_id)
    other.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
    assert monitor.wait_count(can_id, seen + 1, WAIT_S)


def test_frames_are_checked_on_arrival_and_decoded_when_read(
    rig: tuple[D1000Client, CanMonitor, can.BusABC],
) -> None:
    client, monitor, _ = rig
    codec = client.codec
    extremes = {
        "MaxCellVoltage": 4.123,
        "MaxCellVoltageNodeID": 0,
        "MaxCellVoltageCellID": 7,
        "MinCellVoltage": 3.001,
        "MinCellVoltageNodeID": 0,
        "MinCellVoltageCellID": 2,
    }
    before = monitor.link_stats()
    since = client.clock.now()
    _put(rig, codec.frame_id("NodeCellInfo"), codec.encode("NodeCellInfo", extremes).data)
    _put(rig, codec.frame_id("BMSSoPData"), b"\x01\x02\x03")  # 3 of 8 bytes
    assert client.fresh(["NodeCellInfo"], since)
    assert not client.fresh(["BMSSoPData"], since)  # refused, not kept
    found = monitor.link_stats().since(before)
    assert dict(found.counts) == {"undecodable": 1}
    assert "BMSSoPData" in found.events[0].detail and found.events[0].raw == b"\x01\x02\x03"
    got = client.latest("NodeCellInfo")
    assert got is not None
    assert got.signals["MaxCellVoltageCellID"] == 7 and got.signals["MaxCellVoltage"] == 4.123
    # a newer frame replaces the decoded one the next time the message is read
    _put(
        rig,
        codec.frame_id("NodeCellInfo"),
        codec.encode("NodeCellInfo", {**extremes, "MaxCellVoltageCellID": 9}).data,
    )
    assert client.value("NodeCellInfo", "MaxCellVoltageCellID") == 9
    assert client.latest("BMSSoPData") is None


def test_a_state_passed_within_one_frame_stays_in_the_changes(
    rig: tuple[D1000Client, CanMonitor, can.BusABC],
) -> None:
    """With IDLE repeated the BMU passes SAFE within one cycle: the latest frame already says IDLE
    while the changes keep SAFE, which is where the bench's boot looks (the paced EOL's missed SAFE)."""
    client, _, _ = rig
    since = client.clock.now()
    info_id = client.codec.frame_id("BMSInfo")
    for state in (BmsState.SAFE, BmsState.IDLE):
        _put(rig, info_id, (1 << state).to_bytes(8, "little"))
    assert client.state() is BmsState.IDLE
    seen = [state_of(word) for t, word in client.info_changes if t >= since - 1e-6]
    assert seen[-2:] == [BmsState.SAFE, BmsState.IDLE]
