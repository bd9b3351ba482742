"""The labgrid resources and drivers hil needs and labgrid lacks, registered with its target factory.

- `SocketcandCanPort`: a CAN bus served by socketcand (host, port, channel); `SocketcandDriver`
  opens it with python-can.
- `ScpiSocketInstrument`: an instrument on a raw SCPI socket (host, port); `ScpiSocketDriver`
  opens `TCPIP0::host::port::SOCKET` with pyvisa (labgrid's PyVISADriver appends `::INSTR`,
  which a raw socket resource does not take).

Both are network resources: the exporter hands them out as they are (no helper process), the
client reaches host:port directly. RS-485 uses labgrid's own `NetworkSerialPort`.
"""

from __future__ import annotations

from typing import Any

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.resource.common import Resource

_str = attr.validators.instance_of(str)
_int = attr.validators.instance_of(int)


def _port(value: Any) -> int:
    """Ports arrive as int from YAML and as int or float through the coordinator's protobuf maps."""
    return int(value)


@target_factory.reg_resource
@attr.s(eq=False)
class SocketcandCanPort(Resource):  # type: ignore[misc]
    """A CAN bus reached through a socketcand server: host, TCP port, CAN channel on that server."""

    host: str = attr.ib(validator=_str)
    port: int = attr.ib(converter=_port, validator=_int)
    channel: str = attr.ib(default="can0", validator=_str)
    bitrate: int = attr.ib(default=500000, converter=_port, validator=_int)

    def bus_kwargs(self) -> dict[str, Any]:
        """python-can's `can.Bus(**kwargs)` for this port."""
        return {"interface": "socketcand", "host": self.host, "port": self.port, "channel": self.channel}


@target_factory.reg_resource
@attr.s(eq=False)
class ScpiSocketInstrument(Resource):  # type: ignore[misc]
    """An instrument speaking SCPI over a raw TCP socket (e.g. port 5025)."""

    host: str = attr.ib(validator=_str)
    port: int = attr.ib(converter=_port, validator=_int)

    @property
    def visa_resource(self) -> str:
        """The VISA resource string pyvisa opens (`@py` backend)."""
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"


@target_factory.reg_driver
@attr.s(eq=False)
class SocketcandDriver(Driver):  # type: ignore[misc]
    """Opens a `SocketcandCanPort` as a python-can bus while active."""

    bindings = {"port": "SocketcandCanPort"}  # noqa: RUF012 (labgrid reads it as a class attribute)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.bus: Any = None

    def on_activate(self) -> None:
        import can

        self.bus = can.Bus(**self.port.bus_kwargs())

    def on_deactivate(self) -> None:
        if self.bus is not None:
            self.bus.shutdown()
        self.bus = None

    @Driver.check_active  # type: ignore[untyped-decorator]
    def get_bus(self) -> Any:
        """The open python-can bus."""
        return self.bus


@target_factory.reg_driver
@attr.s(eq=False)
class ScpiSocketDriver(Driver):  # type: ignore[misc]
    """Opens a `ScpiSocketInstrument` with pyvisa-py while active; `get_session()` as PyVISADriver."""

    bindings = {"instrument": "ScpiSocketInstrument"}  # noqa: RUF012

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.session: Any = None
        self._manager: Any = None

    def on_activate(self) -> None:
        import pyvisa

        self._manager = pyvisa.ResourceManager("@py")
        self.session = self._manager.open_resource(
            self.instrument.visa_resource, read_termination="\n", write_termination="\n"
        )

    def on_deactivate(self) -> None:
        if self.session is not None:
            self.session.close()
        if self._manager is not None:
            self._manager.close()
        self.session = self._manager = None

    @Driver.check_active  # type: ignore[untyped-decorator]
    def get_session(self) -> Any:
        """The open pyvisa resource."""
        return self.session
