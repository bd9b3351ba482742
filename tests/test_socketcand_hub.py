"""The socketcand hub (the simulated CAN bus) with python-can's own socketcand client."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import can
import pytest

from hil.sim import socketcand
from hil.sim.socketcand import SocketcandHub, format_frame

RECV_TIMEOUT_S = 5.0
#: a long handshake guard, so that a frame published right after the handshake surely falls in it
LONG_GUARD_S = 0.5
SYNC_ID, SYNC_DATA = 0x7FF, b"sync"


@dataclass
class Hub:
    hub: SocketcandHub
    loop: asyncio.AbstractEventLoop
    port: int
    clock: list[float]
    received: list[tuple[float, int, bytes, bool]] = field(default_factory=list)
    buses: list[Any] = field(default_factory=list)

    def call(self, fn: Callable[[], object]) -> None:
        """Run `fn` in the hub's loop (the hub is not thread-safe) and wait until it has run."""

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def settle(self) -> None:
        """Wait until the loop has finished whatever command it was running (a round trip)."""
        self.call(lambda: None)

    def set_time(self, t: float) -> None:
        """Move the hub's clock, in its loop (as the lab does), never in the middle of a command."""
        self.call(lambda: self.clock.__setitem__(0, t))

    def publish(self, timestamp: float, can_id: int, data: bytes, extended: bool = False) -> None:
        self.call(lambda: self.hub.publish(timestamp, can_id, data, extended))

    def sync(self, *buses: Any) -> None:
        """Publish one marker frame and read it on every bus: each is past its handshake guard then."""
        self.publish(-1.0, SYNC_ID, SYNC_DATA)
        for bus in buses:
            message = bus.recv(RECV_TIMEOUT_S)
            assert message is not None
            assert (message.arbitration_id, bytes(message.data)) == (SYNC_ID, SYNC_DATA)

    def connect(self, channel: str = "can0") -> Any:
        bus = can.Bus(interface="socketcand", host="127.0.0.1", port=self.port, channel=channel)
        self.buses.append(bus)
        return bus


@pytest.fixture
def hub() -> Iterator[Hub]:
    """A hub on an ephemeral port, served by an asyncio loop in a background thread."""
    loop = asyncio.new_event_loop()
    clock = [0.0]
    received: list[tuple[float, int, bytes, bool]] = []
    state: dict[str, Any] = {}
    ready = threading.Event()

    def on_receive(t: float, can_id: int, data: bytes, extended: bool) -> None:
        received.append((t, can_id, data, extended))

    def run() -> None:
        asyncio.set_event_loop(loop)
        hub = SocketcandHub(channel="can0", now=lambda: clock[0], on_receive=on_receive)
        server = loop.run_until_complete(asyncio.start_server(hub.handle, "127.0.0.1", 0))
        state["server"] = server
        state["hub"] = Hub(hub, loop, int(server.sockets[0].getsockname()[1]), clock, received)
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    served: Hub = state["hub"]

    async def shutdown() -> None:
        state["server"].close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        yield served
    finally:
        for bus in served.buses:
            bus.shutdown()
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def long_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socketcand, "HANDSHAKE_GUARD_S", LONG_GUARD_S)


def test_format_frame() -> None:
    assert format_frame(1.5, 0x351, bytes([0x8E, 0, 0xE8, 3])) == b"< frame 351 1.500000 8E00E803 >"
    assert format_frame(0.0, 0x1234567, b"", extended=True) == b"< frame 01234567 0.000000  >"


def test_handshake_and_published_frames(hub: Hub) -> None:
    bus = hub.connect()
    hub.publish(3.25, 0x356, bytes([0x26, 0x05, 0, 0, 2, 1]))
    hub.publish(4.0, 0x18FF50E5, bytes([1, 2, 3]), extended=True)
    first = bus.recv(RECV_TIMEOUT_S)
    second = bus.recv(RECV_TIMEOUT_S)
    assert first is not None and second is not None
    assert (first.arbitration_id, bytes(first.data), first.timestamp) == (
        0x356,
        b"\x26\x05\x00\x00\x02\x01",
        3.25,
    )
    assert not first.is_extended_id
    assert (second.arbitration_id, bytes(second.data), second.timestamp) == (0x18FF50E5, b"\x01\x02\x03", 4.0)
    assert second.is_extended_id
    assert hub.hub.frames_published == 2
    assert hub.hub.last_timestamp == 4.0


def test_frames_sharing_a_timestamp_carry_its_text(hub: Hub) -> None:
    """The hub makes a timestamp's text once for the frames of one lab step: each still carries its own."""
    bus = hub.connect()
    hub.sync(bus)
    stamps = [5.0, 5.0, 5.000001, -0.0, 0.0, 0.0, 5.0]
    for n, t in enumerate(stamps):
        hub.publish(t, 0x600 + n, bytes([n]))
    got = [bus.recv(RECV_TIMEOUT_S) for _ in stamps]
    assert [
        (m.arbitration_id, m.timestamp, math.copysign(1.0, m.timestamp)) for m in got if m is not None
    ] == [(0x600 + n, t, math.copysign(1.0, t)) for n, t in enumerate(stamps)]


def test_frames_published_right_after_the_handshake_are_held_not_dropped(hub: Hub, long_guard: None) -> None:
    """Regression: frames published during the handshake guard used to be lost."""
    bus = hub.connect()  # returns on the final "< ok >": the hub now waits out its guard
    for n in range(3):
        hub.publish(1.0 + n, 0x351 + n, bytes([n]))
    got = [bus.recv(RECV_TIMEOUT_S) for _ in range(3)]
    assert all(m is not None for m in got)
    assert [(m.arbitration_id, bytes(m.data), m.timestamp) for m in got if m is not None] == [
        (0x351, b"\x00", 1.0),
        (0x352, b"\x01", 2.0),
        (0x353, b"\x02", 3.0),
    ]


def test_frames_from_one_client_reach_the_others_and_on_receive(hub: Hub) -> None:
    inverter = hub.connect()
    monitor = hub.connect()
    third = hub.connect()
    hub.sync(inverter, monitor, third)
    hub.set_time(12.5)
    inverter.send(can.Message(arbitration_id=0x305, data=bytes(8), is_extended_id=False))
    inverter.send(can.Message(arbitration_id=0x1ABCDE, data=b"\xaa\x0b", is_extended_id=True))
    for bus in (monitor, third):
        a, b = bus.recv(RECV_TIMEOUT_S), bus.recv(RECV_TIMEOUT_S)
        assert a is not None and b is not None
        assert (a.arbitration_id, bytes(a.data), a.is_extended_id, a.timestamp) == (
            0x305,
            bytes(8),
            False,
            12.5,
        )
        assert (b.arbitration_id, bytes(b.data), b.is_extended_id, b.timestamp) == (
            0x1ABCDE,
            b"\xaa\x0b",
            True,
            12.5,
        )
    hub.settle()
    assert hub.received == [(12.5, 0x305, bytes(8), False), (12.5, 0x1ABCDE, b"\xaa\x0b", True)]
    # the sender does not get its own frame back, and client frames are not counted as published
    assert inverter.recv(0.2) is None
    assert hub.hub.frames_published == 1  # the sync frame only


def test_timestamps_follow_the_hubs_clock(hub: Hub) -> None:
    sender = hub.connect()
    listener = hub.connect()
    hub.sync(sender, listener)
    stamps = []
    for t in (0.0, 0.75, 100.125):
        hub.set_time(t)
        sender.send(can.Message(arbitration_id=0x305, data=b"\x01", is_extended_id=False))
        message = listener.recv(RECV_TIMEOUT_S)
        assert message is not None
        stamps.append(message.timestamp)
    assert stamps == [0.0, 0.75, 100.125]
    hub.settle()
    assert hub.received == [(t, 0x305, b"\x01", False) for t in (0.0, 0.75, 100.125)]


def test_wrong_channel_is_refused(hub: Hub) -> None:
    with pytest.raises(can.CanError, match="could not open bus"):
        hub.connect("can1")


def test_client_frames_during_the_guard_are_held(hub: Hub, long_guard: None) -> None:
    inverter = hub.connect()
    hub.sync(inverter)
    monitor = hub.connect()  # in its guard now
    inverter.send(can.Message(arbitration_id=0x305, data=b"\x05", is_extended_id=False))
    message = monitor.recv(LONG_GUARD_S + 0.5)
    assert message is not None and message.arbitration_id == 0x305


def test_frames_of_one_lab_step_go_out_in_order_in_one_write(hub: Hub) -> None:
    bus = hub.connect()
    hub.sync(bus)
    writes: list[bytes] = []
    client = hub.hub._clients[0]
    original = client.writer.write

    def counting(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        original(data)

    client.writer.write = counting  # type: ignore[method-assign]

    def step() -> None:  # what one lab step does: many frames in one go of the loop
        for n in range(300):
            hub.hub.publish(5.0 + n * 1e-3, 0x600 + n % 32, n.to_bytes(2, "little"))

    hub.call(step)
    frames = [bus.recv(RECV_TIMEOUT_S) for _ in range(300)]
    assert [int.from_bytes(bytes(f.data), "little") for f in frames if f is not None] == list(range(300))
    assert len(writes) == 1 and writes[0].count(b"< frame ") == 300


def test_a_client_that_does_not_read_has_its_frames_dropped_not_kept_without_bound(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send-only connection (the D1000 client's command bus) never reads: once the kernel's socket
    buffers and the lab's backlog for it are full, its frames are dropped and counted (the lab's
    memory stays bounded), and a client that reads still gets the frames published after that."""
    limit = 64 * 1024
    monkeypatch.setattr(socketcand, "CLIENT_BACKLOG_MAX_BYTES", limit)
    silent = hub.connect()
    hub.sync(silent)
    dropped = [0]
    published = 0
    while dropped[0] == 0 and published < 1_000_000:  # a few MB fill the loopback buffers

        def step(start: int = published) -> None:
            for n in range(5000):
                hub.hub.publish((start + n) * 1e-6, 0x100, bytes(8))
            dropped[0] = hub.hub.dropped()

        hub.call(step)
        hub.settle()
        published += 5000
    backlog: list[int] = []
    hub.call(lambda: backlog.extend(c.writer.transport.get_write_buffer_size() for c in hub.hub._clients))
    assert dropped[0] > 0, f"nothing dropped after {published} frames"
    assert max(backlog) <= limit + 5000 * 64  # at most one step's frames beyond the limit
    reader = hub.connect()
    hub.sync(reader)  # a new client is served as before
