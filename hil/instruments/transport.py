"""Message transports for SCPI instruments: PyVISA on a bench, in-memory for unit tests.

Raw-socket LAN instruments are opened as ``TCPIP0::host::port::SOCKET`` with '\\n' termination
through the pure-Python pyvisa-py backend; GPIB/USB/INSTR resources work the same way when the
station's VISA library provides them.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from typing import Any

from hil.errors import InstrumentConnectionError, InstrumentTimeout


class Transport(ABC):
    """Sends SCPI program messages and reads responses."""

    @abstractmethod
    def write(self, message: str) -> None:
        """Send one program message."""

    @abstractmethod
    def query(self, message: str) -> str:
        """Send a query and return its response without the terminator."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


class VisaTransport(Transport):
    """A PyVISA message-based resource."""

    def __init__(self, name: str, resource: str, timeout_s: float = 5.0, visa_library: str = "@py") -> None:
        import pyvisa

        self.name = name
        self.resource_name = resource
        self._res: Any = None
        try:
            self._rm = pyvisa.ResourceManager(visa_library)
            self._res = self._rm.open_resource(resource)
        except Exception as exc:  # pyvisa raises several unrelated types here
            raise InstrumentConnectionError(name, f"open {resource}", str(exc)) from exc
        self._res.timeout = int(timeout_s * 1000)
        self._res.read_termination = "\n"
        self._res.write_termination = "\n"
        if resource.upper().endswith("::SOCKET"):
            # A command followed by SYST:ERR? would otherwise wait for a delayed ACK (Nagle).
            # pyvisa-py exposes no VI_ATTR_TCPIP_NODELAY setter, so reach its socket.
            session = getattr(self._res.visalib, "sessions", {}).get(self._res.session)
            sock = getattr(session, "interface", None)
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, message: str) -> None:
        self._call(self._res.write, message)

    def query(self, message: str) -> str:
        return str(self._call(self._res.query, message)).strip()

    def _call(self, method: Any, message: str) -> Any:
        import pyvisa

        try:
            return method(message)
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(self.name, message, "no answer in time") from exc
            raise InstrumentConnectionError(self.name, message, str(exc)) from exc
        except OSError as exc:
            raise InstrumentConnectionError(self.name, message, str(exc)) from exc

    def close(self) -> None:
        # Only the resource: pyvisa shares one resource-manager session per VISA library, and
        # closing it would close every other instrument of the process.
        self._res.close()


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

    def close(self) -> None:
        self.inner.close()
