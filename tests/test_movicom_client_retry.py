"""The Movicom client's link policy (hil.retry, shared with the 12100's): a Modbus read that gets no
answer is asked again, up to the policy's retries, then named as a DutError; a write is sent once.

The peer is a real TCP socket that pyserial's `socket://` opens as the RS-485 line: it reads every
request and never answers, so the bytes it received count the requests pymodbus sent.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.clock import WallClock
from hil.duts.movicom_main_2.client import MovicomClient
from hil.errors import DutError
from hil.retry import RetryPolicy
from hil.station.station import Station, load_station

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-movicom-main-2.1.yaml"
READ_REQUEST_BYTES = 8  # RTU: unit, function, address (2), count (2), CRC (2)


class SilentPeer:
    """A TCP listener that swallows whatever it is sent and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while data := conn.recv(4096):
                self.received += data

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def silent() -> Iterator[tuple[MovicomClient, SilentPeer]]:
    peer = SilentPeer()
    model = load_station(STATION)
    rs485 = model.buses.rs485
    assert rs485 is not None
    buses = model.buses.model_copy(
        update={
            "rs485": rs485.model_copy(update={"url": f"socket://127.0.0.1:{peer.port}", "timeout_s": 0.2}),
            "can": None,
            "modbus_tcp": None,
        }
    )
    client = MovicomClient(Station(model.model_copy(update={"buses": buses}), STATION, WallClock()), None)
    try:
        yield client, peer
    finally:
        assert client.rtu is not None
        client.rtu.close()  # type: ignore[no-untyped-call]
        peer.close()


def test_a_read_without_answer_is_asked_again_then_named(silent: tuple[MovicomClient, SilentPeer]) -> None:
    client, peer = silent
    with pytest.raises(DutError, match="Modbus RTU: no answer reading firmware_version"):
        client.read(["firmware_version"])
    attempts = RetryPolicy().attempts(read=True)
    assert attempts == 3
    assert len(peer.received) == attempts * READ_REQUEST_BYTES
    assert peer.received[1] in (0x03, 0x04)  # read holding / input registers
    assert not client.answers()


def test_a_write_without_answer_is_sent_once(silent: tuple[MovicomClient, SilentPeer]) -> None:
    client, peer = silent
    with pytest.raises(DutError, match="Modbus RTU: no answer writing logic_select"):
        client.write("logic_select", 1)
    assert peer.received[:2] == bytes([client.unit, 0x10])  # write multiple registers
    assert len(peer.received) == 7 + 2 * client.codec.register_map.get("logic_select").words + 2
