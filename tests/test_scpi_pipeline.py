"""A configure over a raw socket: its commands and first SYST:ERR? leave in one write, with the
same meaning as one message at a time (errors named, queue drained, faults named)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from hil.errors import InstrumentError, InstrumentTimeout
from hil.instruments.drivers.keysight_n8900 import KeysightN8900
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.keysight_n8900 import SimKeysightN8900
from hil.sim.tcp import scpi_server_thread

SETTLE_S = 0.1  # as in test_driver_keysight_n8900: let the server see the disconnect


def _driver(resource: str, timeout_s: float = 3.0) -> tuple[KeysightN8900, RecordingTransport]:
    wire = RecordingTransport(VisaTransport("charger", resource, timeout_s=timeout_s))
    info = InstrumentInfo(role="charger", model="N8920A", resource=resource, limits=Limits())
    return KeysightN8900(info, wire), wire


@pytest.fixture
def sim() -> SimKeysightN8900:
    return SimKeysightN8900("charger", {"PACK": "1"}, seed=3)


@pytest.fixture
def resource(sim: SimKeysightN8900) -> Iterator[str]:
    with scpi_server_thread(sim) as found:
        yield found
        time.sleep(SETTLE_S)


def test_settings_take_effect_and_the_check_is_sent_after_them(sim: SimKeysightN8900, resource: str) -> None:
    psu, wire = _driver(resource)
    try:
        psu.configure("VOLT 12.5", "CURR 3")
    finally:
        psu.close()
    assert (sim.voltage, sim.current_limit) == (12.5, 3.0)
    assert wire.sent == ["VOLT 12.5", "CURR 3", "SYST:ERR?"]


def test_an_instrument_error_names_the_unit_and_the_entry_and_drains_the_queue(
    sim: SimKeysightN8900, resource: str
) -> None:
    psu, wire = _driver(resource)
    try:
        with pytest.raises(InstrumentError) as caught:
            psu.configure("VOLT 7", "BOGus:HEADer 1", "VOLT:NOPE", "CURR 2")
        assert type(caught.value) is InstrumentError
        assert caught.value.command == "VOLT 7; BOGus:HEADer 1; VOLT:NOPE; CURR 2"
        assert caught.value.detail.count("-113") == 2  # both refused headers, in order
        assert caught.value.detail.index("BOGus:HEADer") < caught.value.detail.index("VOLT:NOPE")
        # each line is its own message: the commands around the refused ones took effect
        assert (sim.voltage, sim.current_limit) == (7.0, 2.0)
        assert wire.sent[-3:] == ["SYST:ERR?", "SYST:ERR?", "SYST:ERR?"]  # two entries, then 0
        assert psu.query("SYST:ERR?").startswith("0,")
    finally:
        psu.close()


def test_an_instrument_that_stops_answering_is_named_at_the_error_check(
    sim: SimKeysightN8900, resource: str
) -> None:
    psu, _ = _driver(resource, timeout_s=0.5)
    sim.inject_fault("timeout")
    try:
        with pytest.raises(InstrumentTimeout) as caught:
            psu.configure("VOLT 5", "CURR 1")
        assert caught.value.command == "VOLT 5; CURR 1"
        assert "(at 'SYST:ERR?')" in caught.value.detail
        assert psu.suspect is not None  # the next test checks the instrument first
    finally:
        psu.close()


def test_a_configure_leaves_in_one_write() -> None:
    """What arrives at the instrument before it answers: one chunk holding every line."""
    listener = socket.create_server(("127.0.0.1", 0))
    chunks: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"SYST:ERR?\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                chunks.append(chunk)
                data += chunk
                time.sleep(0.05)  # a slow reader: separate writes would arrive as separate chunks
            conn.sendall(b'+0,"No error"\n')
            conn.recv(1)  # until the client closes

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    port = listener.getsockname()[1]
    psu, _ = _driver(f"TCPIP0::127.0.0.1::{port}::SOCKET")
    try:
        psu.configure("VOLT 5", "CURR 1", "OUTP ON")
    finally:
        psu.close()
        server.join(5)
        listener.close()
    assert chunks == [b"VOLT 5\nCURR 1\nOUTP ON\nSYST:ERR?\n"]


class _CountingN8900(KeysightN8900):
    """A driver that changes how its messages travel (here: counts them): not pipelined."""

    PIPELINE_CHECK = False

    def __init__(self, info: InstrumentInfo, transport: RecordingTransport) -> None:
        super().__init__(info, transport)
        self.written: list[str] = []

    def write(self, command: str) -> None:
        self.written.append(command)
        super().write(command)


def test_a_driver_that_turns_the_pipeline_off_sends_through_its_own_write(
    sim: SimKeysightN8900, resource: str
) -> None:
    """Each command of a configure goes through the driver's `write`, then the error queue is read:
    the same messages, in the same order, as the pipeline sends."""
    wire = RecordingTransport(VisaTransport("charger", resource, timeout_s=3.0))
    psu = _CountingN8900(
        InstrumentInfo(role="charger", model="N8920A", resource=resource, limits=Limits()), wire
    )
    try:
        psu.configure("VOLT 12.5", "CURR 3")
    finally:
        psu.close()
    assert psu.written == ["VOLT 12.5", "CURR 3"]
    assert wire.sent == ["VOLT 12.5", "CURR 3", "SYST:ERR?"]
    assert (sim.voltage, sim.current_limit) == (12.5, 3.0)
