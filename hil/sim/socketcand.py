"""A socketcand hub: the simulated CAN bus, reachable with python-can's `socketcand` interface.

Implements the raw mode of the socketcand protocol: `< hi >` greeting, `< open CHANNEL >`,
`< rawmode >`, then `< frame ID SECONDS.USECONDS DATA >` to clients and `< send ID DLC B0 .. >`
from them. Frame timestamps are the lab's (virtual) time. Error frames go out as socketcand's raw
mode sends them, `< error CLASS SECONDS.USECONDS >` with the SocketCAN error class bits
(linux/can/error.h) and no data; python-can's client makes them `is_error_frame` messages whose
arbitration ID is the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# python-can reads each handshake answer with one recv(): a frame must never share a TCP segment
# with the final "< ok >", so a new client gets frames only after this pause.
HANDSHAKE_GUARD_S = 0.05
#: frames for a client that does not read (e.g. a send-only connection) are dropped once this much
#: is waiting in the lab beyond the kernel's socket buffer, as a CAN controller's full receive FIFO
#: drops them: the lab's memory stays bounded however long the run. Far above any burst a reading
#: client takes in (hours of virtual time in one advance are ~10 MB of frames)
CLIENT_BACKLOG_MAX_BYTES = 64 << 20

_SEND = re.compile(r"<\s*send\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)((?:\s+[0-9A-Fa-f]{1,2})*)\s*>")

FrameSink = Callable[[float, int, bytes, bool], None]


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    raw: bool = False
    held: list[bytes] = field(default_factory=list)  # frames published during the handshake guard
    pending: list[bytes] = field(default_factory=list)  # frames waiting for the next flush
    dropped: int = 0  # frames dropped because the client did not read them


def format_error(timestamp: float, error_class: int) -> bytes:
    """One error frame in socketcand's raw-mode syntax (class bits only, as socketcand sends it)."""
    return f"< error {error_class & 0x1FFFFFFF:03X} {timestamp:.6f} >".encode("ascii")


def format_frame(
    timestamp: float, can_id: int, data: bytes, extended: bool = False, stamp: str = ""
) -> bytes:
    """One frame in socketcand's raw-mode syntax; `stamp`, when given, is `timestamp`'s text."""
    ident = f"{can_id:08X}" if extended else f"{can_id:03X}"
    return f"< frame {ident} {stamp or f'{timestamp:.6f}'} {data.hex().upper()} >".encode("ascii")


@dataclass
class SocketcandHub:
    """Fans frames out to every client in raw mode; frames clients send reach `on_receive`."""

    channel: str = "can0"
    now: Callable[[], float] = lambda: 0.0
    on_receive: FrameSink | None = None
    frames_published: int = 0
    last_timestamp: float = -1.0
    _clients: list[_Client] = field(default_factory=list)
    _flush_scheduled: bool = False
    _stamp: tuple[float, str] = (0.0, "")  # the last timestamp published and its text

    def listeners(self) -> int:
        """Clients subscribed to the bus now."""
        return len(self._clients)

    def publish(self, timestamp: float, can_id: int, data: bytes, extended: bool = False) -> None:
        """Put a frame on the bus (from the DUT twin). The frames of one lab step share their
        timestamp: its text (half a frame's formatting) is made once for them."""
        if timestamp != self._stamp[0] or timestamp == 0.0:  # (0.0 == -0.0, not their text)
            self._stamp = (timestamp, f"{timestamp:.6f}")
        self._fan_out(timestamp, format_frame(timestamp, can_id, data, extended, self._stamp[1]))

    def publish_error(self, timestamp: float, error_class: int) -> None:
        """Put an error frame on the bus (fault insertion): every client sees it with this timestamp."""
        self._fan_out(timestamp, format_error(timestamp, error_class))

    def _fan_out(self, timestamp: float, line: bytes) -> None:
        self.frames_published += 1
        self.last_timestamp = timestamp
        for client in self._clients:
            self._deliver(client, line)

    def _deliver(self, client: _Client, line: bytes) -> None:
        """Queue a frame for a subscribed client, or hold it while the client is in its guard.

        Queued frames go out in one write when the event loop next gets control (one lab step can
        publish hundreds of frames: one send each would cost more than the step).
        """
        if client.writer.is_closing():
            return
        if not client.raw:
            client.held.append(line)
            return
        if not self._flush_scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop running (a direct call): write at once
                client.writer.write(line)
                return
            self._flush_scheduled = True
        client.pending.append(line)

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Frames published inside go out in one flush at its end, not in one the loop schedules:
        the caller (the control port) answers its request right after, frames first."""
        self._flush_scheduled = True  # as if a flush were due: `_deliver` schedules none
        try:
            yield
        finally:
            self.flush()

    def flush(self) -> None:
        """Write every queued frame, one write per client (dropped for a client that stopped reading)."""
        self._flush_scheduled = False
        for client in self._clients:
            if client.pending:
                lines, client.pending = client.pending, []
                if client.writer.is_closing():
                    continue
                if client.writer.transport.get_write_buffer_size() > CLIENT_BACKLOG_MAX_BYTES:
                    client.dropped += len(lines)
                    continue
                client.writer.write(b"".join(lines))

    def dropped(self) -> int:
        """Frames dropped so far for clients that did not read them."""
        return sum(client.dropped for client in self._clients)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        writer.write(b"< hi >")
        await writer.drain()
        buffer = ""
        try:
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                buffer += chunk.decode("ascii", errors="replace")
                while ">" in buffer:
                    end = buffer.index(">")
                    start = buffer.find("<")
                    message = buffer[start : end + 1] if 0 <= start < end else ""
                    buffer = buffer[end + 1 :]
                    await self._command(client, message)
        except (ConnectionError, asyncio.CancelledError):
            pass  # client gone, or the lab is stopping
        finally:
            if client in self._clients:
                self._clients.remove(client)
            writer.close()

    @staticmethod
    def _go_raw(client: _Client) -> None:
        """End of the handshake guard: the held frames go out, later ones as they come."""
        if not client.writer.is_closing():
            client.writer.write(b"".join(client.held))
        client.held.clear()
        client.raw = True

    async def _command(self, client: _Client, message: str) -> None:
        self.flush()  # frames published before this command reach the client before its answer
        words = message.strip("<> ").split()
        if not words:
            return
        verb = words[0]
        if verb == "open":
            if len(words) > 1 and words[1] == self.channel:
                client.writer.write(b"< ok >")
            else:
                client.writer.write(b"< error could not open bus >")
            await client.writer.drain()
        elif verb == "rawmode":
            self._clients.append(client)  # subscribed before the ok: frames are held during the guard
            client.writer.write(b"< ok >")
            await client.writer.drain()
            # the guard holds outgoing frames only: the client's own sends are taken meanwhile (a
            # controller's first command must not wait out the guard while the lab's time runs on)
            asyncio.get_running_loop().call_later(HANDSHAKE_GUARD_S, self._go_raw, client)
        elif verb == "send":
            m = _SEND.fullmatch(message.strip())
            if not m:
                client.writer.write(b"< error bad send >")
                return
            ident = m.group(1)
            data = bytes(int(b, 16) for b in m.group(3).split())
            can_id, extended = int(ident, 16), len(ident) > 3
            line = format_frame(self.now(), can_id, data, extended)
            for other in self._clients:
                if other is not client:
                    self._deliver(other, line)  # held, not dropped, for a client in its guard
            if self.on_receive is not None:
                self.on_receive(self.now(), can_id, data, extended)
        elif verb in ("echo",):
            client.writer.write(b"< echo >")
        else:
            client.writer.write(b"< error unknown command >")
