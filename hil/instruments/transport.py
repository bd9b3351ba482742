"""Message transports for instruments (SCPI or a line protocol): PyVISA on a bench, recording in tests.

Raw-socket LAN instruments are opened as ``TCPIP0::host::port::SOCKET`` with '\\n' termination
through the pure-Python pyvisa-py backend; GPIB/USB/INSTR resources work the same way when the
station's VISA library provides them.

Faults: a VISA timeout becomes `InstrumentTimeout`, a refused, reset or closed connection
`InstrumentConnectionError`, both naming the instrument and the message. After either, the
connection is stale (a late answer could be taken for the next one): the next message reopens
it first. Nothing is re-sent here; which queries may be repeated is the driver's decision.
"""

from __future__ import annotations

import contextlib
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from hil import durability, interrupts
from hil.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout


class Transport(ABC):
    """Sends program messages and reads responses, one line each; knows no dialect."""

    @abstractmethod
    def write(self, message: str) -> None:
        """Send one program message."""

    @abstractmethod
    def query(self, message: str) -> str:
        """Send a query and return its response without the terminator."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def pipeline(self, commands: Sequence[str], query: str) -> str:
        """Send `commands`, then `query`; its answer. The same messages in the same order as
        `write` each and `query`; a transport that can hands them over in one write."""
        for command in commands:
            self.write(command)
        return self.query(query)

    def read(self) -> str:
        """Read one more line of a multi-line answer (after `query`); one-line transports refuse."""
        raise InstrumentError(getattr(self, "name", "-"), "(read)", "this transport reads one line per query")

    def reconnect(self) -> None:  # noqa: B027 - optional: in-memory transports have nothing to reopen
        """Drop the connection and open a new one (nothing pending survives it)."""

    @property
    def generation(self) -> int:
        """How many times the connection was reopened; drivers with per-connection set-up watch it."""
        return 0

    @property
    def messages(self) -> int | None:
        """How many messages were handed to the instrument so far (None: this transport does not count)."""
        return None


class VisaTransport(Transport):
    """A PyVISA message-based resource."""

    def __init__(self, name: str, resource: str, timeout_s: float = 5.0, visa_library: str = "@py") -> None:
        import pyvisa

        self.name = name
        self.resource_name = resource
        self.timeout_s = timeout_s
        self._res: Any = None
        self._stream = False  # a raw socket: one byte stream, each message ends at its newline
        self._stale = False
        self._closed = False
        self._generation = 0
        self._messages = 0  # every write, query, pipeline and read handed over (`messages`)
        try:
            self._rm = pyvisa.ResourceManager(visa_library)
        except Exception as exc:  # pyvisa raises several unrelated types here
            raise InstrumentConnectionError(name, f"open {resource}", str(exc)) from exc
        self._open()

    def _open(self) -> None:
        try:
            self._res = self._rm.open_resource(self.resource_name)
        except Exception as exc:  # pyvisa raises several unrelated types here
            self._res = None
            raise InstrumentConnectionError(self.name, f"open {self.resource_name}", str(exc)) from exc
        self._res.timeout = int(self.timeout_s * 1000)
        self._res.read_termination = "\n"
        self._res.write_termination = "\n"
        sock = self._socket()
        self._stream = sock is not None
        if sock is not None:
            # A command followed by SYST:ERR? would otherwise wait for a delayed ACK (Nagle).
            # pyvisa-py exposes no VI_ATTR_TCPIP_NODELAY setter, so reach its socket.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _socket(self) -> socket.socket | None:
        """pyvisa-py's socket behind a ::SOCKET resource (None for other resources and backends)."""
        if self._res is None or not self.resource_name.upper().endswith("::SOCKET"):
            return None
        session = getattr(self._res.visalib, "sessions", {}).get(self._res.session)
        sock = getattr(session, "interface", None)
        return sock if isinstance(sock, socket.socket) else None

    def _peer_closed(self) -> bool:
        """Whether the instrument closed the socket (pyvisa-py reports that as a timeout)."""
        sock = self._socket()
        if sock is None:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    @property
    def generation(self) -> int:
        return self._generation

    def write(self, message: str) -> None:
        durability.barrier()  # a command may be a stimulus: what was recorded before it is durable first
        self._call(self._res_method("write"), message)

    def query(self, message: str) -> str:
        return str(self._call(self._res_method("query"), message)).strip()

    def pipeline(self, commands: Sequence[str], query: str) -> str:
        """On a raw socket the commands and the query leave in one write (each its own line, as
        `write` and `query` send them), so a configure and its error check cost one exchange; on
        other resources (GPIB, USB: the bus frames each message) one message at a time."""
        if not self._stream or not commands:
            return super().pipeline(commands, query)
        durability.barrier()  # as `write`: what was recorded before a stimulus is durable first
        data = "".join(f"{message}\n" for message in (*commands, query))

        def send(message: str) -> Any:
            del message
            return self._res.write_raw(data.encode(self._res.encoding))

        def answer(message: str) -> Any:
            del message
            return self._res.read()

        self._call(send, "; ".join(commands))
        return str(self._call(answer, query)).strip()

    def read(self) -> str:
        """The next line of a multi-line answer (pyvisa read up to the termination)."""

        def call(message: str) -> Any:
            del message
            return self._res.read()

        return str(self._call(call, "(continued answer)")).strip()

    def _res_method(self, name: str) -> Callable[[str], Any]:
        def call(message: str) -> Any:
            return getattr(self._res, name)(message)

        return call

    @property
    def messages(self) -> int:
        return self._messages

    def _call(self, method: Callable[[str], Any], message: str) -> Any:
        import pyvisa

        self._messages += 1
        if self._closed:
            raise InstrumentConnectionError(self.name, message, "the connection was closed by the program")
        if self._stale or self._res is None:
            try:
                self.reconnect()
            except InstrumentConnectionError as exc:
                raise InstrumentConnectionError(
                    self.name, message, f"the connection was lost and could not be reopened ({exc.detail})"
                ) from exc
        with interrupts.shielded():
            try:
                return method(message)
            except pyvisa.errors.VisaIOError as exc:
                self._stale = True
                if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                    if self._peer_closed():
                        raise InstrumentConnectionError(
                            self.name, message, "the instrument closed the connection"
                        ) from exc
                    raise InstrumentTimeout(
                        self.name, message, f"no answer within {self.timeout_s:g} s"
                    ) from exc
                raise InstrumentConnectionError(self.name, message, str(exc)) from exc
            except OSError as exc:
                self._stale = True
                raise InstrumentConnectionError(self.name, message, str(exc)) from exc
            except UnicodeDecodeError as exc:  # SCPI answers are ASCII: a garbled line is the bench's fault
                self._stale = True  # the rest of a garbled exchange must not be read as the next answer
                raise InstrumentError(self.name, message, f"answer is not ASCII text ({exc.reason})") from exc
            except BaseException:
                self._stale = True  # interrupted half-way: whatever is in flight must not be read later
                raise

    def reconnect(self) -> None:
        """Close the resource and open it again (a fresh socket: no late answer can follow)."""
        if self._res is not None:
            with contextlib.suppress(Exception):
                self._res.close()
            self._res = None
        self._open()
        self._stale = False
        self._generation += 1

    def close(self) -> None:
        # Only the resource: pyvisa shares one resource-manager session per VISA library, and
        # closing it would close every other instrument of the process.
        self._closed = True
        if self._res is not None:
            self._res.close()
            self._res = None


class RecordingTransport(Transport):
    """Passes messages to another transport and keeps every one sent (for audits and tests)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.sent: list[str] = []

    def write(self, message: str) -> None:
        self.sent.append(message)
        self.inner.write(message)

    def query(self, message: str) -> str:
        self.sent.append(message)
        return self.inner.query(message)

    def pipeline(self, commands: Sequence[str], query: str) -> str:
        self.sent += [*commands, query]
        return self.inner.pipeline(commands, query)

    def read(self) -> str:
        return self.inner.read()

    def reconnect(self) -> None:
        self.inner.reconnect()

    @property
    def generation(self) -> int:
        return self.inner.generation

    @property
    def messages(self) -> int | None:
        return self.inner.messages

    def close(self) -> None:
        self.inner.close()
