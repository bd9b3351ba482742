"""A station bound to a labgrid place: the place's resources, the station file's everything else.

The station file keeps what belongs to the bench's paperwork and safety (roles, drivers, limits,
accuracy, calibration, the DUT); the place says where each instrument and bus is reached now.
Resources are matched by name: an instrument by its name in the station file, the buses as
`can` and `rs485` (the names `hil labgrid exporter` gives them).
"""

from __future__ import annotations

from typing import Any

from hil.errors import ConfigError
from hil.labgrid.exporter import CAN, RS485
from hil.labgrid.resources import ScpiSocketInstrument, SocketcandCanPort
from hil.station.model import StationModel


def _visa(resource: Any) -> str | None:
    from labgrid.resource import PyVISADevice

    if isinstance(resource, ScpiSocketInstrument):
        return resource.visa_resource
    if isinstance(resource, PyVISADevice):  # as labgrid's PyVISADriver opens it
        return f"{resource.type}::{resource.url}::INSTR"
    return None


def bind_place(station: StationModel, file: str, place: str, resources: dict[str, Any]) -> StationModel:
    """A copy of `station` with every instrument and bus pointed at the place's resource of that name."""
    where = f"place {place}"
    data = station.model_dump()
    for name in station.instruments:
        resource = resources.get(name)
        visa = _visa(resource) if resource is not None else None
        if visa is None:
            got = type(resource).__name__ if resource is not None else "nothing"
            raise ConfigError(
                where,
                f"resources.{name}",
                f"a ScpiSocketInstrument or PyVISADevice named {name!r} "
                f"for instrument {name} of {file} (got {got})",
            )
        data["instruments"][name]["resource"] = visa
    if station.buses.can is not None:
        can = resources.get(CAN)
        if not isinstance(can, SocketcandCanPort):
            raise ConfigError(where, f"resources.{CAN}", f"a SocketcandCanPort named {CAN!r} for {file}")
        data["buses"]["can"].update(interface="socketcand", host=can.host, port=can.port, channel=can.channel)
    if station.buses.rs485 is not None:
        from labgrid.resource import NetworkSerialPort

        port = resources.get(RS485)
        if not isinstance(port, NetworkSerialPort):
            raise ConfigError(where, f"resources.{RS485}", f"a NetworkSerialPort named {RS485!r} for {file}")
        if port.protocol == "raw":
            url = f"socket://{port.host}:{port.port}"
        else:  # as labgrid's SerialDriver opens an RFC 2217 port (ser2net does not take control lines)
            url = f"rfc2217://{port.host}:{port.port}?ign_set_control"
        data["buses"]["rs485"]["url"] = url
    return StationModel.model_validate(data)
